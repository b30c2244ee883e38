"""Tests of `effectus.effects._clock`: Now, Sleep, RealClock and VirtualClock."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

import effectus as fx
from effectus.effects import RealClock, VirtualClock

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def test_virtual_clock_starts_at_2026_by_default() -> None:
    """Under testing(), Now answers 2026-01-01T00:00:00Z until the program sleeps."""
    assert fx.testing().run(fx.Now()) == START
    assert VirtualClock().now == START


def test_virtual_sleep_is_instant_and_exact() -> None:
    """Sleeping a simulated week under testing() takes no wall time and moves Now by a week."""

    async def main() -> float:
        before = await fx.Now()
        await fx.Sleep(7 * 24 * 3600)
        return await fx.Now() - before

    interp = fx.testing()
    wall = time.perf_counter()
    assert interp.run(main()) == 7 * 24 * 3600
    assert time.perf_counter() - wall < 0.5
    assert interp.handler(VirtualClock).now == START + 7 * 24 * 3600


def test_virtual_clock_start_is_configurable() -> None:
    """testing(start=...) and VirtualClock(start) set where virtual time begins."""
    assert fx.testing(start=10.0).run(fx.Now()) == 10.0
    assert fx.run(fx.Now(), VirtualClock(0)) == 0.0


def test_real_clock_reads_the_system_time() -> None:
    """RealClock's Now answers time.time(), within the call's duration."""
    before = time.time()
    now = fx.run(fx.Now(), RealClock())
    assert before <= now <= time.time()
    assert fx.production().run(fx.Now()) >= before


def test_real_clock_sleep_waits() -> None:
    """RealClock's Sleep blocks for at least the requested time."""
    start = time.monotonic()
    assert fx.run(fx.Sleep(0.02), RealClock()) is None
    assert time.monotonic() - start >= 0.02


def test_sleep_zero_is_allowed() -> None:
    """Sleep(0) is valid and leaves virtual time unchanged."""

    async def main() -> float:
        await fx.Sleep(0)
        return await fx.Now()

    assert fx.testing().run(main()) == START


@pytest.mark.parametrize("seconds", [-1, -0.001, math.inf, -math.inf, math.nan])
def test_sleep_refuses_negative_or_non_finite_durations(seconds: float) -> None:
    """Sleep with a negative, infinite or NaN duration is a ValueError on the user's line."""
    with pytest.raises(ValueError, match=r"Sleep\(seconds=.*\): seconds must be finite and >= 0"):
        fx.Sleep(seconds)


@pytest.mark.parametrize("seconds", ["1", None, True])
def test_sleep_refuses_non_numbers(seconds: object) -> None:
    """Sleep('1'), Sleep(None) and Sleep(True) are TypeErrors naming the type."""
    with pytest.raises(TypeError, match=r"Sleep\(seconds=.*\): seconds must be a number \(type="):
        fx.Sleep(seconds)  # type: ignore[arg-type]  # the wrong call under test


def test_virtual_clock_refuses_a_bad_start() -> None:
    """VirtualClock(start=nan) is a ValueError; VirtualClock(start='x') a TypeError."""
    with pytest.raises(ValueError, match=r"VirtualClock\(start=nan\): start must be finite"):
        VirtualClock(math.nan)
    with pytest.raises(TypeError, match=r"start must be a number of seconds"):
        VirtualClock("2026")  # type: ignore[arg-type]  # the wrong call under test


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), max_size=20))
def test_law_virtual_time_moves_only_by_what_was_slept(sleeps: list[float]) -> None:
    """Law: under VirtualClock, Now never goes back, and elapsed time is the sum of sleeps."""

    async def main() -> list[float]:
        seen = [await fx.Now()]
        for s in sleeps:
            await fx.Sleep(s)
            seen.append(await fx.Now())
        return seen

    seen = fx.testing().run(main())
    assert all(a <= b for a, b in zip(seen, seen[1:]))
    assert math.isclose(seen[-1] - seen[0], math.fsum(sleeps), rel_tol=1e-9, abs_tol=1e-6)
