"""Concurrency: channel ping-pong and spawning tasks, side by side with asyncio and threads.

**Ping-pong.**  Two tasks bounce an int back and forth ``n`` times over a session-typed channel:
the client sends ``i``, the server receives it and sends it back, the client receives it.  Each
round trip carries two messages.  Two protocols are measured:

- *linear*: ``rec loop . !int . ?int . loop``.  Both sides know ``n`` and stop after ``n``
  round trips, then release their endpoint with `fx.Release` (the loop has no end to close at).
- *select*: ``rec loop . +{ping: !int . ?int . loop, stop: end}``.  Each round trip also sends
  a label (``select``/``offer``), and the server learns when to stop from the client.  The
  difference between the two rows is what ``select``/``offer`` cost.

Each runs under ``fx.Interpreter(scheduler=fx.Cooperative())`` (tasks run until they block,
like asyncio; no handlers are needed for channels and tasks) and under ``fx.testing(0)``
(``Seeded``: a task switch is considered before every effect).  The anchors: two asyncio tasks
with two ``asyncio.Queue``s (``await put``, ``await get``), and two threads with two
``queue.Queue``s or two ``queue.SimpleQueue``s.  Messages per second count the two ints of a
round trip (not the select's label), so the ratio of message rates is the ratio of round-trip
rates.  Every variant returns the sum of what came back, which is checked.

**Spawn and join.**  A program spawns ``tasks`` trivial tasks (``async def one(i): return i``)
and then joins them all in order; the asyncio anchor is ``create_task`` for each and one
``gather``.  Each measurement runs in a fresh interpreter (a subprocess), so its memory is not
polluted by the other variants: after a 1,000-task warm-up it resets the peak resident set
size (``/proc/self/clear_refs``), notes the resident set, times one run and reads the peak
(``VmHWM``; the difference is what the run added), then runs again under `tracemalloc` for the
peak of Python allocations during a run.  (``ru_maxrss`` cannot be used on Linux: a child
inherits its parent's peak through ``fork`` and ``exec``.  Where ``/proc`` is missing the figures
fall back to it.)

Method (the countdown's): every variant is built once and warmed up, then timed ``repeats``
times in rounds, each round running every variant once in an order rotated by one per round,
with the garbage collector off while timing (as ``timeit`` does; ``--keep-gc`` leaves it on).
Ratios are paired: the median over rounds of variant / anchor measured in the same round.
Schedules explored per second (`fx.explore`) are not measured here yet.

    python -m benchmarks.concurrency             # 20_000 round trips, 100_000 tasks; 5 rounds
    python -m benchmarks.concurrency --quick     # 300 round trips, 2_000 tasks; 2 and 1 rounds
    python -m benchmarks.concurrency --keep-gc   # the same with the garbage collector on
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import queue
import resource
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, NamedTuple, cast

if __package__ in (None, ""):  # `python benchmarks/concurrency.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import effectus as fx  # noqa: E402
from effectus.types import END, Endpoint, Session, rec, recv, select, send  # noqa: E402
from benchmarks._machine import machine, progress  # noqa: E402

__all__ = [
    "PING_PONG",
    "SPAWN",
    "SpawnFigures",
    "main",
    "measure_ping_pong",
    "measure_spawn",
    "report",
    "spawn_once",
]

ROOT = Path(__file__).resolve().parent.parent

#: untimed runs of every ping-pong variant before the timed rounds
WARMUP = 1

#: tasks spawned (and joined) by the warm-up run of each spawn measurement
SPAWN_WARMUP = 1_000

#: what the issue asks for: effectus at least this many times asyncio's message rate ...
PING_PONG_TARGET = 2.0
#: ... and 100_000 spawned tasks in less memory than this
MEMORY_TARGET = 1 << 30

Thunk = Callable[[], int]

LINEAR: Session = rec("loop", lambda loop: send(int, recv(int, loop)))
SELECT: Session = rec("loop", lambda loop: select(ping=send(int, recv(int, loop)), stop=END))


def expected_sum(n: int) -> int:
    """What every ping-pong of ``n`` round trips answers: the sum of ``range(n)``."""
    return n * (n - 1) // 2


# --- ping-pong: effectus ----------------------------------------------------------------------


async def _linear_client(ep: Endpoint[Session], n: int) -> int:
    total = 0
    for i in range(n):
        ep = await ep.send(i)
        value, ep = await ep.recv()
        total += cast(int, value)  # a Rec protocol types its messages as object
    await fx.Release(ep)  # the loop never ends: both sides stop after n round trips
    return total


async def _linear_server(ep: Endpoint[Session], n: int) -> None:
    for _ in range(n):
        value, ep = await ep.recv()
        ep = await ep.send(value)
    await fx.Release(ep)


async def linear_ping_pong(n: int) -> int:
    """``n`` round trips over ``rec loop . !int . ?int . loop``; answers the sum echoed back."""
    client, server = await fx.Open(LINEAR)
    task = await fx.Spawn(_linear_server(server, n))
    total = await _linear_client(client, n)
    await fx.Join(task)
    return total


async def _select_client(ep: Endpoint[Session], n: int) -> int:
    total = 0
    for i in range(n):
        ep = await ep.select("ping")
        ep = await ep.send(i)
        value, ep = await ep.recv()
        total += cast(int, value)  # a Rec protocol types its messages as object
    ep = await ep.select("stop")
    await ep.close()
    return total


async def _select_server(ep: Endpoint[Session]) -> int:
    served = 0
    while True:
        label, ep = await ep.offer()
        if label == "stop":
            await ep.close()
            return served
        value, ep = await ep.recv()
        ep = await ep.send(value)
        served += 1


async def select_ping_pong(n: int) -> int:
    """``n`` round trips over ``rec loop . +{ping: !int . ?int . loop, stop: end}``."""
    client, server = await fx.Open(SELECT)
    task = await fx.Spawn(_select_server(server))
    total = await _select_client(client, n)
    served = await fx.Join(task)
    if served != n:
        raise AssertionError(f"the server answered {served} pings, not {n}")
    return total


def _effectus(
    program: Callable[[int], Coroutine[Any, Any, int]], interp: fx.Interpreter,
) -> Callable[[int], Thunk]:
    def build(n: int) -> Thunk:
        def thunk() -> int:
            return interp.run(program(n))

        return thunk

    return build


# --- ping-pong: asyncio and threads -----------------------------------------------------------


async def _asyncio_ping_pong(n: int) -> int:
    there: asyncio.Queue[int] = asyncio.Queue()
    back: asyncio.Queue[int] = asyncio.Queue()

    async def server() -> None:
        for _ in range(n):
            await back.put(await there.get())

    task = asyncio.create_task(server())
    total = 0
    for i in range(n):
        await there.put(i)
        total += await back.get()
    await task
    return total


def build_asyncio(n: int) -> Thunk:
    """Two asyncio tasks and two ``asyncio.Queue``s, on one event loop made once."""
    runner = asyncio.Runner()

    def thunk() -> int:
        return runner.run(_asyncio_ping_pong(n))

    return thunk


def _build_threads(
    make: Callable[[], queue.Queue[int] | queue.SimpleQueue[int]],
) -> Callable[[int], Thunk]:
    def build(n: int) -> Thunk:
        def thunk() -> int:
            there, back = make(), make()

            def server() -> None:
                for _ in range(n):
                    back.put(there.get())

            thread = threading.Thread(target=server, daemon=True)
            thread.start()
            total = 0
            for i in range(n):
                there.put(i)
                total += back.get()
            thread.join()
            return total

        return thunk

    return build


class PingPong(NamedTuple):
    key: str
    label: str
    build: Callable[[int], Thunk]


#: Cooperative first: it is what production runs; asyncio is the anchor of every ratio.
PING_PONG = [
    PingPong("fx_linear", "effectus, linear protocol, `Cooperative`",
             _effectus(linear_ping_pong, fx.Interpreter(scheduler=fx.Cooperative()))),
    PingPong("fx_select", "effectus, select/offer protocol, `Cooperative`",
             _effectus(select_ping_pong, fx.Interpreter(scheduler=fx.Cooperative()))),
    PingPong("fx_linear_seeded", "effectus, linear protocol, `fx.testing(0)` (`Seeded`)",
             _effectus(linear_ping_pong, fx.testing(0))),
    PingPong("fx_select_seeded", "effectus, select/offer protocol, `fx.testing(0)` (`Seeded`)",
             _effectus(select_ping_pong, fx.testing(0))),
    PingPong("asyncio", "asyncio: 2 tasks, 2 `asyncio.Queue`", build_asyncio),
    PingPong("threads_queue", "threads: 2 threads, 2 `queue.Queue`", _build_threads(queue.Queue)),
    PingPong("threads_simple", "threads: 2 threads, 2 `queue.SimpleQueue`",
             _build_threads(queue.SimpleQueue)),
]


def _time(thunk: Thunk, expected: int, keep_gc: bool = False) -> float:
    """Seconds of one run of ``thunk``, with the garbage collector off unless ``keep_gc``;
    checks its answer."""
    enabled = gc.isenabled()
    if not keep_gc:
        gc.disable()
    try:
        start = time.perf_counter()
        result = thunk()
        elapsed = time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()
    if result != expected:
        raise AssertionError(f"the run answered {result!r}, expected {expected!r}")
    return elapsed


def measure_ping_pong(
    n: int, repeats: int, log: Callable[[str], None] = lambda _: None, *, keep_gc: bool = False,
) -> dict[str, list[float]]:
    """Round trips per second of every `PING_PONG` variant, one entry per round."""
    expected = expected_sum(n)
    thunks = {v.key: v.build(n) for v in PING_PONG}
    keys = list(thunks)
    for _ in range(WARMUP):
        for key in keys:
            _time(thunks[key], expected, keep_gc)
    rates: dict[str, list[float]] = {key: [] for key in keys}
    for r in range(repeats):
        order = keys[r % len(keys):] + keys[: r % len(keys)]
        for key in order:
            gc.collect()  # each run starts from the same heap
            rates[key].append(n / _time(thunks[key], expected, keep_gc))
        log(f"ping-pong round {r + 1}/{repeats} done")
    return rates


# --- spawn and join ---------------------------------------------------------------------------


async def one(i: int) -> int:
    """The trivial task."""
    return i


async def spawn_all(n: int) -> int:
    """Spawn ``n`` trivial tasks, then join each in order; answers the sum of their results."""
    tasks = [await fx.Spawn(one(i)) for i in range(n)]
    return sum([await fx.Join(t) for t in tasks])


async def gather_all(n: int) -> int:
    """asyncio: ``create_task`` ``n`` trivial coroutines and ``gather`` them."""
    return sum(await asyncio.gather(*[asyncio.create_task(one(i)) for i in range(n)]))


def _spawn_runners() -> dict[str, Callable[[int], int]]:
    cooperative = fx.Interpreter(scheduler=fx.Cooperative())
    seeded = fx.testing(0)
    runner = asyncio.Runner()
    return {
        "fx_spawn": lambda n: cooperative.run(spawn_all(n)),
        "fx_spawn_seeded": lambda n: seeded.run(spawn_all(n)),
        "asyncio_gather": lambda n: runner.run(gather_all(n)),
    }


#: (key, label) of the spawn measurements; asyncio is the anchor.
SPAWN = [
    ("fx_spawn", "effectus `Spawn` + `Join`, `Cooperative`"),
    ("fx_spawn_seeded", "effectus `Spawn` + `Join`, `fx.testing(0)` (`Seeded`)"),
    ("asyncio_gather", "asyncio `create_task` + `gather`"),
]


class SpawnFigures(NamedTuple):
    seconds: float
    traced_peak: int  # bytes: tracemalloc's peak during a second run
    rss_delta: int  # bytes: the timed run's peak resident set size over the one before it
    rss: int  # bytes: the peak resident set size of the whole process during the timed run


def _status(field: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` in bytes (``VmRSS``, ``VmHWM``), if there is one."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak_rss() -> None:
    # Linux: writing 5 to clear_refs resets VmHWM to the current resident set size.
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        pass


def _rss() -> int:
    current = _status("VmRSS")
    return _peak_rss() if current is None else current


def _peak_rss() -> int:
    peak = _status("VmHWM")
    if peak is not None:
        return peak
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS
    return kib if sys.platform == "darwin" else kib * 1024


def spawn_once(key: str, n: int, *, keep_gc: bool = False) -> SpawnFigures:
    """Measure variant ``key`` on ``n`` tasks in this process (run it in a fresh one)."""
    run = _spawn_runners()[key]
    expected = expected_sum(n)
    if run(SPAWN_WARMUP) != expected_sum(SPAWN_WARMUP):
        raise AssertionError(f"{key}: the warm-up answered a wrong sum")
    gc.collect()
    _reset_peak_rss()
    before = _rss()
    seconds = _time(lambda: run(n), expected, keep_gc)
    peak = _peak_rss()
    gc.collect()
    if not keep_gc:
        gc.disable()
    tracemalloc.start()
    try:
        result = run(n)
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    if result != expected:
        raise AssertionError(f"{key}: the traced run answered {result!r}, expected {expected!r}")
    return SpawnFigures(seconds, traced_peak, max(0, peak - before), peak)


def _spawn_in_subprocess(key: str, n: int, keep_gc: bool) -> SpawnFigures:
    command = [sys.executable, "-m", "benchmarks.concurrency", "--spawn-child", key,
               "--tasks", str(n), *(["--keep-gc"] if keep_gc else [])]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    return SpawnFigures(**json.loads(done.stdout.strip().splitlines()[-1]))


def measure_spawn(
    n: int, repeats: int, log: Callable[[str], None] = lambda _: None, *, keep_gc: bool = False,
) -> dict[str, list[SpawnFigures]]:
    """Every `SPAWN` variant on ``n`` tasks, each in a fresh subprocess, in rotating rounds."""
    keys = [key for key, _ in SPAWN]
    figures: dict[str, list[SpawnFigures]] = {key: [] for key in keys}
    for r in range(repeats):
        order = keys[r % len(keys):] + keys[: r % len(keys)]
        for key in order:
            figures[key].append(_spawn_in_subprocess(key, n, keep_gc))
        log(f"spawn round {r + 1}/{repeats} done")
    return figures


# --- report -----------------------------------------------------------------------------------


def _paired(num: list[float], den: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(num, den, strict=True))


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def _rounds(n: int) -> str:
    return f"{n} round{'' if n == 1 else 's'}"


def report(
    n: int, rates: dict[str, list[float]], tasks: int, spawned: dict[str, list[SpawnFigures]],
    *, keep_gc: bool = False,
) -> list[str]:
    """The results as markdown lines."""
    anchor = rates["asyncio"]
    gc_note = "GC on (`--keep-gc`)" if keep_gc else "GC off"
    lines = [
        f"Ping-pong: {n:,} round trips (2 messages each) per run, "
        f"{_rounds(len(anchor))} timed after {_rounds(WARMUP)} of warm-up; {gc_note} while timing.",
        "",
        "| # | variant | round trips/s (median) | min – max | messages/s (median) | "
        "ratio to asyncio (paired) | ratio of best |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for i, v in enumerate(PING_PONG, 1):
        r = rates[v.key]
        lines.append(
            f"| {i} | {v.label} | {statistics.median(r):,.0f} | {min(r):,.0f} – {max(r):,.0f} | "
            f"{2 * statistics.median(r):,.0f} | {_paired(r, anchor):.2f}x | "
            f"{max(r) / max(anchor):.2f}x |"
        )
    lines += [
        "",
        "| ratio (of message rates) | paired | of best | target: at least | holds |",
        "|---|---:|---:|---:|---|",
    ]
    for num, den, target in [
        ("fx_linear", "asyncio", PING_PONG_TARGET),
        ("fx_select", "asyncio", PING_PONG_TARGET),
        ("fx_linear_seeded", "asyncio", None),
        ("fx_select_seeded", "asyncio", None),
        ("fx_select", "fx_linear", None),
        ("fx_linear_seeded", "fx_linear", None),
        ("fx_select_seeded", "fx_select", None),
        ("threads_queue", "asyncio", None),
        ("threads_simple", "asyncio", None),
    ]:
        paired = _paired(rates[num], rates[den])
        verdict = "" if target is None else ("yes" if paired >= target else "**no**")
        lines.append(
            f"| `{num}` / `{den}` | {paired:.2f}x | {max(rates[num]) / max(rates[den]):.2f}x | "
            f"{'' if target is None else f'{target:g}x'} | {verdict} |"
        )
    rounds = len(spawned[SPAWN[0][0]])
    base = spawned["asyncio_gather"]
    lines += [
        "",
        f"Spawn and join: {tasks:,} trivial tasks per run, a fresh interpreter per measurement, "
        f"{_rounds(rounds)}; medians.  {gc_note} while timing and tracing.",
        "",
        "| # | variant | total (median) | min – max | µs/task | time ratio to asyncio (paired) | "
        "tracemalloc peak | peak RSS added | process peak RSS |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i, (key, label) in enumerate(SPAWN, 1):
        f = spawned[key]
        seconds = [x.seconds for x in f]
        lines.append(
            f"| {i} | {label} | {statistics.median(seconds):.3f} s | "
            f"{min(seconds):.3f} – {max(seconds):.3f} s | "
            f"{statistics.median(seconds) / tasks * 1e6:.2f} | "
            f"{_paired(seconds, [x.seconds for x in base]):.2f}x | "
            f"{_mb(statistics.median(x.traced_peak for x in f))} | "
            f"{_mb(statistics.median(x.rss_delta for x in f))} | "
            f"{_mb(statistics.median(x.rss for x in f))} |"
        )
    worst = max(x.rss for key, _ in SPAWN if key.startswith("fx_") for x in spawned[key])
    lines += [
        "",
        f"- target: {tasks:,} effectus tasks in under 1 GiB "
        f"(largest process peak RSS of any effectus run: {_mb(worst)}): "
        f"{'yes' if worst < MEMORY_TARGET else '**no**'}",
    ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.concurrency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 300 round trips x 2 rounds, 2_000 tasks x 1 round")
    parser.add_argument("--round-trips", type=int, default=None,
                        help="ping-pong round trips per run (default 20_000)")
    parser.add_argument("--tasks", type=int, default=None,
                        help="tasks spawned per run (default 100_000)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 5)")
    parser.add_argument("--keep-gc", action="store_true",
                        help="keep the garbage collector on while timing (default: off, as timeit)")
    parser.add_argument("--spawn-child", choices=[key for key, _ in SPAWN], default=None,
                        help=argparse.SUPPRESS)  # internal: one spawn measurement, as JSON
    args = parser.parse_args(argv)
    tasks = args.tasks or (2_000 if args.quick else 100_000)
    if args.spawn_child is not None:
        print(json.dumps(spawn_once(args.spawn_child, tasks, keep_gc=args.keep_gc)._asdict()))
        return 0
    n = args.round_trips or (300 if args.quick else 20_000)
    repeats = args.repeats or (2 if args.quick else 5)
    spawn_repeats = args.repeats or (1 if args.quick else 5)

    log = progress

    print("## Concurrency\n")
    print(f"- {machine()}; effectus {fx.__version__}\n")
    rates = measure_ping_pong(n, repeats, log, keep_gc=args.keep_gc)
    spawned = measure_spawn(tasks, spawn_repeats, log, keep_gc=args.keep_gc)
    print("\n".join(report(n, rates, tasks, spawned, keep_gc=args.keep_gc)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
