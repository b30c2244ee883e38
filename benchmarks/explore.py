"""Interleaving exploration: schedules explored per second on a 3-task, 2-channel program.

The program: a producer sends ``n`` numbers down one channel to a relay, which adds one and
sends them down a second channel to a consumer; main spawns the three and joins them.  Every
step of the three tasks touches a channel, so few steps are independent and the explorer
enumerates many schedules.  `fx.explore` runs it exhaustively (depth first with sleep sets)
up to a budget; the figure is complete runs plus pruned runs per second, median of rounds.

    python -m benchmarks.explore            # n=3, budget 2000, 5 rounds
    python -m benchmarks.explore --quick    # n=2, budget 200, 1 round
"""

from __future__ import annotations

import argparse
import statistics
import time

import effectus as fx
from effectus.types import Endpoint, Session, rec, send
from benchmarks._machine import machine

STREAM = rec("s", lambda s: send(int, s))  # an endless stream; both sides stop at n


async def producer(out: Endpoint[Session], n: int) -> None:
    for i in range(n):
        out = await out.send(i)
    await fx.Release(out)


async def relay(inbox: Endpoint[Session], out: Endpoint[Session], n: int) -> None:
    for _ in range(n):
        value, inbox = await inbox.recv()
        out = await out.send(int(value) + 1)  # type: ignore[call-overload]
    await fx.Release(inbox)
    await fx.Release(out)


async def consumer(inbox: Endpoint[Session], n: int) -> int:
    total = 0
    for _ in range(n):
        value, inbox = await inbox.recv()
        total += int(value)  # type: ignore[call-overload]
    await fx.Release(inbox)
    return total


async def pipeline(n: int) -> int:
    a_out, b_in = await fx.Open(STREAM)
    b_out, c_in = await fx.Open(STREAM)
    tasks = [
        await fx.Spawn(producer(a_out, n)),
        await fx.Spawn(relay(b_in, b_out, n)),
        await fx.Spawn(consumer(c_in, n)),
    ]
    await fx.Join(tasks[0])
    await fx.Join(tasks[1])
    total = await fx.Join(tasks[2])
    assert total == sum(range(1, n + 1)), total
    return int(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n, budget, rounds = (2, 200, 1) if args.quick else (3, 2000, 5)
    print("## Interleaving exploration\n")
    print(f"- {machine()}")
    print(f"- 3 tasks, 2 channels, {n} messages each way; exhaustive, budget {budget}; {rounds} rounds\n")
    rates: list[float] = []
    report = None
    for _ in range(rounds):
        start = time.perf_counter()
        report = fx.explore(lambda: pipeline(n), budget=budget)
        seconds = time.perf_counter() - start
        assert report.ok, report
        rates.append((report.schedules + report.pruned) / seconds)
    assert report is not None
    print("| schedules run | pruned (sleep sets) | exhausted | schedules/s (median) | min – max |")
    print("|---:|---:|---|---:|---:|")
    print(
        f"| {report.schedules} | {report.pruned} | {'yes' if report.exhausted else 'no'} | "
        f"{statistics.median(rates):,.0f} | {min(rates):,.0f} – {max(rates):,.0f} |"
    )


if __name__ == "__main__":
    main()
