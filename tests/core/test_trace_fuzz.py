"""Fuzzing the trace reader: damaged input is read as an intact prefix or refused, never misread.

Whatever the bytes, `read_trace` returns a `Trace` or raises `TraceError` — no other exception,
and no hang (inputs are small) — and `verify_trace` agrees with it without raising.  When a
damaged trace is read at all, what comes back is the original's header and a prefix of its
records: a changed byte is caught by its line's checksum, a lost or repeated line by the seq
numbers and the footer's count.

Each property runs 200 examples; set EFFECTUS_FUZZ_EXAMPLES to run more.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import effectus as fx
from effectus.core._codec import encode
from effectus.core._trace import Footer, Header, Record, Trace, TraceWriter, read_trace, verify_trace

FUZZ = settings(
    max_examples=int(os.environ.get("EFFECTUS_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

HEADER = Header("app.jobs:main", [1, "two"], 0, "0.1.0", "Linux-fuzz", "3.11.7", "2026-11-21T17:00:00+00:00")
RECORDS = [
    Record(0, 0, "app.jobs:Get", {"key": "n"}, True, 3, "app/jobs.py:10 in main"),
    Record(1, 0, "app.jobs:Put", {"key": "n", "value": 2}, True, None, "app/jobs.py:11 in main"),
    Record(2, 1, "app.jobs:Read", {"path": "caf\u00e9"}, False, encode(KeyError("x")), "app/jobs.py:12 in f"),
    Record(3, 0, "app.jobs:Get", {"key": "m"}, True, encode((1.5, b"\x00")), "app/jobs.py:10 in main"),
    Record(4, 1, "app.jobs:Now", {}, True, 1.7e9, "app/jobs.py:13 in f"),
]
FOOTER = Footer("returned", encode({"done": True}), len(RECORDS))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _original(workdir: Path, footer: bool) -> bytes:
    path = workdir / f"original-{footer}.trace"
    with TraceWriter(path, HEADER) as w:
        for r in RECORDS:
            w.write(r)
        w.close(FOOTER if footer else None)
    return path.read_bytes()


def read_both(workdir: Path, data: bytes) -> Trace | None:
    """read_trace of ``data`` (None when it raises TraceError); verify_trace must agree."""
    path = workdir / "fuzzed.trace"
    path.write_bytes(data)
    try:
        trace: Trace | None = read_trace(path)
    except fx.TraceError:
        trace = None
    report = verify_trace(path)
    event("read" if trace is not None else "refused")  # --hypothesis-show-statistics shows the mix
    assert report.ok == (trace is not None), (report, trace)
    if trace is not None:
        assert report.records == len(trace.records)
        assert report.truncated == trace.truncated
        assert report.footer == (trace.footer is not None)
    return trace


def assert_prefix(trace: Trace | None, with_footer: bool) -> None:
    """A trace read from damaged bytes is the original's header and a prefix of its records."""
    if trace is None:
        return
    assert trace.header == HEADER
    assert trace.records == tuple(RECORDS[: len(trace.records)])
    if trace.footer is not None:
        assert with_footer and trace.footer == FOOTER and len(trace.records) == len(RECORDS)


# --- mutations --------------------------------------------------------------------------------

Mutation = Callable[[bytes], bytes]


def flip(pos: int, mask: int) -> Mutation:
    def apply(data: bytes) -> bytes:
        if not data:
            return data
        out = bytearray(data)
        out[pos % len(out)] ^= mask
        return bytes(out)

    return apply


def delete(start: int, length: int) -> Mutation:
    return lambda data: data[: start % (len(data) + 1)] + data[start % (len(data) + 1) + length:]


def truncate(at: int) -> Mutation:
    return lambda data: data[: at % (len(data) + 1)]


def _lines_op(op: Callable[[list[bytes]], None]) -> Mutation:
    def apply(data: bytes) -> bytes:
        lines = data.splitlines(keepends=True)
        if lines:
            op(lines)
        return b"".join(lines)

    return apply


def duplicate(i: int) -> Mutation:
    return _lines_op(lambda ls: ls.insert(i % len(ls), ls[i % len(ls)]))


def swap(i: int, j: int) -> Mutation:
    def op(ls: list[bytes]) -> None:
        a, b = i % len(ls), j % len(ls)
        ls[a], ls[b] = ls[b], ls[a]

    return _lines_op(op)


def drop_line(i: int) -> Mutation:
    return _lines_op(lambda ls: ls.pop(i % len(ls)))


positions = st.integers(min_value=0, max_value=5000)
mutations = st.one_of(
    st.builds(flip, positions, st.integers(min_value=1, max_value=255)),
    st.builds(delete, positions, st.integers(min_value=1, max_value=300)),
    st.builds(truncate, positions),
    st.builds(duplicate, positions),
    st.builds(swap, positions, positions),
    st.builds(drop_line, positions),
)


# --- properties -------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_are_refused_or_read(workdir: Path, data: bytes) -> None:
    """Arbitrary bytes: a Trace or a TraceError, never another exception."""
    read_both(workdir, data)


@FUZZ
@given(
    st.lists(
        st.binary(max_size=200).map(lambda b: b.replace(b"\n", b"") + b"\n")
        | st.sampled_from([b"\n", b"{}\n", b'{"t":"h"}\n', b',"crc":"00000000"}\n']),
        max_size=8,
    )
)
def test_random_lines_are_refused_or_read(workdir: Path, lines: list[bytes]) -> None:
    """Arbitrary complete lines: a Trace or a TraceError, never another exception."""
    read_both(workdir, b"".join(lines))


@FUZZ
@given(st.booleans(), st.lists(mutations, min_size=1, max_size=3))
def test_mutated_traces_read_as_a_prefix_or_not_at_all(
    workdir: Path, with_footer: bool, changes: list[Mutation]
) -> None:
    """Flipped bytes, deleted ranges, duplicated, swapped or dropped lines, truncation: never misread."""
    data = _original(workdir, with_footer)
    for change in changes:
        data = change(data)
    assert_prefix(read_both(workdir, data), with_footer)


@FUZZ
@given(st.booleans(), st.data())
def test_a_changed_byte_anywhere_but_the_final_newline_is_always_detected(
    workdir: Path, with_footer: bool, data: st.DataObject
) -> None:
    """Any one byte changed, anywhere before the file's last newline, makes the read fail."""
    original = _original(workdir, with_footer)
    pos = data.draw(st.integers(min_value=0, max_value=len(original) - 2), label="pos")
    mask = data.draw(st.integers(min_value=1, max_value=255), label="mask")
    damaged = bytearray(original)
    damaged[pos] ^= mask
    assert read_both(workdir, bytes(damaged)) is None


@FUZZ
@given(st.booleans(), st.data())
def test_truncation_anywhere_reads_a_prefix(workdir: Path, with_footer: bool, data: st.DataObject) -> None:
    """Cutting the file anywhere after the header gives the records before the cut."""
    original = _original(workdir, with_footer)
    header_end = original.index(b"\n") + 1
    at = data.draw(st.integers(min_value=header_end, max_value=len(original)), label="at")
    trace = read_both(workdir, original[:at])
    assert trace is not None
    complete = original[:at].count(b"\n") - 1  # whole lines after the header
    assert len(trace.records) == min(complete, len(RECORDS))
    assert trace.truncated == (not original[:at].endswith(b"\n"))
    assert_prefix(trace, with_footer)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-3, max_value=8)
    | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5) | st.sampled_from(["h", "e", "f", "returned", "raised"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
members = st.sampled_from(
    ["t", "seq", "task", "effect", "fields", "ok", "value", "site", "outcome", "records", "format",
     "program", "args", "effectus", "seed", "platform", "python", "created", "crc", "other"]
)
perturbations = st.tuples(
    st.integers(min_value=0, max_value=20), st.sampled_from(["set", "delete"]), members, json_values
)


def _line(obj: dict[str, Any]) -> bytes:
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return body[:-1] + b',"crc":"%08x"}\n' % zlib.crc32(body)


def _objects(n: int, footer: bool) -> list[dict[str, Any]]:
    """The lines of a valid trace of ``n`` records, as objects (without their crc)."""
    h = HEADER
    objects: list[dict[str, Any]] = [{
        "t": "h", "format": h.format, "program": h.program, "args": h.args, "effectus": h.effectus,
        "seed": h.seed, "platform": h.platform, "python": h.python, "created": h.created,
    }]
    objects += [
        {"t": "e", "seq": i, "task": r.task, "effect": r.effect, "fields": r.fields, "ok": r.ok,
         "value": r.value, "site": r.site}
        for i, r in enumerate(RECORDS[:n])
    ]
    if footer:
        objects.append({"t": "f", "outcome": FOOTER.outcome, "value": FOOTER.value, "records": n})
    return objects


@FUZZ
@given(
    st.integers(min_value=0, max_value=len(RECORDS)), st.booleans(),
    st.lists(perturbations, max_size=3),
)
def test_checksummed_lines_with_changed_members_are_refused_or_read_well_typed(
    workdir: Path, n: int, footer: bool, changes: list[tuple[int, str, str, Any]]
) -> None:
    """Lines with valid checksums but members set, removed or added: refused, or read well-typed."""
    objects = _objects(n, footer)
    for index, op, key, value in changes:
        target = objects[index % len(objects)]
        if op == "set":
            target[key] = value
        else:
            target.pop(key, None)
    data = b"".join(_line(o) for o in objects)
    trace = read_both(workdir, data)
    if data == b"".join(_line(o) for o in _objects(n, footer)):  # (0.0 == 0, but not as JSON)
        assert trace is not None and len(trace.records) == n and (trace.footer is not None) == footer
    if trace is None:
        return
    assert trace.header.format == 1 and type(trace.header.program) is str
    for i, r in enumerate(trace.records):
        assert r.seq == i and type(r.task) is int and r.task >= 0 and type(r.ok) is bool
        assert type(r.effect) is str and type(r.fields) is dict and type(r.site) is str
    if trace.footer is not None:
        assert trace.footer.records == len(trace.records) and trace.footer.outcome in ("returned", "raised")
