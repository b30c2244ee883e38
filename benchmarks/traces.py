"""Traces: records per second written, read and verified, against bare JSON Lines loops.

One trace of ``records`` state-loop records (a countdown's ``Get``/``Put`` effects with their
encoded fields, answers and await sites) is written with `TraceWriter` (buffered), read back
with `read_trace` and checked with `verify_trace`, in a temporary directory.  Side by side, the
same records go through two bare loops that do only what the format requires: serialise the
record, append the CRC-32 member, write the line; then read each line, check its CRC and parse
it.  One loop uses orjson (what effectus uses), the other the standard library's ``json``:
their ratio is what orjson earns.  The floor is iterating over the file's lines and nothing else.

Each measurement is repeated ``repeats`` times in rounds; each round times the three writers,
then the five readers, each group in an order rotated by one per round (the countdown's method),
with the garbage collector off while timing.  The records to write are built before the writers
and dropped before the readers, so every reader starts from the same heap.  The files are
rewritten in each round, so the page cache is warm for every reader alike.  The table shows the
median records per second and the spread.

    python -m benchmarks.traces              # 1_000_000 records, 3 rounds
    python -m benchmarks.traces --quick      # 20_000 records, 2 rounds
    python -m benchmarks.run --traces        # the whole run, with this section at the end
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

if __package__ in (None, ""):  # `python benchmarks/traces.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from effectus import (  # noqa: E402
    Footer,
    Header,
    Record,
    TraceWriter,
    read_trace,
    verify_trace,
)

__all__ = ["MEASUREMENTS", "TraceFigures", "make_records", "measure", "report"]

#: (key, label); the keys of TraceFigures.rates
MEASUREMENTS = [
    ("floor", "floor: iterate over the file's lines"),
    ("write", "effectus `TraceWriter.write` (buffered)"),
    ("read", "effectus `read_trace`"),
    ("verify", "effectus `verify_trace`"),
    ("bare_orjson_write", "bare loop, orjson: dumps + crc + write"),
    ("bare_orjson_read", "bare loop, orjson: crc check + loads"),
    ("bare_json_write", "bare loop, stdlib json: dumps + crc + write"),
    ("bare_json_read", "bare loop, stdlib json: crc check + loads"),
]


class TraceFigures(NamedTuple):
    records: int
    bytes_per_record: float
    rates: dict[str, list[float]]  # key -> records per second, one per round


def make_records(n: int) -> Iterator[Record]:
    """A countdown's records: Get answers the counter, Put stores it (n records in all)."""
    site_get = "examples/countdown.py:14 in countdown"
    site_put = "examples/countdown.py:17 in countdown"
    counter = n // 2
    for seq in range(n):
        if seq % 2 == 0:
            yield Record(seq, 0, "app.state:Get", {"key": "n", "default": 0}, True, counter, site_get)
        else:
            counter -= 1
            yield Record(seq, 0, "app.state:Put", {"key": "n", "value": counter}, True, None, site_put)


def _as_dict(r: Record) -> dict[str, Any]:
    return {"t": "e", "seq": r.seq, "task": r.task, "effect": r.effect, "fields": r.fields,
            "ok": r.ok, "value": r.value, "site": r.site}


def _bare_write(path: Path, dicts: list[dict[str, Any]], dumps: Callable[[Any], bytes]) -> None:
    crc32 = zlib.crc32
    with open(path, "wb", buffering=64 * 1024) as f:
        write = f.write
        for d in dicts:
            body = dumps(d)
            write(b'%s,"crc":"%08x"}\n' % (body[:-1], crc32(body)))


def _bare_read(path: Path, loads: Callable[[bytes], Any]) -> int:
    crc32 = zlib.crc32
    n = 0
    with open(path, "rb") as f:
        for line in f:
            body = line[:-19] + b"}"
            if b'%08x"}\n' % crc32(body) != line[-11:]:
                raise AssertionError("bad crc")
            loads(body)
            n += 1
    return n


def _floor(path: Path) -> int:
    n = 0
    with open(path, "rb") as f:
        for _ in f:
            n += 1
    return n


def _timed(thunk: Callable[[], object]) -> float:
    """Seconds one call of ``thunk`` takes, with the garbage collector off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        thunk()
        return time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()


def measure(n: int, repeats: int, log: Callable[[str], None] = lambda _: None) -> TraceFigures:
    """Write, read and verify an ``n``-record trace ``repeats`` times, with the anchors."""
    import orjson

    footer = Footer("returned", 0, n)
    last = list(make_records(n))[-1]

    def stdlib_dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()

    rates: dict[str, list[float]] = {key: [] for key, _ in MEASUREMENTS}
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "run.trace"
        bare_o, bare_j = Path(tmp) / "bare-orjson.jsonl", Path(tmp) / "bare-json.jsonl"

        def read() -> None:
            t = read_trace(trace)
            if len(t.records) != n or t.footer != footer or t.records[-1] != last:
                raise AssertionError("read_trace read back something else")

        def verify() -> None:
            report = verify_trace(trace)
            if not report.ok or report.records != n:
                raise AssertionError(str(report))

        readers: list[tuple[str, Callable[[], object]]] = [
            ("floor", lambda: _floor(trace)),
            ("read", read),
            ("verify", verify),
            ("bare_orjson_read", lambda: _bare_read(bare_o, orjson.loads)),
            ("bare_json_read", lambda: _bare_read(bare_j, json.loads)),
        ]
        for r in range(repeats):
            # The records to write are built untimed, and dropped before the readers run, so
            # that every reader starts from the same heap (as a program replaying a trace would).
            records = list(make_records(n))
            dicts = [_as_dict(rec) for rec in records]

            def write() -> None:
                with TraceWriter(trace, Header.now("benchmarks.traces:countdown", None, 0)) as w:
                    for rec in records:
                        w.write(rec)
                    w.close(footer)

            writers: list[tuple[str, Callable[[], object]]] = [
                ("write", write),
                ("bare_orjson_write", lambda: _bare_write(bare_o, dicts, orjson.dumps)),
                ("bare_json_write", lambda: _bare_write(bare_j, dicts, stdlib_dumps)),
            ]
            for key, thunk in writers[r % 3:] + writers[: r % 3]:
                rates[key].append(n / _timed(thunk))
            del records, dicts, writers, write
            gc.collect()
            for key, thunk in readers[r % 5:] + readers[: r % 5]:
                rates[key].append(n / _timed(thunk))
            log(f"traces: round {r + 1}/{repeats} done")
        size = os.path.getsize(trace)
    return TraceFigures(n, size / n, rates)


def report(figures: TraceFigures) -> list[str]:
    """The markdown table of ``figures``, and the ratios that matter."""
    rates = figures.rates
    med = {key: statistics.median(v) for key, v in rates.items()}
    lines = [
        f"{figures.records:_} records, {figures.bytes_per_record:.1f} bytes per record "
        f"(trace file including header and footer); {len(rates['read'])} rounds.\n",
        "| # | measurement | records/s (median) | min – max | µs/record |",
        "|---|---|---:|---:|---:|",
    ]
    for i, (key, label) in enumerate(MEASUREMENTS, 1):
        v = rates[key]
        lines.append(f"| {i} | {label} | {med[key]:,.0f} | {min(v):,.0f} – {max(v):,.0f} | "
                     f"{1e6 / med[key]:.2f} |")
    both = 1 / (1 / med["read"] + 1 / med["verify"])
    lines += [
        "",
        f"- read, then verify, the same trace: {both:,.0f} records/s "
        f"(bar: at least 300,000 for each of read and verify: "
        f"read {'holds' if med['read'] >= 300_000 else '**does not hold**'}, "
        f"verify {'holds' if med['verify'] >= 300_000 else '**does not hold**'})",
        f"- orjson over stdlib json, bare loops: write {med['bare_orjson_write'] / med['bare_json_write']:.2f}x, "
        f"read {med['bare_orjson_read'] / med['bare_json_read']:.2f}x faster",
        f"- effectus over the bare orjson loop: write {med['bare_orjson_write'] / med['write']:.2f}x, "
        f"read {med['bare_orjson_read'] / med['read']:.2f}x the time "
        f"(what checking members, building `Record`s and the seq/footer rules cost)",
    ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.traces", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 20_000 records, 2 rounds")
    parser.add_argument("--records", type=int, default=None, help="records per trace (default 1_000_000)")
    parser.add_argument("--repeats", type=int, default=None, help="rounds (default 3)")
    args = parser.parse_args(argv)
    n = args.records or (20_000 if args.quick else 1_000_000)
    repeats = args.repeats or (2 if args.quick else 3)
    figures = measure(n, repeats, lambda msg: print(f"<!-- {msg} -->", file=sys.stderr, flush=True))
    print("## Traces\n")
    print("\n".join(report(figures)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
