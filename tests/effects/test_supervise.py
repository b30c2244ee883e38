"""Supervision: failing children restart with backoff, or their failure propagates."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import effectus as fx
from effectus.effects import MemoryLog


def failing(times: int, error: type[Exception] = ConnectionError) -> object:
    """A child factory whose program fails its first ``times`` runs."""

    async def child() -> str:
        n = await fx.Modify("runs", lambda n: n + 1, 0)
        if n <= times:
            raise error(f"run {n}")
        return f"ok on run {n}"

    return child


@settings(max_examples=20, deadline=None)
@given(times=st.integers(0, 4), backoff=st.sampled_from([0.0, 0.5, 2.0]), factor=st.sampled_from([1.0, 2.0]))
def test_a_child_is_restarted_until_it_succeeds_with_exact_virtual_backoff(times: int, backoff: float, factor: float) -> None:
    """Within max_restarts, the child runs times+1 times; the virtual clock moves by the backoffs."""
    policy = fx.Restart(max_restarts=4, backoff=backoff, factor=factor)

    async def main() -> tuple[dict[str, object], float]:
        start = await fx.Now()
        result = await fx.supervise({"c": failing(times)}, policy)  # type: ignore[dict-item]
        return result, await fx.Now() - start

    interp = fx.testing()
    result, waited = fx.run(main(), interp)
    assert result == {"c": f"ok on run {times + 1}"}
    assert waited == sum(policy.delay(i) for i in range(times))
    restarts = [r.message for r in interp.handler(MemoryLog).records if "restarting" in r.message]
    assert len(restarts) == times


def test_exhausted_restarts_propagate_the_failure_and_stop_the_others() -> None:
    """One failure past max_restarts raises the child's error, with the history as a note."""
    stopped: list[str] = []

    async def steady() -> str:
        try:
            await fx.Sleep(1000)
        finally:
            stopped.append("steady stopped")
        return "never"

    async def main() -> object:
        return await fx.supervise(
            {"flaky": failing(10), "steady": steady},  # type: ignore[dict-item]
            fx.Restart(max_restarts=2, backoff=1),
        )

    with pytest.raises(ConnectionError, match="run 3") as info:
        fx.run(main(), fx.testing())
    notes = "".join(getattr(info.value, "__notes__", []))
    assert "'flaky' failed after 2 restart(s)" in notes
    assert "flaky: ConnectionError: run 1; flaky: ConnectionError: run 2" in notes
    assert stopped == ["steady stopped"]


def test_an_error_the_policy_does_not_cover_propagates_at_once() -> None:
    """A ValueError under a policy for ConnectionError is not retried."""

    async def main() -> object:
        return await fx.supervise({"c": failing(1, ValueError)}, fx.Restart(on=(ConnectionError,)))  # type: ignore[dict-item]

    interp = fx.testing()
    with pytest.raises(ValueError, match="run 1"):
        fx.run(main(), interp)
    assert not [r for r in interp.handler(MemoryLog).records if "restarting" in r.message]


def test_one_for_all_restarts_the_siblings_too() -> None:
    """Under one_for_all, a failure cancels and restarts every other running child."""

    async def sibling() -> int:
        starts = await fx.Modify("sibling starts", lambda n: n + 1, 0)
        await fx.Sleep(5)
        return starts

    async def breaks_once() -> str:
        n = await fx.Modify("runs", lambda n: n + 1, 0)
        await fx.Sleep(1)
        if n == 1:
            raise ConnectionError("first run")
        return "second run ok"

    async def main() -> object:
        return await fx.supervise(
            {"worker": breaks_once, "sibling": sibling}, fx.Restart(strategy="one_for_all")
        )

    assert fx.run(main(), fx.testing()) == {"worker": "second run ok", "sibling": 2}


def test_supervision_works_on_the_real_clock_with_threads(tmp_path: Path) -> None:
    """Under production, backoff sleeps really happen (on worker threads) and restarts work."""

    async def main() -> object:
        return await fx.supervise({"c": failing(2)}, fx.Restart(backoff=0.01))  # type: ignore[dict-item]

    assert fx.run(main(), fx.production(root=tmp_path)) == {"c": "ok on run 3"}


def test_bad_policies_are_refused() -> None:
    """Negative restarts, a non-finite backoff or an unknown strategy are ValueErrors."""
    with pytest.raises(ValueError, match="max_restarts"):
        fx.Restart(max_restarts=-1)
    with pytest.raises(ValueError, match="backoff"):
        fx.Restart(backoff=float("inf"))
    with pytest.raises(ValueError, match="strategy"):
        fx.Restart(strategy="rest_for_one")  # type: ignore[arg-type]
