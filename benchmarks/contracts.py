"""Contracts: what a tool's checked precondition (and postcondition) costs per call, side by side
with icontract and deal on the same predicates, and with an ``if`` written inline.

**Cases.**  (a) one simple precondition, ``x > 0``; (b) a relational one, ``0 < k <= len(xs)``;
(c) three preconditions at once (``len(xs) > 0``, ``k > 0``, ``k <= len(xs)``); (d) a predicate
effectus cannot inline, ``_positive(x)`` (it calls a helper, so the generated check has to call
the lambda, as icontract and deal do); (e) a precondition and a postcondition, ``x > 0`` and
``result >= 0``.  Every library gets the same lambda, written in its decorator as its
documentation shows (deal's take every argument of the function, the others name those they
read); the bodies are one line (``x + 1``, ``xs[k - 1]``, ``x - 1``), the same in
every variant of a case.

**Variants of each case.**  The anchors are plain synchronous functions: undecorated (their
baseline), with the checks written as ``if not (...): raise ValueError`` before the body (and
after it for a postcondition), under ``@icontract.require``/``@icontract.ensure`` and under
``@deal.pre``/``@deal.post``.  The effectus variants are one ``async def`` with the same body,
made a tool twice: bare, ``@fx.tool`` (its baseline: no checks), and with the spec,
``@fx.tool(requires=..., ensures=...)``.  Each tool is measured two ways, without `fx.run`:

- *call*: ``t(args).coro.close()`` -- calling a tool checks its preconditions and returns a
  `Call` holding the body's coroutine, which is closed unstarted.  Spec minus bare is what the
  precondition check adds to a call, and nothing else.  Not measured for (e): a postcondition
  wraps the coroutine, and closing the unstarted wrapper leaves the body's own coroutine
  unawaited (Python warns about it), so only the whole call is meaningful there.
- *whole call*: the `Call`'s coroutine is driven by hand (``coro.send(None)``; a body that
  performs no effect finishes on the first send, with `StopIteration`).  Spec minus bare is the
  cost of the checks over a whole call, postconditions included -- like for like with the
  anchors, whose overhead is also a whole call minus the undecorated call.

The tools' parameters and results are annotated `Any`, because effectus checks annotated types
on every call and the anchors check none; case (a) adds a row for the same tool annotated
``x: int -> int``, to show what those type checks (and the result check they bring) add.

**Method.**  Before any timing, every variant must give its case's answer, and every checked
variant must reject every violating call with its library's error (an anchor whose contracts
are off would make the comparison meaningless: ``deal`` is switched on with `deal.enable`, and
icontract's decorators get ``enabled=True``, so ``python -O`` cannot switch them off).  Each
variant is a ``timeit.Timer`` over one statement (``f(x)``, ``f(xs, k)``, or the effectus forms
above), run ``--calls`` times per timing with the garbage collector off (timeit's default); the
figure includes timeit's loop (a few ns, the same for every variant).  After one warm-up round,
``--repeats`` rounds each time every variant once, in an order rotated by one per round.  An
overhead is paired: the median over rounds of (variant - its baseline, measured in the same
round).  Ratios are ratios of those paired medians; the effectus figure in them is the whole
call's.  The bar from the issue -- icontract's overhead at least 5x effectus's -- is reported
for the case where it is smallest, not enforced.

    python -m benchmarks.contracts            # 20_000 calls per timing, 7 rounds
    python -m benchmarks.contracts --quick    # 500 calls per timing, 2 rounds (smoke test)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

if __package__ in (None, ""):  # `python benchmarks/contracts.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import deal  # noqa: E402
import icontract  # noqa: E402

import effectus as fx  # noqa: E402
from effectus.specs import spec_of  # noqa: E402
from benchmarks._machine import machine, progress  # noqa: E402

__all__ = [
    "CASES", "TARGET", "Case", "Variant", "drive", "inlined", "main", "measure", "overhead", "report",
    "verify",
]

#: untimed rounds before the timed ones
WARMUP = 1

#: what the issue asks: icontract's overhead at least this many times effectus's
TARGET = 5.0

Kind = Literal["sync", "call", "whole"]
Args = tuple[Any, ...]

#: the timed statement of each kind of variant, over ``f`` and the case's parameter names
STATEMENTS: dict[Kind, str] = {
    "sync": "f({params})",
    "call": "f({params}).coro.close()",
    "whole": "try:\n    f({params}).coro.send(None)\nexcept StopIteration:\n    pass",
}

XS = list(range(10))

# Each library is used the way its documentation shows: the predicate is written as a lambda in
# the decorator (icontract reads it back from there to explain a violation), the same text in
# every variant of a case, and the body is the same one line.

# --- (a) one simple precondition, and the typed tool ------------------------------------------


def _inc(x: Any) -> Any:
    return x + 1


def _inc_if(x: Any) -> Any:
    if not x > 0:
        raise ValueError(f"x > 0 failed: x = {x!r}")
    return x + 1


@icontract.require(lambda x: x > 0, enabled=True)
def _inc_icontract(x: Any) -> Any:
    return x + 1


@deal.pre(lambda x: x > 0)
def _inc_deal(x: Any) -> Any:
    return x + 1


@fx.tool(requires=lambda x: x > 0)
async def _inc_fx(x: Any) -> Any:
    return x + 1


@fx.tool(requires=lambda x: x > 0)
async def _inc_fx_typed(x: int) -> int:
    return x + 1


# --- (b) relational and (c) three preconditions -----------------------------------------------


def _kth(xs: Any, k: Any) -> Any:
    return xs[k - 1]


def _kth_if(xs: Any, k: Any) -> Any:
    if not 0 < k <= len(xs):
        raise ValueError(f"0 < k <= len(xs) failed: k = {k!r}, len(xs) = {len(xs)}")
    return xs[k - 1]


@icontract.require(lambda xs, k: 0 < k <= len(xs), enabled=True)
def _kth_icontract(xs: Any, k: Any) -> Any:
    return xs[k - 1]


@deal.pre(lambda xs, k: 0 < k <= len(xs))
def _kth_deal(xs: Any, k: Any) -> Any:
    return xs[k - 1]


@fx.tool(requires=lambda xs, k: 0 < k <= len(xs))
async def _kth_fx(xs: Any, k: Any) -> Any:
    return xs[k - 1]


def _kth3_if(xs: Any, k: Any) -> Any:
    if not len(xs) > 0:
        raise ValueError("len(xs) > 0 failed")
    if not k > 0:
        raise ValueError(f"k > 0 failed: k = {k!r}")
    if not k <= len(xs):
        raise ValueError(f"k <= len(xs) failed: k = {k!r}, len(xs) = {len(xs)}")
    return xs[k - 1]


@icontract.require(lambda xs: len(xs) > 0, enabled=True)
@icontract.require(lambda k: k > 0, enabled=True)
@icontract.require(lambda xs, k: k <= len(xs), enabled=True)
def _kth3_icontract(xs: Any, k: Any) -> Any:
    return xs[k - 1]


@deal.pre(lambda xs, k: len(xs) > 0)  # deal passes every argument to every predicate
@deal.pre(lambda xs, k: k > 0)
@deal.pre(lambda xs, k: k <= len(xs))
def _kth3_deal(xs: Any, k: Any) -> Any:
    return xs[k - 1]


@fx.tool(requires=[lambda xs: len(xs) > 0, lambda k: k > 0, lambda xs, k: k <= len(xs)])
async def _kth3_fx(xs: Any, k: Any) -> Any:
    return xs[k - 1]


# --- (d) a predicate effectus cannot inline ---------------------------------------------------
# effectus inlines only predicates that read nothing but their parameters and builtins; this one
# calls a module-level helper, so the generated check calls the lambda.  (Passing `_positive`
# itself would be inlined: it is one `return` of an expression over its parameter.)


def _positive(x: Any) -> bool:
    return bool(x > 0)


def _inc_if_helper(x: Any) -> Any:
    if not _positive(x):
        raise ValueError(f"_positive(x) failed: x = {x!r}")
    return x + 1


@icontract.require(lambda x: _positive(x), enabled=True)  # noqa: PLW0108
def _inc_icontract_helper(x: Any) -> Any:
    return x + 1


@deal.pre(lambda x: _positive(x))  # noqa: PLW0108
def _inc_deal_helper(x: Any) -> Any:
    return x + 1


@fx.tool(requires=lambda x: _positive(x))  # noqa: PLW0108
async def _inc_fx_helper(x: Any) -> Any:
    return x + 1


# --- (e) a precondition and a postcondition ---------------------------------------------------


def _dec(x: Any) -> Any:
    return x - 1


def _dec_if(x: Any) -> Any:
    if not x > 0:
        raise ValueError(f"x > 0 failed: x = {x!r}")
    result = x - 1
    if not result >= 0:
        raise ValueError(f"result >= 0 failed: result = {result!r}")
    return result


@icontract.require(lambda x: x > 0, enabled=True)
@icontract.ensure(lambda result: result >= 0, enabled=True)
def _dec_icontract(x: Any) -> Any:
    return x - 1


@deal.pre(lambda x: x > 0)
@deal.post(lambda result: result >= 0)
def _dec_deal(x: Any) -> Any:
    return x - 1


@fx.tool(requires=lambda x: x > 0, ensures=lambda result: result >= 0)
async def _dec_fx(x: Any) -> Any:
    return x - 1


# --- cases and variants -----------------------------------------------------------------------


class Variant(NamedTuple):
    key: str
    label: str
    kind: Kind
    fn: Callable[..., Any]
    #: the variant whose time is subtracted for the overhead (None: this is a baseline)
    baseline: str | None
    #: what a violating call raises (None: unchecked)
    rejects: tuple[type[BaseException], ...] | None


class Case(NamedTuple):
    key: str
    label: str
    #: the parameter names, as the timed statement passes them
    params: str
    args: Args
    expected: object
    #: calls that break the contract: every checked variant must reject each one
    violations: tuple[Args, ...]
    variants: tuple[Variant, ...]

    def variant(self, key: str) -> Variant:
        """The variant called ``key``."""
        [found] = [v for v in self.variants if v.key == key]
        return found


FX_ERRORS = (fx.PreconditionError, fx.PostconditionError)


def _variants(
    plain: Callable[..., Any],
    inline_if: Callable[..., Any],
    with_icontract: Callable[..., Any],
    with_deal: Callable[..., Any],
    spec: fx.Tool[..., Any],
    *,
    post: bool = False,
) -> tuple[Variant, ...]:
    """The anchors and the two forms of the effectus tool of one case.  The bare tool wraps the
    spec'd tool's own ``async def``: the same body, unchecked."""
    bare = fx.tool(spec.__wrapped__)
    variants = [
        Variant("plain", "plain function (baseline)", "sync", plain, None, None),
        Variant("inline_if", "inline `if not ...: raise ValueError`", "sync", inline_if, "plain",
                (ValueError,)),
        Variant("icontract", f"icontract `@require`{' + `@ensure`' if post else ''}", "sync",
                with_icontract, "plain", (icontract.ViolationError,)),
        Variant("deal", f"deal `@pre`{' + `@post`' if post else ''}", "sync", with_deal, "plain",
                (deal.ContractError,)),
    ]
    if not post:  # (see the module docstring: closing the unstarted wrapper would warn)
        variants += [
            Variant("fx_bare_call", "effectus `@fx.tool` (baseline), call", "call", bare, None, None),
            Variant("fx_call", "effectus `@fx.tool(requires=...)`, call", "call", spec, "fx_bare_call",
                    FX_ERRORS),
        ]
    variants += [
        Variant("fx_bare", "effectus `@fx.tool` (baseline), whole call", "whole", bare, None, None),
        Variant("fx", f"effectus `@fx.tool(requires=...{', ensures=...' if post else ''})`, "
                "whole call", "whole", spec, "fx_bare", FX_ERRORS),
    ]
    return tuple(variants)


_TYPED = Variant("fx_typed", "effectus, the same spec on `x: int -> int` (also checks both types), "
                 "whole call", "whole", _inc_fx_typed, "fx_bare", FX_ERRORS)

CASES = [
    Case("a", "(a) one simple precondition: `x > 0`", "x", (5,), 6, ((-1,), (0,)),
         (*_variants(_inc, _inc_if, _inc_icontract, _inc_deal, _inc_fx), _TYPED)),
    Case("b", "(b) relational: `0 < k <= len(xs)`", "xs, k", (XS, 3), 2, ((XS, 0), (XS, 11)),
         _variants(_kth, _kth_if, _kth_icontract, _kth_deal, _kth_fx)),
    Case("c", "(c) three preconditions: `len(xs) > 0`, `k > 0`, `k <= len(xs)`", "xs, k",
         (XS, 3), 2, (([], 1), (XS, 0), (XS, 11)),
         _variants(_kth, _kth3_if, _kth3_icontract, _kth3_deal, _kth3_fx)),
    Case("d", "(d) not inlinable: `_positive(x)` (calls a helper)", "x", (5,), 6, ((-1,),),
         _variants(_inc, _inc_if_helper, _inc_icontract_helper, _inc_deal_helper, _inc_fx_helper)),
    # 0.5 passes `x > 0` and the body answers -0.5: only the postcondition catches it.
    Case("e", "(e) precondition + postcondition: `x > 0`, `result >= 0`", "x", (5,), 4,
         ((-1,), (0.5,)), _variants(_dec, _dec_if, _dec_icontract, _dec_deal, _dec_fx, post=True)),
]


def drive(call: fx.Call[Any]) -> Any:
    """Run a tool call whose body performs no effect, without an interpreter: its answer."""
    try:
        effect = call.coro.send(None)
    except StopIteration as stop:
        return stop.value
    call.coro.close()
    raise AssertionError(f"{call!r} performed {effect!r}: the benchmark's bodies perform none")


def _result(variant: Variant, args: Args) -> object:
    if variant.kind == "sync":
        return variant.fn(*args)
    return drive(variant.fn(*args))  # a violated precondition raises here, at the call


def inlined(case: Case) -> bool:
    """Whether effectus compiled every predicate of the case into its check as an expression."""
    spec = spec_of(case.variant("fx").fn)
    assert spec is not None
    return all(p.inline is not None for p in (*spec.requires, *spec.ensures))


def verify(case: Case) -> dict[str, str]:
    """Check that every variant answers the case's result and that every checked variant rejects
    every violation; answers, per variant, the names of the errors it raised ("" if unchecked).

    Raises:
        AssertionError: a wrong answer, or a violation that went through (contracts off?).
    """
    raised: dict[str, str] = {}
    for v in case.variants:
        answer = _result(v, case.args)
        if answer != case.expected:
            raise AssertionError(f"({case.key}) {v.label}: answered {answer!r}, expected {case.expected!r}")
        if v.rejects is None:
            raised[v.key] = ""
            continue
        names: dict[str, None] = {}
        for bad in case.violations:
            try:
                _result(v, bad)
            except v.rejects as err:
                names[f"`{type(err).__name__}`"] = None
            else:
                raise AssertionError(f"({case.key}) {v.label}: the call with {bad!r} was not "
                                     f"rejected -- are its contracts switched on?")
        raised[v.key] = ", ".join(names)
    return raised


def _timer(case: Case, v: Variant) -> timeit.Timer:
    names = [n.strip() for n in case.params.split(",")]
    env: dict[str, Any] = {"f": v.fn, **dict(zip(names, case.args, strict=True))}
    return timeit.Timer(STATEMENTS[v.kind].format(params=case.params), globals=env)


Times = dict[tuple[str, str], list[float]]


def measure(cases: Sequence[Case], calls: int, repeats: int,
            log: Callable[[str], None] = lambda _: None) -> Times:
    """ns per call of every variant of every case, one figure per round."""
    deal.enable(warn=False)  # on by default unless `python -O`; the anchors must really check
    for case in cases:
        verify(case)
    timers = {(c.key, v.key): _timer(c, v) for c in cases for v in c.variants}
    keys = list(timers)
    for _ in range(WARMUP):  # specialise the bytecode, fill caches, wake the CPU up
        for key in keys:
            timers[key].timeit(calls)
    times: Times = {key: [] for key in keys}
    for r in range(repeats):
        order = keys[r % len(keys):] + keys[: r % len(keys)]
        for key in order:  # timeit turns the garbage collector off while it times
            times[key].append(timers[key].timeit(calls) / calls * 1e9)
        log(f"round {r + 1}/{repeats} done")
    return times


# --- report -----------------------------------------------------------------------------------


def _overheads(times: Times, case: Case, v: Variant) -> list[float] | None:
    if v.baseline is None:
        return None
    base = times[case.key, v.baseline]
    return [a - b for a, b in zip(times[case.key, v.key], base, strict=True)]


def overhead(times: Times, case: Case, key: str) -> float:
    """The paired median overhead of variant ``key`` over its baseline, in ns per call."""
    diffs = _overheads(times, case, case.variant(key))
    assert diffs is not None, f"{key} is a baseline"
    return statistics.median(diffs)


def _ratio(num: float, den: float) -> str:
    # A negative overhead on either side is noise on a loaded machine: below what this resolves.
    return f"{num / den:.1f}x" if den > 0 and num > 0 else "n/a (below resolution)"


def report(cases: Sequence[Case], times: Times, calls: int) -> list[str]:
    """The results as markdown lines (`verify` runs again, for the errors column)."""
    repeats = len(next(iter(times.values())))
    lines = [
        f"{calls:,} calls per timing (timeit's loop included), {repeats} timed rounds after "
        f"{WARMUP} warm-up round, order rotated by one per round; GC off while timing.  "
        "Overheads are paired medians: variant minus its baseline in the same round.",
        "",
        "| case | # | variant | ns/call (median) | min – max | overhead over baseline | "
        "overhead min – max | rejects violations with |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for case in cases:
        raised = verify(case)
        for i, v in enumerate(case.variants, 1):
            t = times[case.key, v.key]
            diffs = _overheads(times, case, v)
            extra = ("| — | — |" if diffs is None else
                     f"| {statistics.median(diffs):,.0f} | {min(diffs):,.0f} – {max(diffs):,.0f} |")
            lines.append(f"| {case.key} | {i} | {v.label} | {statistics.median(t):,.0f} | "
                         f"{min(t):,.0f} – {max(t):,.0f} {extra} {raised[v.key] or '— (unchecked)'} |")
    lines += [
        "",
        "### Overhead of the checks, side by side (ns per call over the unchecked call)",
        "",
        "| case | effectus inlines | inline `if` | icontract | deal | effectus, call | "
        "effectus, whole call | icontract / effectus | deal / effectus | effectus / inline `if` |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    worst: tuple[float, str] | None = None
    for case in cases:
        o = {v.key: overhead(times, case, v.key) for v in case.variants if v.baseline is not None}
        call = f"{o['fx_call']:,.0f}" if "fx_call" in o else "—"
        lines.append(
            f"| {case.label} | {'yes' if inlined(case) else 'no'} | {o['inline_if']:,.0f} | "
            f"{o['icontract']:,.0f} | {o['deal']:,.0f} | {call} | {o['fx']:,.0f} | "
            f"{_ratio(o['icontract'], o['fx'])} | {_ratio(o['deal'], o['fx'])} | "
            f"{_ratio(o['fx'], o['inline_if'])} |"
        )
        ratio = o["icontract"] / o["fx"] if o["fx"] > 0 else float("inf")
        if worst is None or ratio < worst[0]:
            worst = (ratio, f"{_ratio(o['icontract'], o['fx'])}, case ({case.key})")
    assert worst is not None
    lines += [
        "",
        "- effectus, call: `t(args)` with its coroutine closed unstarted (the precondition check "
        "alone); whole call: the coroutine driven to its result by hand, as the anchors' calls run "
        "their bodies.  The ratios use the whole call.",
        f"- target: icontract / effectus at least {TARGET:g}x in every case "
        f"(smallest: {worst[1]}): {'yes' if worst[0] >= TARGET else '**no**'}",
    ]
    first = cases[0]
    if any(v.key == "fx_typed" for v in first.variants):
        lines.append(
            f"- annotating case ({first.key})'s tool `x: int -> int` adds "
            f"{overhead(times, first, 'fx_typed') - overhead(times, first, 'fx'):,.0f} ns per whole "
            "call: effectus checks both types, and a checked result wraps the body's coroutine."
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.contracts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 500 calls per timing, 2 rounds")
    parser.add_argument("--calls", type=int, default=None,
                        help="calls per timing (default 20_000)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 7)")
    args = parser.parse_args(argv)
    calls = args.calls or (500 if args.quick else 20_000)
    repeats = args.repeats or (2 if args.quick else 7)

    log = progress

    print("## Contracts: precondition and postcondition overhead\n")
    print(f"- {machine()}; effectus {fx.__version__}, icontract {icontract.__version__}, deal {deal.__version__}\n")
    times = measure(CASES, calls, repeats, log)
    print("\n".join(report(CASES, times, calls)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
