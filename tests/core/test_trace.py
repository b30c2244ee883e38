"""Tests of `effectus.core._trace`: the trace file format, its writer, reader and verifier."""

from __future__ import annotations

import json
import os
import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import effectus as fx
from effectus.core._codec import BlobStore, decode, encode
from effectus.core._trace import (
    FORMAT_VERSION,
    Footer,
    Header,
    Record,
    Trace,
    TraceWriter,
    VerifyReport,
    blob_directory,
    iter_trace,
    read_trace,
    verify_trace,
)

HEADER = Header(
    program="app.jobs:main", args={"n": 3}, seed=7, effectus="0.1.0", platform="Linux-test",
    python="3.11.7", created="2026-11-21T17:00:00+00:00",
)


def records(n: int, start: int = 0) -> list[Record]:
    """``n`` records numbered from ``start``, with a failed effect among them."""
    return [
        Record(
            seq=i, task=i % 2, effect="app.jobs:Get", fields={"key": f"k{i}", "n": [i, {"$tuple": [1]}]},
            ok=i % 3 != 2, value=i if i % 3 != 2 else encode(KeyError(f"k{i}")), site=f"app/jobs.py:{10 + i} in main",
        )
        for i in range(start, start + n)
    ]


def write(path: Path, recs: list[Record], footer: Footer | None = None, **kw: Any) -> None:
    with TraceWriter(path, HEADER, **kw) as w:
        for r in recs:
            w.write(r)
        w.close(footer)


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def with_crc(obj: dict[str, Any]) -> bytes:
    """A line for ``obj`` with a correct checksum, made the way the format says."""
    body = json.dumps(obj, separators=(",", ":")).encode()
    return body[:-1] + b',"crc":"%08x"}\n' % zlib.crc32(body)


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    """A finished trace of 5 records."""
    path = tmp_path / "run.trace"
    write(path, records(5), Footer("returned", {"$tuple": [1, 2]}, 5))
    return path


# --- the format -------------------------------------------------------------------------------


def test_write_then_read_gives_back_header_records_and_footer(trace: Path) -> None:
    """read_trace returns exactly what was written."""
    t = read_trace(trace)
    assert isinstance(t, Trace)
    assert t.header == HEADER and t.header.format == FORMAT_VERSION
    assert t.records == tuple(records(5))
    assert t.footer == Footer("returned", {"$tuple": [1, 2]}, 5)
    assert t.truncated is False and t.path == trace
    assert decode(t.records[2].value) .args == ("k2",)


def test_iter_trace_streams_the_same_items(trace: Path) -> None:
    """iter_trace yields the header, each record, then the footer."""
    items = list(iter_trace(trace))
    t = read_trace(trace)
    assert items == [t.header, *t.records, t.footer]


def test_lines_have_fixed_member_order_and_a_trailing_crc(trace: Path) -> None:
    """Each line is compact JSON in the documented order, ending with the crc of the rest."""
    all_lines = lines(trace)
    assert all_lines[0].startswith(b'{"t":"h","format":1,"program":"app.jobs:main","args":{"n":3},'
                                   b'"effectus":"0.1.0","seed":7,"platform":"Linux-test",')
    assert all_lines[1].startswith(b'{"t":"e","seq":0,"task":0,"effect":"app.jobs:Get","fields":')
    assert all_lines[-1].startswith(b'{"t":"f","outcome":"returned","value":')
    for line in all_lines:
        m = re.fullmatch(rb'(.*),"crc":"([0-9a-f]{8})"\}\n', line, re.S)
        assert m is not None
        assert int(m.group(2), 16) == zlib.crc32(m.group(1) + b"}")
        assert list(json.loads(line))[-1] == "crc"


def test_non_ascii_and_lone_surrogates_survive(tmp_path: Path) -> None:
    """UTF-8 text is written as is; a string with a lone surrogate (from os.fsdecode) round-trips."""
    path = tmp_path / "t.trace"
    plain = Record(0, 0, "app:Open", {"path": "caf\u00e9"}, True, "\u2603", "a.py:1 in f")
    odd = Record(1, 0, "app:Open", {"path": "caf\u00e9/\udcff.txt"}, True, "\u2603", "a.py:1 in f")
    write(path, [plain, odd])
    assert read_trace(path).records == (plain, odd)
    written = lines(path)
    assert "caf\u00e9".encode() in written[1] and "\u2603".encode() in written[1]
    assert b"\\udcff" in written[2]  # escaped: UTF-8 cannot hold a lone surrogate


def test_header_now_describes_this_run() -> None:
    """Header.now fills in the version, platform, Python and a UTC timestamp."""
    import platform

    h = Header.now("app:main", ["x"], None)
    assert (h.program, h.args, h.seed, h.format) == ("app:main", ["x"], None, 1)
    assert h.effectus == fx.__version__ and h.python == platform.python_version()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", h.created)


def test_blobs_live_next_to_the_trace(tmp_path: Path) -> None:
    """The writer's and the trace's blob stores are <path>.blobs, and decode arrays through it."""
    path = tmp_path / "t.trace"
    array = np.arange(2000, dtype=np.float64)
    with TraceWriter(path, HEADER) as w:
        assert w.blobs.directory == tmp_path / "t.trace.blobs" == blob_directory(path)
        w.write(Record(0, 0, "app:Kernel", {}, True, encode(array, blobs=w.blobs), "a.py:1 in f"))
    t = read_trace(path)
    assert np.array_equal(decode(t.records[0].value, t.blobs), array)


# --- writing ----------------------------------------------------------------------------------


def test_durable_writes_reach_the_file_before_write_returns(tmp_path: Path) -> None:
    """With durable=True each record is in the file (seen by another open) once write returns."""
    path = tmp_path / "t.trace"
    w = TraceWriter(path, HEADER, durable=True)
    assert len(lines(path)) == 1  # the header
    for i, r in enumerate(records(3)):
        w.write(r)
        assert len(lines(path)) == 2 + i
        assert read_trace(path).records == tuple(records(i + 1))
    w.close()


def test_fsync_mode_also_writes_each_record_through(tmp_path: Path) -> None:
    """fsync=True implies durable: the record is in the file when write returns."""
    path = tmp_path / "t.trace"
    with TraceWriter(path, HEADER, fsync=True) as w:
        w.write(records(1)[0])
        assert read_trace(path).records == tuple(records(1))


def test_buffered_writes_reach_the_file_on_close(tmp_path: Path) -> None:
    """Without durable, small writes stay buffered until close."""
    path = tmp_path / "t.trace"
    w = TraceWriter(path, HEADER)
    for r in records(3):
        w.write(r)
    assert path.read_bytes() == b""
    w.close(Footer("raised", encode(ValueError("x")), 3))
    t = read_trace(path)
    assert len(t.records) == 3 and t.footer is not None and t.footer.outcome == "raised"


def test_close_is_idempotent_and_writing_after_close_is_refused(tmp_path: Path) -> None:
    """A second close does nothing; write after close is a TraceError."""
    path = tmp_path / "t.trace"
    w = TraceWriter(path, HEADER)
    w.close(Footer("returned", None, 0))
    w.close(Footer("returned", None, 0))
    assert read_trace(path).footer == Footer("returned", None, 0)
    with pytest.raises(fx.TraceError, match="the writer is closed"):
        w.write(records(1)[0])


def test_the_writer_refuses_out_of_order_or_ill_typed_records(tmp_path: Path) -> None:
    """seq must be the next one, members must have their types, values must be plain JSON."""
    with TraceWriter(tmp_path / "t.trace", HEADER) as w:
        with pytest.raises(fx.TraceError, match="the next record must have seq=0"):
            w.write(records(2)[1])
        with pytest.raises(fx.TraceError, match="a member has the wrong type"):
            w.write(Record(0, 0, "app:E", {}, 1, None, "s"))  # type: ignore[arg-type]
        with pytest.raises(fx.TraceError, match=r"cannot write record 0 \(app:E\).*outside the 64-bit range"):
            w.write(Record(0, 0, "app:E", {"n": 2**64}, True, None, "s"))
        with pytest.raises(fx.TraceError, match=r"\['x'\] is a .*Path, not JSON data"):
            w.write(Record(0, 0, "app:E", {"x": Path("p")}, True, None, "s"))  # type: ignore[dict-item]
        w.write(records(1)[0])
        assert w.records == 1


def test_a_footer_must_count_the_records_written(tmp_path: Path) -> None:
    """close refuses a footer whose count disagrees, and the file stays a readable prefix."""
    path = tmp_path / "t.trace"
    w = TraceWriter(path, HEADER)
    w.write(records(1)[0])
    with pytest.raises(fx.TraceError, match="footer of .* says 2 records, but 1 were written"):
        w.close(Footer("returned", None, 2))
    t = read_trace(path)
    assert len(t.records) == 1 and t.footer is None


def test_a_footer_outcome_is_returned_or_raised() -> None:
    """Footer refuses any other outcome."""
    with pytest.raises(ValueError, match="Footer.outcome must be one of"):
        Footer("finished", None, 0)


def test_the_writer_needs_a_header_unless_appending(tmp_path: Path) -> None:
    """A new trace needs a header; appending takes none."""
    with pytest.raises(ValueError, match="a new trace needs a Header"):
        TraceWriter(tmp_path / "t.trace", None)
    write(tmp_path / "u.trace", [])
    with pytest.raises(ValueError, match="pass header=None"):
        TraceWriter(tmp_path / "u.trace", HEADER, append=True)


def test_an_unwritable_path_is_a_trace_error(tmp_path: Path) -> None:
    """Opening a trace in a missing directory says which path could not be opened."""
    with pytest.raises(fx.TraceError, match="cannot open trace .*nodir.*for writing"):
        TraceWriter(tmp_path / "nodir" / "t.trace", HEADER)


# --- appending (resume) -----------------------------------------------------------------------


def test_append_continues_a_trace(tmp_path: Path) -> None:
    """append=True goes on after the last record, and the result reads as one trace."""
    path = tmp_path / "t.trace"
    write(path, records(3))
    with TraceWriter(path, None, append=True) as w:
        assert w.records == 3
        for r in records(2, start=3):
            w.write(r)
        w.close(Footer("returned", 1, 5))
    t = read_trace(path)
    assert t.records == tuple(records(5)) and t.footer == Footer("returned", 1, 5)


def test_append_cuts_off_an_incomplete_last_line(tmp_path: Path) -> None:
    """A final line without its newline (a writer killed mid-line) is removed before appending."""
    path = tmp_path / "t.trace"
    write(path, records(3))
    whole = path.read_bytes()
    path.write_bytes(whole[:-30])  # record 2 cut short
    with TraceWriter(path, None, append=True) as w:
        assert w.records == 2
        w.write(records(3)[2])
    t = read_trace(path)
    assert t.records == tuple(records(3)) and not t.truncated
    assert path.read_bytes() == whole


def test_append_to_a_finished_trace_is_refused(trace: Path) -> None:
    """A trace with a footer has ended: appending to it is an error naming the footer's line."""
    with pytest.raises(fx.TraceError, match=r"cannot append to .*: it has a footer \(line 7\)"):
        TraceWriter(trace, None, append=True)


def test_append_to_a_damaged_trace_is_refused_and_leaves_it_alone(trace: Path) -> None:
    """Appending checks the trace first; a damaged one is neither cut nor extended."""
    data = bytearray(trace.read_bytes())
    data[len(lines(trace)[0]) + 5] ^= 1
    trace.write_bytes(bytes(data))
    with pytest.raises(fx.TraceError, match="line 2: checksum mismatch"):
        TraceWriter(trace, None, append=True)
    assert trace.read_bytes() == bytes(data)


# --- truncation -------------------------------------------------------------------------------


@pytest.mark.parametrize("cut", [1, 2, 20, -1])
def test_a_truncated_final_line_is_dropped_and_reported(trace: Path, cut: int) -> None:
    """A final line cut short is not an error: the prefix is read and truncated is True."""
    data = trace.read_bytes()
    cut = cut if cut > 0 else len(lines(trace)[-1]) - 1  # all but the footer's first byte
    trace.write_bytes(data[:-cut])  # cut into the footer line (or just its newline)
    t = read_trace(trace)
    assert t.truncated is True and t.footer is None and t.records == tuple(records(5))
    report = verify_trace(trace)
    assert report.ok and report.truncated and not report.footer and report.records == 5


def test_cut_exactly_at_a_line_end_is_a_clean_prefix(trace: Path) -> None:
    """A trace that stops after a whole line reads as a run without a footer."""
    kept = b"".join(lines(trace)[:3])
    trace.write_bytes(kept)
    t = read_trace(trace)
    assert t.records == tuple(records(2)) and t.footer is None and t.truncated is False


# --- reader errors, pinned by message ---------------------------------------------------------


def error(path: Path) -> str:
    with pytest.raises(fx.TraceError) as info:
        read_trace(path)
    return str(info.value)


def replace_line(path: Path, index: int, new: bytes) -> None:
    all_lines = lines(path)
    all_lines[index] = new
    path.write_bytes(b"".join(all_lines))


def test_an_empty_file_is_not_a_trace(tmp_path: Path) -> None:
    """An empty file: the error says so and that a trace starts with a header."""
    path = tmp_path / "empty.trace"
    path.write_bytes(b"")
    assert re.match(r".*empty\.trace: the file is empty \(a trace starts with a header line\)", error(path))


def test_a_file_that_is_not_a_trace_is_named_so(tmp_path: Path) -> None:
    """Some other file's first line: not an effectus trace, check the path."""
    path = tmp_path / "notes.txt"
    path.write_text("hello\nworld\n")
    message = error(path)
    assert "notes.txt, line 1: the line does not end with its checksum member" in message
    assert "Fix: check the path" in message


def test_a_first_line_that_is_not_a_header(trace: Path) -> None:
    """A trace whose header line was removed: line 1 is a record, not a header."""
    trace.write_bytes(b"".join(lines(trace)[1:]))
    assert "line 1: the first line is not a header (t='e')" in error(trace)


def test_a_partial_header_only(tmp_path: Path) -> None:
    """A writer killed while writing the header leaves nothing readable."""
    path = tmp_path / "t.trace"
    write(path, [])
    path.write_bytes(path.read_bytes()[:40])
    assert "line 1: the header line is incomplete" in error(path)


def test_an_unknown_format_version_names_it_and_the_supported_one(trace: Path) -> None:
    """format 2 is refused, naming both versions and the effectus that wrote it."""
    obj = json.loads(lines(trace)[0])
    del obj["crc"]
    obj["format"] = 2
    obj["effectus"] = "9.0.0"
    replace_line(trace, 0, with_crc(obj))
    message = error(trace)
    assert "line 1: trace format 2, but this effectus reads format 1 only" in message
    assert "written by effectus '9.0.0'" in message
    assert "Fix: read it with the effectus version that wrote it." in message


def test_a_checksum_mismatch_names_the_line_and_both_crcs(trace: Path) -> None:
    """A changed byte: the error gives the line, the crc it says and the crc it has."""
    line = lines(trace)[3]
    changed = line.replace(b'"task":0', b'"task":1')
    assert changed != line
    replace_line(trace, 3, changed)
    said = line[-11:-3].decode()
    actual = zlib.crc32(changed[:-19] + b"}")
    message = error(trace)
    assert f"line 4: checksum mismatch: the line says crc {said}, its bytes hash to {actual:08x}" in message
    assert "cut the file before this line" in message


def test_bad_json_with_a_valid_checksum(trace: Path) -> None:
    """A line whose crc matches but whose JSON does not parse: bad JSON, with the line."""
    body = b'{"t":"e","seq":0,}'
    replace_line(trace, 1, body[:-1] + b',"crc":"%08x"}\n' % zlib.crc32(body))
    assert re.search(r"line 2: bad JSON \(.+\)", error(trace))


def test_an_empty_line_in_the_middle(trace: Path) -> None:
    """A blank line is damage, not something to skip."""
    replace_line(trace, 2, b"\n" + lines(trace)[2])
    assert "line 3: the line is empty" in error(trace)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda o: o.pop("site"), "the record lacks member site"),
        (lambda o: o.update(extra=1), "the record has unknown member extra"),
        (lambda o: o.update(seq=True), "the record's seq is True, not int"),
        (lambda o: o.update(ok=1), "the record's ok is 1, not bool"),
        (lambda o: o.update(fields=[1]), "the record's fields is [1], not dict"),
        (lambda o: o.update(task=-1), "the record's task is negative (-1)"),
        (lambda o: o.update(t="x"), "unknown line kind t='x'"),
        (lambda o: o.update(t="h"), "a second header"),
    ],
)
def test_ill_formed_records_name_the_member(trace: Path, change: Any, expected: str) -> None:
    """Missing, extra or ill-typed members are errors that name the member and line."""
    obj = json.loads(lines(trace)[2])
    del obj["crc"]
    change(obj)
    replace_line(trace, 2, with_crc(obj))
    assert f"line 3: {expected}" in error(trace)


def test_a_gap_in_seq(trace: Path) -> None:
    """A missing record: the next one has the wrong seq."""
    all_lines = lines(trace)
    trace.write_bytes(b"".join(all_lines[:2] + all_lines[3:]))
    assert "line 3: record seq 2, expected 1 (records are numbered 0, 1, 2, ... without gaps)" in error(trace)


def test_a_record_after_the_footer(tmp_path: Path) -> None:
    """Anything appended after the footer is refused, naming the footer's line."""
    path = tmp_path / "t.trace"
    write(path, records(2), Footer("returned", None, 2))
    path.write_bytes(path.read_bytes() + lines(path)[1].replace(b'"seq":0', b'"seq":2'))
    # (that line's crc is now wrong, so build the record properly)
    obj = json.loads(lines(path)[1])
    del obj["crc"]
    obj["seq"] = 2
    replace_line(path, 4, with_crc(obj))
    assert "line 5: record 2 comes after the footer (line 4)" in error(path)


def test_two_footers(trace: Path) -> None:
    """A second footer is an error naming the first."""
    trace.write_bytes(trace.read_bytes() + lines(trace)[-1])
    assert "line 8: a second footer (the first is line 7)" in error(trace)


def test_a_footer_that_miscounts(trace: Path) -> None:
    """The footer's record count must match the records before it."""
    obj = json.loads(lines(trace)[-1])
    del obj["crc"]
    obj["records"] = 4
    replace_line(trace, 6, with_crc(obj))
    assert "line 7: the footer counts 4 records, but 5 precede it" in error(trace)


def test_a_footer_with_an_unknown_outcome(trace: Path) -> None:
    """outcome must be returned or raised."""
    obj = json.loads(lines(trace)[-1])
    del obj["crc"]
    obj["outcome"] = "crashed"
    replace_line(trace, 6, with_crc(obj))
    assert "line 7: the footer's outcome is 'crashed', not one of ('returned', 'raised')" in error(trace)


def test_a_corrupt_line_before_the_last_is_an_error_even_without_a_newline_at_the_end(trace: Path) -> None:
    """Only the final line may be incomplete; damage earlier is reported, truncation or not."""
    data = bytearray(trace.read_bytes()[:-5])  # truncated final line ...
    data[len(lines(trace)[0]) + 10] ^= 0x20  # ... and a flipped byte in record 0
    trace.write_bytes(bytes(data))
    assert "line 2: checksum mismatch" in error(trace)


def test_reader_errors_are_trace_errors_raised_from_the_callers_frame(trace: Path) -> None:
    """The error is an fx.TraceError (and a ValueError); its traceback holds the caller's frame."""
    replace_line(trace, 1, b"garbage\n")
    with pytest.raises(fx.TraceError) as info:
        read_trace(trace)
    assert isinstance(info.value, ValueError) and type(info.value).__name__ == "TraceError"
    assert any(e.name == "test_reader_errors_are_trace_errors_raised_from_the_callers_frame"
               for e in info.traceback)


def test_iter_trace_raises_when_it_reaches_the_damage(trace: Path) -> None:
    """Streaming yields the intact items first, then raises at the damaged line."""
    replace_line(trace, 3, b"garbage\n")
    items = iter_trace(trace)
    assert [next(items) for _ in range(3)] == [HEADER, *records(2)]
    with pytest.raises(fx.TraceError, match="line 4: "):
        next(items)


def test_reading_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    """A missing file is FileNotFoundError, as for any open()."""
    with pytest.raises(FileNotFoundError):
        read_trace(tmp_path / "absent.trace")


# --- verify_trace -----------------------------------------------------------------------------


def test_verify_reports_a_good_trace(trace: Path) -> None:
    """A whole trace: ok, every record counted, footer present; str says so."""
    report = verify_trace(trace)
    assert report == VerifyReport(ok=True, records=5, problems=(), truncated=False, footer=True)
    assert str(report) == "trace OK: 5 records, footer present"


def test_verify_lists_every_problem_without_raising(trace: Path) -> None:
    """Two damaged lines and a duplicated footer: three problems, each with its line."""
    all_lines = lines(trace)
    all_lines[2] = b"garbage\n"
    all_lines[4] = all_lines[4].replace(b'"seq":3', b'"seq":9')
    all_lines.append(all_lines[-1])
    trace.write_bytes(b"".join(all_lines))
    report = verify_trace(trace)
    assert not report.ok and report.footer and report.records == 3
    assert [p.split(":")[0] for p in report.problems] == ["line 3", "line 5", "line 8"]
    assert "checksum member" in report.problems[0] and "checksum mismatch" in report.problems[1]
    assert "a second footer" in report.problems[2]
    text = str(report)
    assert text.startswith("trace DAMAGED: 3 problems; 3 records, footer present\n  line 3: ")


def test_verify_reports_a_gap_in_seq_but_not_the_echo_of_a_damaged_line(trace: Path) -> None:
    """A missing record is a problem; the seq jump right after a damaged line is not repeated."""
    all_lines = lines(trace)
    trace.write_bytes(b"".join(all_lines[:2] + all_lines[3:]))
    report = verify_trace(trace)
    assert report.problems == (
        "line 3: record seq 2, expected 1 (records are numbered 0, 1, 2, ... without gaps)",
    )


def test_verify_an_empty_or_foreign_file(tmp_path: Path) -> None:
    """Files that are not traces give reports, not exceptions."""
    empty = tmp_path / "e"
    empty.write_bytes(b"")
    assert verify_trace(empty).problems == ("the file is empty (a trace starts with a header line)",)
    other = tmp_path / "o"
    other.write_bytes(b"\x00\xff binary\n")
    report = verify_trace(other)
    assert not report.ok and report.problems[0].startswith("line 1: ")


def test_verify_detects_a_missing_blob(tmp_path: Path) -> None:
    """A record naming a blob that is not in <path>.blobs is a problem naming the sha and path."""
    path = tmp_path / "t.trace"
    with TraceWriter(path, HEADER) as w:
        value = encode(np.arange(1000.0), blobs=w.blobs)
        w.write(Record(0, 0, "app:K", {"x": encode(np.arange(600.0), blobs=w.blobs)}, True, value, "a:1 in f"))
    assert verify_trace(path).ok
    sha = value["$array"]["blob"]  # type: ignore[index, call-overload]
    (blob_directory(path) / f"{sha}.bin").unlink()
    report = verify_trace(path)
    assert report.problems == (
        f"line 2: blob {sha} is missing: expected it at {blob_directory(path) / f'{sha}.bin'}.",
    )
    assert read_trace(path).records[0].value == value  # reading does not need the blobs


def test_verify_detects_a_corrupted_blob(tmp_path: Path) -> None:
    """A blob whose content changed is a problem; decoding the record refuses it too."""
    path = tmp_path / "t.trace"
    with TraceWriter(path, HEADER) as w:
        value = encode(np.arange(1000.0), blobs=w.blobs)
        w.write(Record(0, 0, "app:K", {}, True, value, "a:1 in f"))
    sha = value["$array"]["blob"]  # type: ignore[index, call-overload]
    blob = blob_directory(path) / f"{sha}.bin"
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")
    report = verify_trace(path)
    assert len(report.problems) == 1 and f"blob {sha} at " in report.problems[0]
    assert "is corrupt: its content hashes to" in report.problems[0]
    with pytest.raises(fx.TraceError, match="is corrupt"):
        decode(read_trace(path).records[0].value, read_trace(path).blobs)


def test_many_problems_are_capped(tmp_path: Path) -> None:
    """A badly damaged trace lists the first 1000 problems and counts the rest."""
    path = tmp_path / "t.trace"
    write(path, records(1))
    path.write_bytes(path.read_bytes() + b"x\n" * 1005)
    report = verify_trace(path)
    assert len(report.problems) == 1001 and report.problems[-1] == "... and 5 more problems"


def test_reading_never_imports_orjson_at_import_time() -> None:
    """The trace module loads its JSON library only when a trace is read or written."""
    import subprocess
    import sys

    code = "import sys, effectus.core._trace; print('orjson' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert done.stdout.strip() == "False", done.stderr


def test_blob_store_of_a_trace_is_a_fresh_blob_store(trace: Path) -> None:
    """Trace.blobs points at <path>.blobs."""
    assert isinstance(read_trace(trace).blobs, BlobStore)
    assert read_trace(trace).blobs.directory == blob_directory(trace)
