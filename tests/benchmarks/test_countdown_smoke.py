"""The benchmarks compute the right thing (correctness only: no timing is asserted here).

Every countdown variant, built small, must return 0 and must have had exactly ``2n + 1``
effects reach its handlers (``n + 1`` reads, ``n`` writes), run after run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `benchmarks` lives at the repository root, next to `effectus`
    sys.path.insert(0, str(ROOT))

from benchmarks import run as runner  # noqa: E402
from benchmarks.countdown import VARIANTS, Unavailable, Variant, effects_for  # noqa: E402

N = 100


def _build(variant: Variant, counter: list[int] | None) -> object:
    try:
        return variant.build(N, counter)
    except Unavailable as why:  # python-effect and effectful are the optional `bench` extra
        pytest.skip(str(why))


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.key for v in VARIANTS])
def test_counts_down_to_zero_performing_2n_plus_1_effects(variant: Variant) -> None:
    counter = [0]
    thunk = _build(variant, counter)
    assert callable(thunk)
    assert thunk() == 0
    assert counter[0] == effects_for(N) == 2 * N + 1
    # A thunk is timed many times: each run starts again from n.
    assert thunk() == 0
    assert counter[0] == 2 * effects_for(N)


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.key for v in VARIANTS])
def test_the_timed_build_installs_no_counter(variant: Variant) -> None:
    thunk = _build(variant, None)
    assert callable(thunk)
    assert thunk() == 0
    assert thunk() == 0


def test_effects_for_is_reads_plus_writes() -> None:
    assert [effects_for(n) for n in (0, 1, 2, 100)] == [1, 3, 5, 201]


def test_rounds_time_every_available_variant_once_per_round() -> None:
    times, skipped = runner.run_countdown(VARIANTS, N, repeats=1, log=lambda _: None)
    assert set(times) | set(skipped) == {v.key for v in VARIANTS}
    assert "floor" in times
    assert all(len(t) == 1 and t[0] > 0 for t in times.values())
    assert runner.paired_ratio(times, "floor", "floor") == 1.0


@pytest.mark.slow
def test_runner_end_to_end_and_import_effectus_stays_light(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = runner.main(["--effects", "20", "--repeats", "1", "--import-repeats", "1"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "| 1 | CPython floor" in out
    assert "check (jax, z3, ray, hypothesis absent): PASS" in out
