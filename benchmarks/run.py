"""Run every benchmark in one process and print the results as markdown.

Usage, from the repository root::

    python -m benchmarks.run            # the full run reported in BENCHMARKS.md
    python -m benchmarks.run --quick    # a smoke run: small N, few repeats
    python -m benchmarks.run --traces   # also write, read and verify a 1_000_000-record trace

(``python benchmarks/run.py`` works too.)

Method.  Every countdown variant is built once, run twice to warm up, then timed ``--repeats``
times in rounds: each round runs every variant once, in an order rotated by one per round, so
that drift on a noisy machine hits all variants alike.  Each timing is one countdown of
``--effects`` effects with the garbage collector off (as ``timeit`` does).  The table shows
the median ns per effect, the spread over the rounds, and the ratio to the floor: the median
over rounds of (variant / floor *in the same round*).  ``import effectus`` is measured in
fresh subprocesses (see benchmarks/importtime.py).

The exit status is 1 when a variant computes a wrong result or when ``import effectus`` loads
jax, z3, ray or hypothesis; the performance bars are reported, not enforced (timings on a
shared machine are too noisy to fail a build on).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/run.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import importtime, traces  # noqa: E402
from benchmarks.countdown import VARIANTS, Unavailable, Variant, effects_for  # noqa: E402
from benchmarks._machine import machine, progress  # noqa: E402

#: Ratios reported without a bar: what `await` itself costs, and the cheaper effect styles.
OTHER_RATIOS = [
    ("floor_await", "floor"),
    ("user", "floor_await"),
    ("fast", "floor"),
    ("fast", "floor_await"),
    ("standard", "floor"),
    ("standard", "user"),
    ("standard", "fast"),
]

#: untimed runs of every variant before the timed rounds
WARMUP = 2

#: Bars from the issue: (numerator, denominator, at most, what it means)
BARS = [
    ("user", "floor", 1.6, "user frozen-dataclass effects vs the CPython floor"),
    ("user_ten", "user", 1.1, "10 unrelated handlers installed vs none"),
]


def time_once(thunk: Callable[[], int], effects: int) -> float:
    """ns per effect of one run of ``thunk``, with the garbage collector off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        result = thunk()
        elapsed = time.perf_counter_ns() - start
    finally:
        if enabled:
            gc.enable()
    if result != 0:
        raise AssertionError(f"countdown returned {result!r}, expected 0")
    return elapsed / effects


def run_countdown(
    variants: Sequence[Variant], n: int, repeats: int, log: Callable[[str], None]
) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Per-variant ns/effect for each round, and the reasons variants were skipped."""
    effects = effects_for(n)
    thunks: dict[str, Callable[[], int]] = {}
    skipped: dict[str, str] = {}
    for v in variants:
        try:
            thunks[v.key] = v.build(n, None)
        except Unavailable as why:
            skipped[v.key] = str(why)
    keys = list(thunks)
    for _ in range(WARMUP):  # specialise the bytecode, fill caches, wake the CPU up
        for key in keys:
            time_once(thunks[key], effects)
    times: dict[str, list[float]] = {key: [] for key in keys}
    for r in range(repeats):
        order = keys[r % len(keys):] + keys[: r % len(keys)]
        for key in order:
            times[key].append(time_once(thunks[key], effects))
        log(f"round {r + 1}/{repeats} done")
    return times, skipped


def paired_ratio(times: dict[str, list[float]], num: str, den: str) -> float | None:
    """Median over rounds of times[num] / times[den] measured in the same round."""
    if num not in times or den not in times:
        return None
    return statistics.median(a / b for a, b in zip(times[num], times[den], strict=True))


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 20_000 effects, 3 rounds, 3 import repeats")
    parser.add_argument("--effects", type=int, default=None,
                        help="effects per countdown (default 200_000; the countdown starts "
                        "at effects // 2 and performs 2n+1)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 11)")
    parser.add_argument("--import-repeats", type=int, default=None,
                        help="fresh interpreters per import measurement (default 15)")
    parser.add_argument("--only", default=None,
                        help="comma-separated variant keys to run (the floor is always run)")
    parser.add_argument("--traces", action="store_true",
                        help="add the Traces section: write, read and verify a trace of "
                        "1_000_000 records (20_000 with --quick); see benchmarks/traces.py")
    args = parser.parse_args(argv)
    effects_target = args.effects or (20_000 if args.quick else 200_000)
    repeats = args.repeats or (3 if args.quick else 11)
    import_repeats = args.import_repeats or (3 if args.quick else 15)
    n = effects_target // 2
    variants = list(VARIANTS)
    if args.only:
        wanted = {"floor", *args.only.split(",")}
        unknown = wanted - {v.key for v in VARIANTS}
        if unknown:
            parser.error(f"unknown variants {sorted(unknown)}; known: {[v.key for v in VARIANTS]}")
        variants = [v for v in VARIANTS if v.key in wanted]

    log = progress

    print("## Countdown (core runtime)\n")
    print(f"- {machine()}")
    print(f"- effectus {_effectus_version()}, effect {_version('effect')}, "
          f"effectful {_version('effectful')}, returns {_version('returns')}")
    print(f"- countdown from n={n:_}: {effects_for(n):_} effects per run; "
          f"{repeats} timed rounds after {WARMUP} warm-up rounds; GC off while timing\n")

    times, skipped = run_countdown(variants, n, repeats, log)
    print("| # | variant | ns/effect (median) | min – max | ratio to floor | ratio of minimums |")
    print("|---|---|---:|---:|---:|---:|")
    for i, v in enumerate(variants, 1):
        if v.key in skipped:
            print(f"| {i} | {v.label} | n/a | | {skipped[v.key]} | |")
            continue
        t = times[v.key]
        ratio = paired_ratio(times, v.key, "floor")
        print(f"| {i} | {v.label} | {statistics.median(t):,.0f} | "
              f"{min(t):,.0f} – {max(t):,.0f} | {ratio:.2f}x | {min(t) / min(times['floor']):.2f}x |")

    print("\n### Bars and other ratios\n")
    print("Paired: the median over rounds of the ratio within a round.  Minimums: the ratio of "
          "the fastest runs.\n")
    print("| ratio | paired | minimums | bar: at most | holds (paired) |")
    print("|---|---:|---:|---:|---|")
    bars = {(num, den): (limit, what) for num, den, limit, what in BARS}
    for num, den in [*bars, *OTHER_RATIOS]:
        ratio = paired_ratio(times, num, den)
        limit, what = bars.get((num, den), (None, ""))
        name = f"{what} (`{num}`/`{den}`)" if what else f"`{num}`/`{den}`"
        if ratio is None:
            print(f"| {name} | n/a | n/a | {limit or ''} | not measured |")
            continue
        mins = min(times[num]) / min(times[den])
        verdict = "" if limit is None else ("yes" if ratio <= limit else "**no**")
        print(f"| {name} | {ratio:.2f}x | {mins:.2f}x | {f'{limit}x' if limit else ''} | "
              f"{verdict} |")

    print("\n## `import effectus`\n")
    log("measuring import time in fresh interpreters")
    report = importtime.measure(import_repeats)
    print(f"Median of {report.repeats} fresh interpreters each.\n")
    print("| interpreter | `python -c pass` | wall, over `pass` | `-X importtime`, effectus "
          "cumulative | of which effectus's own modules |")
    print("|---|---:|---:|---:|---:|")
    for label, it in (("`python` (site loaded)", report.site),
                      ("`python -S` (no site)", report.nosite)):
        print(f"| {label} | {it.pass_ms:.1f} ms | {it.wall_ms:.1f} ms | "
              f"{it.importtime_ms:.1f} ms | {it.own_ms:.1f} ms |")
    print()
    print(f"- modules newly loaded: {report.modules}; third-party packages among them: "
          f"{', '.join(report.third_party) or 'none'}")
    absent = [m for m in importtime.HEAVY if m not in report.heavy]
    print(f"- not in `sys.modules` after `import effectus`: {', '.join(absent) or 'none'}"
          + (f"; **loaded: {', '.join(report.heavy)}**" if report.heavy else ""))
    print(f"- check (jax, z3, ray, hypothesis absent): {'PASS' if report.ok else '**FAIL**'}")

    if args.traces:
        print("\n## Traces\n")
        figures = traces.measure(20_000 if args.quick else 1_000_000, 2 if args.quick else 3, log)
        print("\n".join(traces.report(figures)))
    return 0 if report.ok else 1


def _effectus_version() -> str:
    import effectus

    return effectus.__version__


if __name__ == "__main__":
    raise SystemExit(main())
