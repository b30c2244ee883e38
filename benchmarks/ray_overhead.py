"""Ray: what a spawned tool call costs when `Distributed` sends it to Ray, against running it
locally and against calling Ray directly.

**Setup.**  ``ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)`` (a local Ray
instance started here and shut down at the end; a process already connected to Ray keeps its
connection).  The tools are defined at module level: ``add(a, b)`` returns ``a + b``;
``nap()`` awaits ``fx.Sleep(0.05)``.

**Per call** (``--calls`` N, default 50): a program spawns ``add(i, i)`` and joins it, N times
in turn (each call waits for the previous one), and checks the sum of the results:

- *local*: ``fx.run(main(), fx.production())``: each spawn is a local task;
- *Ray*: ``fx.run(main(), fx.production().with_handlers(Distributed()))``: each spawn is a Ray
  task running ``add`` under a fresh ``fx.production()`` on a worker;
- *bare Ray*: ``ray.get(add_remote.remote(i, i))`` N times, ``add_remote`` the same function as
  a plain ``@ray.remote`` task (the floor for one Ray round trip).

**Concurrent sleeps**: a program spawns ``nap()`` 8 times, then joins all 8; the wall time
under ``fx.production()`` (its sleeps run on worker threads at once) and with `Distributed`
(8 Ray tasks of 1 CPU each on 2 CPUs), and the same 8 sleeps as bare Ray tasks
(``time.sleep(0.05)``, one ``ray.get`` of all).

**Method.**  Each variant is run once untimed (Ray starts its workers, registers the
functions).  Then ``--rounds`` rounds, each timing every variant once (the order rotated by
one per round), the GC on.  A figure is the median over rounds; a ratio is paired: the median
over rounds of ``a / b`` measured in the same round.  The interpreters are built once and
reused.

    python -m benchmarks.ray_overhead                   # 50 calls, 7 rounds
    python -m benchmarks.ray_overhead --quick           # 3 calls, 1 round (the smoke test)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python benchmarks/ray_overhead.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import effectus as fx  # noqa: E402
from effectus.effects import Distributed  # noqa: E402
from benchmarks._machine import machine, progress  # noqa: E402

__all__ = ["NAPS", "NAP_S", "VARIANTS", "add", "main", "measure", "nap", "paired", "report"]

#: concurrent sleeps, and how long each sleeps
NAPS = 8
NAP_S = 0.05
#: what is timed, in the order of the tables
VARIANTS = ("local", "ray", "bare", "naps_local", "naps_ray", "naps_bare")
_LABELS = {
    "local": "local: `fx.production()`",
    "ray": "Ray: `fx.production().with_handlers(Distributed())`",
    "bare": "bare Ray: `ray.get(add_remote.remote(i, i))`",
    "naps_local": "local: `fx.production()`",
    "naps_ray": "Ray: `Distributed()`",
    "naps_bare": "bare Ray: `ray.get([sleep_remote.remote() ...])`",
}


@fx.tool
async def add(a: int, b: int) -> int:
    """The trivial tool: its cost is all dispatch."""
    return a + b


@fx.tool
async def nap() -> float:
    """Sleeps ``NAP_S`` seconds through the effect system."""
    await fx.Sleep(NAP_S)
    return NAP_S


async def _calls(n: int) -> int:
    total = 0
    for i in range(n):
        total += await fx.Join(await fx.Spawn(add(i, i)))
    return total


async def _naps() -> float:
    tasks = [await fx.Spawn(nap()) for _ in range(NAPS)]
    slept: list[float] = [await fx.Join(t) for t in tasks]
    return sum(slept)


def _add_plain(a: int, b: int) -> int:
    return a + b


def _sleep_plain() -> float:
    time.sleep(NAP_S)
    return NAP_S


def _variants(calls: int) -> tuple[dict[str, Callable[[], Any]], Distributed]:
    """Variant -> one timed run (the interpreters and remote functions made here, once), and
    the `Distributed` handler the Ray variants use."""
    import ray

    local = fx.production()
    distributed = Distributed()
    on_ray = fx.production().with_handlers(distributed)
    add_remote = ray.remote(_add_plain)
    sleep_remote = ray.remote(_sleep_plain)
    want = sum(2 * i for i in range(calls))

    def checked(value: int) -> int:
        if value != want:
            raise AssertionError(f"the calls summed to {value}, not {want}")
        return value

    return {
        "local": lambda: checked(fx.run(_calls(calls), local)),
        "ray": lambda: checked(fx.run(_calls(calls), on_ray)),
        "bare": lambda: checked(sum(ray.get(add_remote.remote(i, i)) for i in range(calls))),
        "naps_local": lambda: fx.run(_naps(), local),
        "naps_ray": lambda: fx.run(_naps(), on_ray),
        "naps_bare": lambda: sum(ray.get([sleep_remote.remote() for _ in range(NAPS)])),
    }, distributed


def measure(calls: int, rounds: int, log: Callable[[str], None] = lambda _: None) -> dict[str, list[float]]:
    """Variant -> seconds per run, one per round (a Ray connection must exist).

    Raises:
        AssertionError: a variant computed a wrong sum, or `Distributed` did not send the calls to Ray.
    """
    variants, handler = _variants(calls)
    for variant in VARIANTS:  # warm-up: Ray starts workers, registers the functions
        variants[variant]()
    if handler.submitted != {"add": calls, "nap": NAPS}:
        raise AssertionError(f"Distributed submitted {handler.submitted}, expected add: {calls}, nap: {NAPS}")
    log("warm-up done")
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for r in range(rounds):
        order = VARIANTS[r % len(VARIANTS):] + VARIANTS[:r % len(VARIANTS)]
        for variant in order:
            start = time.perf_counter()
            variants[variant]()
            times[variant].append(time.perf_counter() - start)
        log(f"round {r + 1}/{rounds} done")
    return times


def paired(a: Sequence[float], b: Sequence[float]) -> float:
    """The median over rounds of ``a[i] / b[i]`` (measured in the same round)."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def report(times: dict[str, list[float]], calls: int) -> list[str]:
    """The results as markdown lines."""
    rounds = len(times["local"])
    lines = [
        f"{rounds} timed round(s) after a warm-up run; figures are medians over rounds, ratios paired per round.",
        "",
        f"Per call: `add(i, i)` spawned and joined {calls} times in turn.",
        "",
        "| variant | µs per call (median) | min – max |",
        "|---|---:|---:|",
    ]
    for variant in ("local", "ray", "bare"):
        t = [v / calls * 1e6 for v in times[variant]]
        lines.append(f"| {_LABELS[variant]} | {statistics.median(t):,.0f} | {min(t):,.0f} – {max(t):,.0f} |")
    lines += [
        "",
        f"Concurrent sleeps: `nap()` (`await fx.Sleep({NAP_S:g})`) spawned {NAPS} times, then all joined; wall time "
        f"(the sleeps alone: {NAP_S * 1000:.0f} ms if all run at once).",
        "",
        "| variant | ms (median) | min – max |",
        "|---|---:|---:|",
    ]
    for variant in ("naps_local", "naps_ray", "naps_bare"):
        t = [v * 1e3 for v in times[variant]]
        lines.append(f"| {_LABELS[variant]} | {statistics.median(t):,.1f} | {min(t):,.1f} – {max(t):,.1f} |")
    lines += [
        "",
        "| ratio (paired) | value |",
        "|---|---:|",
        f"| per call: Ray (`Distributed`) / local | {paired(times['ray'], times['local']):,.1f}x |",
        f"| per call: Ray (`Distributed`) / bare Ray | {paired(times['ray'], times['bare']):,.2f}x |",
        f"| concurrent sleeps: Ray (`Distributed`) / local | {paired(times['naps_ray'], times['naps_local']):,.2f}x |",
        f"| concurrent sleeps: Ray (`Distributed`) / bare Ray | {paired(times['naps_ray'], times['naps_bare']):,.2f}x |",
    ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ray_overhead", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 calls, 1 round")
    parser.add_argument("--calls", type=int, default=None, help="calls per run (default 50)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 7)")
    args = parser.parse_args(argv)
    calls = args.calls or (3 if args.quick else 50)
    rounds = args.rounds or (1 if args.quick else 7)
    if calls < 1 or rounds < 1:
        parser.error(f"--calls and --rounds must be at least 1 (got {calls} and {rounds})")
    try:
        import ray
    except ImportError:
        print("benchmarks.ray_overhead: ray is not installed (pip install ray). Nothing measured.")
        return 0

    print("## Ray\n")
    print(f"- {machine()}; effectus {fx.__version__}, ray {ray.__version__}\n")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        if __name__ != "__main__":  # Ray ships functions by reference: the workers may not import this module
            ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # type: ignore[no-untyped-call]  # ray's cloudpickle is untyped
        start = time.perf_counter()
        times = measure(calls, rounds, progress)
        print("\n".join(report(times, calls)))
        progress(f"took {time.perf_counter() - start:.0f} s")
    finally:
        if started:
            ray.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
