"""May a new tool replace an old one?  `equivalent` proves it with z3, or tests it differentially.

``fx.equivalent(old, new)`` answers an `Equivalence`:

- **z3** where both bodies lie in the body subset (see `effectus.proofs._body`) and perform no
  effect: for every argument the old tool accepts (its preconditions), the new one must accept
  it too and end the same way — the same result, or both raising.  *proved* holds for every
  input; *refuted* comes with the first counterexample z3 finds;
- **differential** otherwise: Hypothesis draws arguments from the parameters' types, keeps those
  the old tool accepts, and runs both tools under ``fx.testing(seed)``, each recorded to a real
  trace; they must end the same way (the same result, or the same exception type) and perform
  the same effects, in the same order, with the same fields.  A disagreement is shrunk to a
  minimal one and reported (*refuted*); none in ``examples`` runs is *agreed* — evidence, not a
  proof.
"""

from __future__ import annotations

import ast
import inspect
import tempfile
import typing
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import z3  # type: ignore[import-untyped]  # z3 ships no type information

from effectus.core import PreconditionError, Tool, read_trace, record
from effectus.proofs._body import PathEnd, Value, assignment, paths_of, precondition
from effectus.proofs._isolated import solve
from effectus.proofs._solve import RLIMIT, show
from effectus.proofs._translate import RuntimeOnly, Sym
from effectus.specs._source import find_node

_z: Any = z3

__all__ = ["Equivalence", "equivalent"]


@dataclass(frozen=True)
class Equivalence:
    """What `equivalent` found.  True (as a bool) when proved, or agreed on every example."""

    old: str
    new: str
    verdict: Literal["proved", "refuted", "agreed", "unknown"]
    method: Literal["z3", "differential"]
    #: a sentence: the disagreement, or what was shown
    detail: str
    #: the arguments of the disagreement, by parameter name (as Python writes them)
    counterexample: dict[str, str] = field(default_factory=dict[str, str])
    #: how many argument tuples the differential test ran (0 for z3)
    examples: int = 0

    def __bool__(self) -> bool:
        return self.verdict in ("proved", "agreed")


def equivalent(old: Tool[..., Any], new: Tool[..., Any], *, examples: int = 200, seed: int = 0) -> Equivalence:
    """Whether ``new`` may replace ``old``: it accepts every argument ``old`` accepts, and ends
    the same way on it (see the module docstring for how each method decides).

    Raises:
        TypeError: either is not a tool, or their parameters differ in number; a parameter
            type Hypothesis cannot generate (differential testing), naming it.
    """
    for which, tool in (("old", old), ("new", new)):
        if not isinstance(tool, Tool):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"fx.equivalent(): {which} is {tool!r}, not a tool made by @fx.tool")
    params_old = list(inspect.signature(old.__wrapped__).parameters)
    params_new = list(inspect.signature(new.__wrapped__).parameters)
    if len(params_old) != len(params_new):
        raise TypeError(
            f"fx.equivalent(): {old.__qualname__} takes {len(params_old)} arguments and "
            f"{new.__qualname__} takes {len(params_new)}: one cannot replace the other"
        )
    proved = _by_z3(old, new)
    if proved is not None:
        return proved
    return _differential(old, new, examples=examples, seed=seed)


# --- z3 -----------------------------------------------------------------------------------------


def _by_z3(old: Tool[..., Any], new: Tool[..., Any]) -> Equivalence | None:
    """The z3 verdict, or None where either body is outside the subset or performs effects."""
    if _awaits(old) or _awaits(new):
        return None
    try:
        args, ends_old, run = paths_of(old)
        _, ends_new, run = paths_of(new, run, args=args, assume=False)
    except RuntimeOnly:
        return None
    accepts, missing = precondition(new, args)
    if missing or run.dropped:
        return None
    differ: list[z3.BoolRef] = [_z.Not(_z.And(*accepts))] if accepts else []
    for a in ends_old:
        for b in ends_new:
            unequal = _unequal(a, b)
            if unequal is None:
                return None
            differ.append(_z.And(*a.pc, *b.pc, unequal))
    solved = solve([*run.facts, _z.Or(*differ) if differ else _z.BoolVal(False)], rlimit=RLIMIT)
    name_old, name_new = old.__qualname__, new.__qualname__
    if solved.answer == "unknown":
        return None
    if solved.answer == "unsat":
        return Equivalence(name_old, name_new, "proved", "z3", "every argument the old tool accepts gets the same outcome from both")
    inputs = show(solved, run.inputs)
    shown = assignment(inputs)
    try:  # both are pure: run them on the counterexample, to say how they differ
        values = tuple(ast.literal_eval(v) for v in inputs.values())
        how = f": {_describe(_observe(old, values, 0), _observe(new, values, 0, refused_is_outcome=True))}"
    except (ValueError, SyntaxError):
        how = ""
    return Equivalence(name_old, name_new, "refuted", "z3", f"they differ for {shown}{how} (found by z3)", inputs)


def _awaits(tool: Tool[..., Any]) -> bool:
    fn = tool.__wrapped__
    node = find_node(fn.__code__, fn.__globals__)
    return node is None or any(isinstance(n, ast.Await) for n in ast.walk(node))


def _unequal(a: PathEnd, b: PathEnd) -> z3.BoolRef | None:
    """Where the two path ends differ in outcome (None: a value without a model)."""
    if a.kind == "raise" and b.kind == "raise":
        return _z.BoolVal(False)
    if a.kind != b.kind:
        return _z.BoolVal(True)
    return _values_differ(a.value, b.value)


def _values_differ(a: Value | None, b: Value | None) -> z3.BoolRef | None:
    if isinstance(a, tuple) and isinstance(b, tuple):
        if len(a) != len(b):
            return _z.BoolVal(True)
        parts = [_values_differ(x, y) for x, y in zip(a, b)]
        return None if any(p is None for p in parts) else _z.Or(*parts)
    if isinstance(a, Sym) and isinstance(b, Sym) and a.kind in ("int", "float", "bool") and b.kind in ("int", "float", "bool"):
        if (a.kind == "bool") != (b.kind == "bool"):
            return None  # True == 1 in Python: leave mixed answers to the differential test
        return typing.cast(z3.BoolRef, a.term != b.term)
    return None  # sequences, arrays, opaque values: no exact equality here


# --- differential testing -----------------------------------------------------------------------


def _differential(old: Tool[..., Any], new: Tool[..., Any], *, examples: int, seed: int) -> Equivalence:
    from hypothesis import HealthCheck, find, settings
    from hypothesis.errors import NoSuchExample, ResolutionFailed

    from effectus.specs._spec import SpecError
    from effectus.specs._strategies import strategy_for

    params = list(inspect.signature(old.__wrapped__).parameters)
    try:
        arguments = strategy_for(old)  # the old tool's domain, by construction
    except SpecError as err:
        raise TypeError(f"fx.equivalent(): cannot generate arguments for {old.__qualname__}: {err}") from err
    ran = 0

    def disagree(args: tuple[Any, ...]) -> bool:
        nonlocal ran
        first = _observe(old, args, seed)
        if first is None:
            return False  # the old tool refuses these arguments: outside its domain
        ran += 1
        return first != _observe(new, args, seed, refused_is_outcome=True)

    budget = settings(max_examples=examples, database=None, derandomize=True, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    try:
        args = find(arguments, disagree, settings=budget)
    except ResolutionFailed as err:  # a type found only when drawing (an unannotated __init__)
        raise TypeError(
            f"fx.equivalent(): cannot generate arguments for {old.__qualname__}: {err}.\n"
            f"Fix: annotate its parameters with types Hypothesis can build, or register one "
            f"with hypothesis.strategies.register_type_strategy."
        ) from err
    except NoSuchExample:
        return Equivalence(old.__qualname__, new.__qualname__, "agreed", "differential",
                           f"no disagreement on {ran} generated arguments the old tool accepts "
                           f"(run under fx.testing(seed={seed}), effects compared)", examples=ran)
    a = _observe(old, args, seed)
    b = _observe(new, args, seed, refused_is_outcome=True)
    shown = {p: repr(v) for p, v in zip(params, args)}
    where = assignment(shown)
    return Equivalence(old.__qualname__, new.__qualname__, "refuted", "differential",
                       f"they differ for {where}: {_describe(a, b)}", shown, examples=ran)


_Outcome = tuple[str, str, tuple[tuple[str, str], ...]]


def _observe(tool: Tool[..., Any], args: tuple[Any, ...], seed: int, *, refused_is_outcome: bool = False) -> _Outcome | None:
    """How ``tool(*args)`` ends under ``fx.testing(seed)`` and the effects it performs (read
    back from the trace it recorded); None when it refuses the arguments (a precondition)."""
    from effectus.effects import testing

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.jsonl"
        try:
            program: Awaitable[Any] = tool(*args)
            ended: tuple[str, str] = ("returned", repr(record(testing(seed), path).run(program)))
        except PreconditionError as err:
            if not refused_is_outcome:
                return None
            ended = ("refused", str(err).splitlines()[0])
        except Exception as err:  # noqa: BLE001 - an exception is an outcome to compare
            ended = ("raised", type(err).__qualname__)
        effects = tuple((r.effect, repr(r.fields)) for r in read_trace(path).records) if path.exists() else ()
    return ended[0], ended[1], effects


def _describe(a: _Outcome | None, b: _Outcome | None) -> str:
    def one(o: _Outcome | None) -> str:
        if o is None:
            return "refuses them"
        what = {"returned": "returns", "raised": "raises", "refused": "refuses them:"}[o[0]]
        return f"{what} {o[1]}"

    if a is not None and b is not None and a[:2] == b[:2]:
        for i, (x, y) in enumerate(zip(a[2], b[2])):
            if x != y:
                return f"both {one(a)}, but effect {i} differs: old performs {x[0]}{x[1]}, new {y[0]}{y[1]}"
        return f"both {one(a)}, but old performs {len(a[2])} effects and new {len(b[2])}"
    return f"old {one(a)}, new {one(b)}"
