"""The laws of the tool combinators, checked by Hypothesis on generated effectful tools.

A tool is generated as data — a list of steps (arithmetic, a log line, a counter bump in the
state, a virtual sleep that lets other tasks run, a failure on one input) — and made an
``@fx.tool`` by `make_tool`.  Two composites *agree* when, run under ``fx.testing`` with the
same seed and recorded to a real trace file, they end the same way (the same result, or the
same exception) and, when they return, perform the same effects: in the same order for
`fx.pipe` (it runs one part at a time), as the same multiset for `fx.fan_out` and
`fx.parallel` (their parts are tasks, whose effects interleave differently when the tasks are
nested differently).  The task effects themselves (`Spawn`, `Join`, `Cancel`) are left out:
they are how a composite runs, not what it does.

Laws:
1. identity: ``pipe(identity, f)``, ``pipe(f, identity)`` and ``f`` agree;
2. associativity: ``pipe(pipe(f, g), h)``, ``pipe(f, pipe(g, h))`` and ``pipe(f, g, h)`` agree;
3. ``parallel(parallel(f, g), h)`` and ``parallel(f, parallel(g, h))`` agree up to the nesting
   of their argument and result tuples; ``parallel(identity, identity)`` is the identity;
4. ``fan_out(f, g)`` agrees with ``pipe(fan_out(identity, identity), parallel(f, g))``;
5. ``pipe(fan_out(f, g), parallel(h, k))`` agrees with ``fan_out(pipe(f, h), pipe(g, k))``.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import effectus as fx

LAWS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TASK_EFFECTS = {"Spawn", "Join", "Cancel"}
Step = tuple[str, int]


class Boom(Exception):
    """The failure a generated tool raises on its chosen input."""


def make_tool(name: str, steps: list[Step]) -> fx.Tool[[int], int]:
    """An ``@fx.tool`` that runs ``steps`` on its int argument (see the module docstring)."""

    async def body(x: int) -> int:
        for op, k in steps:
            if op == "add":
                x += k
            elif op == "mul":
                x *= k
            elif op == "log":
                await fx.Log(f"{name} saw {x}")
            elif op == "count":
                await fx.Put(f"count:{name}", await fx.Get(f"count:{name}", 0) + 1)
            elif op == "sleep":
                await fx.Sleep(k)
            elif op == "fail" and x % 5 == k:
                raise Boom(f"{name} fails on {x}")
        return x

    body.__name__ = body.__qualname__ = name
    return fx.tool(body)


steps = st.lists(
    st.tuples(st.sampled_from(["add", "mul", "log", "count", "sleep", "fail"]), st.integers(-3, 4)).map(
        lambda s: (s[0], abs(s[1]) + 1) if s[0] == "sleep" else s
    ),
    max_size=5,
)
names = iter(range(10**9))


@st.composite
def tools(draw: st.DrawFn) -> fx.Tool[[int], int]:
    return make_tool(f"t{next(names)}", draw(steps))


def outcome(program: Awaitable[Any], seed: int) -> tuple[tuple[str, object], list[tuple[str, str]]]:
    """How ``program`` ends under ``fx.testing(seed)``, and the effects it performed (read
    back from the trace it recorded), task effects left out."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.jsonl"
        try:
            ended: tuple[str, object] = ("returned", fx.record(fx.testing(seed), path).run(program))
        except Boom as err:
            ended = ("raised", str(err))
        records = fx.read_trace(path).records
    effects = [(r.effect.rsplit(":", 1)[-1], repr(r.fields)) for r in records]
    return ended, [e for e in effects if e[0] not in TASK_EFFECTS]


def agree_in_order(a: Awaitable[Any], b: Awaitable[Any], seed: int) -> None:
    assert outcome(a, seed) == outcome(b, seed)


def agree_as_multisets(a: Awaitable[Any], b: Awaitable[Any], seed: int, *, reshape: Any = None) -> None:
    (end_a, effects_a), (end_b, effects_b) = outcome(a, seed), outcome(b, seed)
    if reshape is not None and end_a[0] == "returned":
        end_a = ("returned", reshape(end_a[1]))
    assert end_a == end_b
    if end_a[0] == "returned":
        assert Counter(effects_a) == Counter(effects_b)


@LAWS
@given(f=tools(), x=st.integers(-20, 20), seed=st.integers(0, 3))
def test_identity_is_the_unit_of_pipe(f: fx.Tool[[int], int], x: int, seed: int) -> None:
    """pipe(identity, f), pipe(f, identity) and f agree, effects in order included."""
    agree_in_order(fx.pipe(fx.identity, f)(x), f(x), seed)
    agree_in_order(fx.pipe(f, fx.identity)(x), f(x), seed)


@LAWS
@given(f=tools(), g=tools(), h=tools(), x=st.integers(-20, 20), seed=st.integers(0, 3))
def test_pipe_is_associative(f: fx.Tool[[int], int], g: fx.Tool[[int], int], h: fx.Tool[[int], int], x: int, seed: int) -> None:
    """pipe(pipe(f, g), h), pipe(f, pipe(g, h)) and pipe(f, g, h) agree, effects in order included."""
    agree_in_order(fx.pipe(fx.pipe(f, g), h)(x), fx.pipe(f, fx.pipe(g, h))(x), seed)
    agree_in_order(fx.pipe(f, g, h)(x), fx.pipe(f, fx.pipe(g, h))(x), seed)


@LAWS
@given(f=tools(), g=tools(), h=tools(), xs=st.tuples(*[st.integers(-20, 20)] * 3), seed=st.integers(0, 3))
def test_parallel_is_associative_up_to_nesting(
    f: fx.Tool[[int], int], g: fx.Tool[[int], int], h: fx.Tool[[int], int], xs: tuple[int, int, int], seed: int
) -> None:
    """parallel(parallel(f, g), h) on ((a, b), c) and parallel(f, parallel(g, h)) on (a, (b, c))
    end the same way and perform the same effects, once their tuples are re-nested."""
    a, b, c = xs
    left = fx.parallel(fx.parallel(f, g), h)(((a, b), c))
    right = fx.parallel(f, fx.parallel(g, h))((a, (b, c)))
    agree_as_multisets(left, right, seed, reshape=lambda r: (r[0][0], (r[0][1], r[1])))


@LAWS
@given(pair=st.tuples(st.integers(), st.text(max_size=3)), seed=st.integers(0, 3))
def test_parallel_of_identities_is_the_identity(pair: tuple[int, str], seed: int) -> None:
    """parallel(identity, identity) answers its pair unchanged and performs nothing else."""
    agree_as_multisets(fx.parallel(fx.identity, fx.identity)(pair), fx.identity(pair), seed)


@LAWS
@given(f=tools(), g=tools(), x=st.integers(-20, 20), seed=st.integers(0, 3))
def test_fan_out_is_duplicate_then_parallel(f: fx.Tool[[int], int], g: fx.Tool[[int], int], x: int, seed: int) -> None:
    """fan_out(f, g) agrees with pipe(fan_out(identity, identity), parallel(f, g))."""
    duplicate = fx.fan_out(fx.identity, fx.identity)
    agree_as_multisets(fx.fan_out(f, g)(x), fx.pipe(duplicate, fx.parallel(f, g))(x), seed)


@LAWS
@given(f=tools(), g=tools(), h=tools(), k=tools(), x=st.integers(-20, 20), seed=st.integers(0, 3))
def test_fan_out_then_parallel_is_fan_out_of_pipes(
    f: fx.Tool[[int], int], g: fx.Tool[[int], int], h: fx.Tool[[int], int], k: fx.Tool[[int], int], x: int, seed: int
) -> None:
    """pipe(fan_out(f, g), parallel(h, k)) agrees with fan_out(pipe(f, h), pipe(g, k)) when both
    return; when one branch fails, both raise (the failing branches may differ in timing)."""
    left = fx.pipe(fx.fan_out(f, g), fx.parallel(h, k))(x)
    right = fx.fan_out(fx.pipe(f, h), fx.pipe(g, k))(x)
    (end_l, effects_l), (end_r, effects_r) = outcome(left, seed), outcome(right, seed)
    assert end_l[0] == end_r[0]
    if end_l[0] == "returned":
        assert end_l == end_r and Counter(effects_l) == Counter(effects_r)


def test_a_failing_part_cancels_the_parts_still_running() -> None:
    """When one part of a fan-out fails, the slower parts are cancelled: their later effects
    never happen, and the composite raises the failure."""

    @fx.tool
    async def slow(x: int) -> int:
        await fx.Sleep(10)
        await fx.Log("slow finished")
        return x

    @fx.tool
    async def fails(x: int) -> int:
        await fx.Sleep(1)
        raise Boom("fails first")

    ended, effects = outcome(fx.fan_out(fails, slow)(1), seed=0)
    assert ended == ("raised", "fails first")
    assert ("Log", repr({"message": "slow finished", "level": "info", "fields": None})) not in effects


def test_parts_must_be_tools_and_parallel_needs_one_item_per_part() -> None:
    """A part that is not a tool, or a tuple of the wrong size, is a TypeError that says how to fix it."""

    async def plain(x: int) -> int:
        return x

    with pytest.raises(TypeError, match=r"(?s)part 1 is .*not a tool.*@fx.tool"):
        fx.pipe(fx.identity, plain)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="needs at least one tool"):
        fx.fan_out()
    with pytest.raises(TypeError, match=r"takes one tuple of 2 items, one per part; got a tuple of 3"):
        fx.run(fx.parallel(fx.identity, fx.identity)((1, 2, 3)))


def test_composites_are_named_by_their_parts() -> None:
    """A composite's name shows its structure, in reports and errors."""
    f = make_tool("f", [])
    g = make_tool("g", [])
    composite = fx.pipe(f, fx.fan_out(g, fx.identity))
    assert composite.__qualname__ == "pipe(f, fan_out(g, identity))"
    assert isinstance(composite, fx.Composite) and composite.kind == "pipe"


def test_a_composite_checks_its_first_parts_on_the_callers_line() -> None:
    """Calling a composite calls the parts that take its arguments at once: a refused
    argument raises PreconditionError here, before any run, and leaves no coroutine behind."""
    import gc
    import warnings

    @fx.tool(requires=lambda x: x > 0)
    async def positive(x: int) -> int:
        return x

    for composite, args in [
        (fx.pipe(positive, fx.identity), (-1,)),
        (fx.fan_out(fx.identity, positive), (-1,)),
        (fx.parallel(fx.identity, positive), ((1, -1),)),
    ]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a "coroutine was never awaited" would fail here
            with pytest.raises(fx.PreconditionError, match="precondition of tool .*positive failed"):
                composite(*args)
            gc.collect()
    assert fx.run(fx.parallel(fx.identity, positive)((0, 1))) == (0, 1)
