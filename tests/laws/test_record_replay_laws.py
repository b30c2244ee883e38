"""Laws every recording must keep, checked on generated programs over the standard effects.

1. Record-then-replay gives the same outcome (result, or error type and message).
2. Recording is deterministic under `fx.testing(seed)`: the same program and seed give the
   same records, whether buffered or durable.
3. Replaying a trace of a program against a *different* program diverges exactly when the
   effects they perform differ.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import effectus as fx
from effectus.core._trace import read_trace

KEYS = ("a", "b")

Op = tuple[str, Any]

ops = st.one_of(
    st.tuples(st.just("get"), st.sampled_from(KEYS)),
    st.tuples(st.just("put"), st.tuples(st.sampled_from(KEYS), st.integers(-5, 5))),
    st.tuples(st.just("add"), st.sampled_from(KEYS)),
    st.tuples(st.just("sleep"), st.sampled_from([0, 0.5, 2])),
    st.tuples(st.just("now"), st.none()),
    st.tuples(st.just("rand"), st.integers(1, 6)),
    st.tuples(st.just("write"), st.sampled_from(["x.txt", "d/y.txt"])),
    st.tuples(st.just("read"), st.sampled_from(["x.txt", "missing.txt"])),
    st.tuples(st.just("log"), st.text(max_size=5)),
    st.tuples(st.just("fail"), st.none()),
)


async def program(script: list[Op]) -> list[object]:
    """Interpret ``script``: each op performs one standard effect; errors are caught or not."""
    seen: list[object] = []
    for op, arg in script:
        if op == "get":
            seen.append(await fx.Get(arg, 0))
        elif op == "put":
            await fx.Put(arg[0], arg[1])
        elif op == "add":
            seen.append(await fx.Modify(arg, lambda v: v + 1, 0))
        elif op == "sleep":
            await fx.Sleep(arg)
        elif op == "now":
            seen.append(await fx.Now())
        elif op == "rand":
            seen.append(await fx.RandomInt(1, arg))
        elif op == "write":
            await fx.WriteFile(arg, f"{len(seen)} values")
        elif op == "read":
            try:
                seen.append(await fx.ReadFile(arg))
            except FileNotFoundError as err:
                seen.append(f"missing {err.filename}")
        elif op == "log":
            await fx.Log(arg, fields={"n": len(seen)})
        else:
            await fx.Fail(ValueError(f"failed after {len(seen)} values"))
    return seen


def _outcome(run: Any) -> tuple[str, object]:
    try:
        return "returned", run()
    except ValueError as err:
        return "raised", f"{type(err).__name__}: {err}"


@settings(max_examples=60, deadline=None)
@given(script=st.lists(ops, max_size=12), seed=st.integers(0, 3))
def test_record_then_replay_gives_the_same_outcome(script: list[Op], seed: int) -> None:
    """Law 1: a replay answers every effect as recorded, so the outcome is the same."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "run.jsonl")
        live = _outcome(lambda: fx.record(fx.testing(seed=seed), path).run(program(script)))
        replayed = _outcome(lambda: fx.replay(program(script), path))
        assert replayed == live
        trace = read_trace(path)
        assert trace.footer is not None and trace.footer.outcome == live[0]
        assert len(trace.records) == trace.footer.records


@settings(max_examples=40, deadline=None)
@given(script=st.lists(ops, max_size=12), seed=st.integers(0, 3))
def test_recording_is_deterministic_buffered_or_durable(script: list[Op], seed: int) -> None:
    """Law 2: same program, same seed: the same records, buffered or durable."""
    with tempfile.TemporaryDirectory() as folder:
        a, b = Path(folder, "a.jsonl"), Path(folder, "b.jsonl")
        _outcome(lambda: fx.record(fx.testing(seed=seed), a).run(program(script)))
        _outcome(lambda: fx.record(fx.testing(seed=seed), b, durable=True).run(program(script)))
        assert read_trace(a).records == read_trace(b).records


def _performs_same_effects(x: list[Op], y: list[Op]) -> bool:
    """Whether two scripts perform the same effects with the same fields, up to x's outcome."""
    with tempfile.TemporaryDirectory() as folder:
        px, py = Path(folder, "x.jsonl"), Path(folder, "y.jsonl")
        _outcome(lambda: fx.record(fx.testing(), px).run(program(x)))
        _outcome(lambda: fx.record(fx.testing(), py).run(program(y)))
        rx, ry = read_trace(px).records, read_trace(py).records
        return [(r.effect, r.fields) for r in rx] == [(r.effect, r.fields) for r in ry]


@settings(max_examples=40, deadline=None)
@given(x=st.lists(ops, max_size=6), y=st.lists(ops, max_size=6))
def test_replaying_another_program_diverges_iff_its_effects_differ(x: list[Op], y: list[Op]) -> None:
    """Law 3: replay of x's trace by y fails with a divergence exactly when their effects differ."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "x.jsonl")
        recorded = _outcome(lambda: fx.record(fx.testing(), path).run(program(x)))
        try:
            replayed: tuple[str, object] | None = _outcome(lambda: fx.replay(program(y), path))
        except fx.ReplayDivergence:
            replayed = None
    same = _performs_same_effects(x, y)
    if same:
        # Same effects and answers: y may still compute a different result from them.
        assert replayed is None or replayed == recorded
    else:
        assert replayed is None
