"""z3 static checks: how long ``fx.check`` takes per tool, solving cold and answering from the cache.

**Cases.**  Every spec'd tool of every ``tests/proofs/corpus*.py`` file (the corpus the proof
tests read; a new corpus file joins the benchmark by its name alone).  A file is imported with
``effectus._cli_check.load_module``, as ``effectus check FILE`` imports it, and its tools are the
tools ``fx.check(module)`` checks, in definition order: the module's values that have a spec
(`effectus.specs.spec_of`) and were defined in it, and any other `fx.Tool` (a composite, say)
that ``fx.check([value])`` accepts.  A tool in the module's report that no value holds stops
the run.  Each tool gets every check ``fx.check`` makes of it: a spec'd tool its two spec
checks (preconditions satisfiable, postconditions consistent) and, where its body calls
spec'd tools or it has postconditions, its body checks; a composite its composition checks.

**Method.**  Each figure is the wall time (`time.perf_counter`) of one
``effectus.proofs.check([tool], cache=...)`` call, the garbage collector on, as a user runs it:

- *cold*: ``cache=False``: the spec is translated and z3 solves both checks;
- *cached*: ``cache=True`` with ``EFFECTUS_PROOF_CACHE`` pointing at a fresh temporary folder,
  filled by one untimed call per tool, so that each timed call reads both verdicts back from
  disk.  Every row of a timed call must come back ``cached=True``.

One untimed cold call per tool comes first (it loads z3 and warms the process), then
``--repeats`` rounds.  A round times every tool cold, each cold call followed by the same tool
cached, then every tool cached again, back to back, in the same order (rotated by one per
round).  The back-to-back figure is *the* cached figure: it is what a run that finds every
verdict in the cache does.  The one right after a cold call is reported on its own line: the
same call costs several times more right after z3 has solved -- every part of it (hashing the
key, reading the file, parsing the JSON), while the next call is fast again: the CPU's caches
after a solve, not more work -- and a run that mixes solved and cached tools pays that.

A tool's figure is its median over rounds; over the corpus the report gives the median tool,
the 90th percentile (linear interpolation), the slowest tool, and the corpus total (the sum of
the tools' medians), cold and cached, with the cold / cached ratio of each.  Every timed call
must give the verdicts of the first cold call: a cached call answering another verdict than z3
would stop the run.  Where a corpus file has an ``EXPECTED`` dict (tool name -> verdicts), the
report also says whether the verdicts are the expected ones.

*First call.*  The first check in a process also pays for ``import z3`` and for z3's own
initialisation (its context, the first solver).  That is measured once, apart, in a fresh
interpreter: after ``import effectus`` and the corpus file (tools only; z3 not loaded yet),
the time of ``import effectus.proofs``, then of the first ``check([tool], cache=False)`` of the
corpus's first tool, then of the same call again.

    python -m benchmarks.proofs              # 5 rounds (about 35 s for 91 tools)
    python -m benchmarks.proofs --quick      # 1 round (the smoke test)
    python -m benchmarks.proofs --repeats 11
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

if __package__ in (None, ""):  # `python benchmarks/proofs.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import z3  # type: ignore[import-untyped]  # noqa: E402  # z3 ships no type information

import effectus as fx  # noqa: E402
from effectus._cli_check import load_module  # noqa: E402
from effectus.proofs import Check, check  # noqa: E402
from effectus.proofs._check import RLIMIT, SEED  # noqa: E402
from effectus.specs import spec_of  # noqa: E402
from benchmarks._machine import machine, progress  # noqa: E402

__all__ = [
    "CORPUS_GLOB", "CorpusTool", "FirstCall", "Times", "corpus_files", "first_call", "load_tools", "main",
    "measure", "percentile", "report",
]

ROOT = Path(__file__).resolve().parent.parent
#: the corpus files, relative to the repository root
CORPUS_GLOB = "tests/proofs/corpus*.py"

Verdicts = tuple[str, ...]


class CorpusTool(NamedTuple):
    #: the corpus file's stem (``corpus``, ``corpus_bodies``, ...)
    corpus: str
    path: Path
    #: the module attribute that holds the tool
    attr: str
    #: the tool's name, as the report rows give it
    name: str
    obj: object
    #: the verdicts the corpus file's EXPECTED gives for it, if it gives any
    expected: Verdicts | None


class Times(NamedTuple):
    #: seconds per timed call, one per round
    cold: list[float]
    #: cached, back to back with the other tools' cached calls
    cached: list[float]
    #: cached, right after the same tool's cold call
    after_cold: list[float]
    #: the verdicts of the untimed cold call (every timed call, cold or cached, gave the same)
    verdicts: Verdicts
    #: the verdicts the cached calls gave
    cached_verdicts: Verdicts


class FirstCall(NamedTuple):
    tool: str
    #: seconds: ``import effectus.proofs`` (z3 included), the first check, the same check again
    import_s: float
    first_s: float
    again_s: float
    #: whether z3 was already loaded before ``import effectus.proofs`` (then import_s misses it)
    z3_preloaded: bool


# --- the corpus ---------------------------------------------------------------------------------


def corpus_files(root: Path = ROOT) -> list[Path]:
    """Every ``tests/proofs/corpus*.py`` file, sorted by name."""
    return sorted(root.glob(CORPUS_GLOB))


def load_tools(paths: Sequence[Path]) -> list[CorpusTool]:
    """The tools ``fx.check(module)`` checks in each file, file by file, in definition order.

    A tool is a module value that is an `fx.Tool`: one with a spec counts when it was defined in
    the file (not imported into it); one without (a composite, say) counts when
    ``check([value])`` accepts it and answers rows for one tool of the module's report.

    Raises:
        AssertionError: ``fx.check(module)`` checks a tool that no module value holds.
    """
    tools: list[CorpusTool] = []
    for path in paths:
        module = load_module(str(path))
        expected = getattr(module, "EXPECTED", None)
        checked = list(dict.fromkeys(row.tool for row in check(module, cache=False).rows))
        found: dict[str, CorpusTool] = {}
        for attr, value in vars(module).items():
            if not isinstance(value, fx.Tool):
                continue
            spec = spec_of(value)
            if spec is not None:
                if getattr(value, "__module__", None) != module.__name__:
                    continue  # imported: fx.check(module) leaves it to its own module
                names = [spec.name]
            elif isinstance(value, fx.Composite):
                names = [attr]  # a module's report names a composite by its variable
            else:
                continue  # a tool without a spec: fx.check has nothing to check
            if len(names) != 1 or names[0] not in checked or names[0] in found:
                continue
            want = expected.get(names[0]) if isinstance(expected, dict) else None
            found[names[0]] = CorpusTool(path.stem, path, attr, names[0], value,
                                         None if want is None else tuple(str(v) for v in want))
        missing = [name for name in checked if name not in found]
        if missing:
            raise AssertionError(f"{path.name}: fx.check(module) checks {missing}, "
                                 "but no value of the module is that tool")
        tools.extend(found.values())
    return tools


# --- measuring ----------------------------------------------------------------------------------


@contextmanager
def fresh_cache() -> Iterator[Path]:
    """``EFFECTUS_PROOF_CACHE`` set to a new empty folder for the block, then put back."""
    before = os.environ.get("EFFECTUS_PROOF_CACHE")
    with tempfile.TemporaryDirectory(prefix="effectus-proofs-bench-") as folder:
        os.environ["EFFECTUS_PROOF_CACHE"] = folder
        try:
            yield Path(folder)
        finally:
            if before is None:
                del os.environ["EFFECTUS_PROOF_CACHE"]
            else:
                os.environ["EFFECTUS_PROOF_CACHE"] = before


def _rows(tool: CorpusTool, cache: bool) -> tuple[float, tuple[Check, ...]]:
    start = time.perf_counter()
    rows = check([tool.obj], cache=cache).rows
    elapsed = time.perf_counter() - start
    return elapsed, rows


def _verdicts(tool: CorpusTool, rows: Sequence[Check], *, cached: bool | None = None) -> Verdicts:
    # (a composite passed alone is named by its structure, in a module's report by its variable)
    names = {tool.name, getattr(tool.obj, "__qualname__", tool.name)}
    if not rows or any(r.tool not in names for r in rows):
        raise AssertionError(f"{tool.name}: check([tool]) gave rows {[r.tool for r in rows]}")
    if cached is not None and any(r.cached != cached for r in rows):
        raise AssertionError(f"{tool.name}: rows with cached={[r.cached for r in rows]}, expected all {cached}")
    return tuple(r.verdict for r in rows)


def _same(tool: CorpusTool, r: int, first: dict[str, Verdicts], cold: Verdicts, cached: Verdicts) -> None:
    if cold != first[_key(tool)] or cached != first[_key(tool)]:
        raise AssertionError(f"{tool.name}: round {r + 1} gave {cold} cold and {cached} cached, "
                             f"the first cold call {first[_key(tool)]}")


def measure(tools: Sequence[CorpusTool], repeats: int,
            log: Callable[[str], None] = lambda _: None) -> dict[str, Times]:
    """Per tool (by ``corpus.name``): its cold and cached times, one per round, and its verdicts.

    Raises:
        AssertionError: a call gave other verdicts than the first cold call, or a timed cached
            call computed a row instead of reading it.
    """
    first: dict[str, Verdicts] = {}
    for tool in tools:  # warm-up: z3 loaded and initialised, translation paths run once
        first[_key(tool)] = _verdicts(tool, _rows(tool, cache=False)[1], cached=False)
    times = {_key(t): Times([], [], [], first[_key(t)], ()) for t in tools}
    with fresh_cache() as folder:
        for tool in tools:  # fill the cache; a tool whose checks equal an earlier one's may hit it
            filled = _verdicts(tool, _rows(tool, cache=True)[1])
            if filled != first[_key(tool)]:
                raise AssertionError(f"{tool.name}: cache=True gave {filled}, cache=False {first[_key(tool)]}")
        entries = len(list(folder.glob("*.json")))
        log(f"cache filled: {entries} entries for {len(tools)} tools in {folder}")
        for r in range(repeats):
            order = list(tools[r % len(tools):]) + list(tools[: r % len(tools)])
            for tool in order:  # cold, each followed by the same tool cached
                cold_s, cold_rows = _rows(tool, cache=False)
                after_s, after_rows = _rows(tool, cache=True)
                _same(tool, r, first, _verdicts(tool, cold_rows, cached=False),
                      _verdicts(tool, after_rows, cached=True))
                times[_key(tool)].cold.append(cold_s)
                times[_key(tool)].after_cold.append(after_s)
            for tool in order:  # cached, back to back: a run that finds every verdict cached
                cached_s, cached_rows = _rows(tool, cache=True)
                cached = _verdicts(tool, cached_rows, cached=True)
                _same(tool, r, first, cached, cached)
                times[_key(tool)].cached.append(cached_s)
                times[_key(tool)] = times[_key(tool)]._replace(cached_verdicts=cached)
            log(f"round {r + 1}/{repeats} done")
    return times


_FIRST_CALL = """
import json, sys, time
from effectus._cli_check import load_module
tool = getattr(load_module(sys.argv[1]), sys.argv[2])
preloaded = "z3" in sys.modules
t0 = time.perf_counter()
import effectus.proofs
t1 = time.perf_counter()
effectus.proofs.check([tool], cache=False)
t2 = time.perf_counter()
effectus.proofs.check([tool], cache=False)
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first": t2 - t1, "again": t3 - t2, "z3_preloaded": preloaded}))
"""


def first_call(tool: CorpusTool, timeout: float = 120.0) -> FirstCall:
    """The first check of ``tool`` in a fresh interpreter, and what ``import effectus.proofs`` costs
    before it (see the module docstring)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    out = subprocess.run(
        [sys.executable, "-c", _FIRST_CALL, str(tool.path), tool.attr],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=timeout,
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return FirstCall(tool.name, float(data["import"]), float(data["first"]), float(data["again"]),
                     bool(data["z3_preloaded"]))


# --- report -------------------------------------------------------------------------------------


def _key(tool: CorpusTool) -> str:
    return f"{tool.corpus}.{tool.name}"


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, interpolating linearly between order statistics."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f}"


def _ratio(num: float, den: float) -> str:
    return f"{num / den:,.1f}x" if den > 0 else "n/a"


def _show(verdicts: Verdicts) -> str:
    return " / ".join(verdicts)


def report(tools: Sequence[CorpusTool], times: dict[str, Times], first: FirstCall | None = None) -> list[str]:
    """The results as markdown lines."""
    repeats = len(times[_key(tools[0])].cold)
    files = list(dict.fromkeys(t.path.name for t in tools))
    lines = [
        f"Corpus: {len(tools)} tools from {', '.join(f'`tests/proofs/{f}`' for f in files)}, "
        f"every check fx.check makes of it (1 to 4 rows); {repeats} timed round{'s' if repeats != 1 else ''} after one untimed cold "
        "call per tool, order rotated by one per round; per tool, the median over rounds.  "
        "cold: `check([tool], cache=False)`; cached: `check([tool], cache=True)` over a cache "
        "filled beforehand in a fresh folder (every row read back: `cached=True`), every tool "
        "back to back after the round's cold pass.",
        "",
        "| # | corpus | tool | verdicts (cold) | verdicts (cached) | cold µs (median) | min – max | "
        "cached µs (median) | min – max | cold / cached |",
        "|---:|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    cold: dict[str, float] = {}
    cached: dict[str, float] = {}
    for i, tool in enumerate(tools, 1):
        timed = times[_key(tool)]
        cold[_key(tool)] = statistics.median(timed.cold)
        cached[_key(tool)] = statistics.median(timed.cached)
        lines.append(
            f"| {i} | {tool.corpus} | `{tool.name}` | {_show(timed.verdicts)} | {_show(timed.cached_verdicts)} | "
            f"{_us(cold[_key(tool)])} | {_us(min(timed.cold))} – {_us(max(timed.cold))} | "
            f"{_us(cached[_key(tool)])} | {_us(min(timed.cached))} – {_us(max(timed.cached))} | "
            f"{_ratio(cold[_key(tool)], cached[_key(tool)])} |"
        )
    names = {_key(t): f"`{t.name}`" + (f" ({t.corpus})" if len(files) > 1 else "") for t in tools}

    def summary(per_tool: dict[str, float]) -> tuple[float, float, str, float]:
        values = list(per_tool.values())
        worst = max(per_tool, key=lambda k: per_tool[k])
        return (statistics.median(values), percentile(values, 0.9),
                f"{_us(per_tool[worst])} ({names[worst]})", sum(values))

    after = {_key(t): statistics.median(times[_key(t)].after_cold) for t in tools}
    c_med, c_p90, c_worst, c_total = summary(cold)
    k_med, k_p90, k_worst, k_total = summary(cached)
    a_med, a_p90, a_worst, a_total = summary(after)
    lines += [
        "",
        "### Over the corpus (per-tool medians)",
        "",
        "| | median tool µs | 90th percentile µs | slowest tool µs | corpus total µs |",
        "|---|---:|---:|---:|---:|",
        f"| cold (z3 solves) | {_us(c_med)} | {_us(c_p90)} | {c_worst} | {_us(c_total)} |",
        f"| cached (read from disk) | {_us(k_med)} | {_us(k_p90)} | {k_worst} | {_us(k_total)} |",
        f"| cold / cached | {_ratio(c_med, k_med)} | {_ratio(c_p90, k_p90)} | — | {_ratio(c_total, k_total)} |",
        f"| cached, right after the tool's cold call | {_us(a_med)} | {_us(a_p90)} | {a_worst} | {_us(a_total)} |",
        "",
    ]
    same = all(times[_key(t)].verdicts == times[_key(t)].cached_verdicts for t in tools)
    lines.append(f"- verdicts, cold and cached: {'the same for every tool' if same else '**differ**'}")
    graded = [t for t in tools if t.expected is not None]
    if graded:
        wrong = [t.name for t in graded if times[_key(t)].verdicts != t.expected]
        lines.append(f"- verdicts as the corpus's `EXPECTED`: "
                     f"{'yes' if not wrong else '**no**: ' + ', '.join(wrong)} "
                     f"({len(graded)} of {len(tools)} tools listed)")
    counts = {"proved": 0, "refuted": 0, "unknown": 0}
    for t in tools:
        for v in times[_key(t)].verdicts:
            counts[v] = counts.get(v, 0) + 1
    lines.append("- rows: " + ", ".join(f"{n} {v}" for v, n in counts.items()))
    if first is not None:
        lines.append(
            f"- first check in a fresh process (`{first.tool}`, measured once): "
            f"`import effectus.proofs` {first.import_s * 1e3:,.1f} ms"
            f"{' (z3 was already loaded!)' if first.z3_preloaded else ' (z3 included)'}, "
            f"then the first `check` {first.first_s * 1e3:,.1f} ms, the same check again "
            f"{first.again_s * 1e3:,.1f} ms; in-process cold median of that tool above: "
            f"{cold[_key(tools[0])] * 1e3:,.1f} ms"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.proofs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 5)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 5)

    log = progress
    paths = corpus_files()
    if not paths:
        parser.error(f"no corpus files match {CORPUS_GLOB} under {ROOT}")
    tools = load_tools(paths)
    if not tools:
        parser.error(f"no spec'd tools in {', '.join(p.name for p in paths)}")

    print("## z3 static checks\n")
    print(f"- {machine()}; effectus {fx.__version__}, z3 {z3.get_version_string()}; "
          f"rlimit {RLIMIT:,} per check, seed {SEED}\n")
    log(f"{len(tools)} tools from {len(paths)} corpus file(s)")
    times = measure(tools, repeats, log)
    log("first check in a fresh process")
    first = first_call(tools[0])
    print("\n".join(report(tools, times, first)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
