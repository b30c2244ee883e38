"""Interleaving exploration: finds the failing schedule, shrinks it, and its trace replays."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import effectus as fx
from effectus.effects._explore import independent
from effectus.types import Endpoint, Session, recv, send


async def bump() -> None:
    n = await fx.Get("n", 0)
    await fx.Put("n", n + 1)


async def lost_update() -> int:
    a, b = await fx.Spawn(bump()), await fx.Spawn(bump())
    await fx.Join(a)
    await fx.Join(b)
    n = await fx.Get("n", 0)
    assert n == 2, f"lost update: n={n}"
    return n


def test_the_explorer_finds_a_lost_update_and_its_trace_replays_to_it(tmp_path: Path) -> None:
    """The race two seeded runs may miss is found; the shrunk trace replays to the same error."""
    path = tmp_path / "race.jsonl"
    report = fx.explore(lost_update, trace=path)
    assert isinstance(report.failure, AssertionError)
    assert "lost update: n=1" in str(report.failure)
    assert report.trace == path and path.exists()
    with pytest.raises(AssertionError, match="lost update: n=1"):
        fx.replay(lost_update(), path)
    # The shrunk schedule switches only where the race needs it.
    assert report.switches <= 4
    assert "fails with AssertionError: lost update: n=1" in str(report)
    assert f"fx.replay(program(), {str(path)!r})" in str(report)


def test_a_correct_program_passes_every_interleaving() -> None:
    """With the read and write in one Modify, no interleaving loses an update: exhausted, ok."""

    async def safe_bump() -> None:
        await fx.Modify("n", lambda n: n + 1, 0)

    async def main() -> int:
        a, b = await fx.Spawn(safe_bump()), await fx.Spawn(safe_bump())
        await fx.Join(a)
        await fx.Join(b)
        return await fx.Get("n", 0)

    report = fx.explore(main)
    assert report.ok and report.exhausted and report.schedules >= 2
    assert "all interleavings pass" in str(report)


async def writer(key: str) -> None:
    for i in range(3):
        await fx.Put(key, i)


async def three_writers(shared: bool) -> None:
    tasks = [await fx.Spawn(writer("k" if shared else f"k{j}")) for j in range(3)]
    for t in tasks:
        await fx.Join(t)


def test_partial_order_reduction_skips_reorderings_of_independent_steps() -> None:
    """Writers of different keys need far fewer schedules than writers of one shared key."""
    apart = fx.explore(lambda: three_writers(False), budget=100_000)
    shared = fx.explore(lambda: three_writers(True), budget=100_000)
    assert apart.exhausted and shared.exhausted
    assert apart.pruned > 0
    # 9 steps of 3 tasks can interleave in 9!/(3!^3) = 1680 ways; on one key all differ.
    assert shared.schedules >= 1680
    assert apart.schedules * 10 < shared.schedules


@settings(max_examples=40, deadline=None)
@given(
    a=st.sampled_from(["Get", "Put"]), b=st.sampled_from(["Get", "Put"]),
    ka=st.sampled_from(["x", "y"]), kb=st.sampled_from(["x", "y"]),
)
def test_independence_is_symmetric_and_matches_state_semantics(a: str, b: str, ka: str, kb: str) -> None:
    """Two state steps of different tasks are independent iff they touch different keys or
    both only read; the relation is symmetric."""
    ea = fx.Get(ka, 0) if a == "Get" else fx.Put(ka, 1)
    eb = fx.Get(kb, 0) if b == "Get" else fx.Put(kb, 2)
    expected = ka != kb or (a == "Get" and b == "Get")
    assert independent((1, ea), (2, eb)) == expected == independent((2, eb), (1, ea))
    assert not independent((1, ea), (1, eb))  # steps of one task are ordered


async def ring_member(inbox: Endpoint[Session], outbox: Endpoint[Session], first: bool) -> None:
    if first:
        outbox = await outbox.send(1)
        n, inbox = await inbox.recv()
    else:
        n, inbox = await inbox.recv()
        outbox = await outbox.send(n)
    await inbox.close()
    await outbox.close()


async def bad_ring() -> None:
    """Three tasks in a ring over channels; nobody sends first: every schedule deadlocks."""
    ab, ba = await fx.Open(send(int), recv(int))
    bc, cb = await fx.Open(send(int), recv(int))
    ca, ac = await fx.Open(send(int), recv(int))
    tasks = [
        await fx.Spawn(ring_member(ac, ab, False), name="a"),
        await fx.Spawn(ring_member(ba, bc, False), name="b"),
        await fx.Spawn(ring_member(cb, ca, False), name="c"),
    ]
    for t in tasks:
        await fx.Join(t)


def test_a_deadlock_is_found_and_reported_with_the_channels() -> None:
    """The explorer reports the Deadlock with each task's wait, and its trace replays to it."""
    report = fx.explore(bad_ring)
    assert isinstance(report.failure, fx.Deadlock)
    text = str(report.failure)
    assert "task #1 'a'" in text and "task #3 'c'" in text and "receive on channel #" in text
    assert report.trace is not None
    with pytest.raises(fx.Deadlock):
        fx.replay(bad_ring(), report.trace)


async def racy_protocol() -> None:
    """Two senders share one endpoint variable: one of them uses it after the other did."""
    a, b = await fx.Open(send(int, send(int)))
    shared: dict[str, Endpoint[Session]] = {"ep": a}

    async def sender(n: int) -> Endpoint[Session]:
        ep = shared["ep"]
        await fx.Log(f"sender {n} took the endpoint")  # a scheduling point before using it
        shared["ep"] = await ep.send(n)
        return shared["ep"]  # returned: the joiner owns it from then on

    s1, s2 = await fx.Spawn(sender(1)), await fx.Spawn(sender(2))
    await fx.Join(s1)
    await fx.Join(s2)
    _, b = await b.recv()
    _, b = await b.recv()
    await shared["ep"].close()
    await b.close()


def test_a_linearity_violation_that_needs_an_interleaving_is_found() -> None:
    """Some schedules use the endpoint once per sender; the explorer finds one that reuses it."""
    report = fx.explore(racy_protocol)
    assert isinstance(report.failure, fx.LinearityError)
    assert "was already used at" in str(report.failure)


async def leaky() -> None:
    held = await fx.Acquire(fx.Now(), _forget)
    flag = await fx.Spawn(_set_flag())
    await fx.Join(flag)
    if await fx.Get("flag", False) and await fx.Get("order", 0) == 0:
        return  # forgets to release `held` on this path
    await fx.Release(held)


async def _forget(_: float) -> None:
    await fx.Log("released by cleanup")


async def _set_flag() -> None:
    await fx.Put("flag", True)


def test_a_leaked_linear_value_is_found() -> None:
    """A path that returns without releasing is found and reported as a LinearityError."""
    report = fx.explore(leaky)
    assert isinstance(report.failure, fx.LinearityError)
    assert "ended without consuming" in str(report.failure)


def test_random_mode_is_seeded_and_bounded() -> None:
    """Random sampling runs at most `budget` schedules and finds the race with the same seed."""
    one = fx.explore(lost_update, mode="random", seed=3, budget=50)
    two = fx.explore(lost_update, mode="random", seed=3, budget=50)
    assert one.schedules == two.schedules <= 50
    assert type(one.failure) is type(two.failure) is AssertionError
    assert one.schedule == two.schedule


def test_bad_arguments_are_refused() -> None:
    """A budget below one or an unknown mode is a ValueError naming the argument."""
    with pytest.raises(ValueError, match="budget must be >= 1"):
        fx.explore(lost_update, budget=0)
    with pytest.raises(ValueError, match="mode must be 'exhaustive' or 'random'"):
        fx.explore(lost_update, mode="bfs")  # type: ignore[arg-type]
