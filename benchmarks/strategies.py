"""Argument generation: valid examples per second, `fx.strategy_for` against rejection sampling.

**Cases.**  Five spec'd tools whose preconditions relate their arguments, with 1, 3 and 6
parameters: ``1000 <= x <= 1999`` over a plain ``int``; over three plain ints, a loose
``lo <= x <= hi and hi - lo <= 1000`` (about a quarter of the anchor's unconstrained examples
meet it, mostly through ties; far fewer of the rejection variants' draws do) and a tight
``lo <= x < hi and hi - lo <= 8``;
``0 < k <= len(xs) and lo <= k`` over a list and two ints; and the chain
``a <= b <= c <= d <= e <= f and f - a <= 10`` over six plain ints.

**Variants of each case**, side by side in one run:

- *construction*: ``@given(fx.strategy_for(tool))``: arguments built to meet the preconditions
  (bounded, dependent draws; see ``effectus/specs/_strategies.py``).  Hypothesis's health
  checks stay on.
- *filter*: ``@given(st.tuples(*map(st.from_type, hints)).filter(holds))``, the rejection
  approach: each parameter drawn from its annotation, the tuples that fail the precondition
  thrown away.
- *assume*: ``@given(st.tuples(*map(st.from_type, hints)))`` and ``assume(holds(args))`` first
  thing in the test.
- *icontract-hypothesis*: ``icontract_hypothesis.infer_strategy`` of a plain function carrying
  the same predicates as ``@icontract.require``, when the package imports; otherwise the row
  says why not.  (icontract-hypothesis 1.1.7, the latest, registers a Hypothesis plugin that
  reads ``hypothesis.internal.reflection.extract_lambda_source``, which Hypothesis no longer
  has: once it is installed, ``import hypothesis`` itself fails, and this benchmark with it.)
- *anchor*: ``@given(st.tuples(*map(st.from_type, hints)))`` with nothing thrown away; its
  figure is examples/s, valid or not: what Hypothesis delivers for these types when nothing is
  rejected, so construction / anchor is what building to the precondition costs.

``holds(args)`` is the tool's own generated check (``tool._pre``, which raises
`PreconditionError`), the same function for every variant; the global `random` state is put
back around it, as Hypothesis asks of code run while drawing.

**Method.**  One run of a variant is one call of a ``@given`` test under
``settings(max_examples=N, derandomize=True, database=None, deadline=None)``; the health checks
are suppressed for the rejection variants (filter, assume, icontract-hypothesis), so that they
produce what they can, and on for the others.  The test body checks every example it gets with
``holds`` and counts those that pass; a run's figure is that count over the run's wall time
(`time.perf_counter`, Hypothesis's set-up and stopping included).  Hypothesis stops a run at
``N`` valid examples, or when the invalid ones pass its threshold (458 + 100 per valid one in
Hypothesis 6.155), so a rejection variant may end with fewer than ``N``, or none: Hypothesis's
``Unsatisfiable``.  After one untimed warm-up round, ``--rounds`` rounds run every
variant of every case once, the variants' order rotated by one per round; a figure is the
median over rounds.  Ratios are paired: the median over rounds of construction / variant,
measured in the same round.

Every round also runs the rejection variants once more, untimed, with Hypothesis's default
health checks on, and counts the runs that end in `FailedHealthCheck` or Hypothesis's
``Unsatisfiable`` -- what a user who writes the filter and keeps the defaults gets.  The runs
are derandomized, so every round gives the same examples; the rounds differ only in timing.

    python -m benchmarks.strategies                           # 200 examples, 5 rounds (3 to 4 min)
    python -m benchmarks.strategies --quick                   # 20 examples, 1 round (smoke test)
    python -m benchmarks.strategies --examples 500 --rounds 11
"""

from __future__ import annotations

import argparse
import inspect
import math
import random
import statistics
import sys
import time
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

if __package__ in (None, ""):  # `python benchmarks/strategies.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import hypothesis  # noqa: E402
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.errors import FailedHealthCheck  # noqa: E402
from hypothesis.errors import Unsatisfiable as HypothesisUnsatisfiable  # noqa: E402

import effectus as fx  # noqa: E402
from effectus.specs import spec_of  # noqa: E402
from benchmarks._machine import machine, progress  # noqa: E402

__all__ = [
    "CASES", "METHODS", "REJECTING", "TARGET", "Case", "Measured", "Outcome", "Strategies", "holds",
    "icontract_strategy", "main", "measure", "report", "run_once", "strategies",
]

#: what the issue asks at 3 arguments: construction at least this many times the filter's rate
TARGET = 5.0
#: the variants, in the order of the table; "anchor" counts every example, valid or not
METHODS = ("construction", "filter", "assume", "icontract-hypothesis", "anchor")
#: the variants that throw examples away
REJECTING = ("filter", "assume", "icontract-hypothesis")


# --- the tools ------------------------------------------------------------------------------------


@fx.tool(requires=lambda x: 1000 <= x <= 1999)
async def in_range(x: int) -> int:
    return x


@fx.tool(requires=lambda lo, x, hi: lo <= x <= hi and hi - lo <= 1000)
async def in_span(lo: int, x: int, hi: int) -> int:
    return x - lo


@fx.tool(requires=lambda lo, x, hi: lo <= x < hi and hi - lo <= 8)
async def in_window(lo: int, x: int, hi: int) -> int:
    return x - lo


@fx.tool(requires=lambda xs, k, lo: 0 < k <= len(xs) and lo <= k)
async def top_k(xs: list[int], k: int, lo: int) -> list[int]:
    return sorted(xs)[-k:]


@fx.tool(requires=lambda a, b, c, d, e, f: a <= b <= c <= d <= e <= f and f - a <= 10)
async def ordered(a: int, b: int, c: int, d: int, e: int, f: int) -> int:
    return f - a


def _contracts() -> dict[str, Callable[..., Any]]:
    """The same predicates as plain functions under ``@icontract.require`` (icontract-hypothesis
    reads the lambdas' source, so they are written out here, not passed along)."""
    import icontract

    @icontract.require(lambda x: 1000 <= x <= 1999)
    def in_range(x: int) -> None: ...

    @icontract.require(lambda lo, x, hi: lo <= x <= hi and hi - lo <= 1000)
    def in_span(lo: int, x: int, hi: int) -> None: ...

    @icontract.require(lambda lo, x, hi: lo <= x < hi and hi - lo <= 8)
    def in_window(lo: int, x: int, hi: int) -> None: ...

    @icontract.require(lambda xs, k, lo: 0 < k <= len(xs) and lo <= k)
    def top_k(xs: list[int], k: int, lo: int) -> None: ...

    @icontract.require(lambda a, b, c, d, e, f: a <= b <= c <= d <= e <= f and f - a <= 10)
    def ordered(a: int, b: int, c: int, d: int, e: int, f: int) -> None: ...

    return {"in_range": in_range, "in_span": in_span, "in_window": in_window, "top_k": top_k, "ordered": ordered}


class Case(NamedTuple):
    name: str
    tool: fx.Tool[..., Any]

    @property
    def arity(self) -> int:
        return len(inspect.signature(self.tool.__wrapped__).parameters)

    @property
    def requires(self) -> str:
        """The precondition, as the spec holds it."""
        spec = spec_of(self.tool)
        assert spec is not None, self.name
        return "; ".join(p.source for p in spec.requires)


CASES = tuple(Case(t.__name__, t) for t in (in_range, in_span, in_window, top_k, ordered))


# --- the strategies ---------------------------------------------------------------------------------


def holds(tool: fx.Tool[..., Any], args: tuple[Any, ...]) -> bool:
    """Whether ``args`` meet ``tool``'s preconditions (its own check, ``tool._pre``)."""
    state = random.getstate()  # beartype samples container items with `random`
    try:
        tool._pre(*args)  # type: ignore[attr-defined]  # a spec'd tool's generated check
    except fx.PreconditionError:
        return False
    finally:
        random.setstate(state)
    return True


def icontract_strategy(name: str) -> st.SearchStrategy[tuple[Any, ...]] | str:
    """icontract-hypothesis's strategy for case ``name`` (argument tuples), or why there is none."""
    try:
        import icontract_hypothesis  # type: ignore[import-not-found]  # optional, untyped
    except Exception as err:  # noqa: BLE001 - not installed, or its import-time hook fails
        return f"`import icontract_hypothesis`: {type(err).__name__}: {err}"
    fn = _contracts()[name]
    names = list(inspect.signature(fn).parameters)
    try:
        inferred: st.SearchStrategy[dict[str, Any]] = icontract_hypothesis.infer_strategy(fn)
    except Exception as err:  # noqa: BLE001 - its bytecode reading fails on some predicates
        return f"`infer_strategy`: {type(err).__name__}: {err}"
    return inferred.map(lambda kwargs: tuple(kwargs[n] for n in names))


class Strategies(NamedTuple):
    construction: st.SearchStrategy[tuple[Any, ...]]
    #: ``st.tuples`` of each parameter's ``st.from_type``, unfiltered
    types: st.SearchStrategy[tuple[Any, ...]]
    #: icontract-hypothesis's, or why there is none
    icontract: st.SearchStrategy[tuple[Any, ...]] | str


def strategies(case: Case) -> Strategies:
    """Every variant's strategy for ``case``, built once (as ``@given`` builds them at import)."""
    hints = typing.get_type_hints(case.tool.__wrapped__)
    names = list(inspect.signature(case.tool.__wrapped__).parameters)
    return Strategies(fx.strategy_for(case.tool), st.tuples(*(st.from_type(hints[n]) for n in names)),
                      icontract_strategy(case.name))


# --- measuring --------------------------------------------------------------------------------------


class Outcome(NamedTuple):
    #: examples the test body got that meet the precondition
    valid: int
    #: examples the test body got
    examples: int
    #: argument tuples checked against the precondition: by the filter's predicate (filter), else
    #: by the test body (icontract-hypothesis's own filtering is not counted)
    drawn: int
    seconds: float
    #: "FailedHealthCheck", "Unsatisfiable", or None when the run ended normally
    error: str | None

    def rate(self, method: str) -> float:
        """The run's figure: valid examples/s; for the anchor, examples/s, valid or not."""
        return (self.examples if method == "anchor" else self.valid) / self.seconds


def run_once(case: Case, method: str, made: Strategies, examples: int, *, health_checks: bool) -> Outcome:
    """One run of ``method``'s ``@given`` test for ``case`` (see the module docstring).

    Raises:
        ValueError: ``method`` is unknown, or has no strategy (icontract-hypothesis missing).
    """
    valid = seen = drawn = 0
    tool = case.tool

    def body(args: tuple[Any, ...]) -> None:
        nonlocal valid, seen, drawn
        seen += 1
        drawn += method != "filter"
        ok = holds(tool, args)
        valid += ok
        if method == "assume":
            assume(ok)

    def kept(args: tuple[Any, ...]) -> bool:
        nonlocal drawn
        drawn += 1
        return holds(tool, args)

    if method == "construction":
        strategy = made.construction
    elif method == "filter":
        strategy = made.types.filter(kept)
    elif method in ("assume", "anchor"):
        strategy = made.types
    elif method == "icontract-hypothesis":
        if isinstance(made.icontract, str):
            raise ValueError(f"{case.name}: no icontract-hypothesis strategy ({made.icontract})")
        strategy = made.icontract
    else:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    test = settings(
        max_examples=examples, derandomize=True, database=None, deadline=None,
        suppress_health_check=() if health_checks else list(HealthCheck),
    )(given(strategy)(body))
    error: str | None = None
    start = time.perf_counter()
    try:
        test()
    except FailedHealthCheck:
        error = "FailedHealthCheck"
    except HypothesisUnsatisfiable:
        error = "Unsatisfiable"
    seconds = time.perf_counter() - start
    return Outcome(valid, seen, drawn, seconds, error)


class Measured(NamedTuple):
    #: (case, method) -> one timed outcome per round
    timed: dict[tuple[str, str], list[Outcome]]
    #: (case, method) -> the health-checked runs' errors (None: passed), one per round
    checked: dict[tuple[str, str], list[str | None]]
    #: case -> method -> why it was not run
    skipped: dict[str, dict[str, str]]


def measure(cases: Sequence[Case], examples: int, rounds: int,
            log: Callable[[str], None] = lambda _: None) -> Measured:
    """Every variant of every case, one untimed round then ``rounds`` timed ones.

    Raises:
        AssertionError: a construction run failed a health check, or gave an example that does
            not meet the precondition.
    """
    made = {c.name: strategies(c) for c in cases}
    skipped: dict[str, dict[str, str]] = {}
    for c in cases:
        why = made[c.name].icontract
        if isinstance(why, str):
            skipped[c.name] = {"icontract-hypothesis": why}
    runnable = {c.name: [m for m in METHODS if m not in skipped.get(c.name, {})] for c in cases}
    timed: dict[tuple[str, str], list[Outcome]] = {}
    checked: dict[tuple[str, str], list[str | None]] = {}
    for r in range(rounds + 1):
        for case in cases:
            methods = runnable[case.name]
            order = methods[r % len(methods):] + methods[: r % len(methods)]
            for method in order:
                out = run_once(case, method, made[case.name], examples, health_checks=method not in REJECTING)
                if method == "construction" and (out.error is not None or out.valid != out.examples):
                    raise AssertionError(f"{case.name}: construction gave {out.examples - out.valid} invalid "
                                         f"examples of {out.examples} (error: {out.error})")
                if r > 0:
                    timed.setdefault((case.name, method), []).append(out)
            if r > 0:
                for method in methods:
                    if method in REJECTING:
                        out = run_once(case, method, made[case.name], examples, health_checks=True)
                        checked.setdefault((case.name, method), []).append(out.error)
        log("warm-up round done" if r == 0 else f"round {r}/{rounds} done")
    return Measured(timed, checked, skipped)


# --- report -----------------------------------------------------------------------------------------


def _paired(outs: Sequence[Outcome], method: str, base: Sequence[Outcome]) -> float:
    """Median over rounds of construction's rate / the variant's (inf where the variant got none)."""
    return statistics.median(b.rate("construction") / o.rate(method) if o.rate(method) > 0 else math.inf
                             for o, b in zip(outs, base, strict=True))


def _x(ratio: float) -> str:
    return "∞ (none valid)" if ratio == math.inf else f"{ratio:,.1f}x"


def _failures(errors: Sequence[str | None]) -> str:
    kinds = sorted({e for e in errors if e is not None})
    return f"{sum(e is not None for e in errors)}/{len(errors)}" + (f" ({', '.join(kinds)})" if kinds else "")


_LABELS = {"anchor": "anchor: `from_type` tuples, unfiltered"}


def report(cases: Sequence[Case], measured: Measured, examples: int) -> list[str]:
    """The results as markdown lines."""
    rounds = len(measured.timed[(cases[0].name, "construction")])
    lines = [
        f"max_examples={examples}, derandomize, no database, no deadline; {rounds} timed "
        f"round{'s' if rounds != 1 else ''} after one untimed round, the variants' order rotated "
        "per round; figures are medians over rounds.  valid / drawn: per timed run, the examples "
        "that meet the precondition, and the argument tuples the variant checked against it (the "
        "filter's predicate calls, else the test body's).  The anchor's figure is examples/s, "
        "valid or not: what Hypothesis delivers when nothing is thrown away.  Errors: of the timed "
        "runs (health checks off for the rejection variants, on for the others), then of the extra "
        "runs with Hypothesis's default health checks on, those that ended in an error.",
        "",
        "| # | case | args | precondition | variant | valid / drawn | valid examples/s (median) | "
        "min – max | errors, timed runs | errors, default health checks | construction / variant (paired) |",
        "|---:|---|---:|---|---|---:|---:|---:|---|---|---:|",
    ]
    ratios: dict[tuple[str, str], float] = {}
    row = 0
    for case in cases:
        base = measured.timed[(case.name, "construction")]
        for method in METHODS:
            row += 1
            head = f"| {row} | `{case.name}` | {case.arity} | `{case.requires}` | {_LABELS.get(method, method)} |"
            why = measured.skipped.get(case.name, {}).get(method)
            if why is not None:
                lines.append(f"{head} n/a | n/a | | | | n/a: {why.splitlines()[0]} |")
                continue
            outs = measured.timed[(case.name, method)]
            rates = [o.rate(method) for o in outs]
            timed = _failures([o.error for o in outs])
            checked = (_failures(measured.checked[(case.name, method)]) if method in REJECTING
                       else f"{timed} (the timed runs)")
            ratios[(case.name, method)] = _paired(outs, method, base)
            valid = statistics.median(o.valid for o in outs)
            lines.append(
                f"{head} {valid:,.0f} / {statistics.median(o.drawn for o in outs):,.0f} | "
                f"{statistics.median(rates):,.0f} | {min(rates):,.0f} – {max(rates):,.0f} | {timed} | "
                f"{checked} | {_x(ratios[(case.name, method)])} |"
            )
    lines += [
        "",
        "| case | args | construction / filter | construction / assume | construction / anchor | "
        "bar (3 args): construction / filter at least | holds |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for case in cases:
        f, a, n = (ratios[(case.name, m)] for m in ("filter", "assume", "anchor"))
        bar = f"{TARGET:.0f}x" if case.arity == 3 else ""
        verdict = ("yes" if min(f, a) >= TARGET else "**no**") if case.arity == 3 else ""
        lines.append(f"| `{case.name}` | {case.arity} | {_x(f)} | {_x(a)} | {_x(n)} | {bar} | {verdict} |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.strategies", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 examples, 1 round")
    parser.add_argument("--examples", type=int, default=None, help="max_examples per run (default 200)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 5)")
    args = parser.parse_args(argv)
    examples = args.examples or (20 if args.quick else 200)
    rounds = args.rounds or (1 if args.quick else 5)
    if examples < 1 or rounds < 1:
        parser.error(f"--examples and --rounds must be at least 1 (got {examples} and {rounds})")

    print("## Argument generation (valid examples/s)\n")
    print(f"- {machine()}; effectus {fx.__version__}, Hypothesis {hypothesis.__version__}\n")
    measured = measure(CASES, examples, rounds, progress)
    print("\n".join(report(CASES, measured, examples)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
