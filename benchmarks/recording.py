"""Recording and replay overhead on the countdown: live vs recorded (buffered, durable) vs replayed.

The countdown of `benchmarks.countdown` (user frozen-dataclass effects, ``2n + 1`` effects per
run) runs live, then recorded with `fx.record` (buffered; durable: each record written through
to the OS before the program resumes; durable with fsync, on fewer effects), then replayed with
`fx.replay` from the buffered trace.  Rounds rotate the order; medians are reported with the
ratio to the live run in the same round.

    python -m benchmarks.recording            # 100_000-step countdown, 7 rounds
    python -m benchmarks.recording --quick    # 2_000 steps, 2 rounds
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/recording.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import effectus as fx
from benchmarks.countdown import UserState, countdown_user, effects_for

__all__ = ["measure", "main"]


def _variants(steps: int, folder: Path) -> dict[str, Callable[[], int]]:
    state = UserState()
    live = fx.Interpreter(state)
    trace = folder / "buffered.jsonl"

    def run_live() -> int:
        state.n = steps
        return live.run(countdown_user())

    def run_buffered() -> int:
        state.n = steps
        return fx.record(live, trace).run(countdown_user())

    def run_durable() -> int:
        state.n = steps
        return fx.record(live, folder / "durable.jsonl", durable=True).run(countdown_user())

    def run_replay() -> int:
        return fx.replay(countdown_user(), trace)

    return {"live": run_live, "buffered": run_buffered, "durable": run_durable, "replay": run_replay}


def measure(steps: int, repeats: int) -> dict[str, list[float]]:
    """Seconds per effect of each variant, one list entry per round."""
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="effectus-bench-") as folder:
        variants = _variants(steps, Path(folder))
        names = list(variants)
        variants["buffered"]()  # the replay needs a trace before its first round
        for r in range(repeats):
            order = names[r % len(names):] + names[: r % len(names)]
            for name in order:
                gc.collect()
                gc.disable()
                start = time.perf_counter()
                result = variants[name]()
                elapsed = time.perf_counter() - start
                gc.enable()
                if result != 0:
                    raise AssertionError(f"{name} returned {result}, not 0")
                times.setdefault(name, []).append(elapsed / effects_for(steps))
    return times


def _fsync_cost(steps: int) -> float:
    state = UserState()
    with tempfile.TemporaryDirectory(prefix="effectus-bench-") as folder:
        state.n = steps
        start = time.perf_counter()
        fx.record(fx.Interpreter(state), Path(folder, "fsync.jsonl"), fsync=True).run(countdown_user())
        return (time.perf_counter() - start) / effects_for(steps)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.recording", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2_000 steps, 2 rounds")
    args = parser.parse_args(argv)
    steps, repeats, fsync_steps = (2_000, 2, 200) if args.quick else (100_000, 7, 2_000)
    times = measure(steps, repeats)
    live = times["live"]
    print(f"countdown of {steps:,} steps ({effects_for(steps):,} effects), {repeats} rounds; medians\n")
    print("| variant | ns/effect | ratio to live (paired median) |")
    print("|---|---:|---:|")
    for name, label in [
        ("live", "live, unrecorded"),
        ("buffered", "recorded, buffered (`fx.record`)"),
        ("durable", "recorded, durable (`durable=True`)"),
        ("replay", "replayed from the trace (`fx.replay`)"),
    ]:
        ratio = statistics.median(t / l for t, l in zip(times[name], live))
        print(f"| {label} | {statistics.median(times[name]) * 1e9:,.0f} | {ratio:.2f}x |")
    fsync = _fsync_cost(fsync_steps)
    print(f"| recorded, durable with fsync ({effects_for(fsync_steps):,} effects, one run) | {fsync * 1e9:,.0f} | "
          f"{fsync / statistics.median(live):.0f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
