"""Trace files: a damaged trace is never misread — its reader returns the intact prefix or says where it broke.

A trace is JSON Lines (format 1), UTF-8 with ``\\n`` line ends.  The first line is a header, then
one line per performed effect, then — when the run ended — a footer::

    {"t":"h","format":1,"program":"app.jobs:main","args":null,"effectus":"0.1.0","seed":0,
     "platform":"Linux-...","python":"3.11.7","created":"2026-11-21T17:00:00+00:00","crc":"..."}
    {"t":"e","seq":0,"task":0,"effect":"app.jobs:Get","fields":{"key":"n"},"ok":true,
     "value":41,"site":"app/jobs.py:12 in main","crc":"..."}
    {"t":"f","outcome":"returned","value":42,"records":1,"crc":"..."}

(each line is one physical line in the file).  Members are written in that order, and the
last member of every line is ``"crc"``: the CRC-32 (zlib) of the line's JSON *without* it, as 8
lowercase hex digits.  A reader strips that 18-byte suffix, checks the CRC over the exact bytes
and only then parses.  Values are data made by `effectus.core._codec.encode`; large arrays live
beside the trace in ``<trace path>.blobs/<sha256>.bin``.

A writer that dies mid-line leaves a final line without its ``\\n``: readers drop it and set
``truncated``, so the prefix can be replayed and resumed (``TraceWriter(..., append=True)``
cuts it off before appending).  Any other damage — a bad checksum, bad JSON, a missing member,
a gap in ``seq``, a record after the footer — is a `TraceError` naming the line and the cause.
Reading only parses JSON: it never unpickles, evaluates or imports anything.

orjson reads and writes the lines (several times faster than the standard library's json); it
is imported when a trace is first read or written, never by ``import effectus``.  Writer, reader
and verifier share one module because they share the line format byte for byte.
"""

from __future__ import annotations

import gc
import os
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, cast

from effectus.core._codec import JSON, BlobStore
from effectus.core._errors import TraceError

__all__ = [
    "FORMAT_VERSION",
    "Footer",
    "Header",
    "Record",
    "Trace",
    "TraceWriter",
    "VerifyReport",
    "blob_directory",
    "iter_trace",
    "read_trace",
    "verify_trace",
]

#: The trace format this effectus writes and reads.
FORMAT_VERSION: int = 1

OUTCOMES = ("returned", "raised")

_BUFFER = 64 * 1024  # a buffered writer hands its lines to the OS every 64 KiB
_SUFFIX = 19  # len(',"crc":"xxxxxxxx"}\n')
_CRC_KEY = b',"crc":"'
_MAX_PROBLEMS = 1000  # verify_trace lists this many problems, then counts the rest

_DAMAGED = (
    "Fix: the lines before it are intact — `effectus trace verify` lists every problem; to keep "
    "the valid prefix, cut the file before this line (then `fx.resume` can go on from there)."
)


@dataclass(frozen=True, slots=True)
class Header:
    """The first line of a trace: what ran, with which arguments and seed, and where."""

    program: str  # module:qualname of the recorded program
    args: JSON | None  # its encoded arguments, when known
    seed: int | None
    effectus: str  # the version that wrote the trace
    platform: str  # platform.platform()
    python: str  # platform.python_version()
    created: str  # UTC, ISO 8601
    format: int = FORMAT_VERSION

    @classmethod
    def now(cls, program: str, args: JSON | None, seed: int | None) -> Header:
        """A header for a run starting now, on this machine, with this effectus.

        >>> h = Header.now("app:main", None, 0)
        >>> h.format, h.created.endswith("+00:00")
        (1, True)
        """
        import platform
        from datetime import datetime, timezone

        from effectus import __version__

        return cls(
            program=program,
            args=args,
            seed=seed,
            effectus=__version__,
            platform=platform.platform(),
            python=platform.python_version(),
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )


@dataclass(frozen=True, slots=True)
class Record:
    """One performed effect: its fields, and the value (``ok``) or error the program got back."""

    seq: int  # 0, 1, 2, ... in the order the effects were performed
    task: int
    effect: str  # module:qualname of the effect class
    fields: dict[str, JSON]  # encoded field values
    ok: bool  # True: ``value`` is the encoded answer; False: the encoded exception
    value: JSON
    site: str  # "path:line in function" of the await


@dataclass(frozen=True, slots=True)
class Footer:
    """The last line of a finished run: how it ended and how many records precede it."""

    outcome: str  # "returned" or "raised"
    value: JSON  # the encoded result, or the encoded exception
    records: int

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"Footer.outcome must be one of {OUTCOMES}; got {self.outcome!r}")


def blob_directory(path: str | os.PathLike[str]) -> Path:
    """Where the blobs of the trace at ``path`` live: ``<path>.blobs``."""
    return Path(f"{os.fspath(path)}.blobs")


@dataclass(frozen=True, slots=True)
class Trace:
    """A trace read from a file: header, records, and footer (None if the run did not end)."""

    path: Path
    header: Header
    records: tuple[Record, ...]
    footer: Footer | None
    truncated: bool  # the final line was incomplete (the writer died mid-line) and was dropped

    @property
    def blobs(self) -> BlobStore:
        """The store holding this trace's large arrays (pass it to ``decode``)."""
        return BlobStore(blob_directory(self.path))


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What `verify_trace` found.  ``ok`` means no problems; truncation is not a problem."""

    ok: bool
    records: int  # records read intact
    problems: tuple[str, ...]
    truncated: bool  # an incomplete final line was dropped
    footer: bool  # the run's footer is present

    def __str__(self) -> str:
        state = [f"{self.records:,} record{'s' if self.records != 1 else ''}"]
        state.append("footer present" if self.footer else "no footer (the run did not finish)")
        if self.truncated:
            state.append("an incomplete final line was dropped")
        if self.ok:
            return "trace OK: " + ", ".join(state)
        n = len(self.problems)
        head = f"trace DAMAGED: {n} problem{'s' if n != 1 else ''}; " + ", ".join(state)
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


# -- writing ----------------------------------------------------------------------------------


class TraceWriter:
    """Writes a trace: the header at once, then `write` one record at a time, `close` with a footer.

    Buffered by default (lines reach the OS every 64 KiB and on `close`).  With ``durable=True``
    each `write` hands its line to the OS before returning, so a killed process loses no written
    record; ``fsync=True`` also forces each line (and each new blob) to the disk, so it survives
    a power cut.  With ``append=True`` (and ``header=None``) it continues an existing trace that
    has no footer, first cutting off an incomplete final line.  Not thread-safe.

    Fields and values must be JSON data as `effectus.core._codec.encode` makes it: the writer
    refuses what orjson refuses (other types, integers past 64 bits), but orjson writes a bare
    NaN as ``null``; ``encode`` tags non-finite floats, so encoded data never holds one.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "run.trace")
    >>> with TraceWriter(path, Header.now("app:main", None, 0)) as w:
    ...     w.write(Record(0, 0, "app:Get", {"key": "n"}, True, 41, "app.py:3 in main"))
    ...     w.close(Footer("returned", 42, records=1))
    >>> read_trace(path).records[0].value
    41

    Raises:
        TraceError: the file cannot be written, or (append) it is not a trace that can go on.
    """

    blobs: BlobStore

    def __init__(
        self,
        path: str | os.PathLike[str],
        header: Header | None,
        *,
        durable: bool = False,
        fsync: bool = False,
        append: bool = False,
    ) -> None:
        self.path = Path(path)
        self.blobs = BlobStore(blob_directory(self.path), fsync=fsync)
        self._dumps = _dumps_function()
        self._durable = durable or fsync
        self._fsync = fsync
        self._closed = True  # until the file is open
        if append:
            if header is not None:
                raise ValueError("append=True continues a trace that has a header: pass header=None")
            self._seq = _prepare_append(self.path, fsync)
            mode = "ab"
        else:
            if header is None:
                raise ValueError("a new trace needs a Header (Header.now(program, args, seed))")
            self._seq = 0
            mode = "wb"
        try:
            self._file = open(self.path, mode, buffering=_BUFFER)
        except OSError as err:
            raise TraceError(f"cannot open trace {self.path} for writing: {err}") from err
        self._closed = False
        if header is not None:
            h = header
            line = _line(self._dumps, {
                "t": "h", "format": h.format, "program": h.program, "args": h.args, "effectus": h.effectus,
                "seed": h.seed, "platform": h.platform, "python": h.python, "created": h.created,
            }, "the header")
            self._file.write(line)
            if self._durable:
                self._sync()

    @property
    def records(self) -> int:
        """How many records the trace holds so far (the ``seq`` the next record must have)."""
        return self._seq

    def write(self, record: Record) -> None:
        """Append ``record``; its ``seq`` must be the next one (`records`)."""
        r = record
        if (
            r.seq != self._seq or self._closed or type(r.seq) is not int or type(r.task) is not int
            or type(r.effect) is not str or type(r.fields) is not dict or type(r.ok) is not bool
            or type(r.site) is not str
        ):
            raise self._refusal(r)
        self.append(r.task, r.effect, r.fields, r.ok, r.value, r.site)

    def append(self, task: int, effect: str, fields: dict[str, JSON], ok: bool, value: JSON, site: str) -> None:
        """Append the next record from its members (the recorder's path: no `Record` built).

        The caller guarantees the member types that `write` checks.
        """
        seq = self._seq
        try:
            body = self._dumps(
                {"t": "e", "seq": seq, "task": task, "effect": effect, "fields": fields,
                 "ok": ok, "value": value, "site": site}
            )
        except (ValueError, TypeError) as err:
            raise TraceError(f"cannot write record {seq} ({effect}) to {self.path}: {err}") from err
        try:
            self._file.write(b'%s,"crc":"%08x"}\n' % (body[:-1], zlib.crc32(body)))
        except OSError as err:
            raise TraceError(f"cannot write trace {self.path}: {err}") from err
        if self._durable:
            self._sync()
        self._seq += 1

    def _refusal(self, r: Record) -> TraceError:
        why = (
            "the writer is closed" if self._closed
            else f"the next record must have seq={self._seq}" if r.seq != self._seq
            else "a member has the wrong type (seq, task: int; effect, site: str; fields: dict; "
            "ok: bool)"
        )
        return TraceError(f"cannot write record seq={_short(r.seq)} to {self.path}: {why}: {_short(r)}")

    def close(self, footer: Footer | None = None) -> None:
        """Write ``footer`` (if given) and close the file; closing twice does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            if footer is not None:
                if footer.records != self._seq:
                    raise TraceError(
                        f"footer of {self.path} says {footer.records} records, but {self._seq} were written"
                    )
                f = footer
                data = {"t": "f", "outcome": f.outcome, "value": f.value, "records": f.records}
                self._file.write(_line(self._dumps, data, "the footer"))
            self._sync()
        finally:
            self._file.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _sync(self) -> None:
        """Hand what is buffered to the OS (and, with fsync, to the disk)."""
        try:
            self._file.flush()
            if self._fsync:
                os.fsync(self._file.fileno())
        except OSError as err:
            raise TraceError(f"cannot write trace {self.path}: {err}") from err


Dumps = Callable[[Any], bytes]


def _dumps_function() -> Dumps:
    """orjson's ``dumps`` refusing anything that is not plain JSON data, with a careful fallback."""
    import orjson

    option = (
        orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
    )
    fast = orjson.dumps
    failed = orjson.JSONEncodeError

    def refuse(value: object) -> object:
        raise TypeError(type(value).__name__)

    def dumps(obj: Any) -> bytes:
        try:
            return fast(obj, default=refuse, option=option)
        except failed:
            # orjson refuses strings with lone surrogates (os.fsdecode makes those); the standard
            # library escapes them, once _check_json has refused everything that is not JSON.
            import json

            _check_json(obj)
            return json.dumps(obj, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode()

    return dumps


def _check_json(root: Any) -> None:
    """Raise ValueError unless ``root`` is JSON data that every reader reads back exactly."""
    stack: list[tuple[Any, str]] = [(root, "")]
    while stack:
        value, where = stack.pop()
        t: type[Any] = type(value)  # pyright: ignore[reportUnknownVariableType]
        if value is None or t is bool or t is str:
            continue
        if t is int:
            if not -(2**63) <= value < 2**63:
                raise ValueError(f"{where or 'value'} is an integer outside the 64-bit range")
        elif t is float:
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(f"{where or 'value'} is {value!r}, which JSON cannot hold")
        elif t is list:
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(value))
        elif t is dict:
            for k, v in value.items():
                if type(k) is not str:
                    raise ValueError(f"{where or 'value'} has a key {k!r} that is not a string")
                stack.append((v, f"{where}[{k!r}]"))
        else:
            raise ValueError(
                f"{where or 'value'} is a {t.__module__}.{t.__qualname__}, not JSON data "
                f"(encode values with effectus's codec first)"
            )


def _line(dumps: Dumps, obj: dict[str, Any], what: str) -> bytes:
    try:
        body = dumps(obj)
    except (ValueError, TypeError) as err:
        raise TraceError(f"cannot write {what}: {err}") from err
    return b'%s,"crc":"%08x"}\n' % (body[:-1], zlib.crc32(body))


def _prepare_append(path: Path, fsync: bool) -> int:
    """Check the trace at ``path`` can go on, cut an incomplete final line; the record count."""
    records = 0
    scan = _Scan(path)
    for item in scan.items():
        if type(item) is Record:
            records += 1
        elif type(item) is Footer:
            raise TraceError(
                f"cannot append to {path}: it has a footer (line {scan.lineno}), so the run it "
                f"records has ended.\nFix: record a new trace, or replay this one."
            )
    if scan.truncated:
        try:
            with open(path, "r+b") as f:
                f.truncate(_end_of_last_line(f))
                if fsync:
                    os.fsync(f.fileno())
        except OSError as err:
            raise TraceError(f"cannot cut the incomplete final line of {path}: {err}") from err
    return records


def _end_of_last_line(f: BinaryIO) -> int:
    """The offset just past the file's last ``\\n``."""
    end = f.seek(0, os.SEEK_END)
    while end > 0:
        start = max(0, end - _BUFFER)
        f.seek(start)
        found = f.read(end - start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


# -- reading ----------------------------------------------------------------------------------


def read_trace(path: str | os.PathLike[str]) -> Trace:
    """Read and check a whole trace.

    Every line's checksum, members and order are checked.  An incomplete final line (the writer
    died while writing it) is dropped and ``truncated`` is set; any other damage is an error.

    Raises:
        TraceError: the trace is empty, of another format version, or damaged (the message names
            the line and what is wrong).
        OSError: the file cannot be read.
    """
    scan = _Scan(Path(path))
    items = scan.items()
    records: list[Record] = []
    append = records.append
    footer: Footer | None = None
    # A trace's objects hold no reference cycles: pause the collector, which would otherwise
    # walk the growing list of records again and again (about a third of the time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        header = next(items)  # strict scans yield the header first, or raise
        for item in items:
            if type(item) is Record:
                append(item)
            elif type(item) is Footer:
                footer = item
    finally:
        if collecting:
            gc.enable()
    if type(header) is not Header:
        raise AssertionError("unreachable: a strict trace scan starts with its header")
    return Trace(scan.path, header, tuple(records), footer, scan.truncated)


def iter_trace(path: str | os.PathLike[str]) -> Iterator[Header | Record | Footer]:
    """The header, then each record, then the footer if there is one.

    Checked as `read_trace` checks, one line at a time: a `TraceError` comes when the damaged
    line is reached.
    """
    return _Scan(Path(path)).items()


def verify_trace(path: str | os.PathLike[str]) -> VerifyReport:
    """Check a whole trace and its blobs, listing every problem instead of stopping at the first.

    Never raises for damaged content (only `OSError` when the file cannot be read).  After a
    damaged line it goes on with the next one.  Neither an incomplete final line (reported as
    ``truncated``) nor a missing footer is a problem.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "run.trace")
    >>> TraceWriter(path, Header.now("app:main", None, 0)).close(Footer("returned", 1, 0))
    >>> print(verify_trace(path))
    trace OK: 0 records, footer present
    """
    problems: list[str] = []
    scan = _Scan(Path(path), problems)
    records = 0
    footer = False
    for item in scan.items():
        if type(item) is Record:
            records += 1
        elif type(item) is Footer:
            footer = True
    if len(problems) > _MAX_PROBLEMS:
        problems[_MAX_PROBLEMS:] = [f"... and {len(problems) - _MAX_PROBLEMS} more problems"]
    return VerifyReport(not problems, records, tuple(problems), scan.truncated, footer)


class _Scan:
    """One pass over a trace file.

    Strict (``problems`` is None): raise `_LineError` at the first damaged line.  Lenient: note
    each problem in ``problems``, skip the damaged line and go on; also check blobs.
    ``truncated`` is known once ``items`` is exhausted.
    """

    __slots__ = ("path", "problems", "lineno", "truncated")

    def __init__(self, path: Path, problems: list[str] | None = None) -> None:
        self.path = path
        self.problems = problems
        self.lineno = 0
        self.truncated = False

    def items(self) -> Generator[Header | Record | Footer, None, None]:
        """The header, records and footer that are intact (strict: all of them, or raise)."""
        path = self.path
        problems: list[str] | None = self.problems
        crc32 = zlib.crc32
        loads = _loads_function()
        new = object.__new__
        set_seq, set_task, set_effect, set_fields, set_ok, set_value, set_site = _RECORD_SETTERS
        seq = footer_line = lineno = 0
        after_damage = False  # lenient: a gap in seq right after a damaged line is no news
        blobs: dict[str, str | None] = {}  # lenient: blob sha -> what is wrong with it
        names: dict[str, str] = {}  # one copy of each effect name and await site
        with open(path, "rb") as f:
            for line in f:
                lineno += 1
                self.lineno = lineno
                try:
                    if line[-1] != 10:  # no "\n": the last line, cut short (a writer died writing it)
                        self.truncated = True
                        if lineno == 1:
                            raise _LineError(path, 1, _INCOMPLETE_HEADER, _NOT_A_TRACE)
                        return
                    body = line[:-_SUFFIX] + b"}"
                    if b'%08x"}\n' % crc32(body) != line[-11:] or line[-_SUFFIX:-11] != _CRC_KEY:
                        raise _LineError(
                            path, lineno, _checksum_problem(line, body), _DAMAGED if lineno > 1 else _NOT_A_TRACE
                        )
                    obj = _parse(loads, body, path, lineno)
                    if lineno == 1:
                        item: Header | Record | Footer = _header(obj, path)
                    elif obj.get("t") == "e":
                        try:
                            seq_, task, effect = obj["seq"], obj["task"], obj["effect"]
                            fields, ok, value, site = obj["fields"], obj["ok"], obj["value"], obj["site"]
                        except KeyError:
                            raise _LineError(path, lineno, _members_problem("record", obj, _RECORD_TYPES)) from None
                        # t and the 7 members read above, and nothing else: exactly the record's keys
                        if len(obj) != 8 or type(seq_) is not int or type(task) is not int \
                                or type(effect) is not str or type(fields) is not dict \
                                or type(ok) is not bool or type(site) is not str or task < 0:
                            raise _LineError(path, lineno, _members_problem("record", obj, _RECORD_TYPES))
                        if footer_line:
                            raise _LineError(path, lineno, f"record {seq_} comes after the footer (line {footer_line})")
                        if seq_ != seq:
                            expected, seq = seq, seq_ + 1
                            if not after_damage:
                                raise _LineError(path, lineno, f"record seq {seq_}, expected {expected} (records "
                                                 f"are numbered 0, 1, 2, ... without gaps)")
                        else:
                            seq += 1
                        # Every member is checked: fill the slots without __init__'s frozen setattr.
                        item = new(Record)
                        set_seq(item, seq_)
                        set_task(item, task)
                        set_effect(item, names.setdefault(effect, effect))
                        set_fields(item, fields)
                        set_ok(item, ok)
                        set_value(item, value)
                        set_site(item, names.setdefault(site, site))
                    elif obj.get("t") == "f":
                        if footer_line:
                            raise _LineError(path, lineno, f"a second footer (the first is line {footer_line})")
                        item = _footer(obj, path, lineno)
                        footer_line = lineno
                        if item.records != seq:
                            raise _LineError(path, lineno, f"the footer counts {item.records} records, but {seq} precede it")
                    else:
                        raise _LineError(path, lineno, _kind_problem(obj.get("t")))
                except _LineError as err:
                    self._note(err)  # strict: raises it
                    after_damage = True
                    continue
                after_damage = False
                if problems is not None and b'"blob"' in line:
                    _check_blobs(path, obj, lineno, blobs, problems)
                yield item
        if lineno == 0:
            self._note(_LineError(path, 0, "the file is empty (a trace starts with a header line)", _NOT_A_TRACE))

    def _note(self, err: _LineError) -> None:
        """Strict: raise ``err``.  Lenient: note it among the problems."""
        if self.problems is None:
            raise err
        self.problems.append(f"line {err.lineno}: {err.why}" if err.lineno else err.why)


# The slots' own setters: how the reader fills a Record it has checked (1.8x faster than __init__).
_RECORD_SETTERS: tuple[Callable[[Record, Any], None], ...] = tuple(
    vars(Record)[name].__set__
    for name in ("seq", "task", "effect", "fields", "ok", "value", "site")
)


class _LineError(TraceError):
    """A damaged line: what is wrong (``why``) with line ``lineno``, and what to do."""

    def __init__(self, path: Path, lineno: int, why: str, fix: str = _DAMAGED) -> None:
        where = f"{path}, line {lineno}" if lineno else str(path)
        super().__init__(f"{where}: {why}.\n{fix}")
        self.lineno = lineno
        self.why = why


# Users see, and catch, a TraceError.
_LineError.__module__ = "effectus"
_LineError.__qualname__ = _LineError.__name__ = "TraceError"

_NOT_A_TRACE = "Fix: check the path; a trace starts with the header line that fx.record writes."
_INCOMPLETE_HEADER = "the header line is incomplete (the writer stopped while writing it)"


def _parse(loads: Callable[[bytes], Any], body: bytes, path: Path, lineno: int) -> dict[str, Any]:
    try:
        obj = loads(body)
    except ValueError as err:  # orjson.JSONDecodeError and json's are ValueErrors
        raise _LineError(path, lineno, f"bad JSON ({err})") from None
    return cast("dict[str, Any]", obj)  # JSON text ending with "}" is an object


def _loads_function() -> Callable[[bytes], Any]:
    """orjson's ``loads``, falling back to the standard library for what orjson refuses but a
    writer may have written (escaped lone surrogates), still refusing NaN and infinities."""
    import orjson

    fast = orjson.loads
    failed = orjson.JSONDecodeError

    def loads(body: bytes) -> Any:
        try:
            return fast(body)
        except failed as err:
            import json

            try:
                return json.loads(
                    body.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float
                )
            except (ValueError, RecursionError):
                raise err from None

    return loads


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is out of range")
    return value


def _checksum_problem(line: bytes, body: bytes) -> str:
    if line == b"\n":
        return "the line is empty"
    if line[-_SUFFIX:-11] != _CRC_KEY or line[-3:] != b'"}\n':
        return 'the line does not end with its checksum member ,"crc":"<8 hex digits>"}'
    said = line[-11:-3].decode("ascii", "replace")
    return (
        f"checksum mismatch: the line says crc {said}, its bytes hash to {zlib.crc32(body):08x} "
        f"(it was changed or damaged after it was written)"
    )


_HEADER_TYPES: dict[str, tuple[type, ...]] = {
    "t": (str,), "format": (int,), "program": (str,), "args": (object,), "effectus": (str,),
    "seed": (int, type(None)), "platform": (str,), "python": (str,), "created": (str,),
}
_RECORD_TYPES: dict[str, tuple[type, ...]] = {
    "t": (str,), "seq": (int,), "task": (int,), "effect": (str,), "fields": (dict,),
    "ok": (bool,), "value": (object,), "site": (str,),
}
_FOOTER_TYPES: dict[str, tuple[type, ...]] = {
    "t": (str,), "outcome": (str,), "value": (object,), "records": (int,),
}


def _members_problem(kind: str, obj: dict[str, Any], types: dict[str, tuple[type, ...]]) -> str:
    """What is wrong with the members of ``obj``, a line of the ``kind`` that ``types`` describes."""
    missing = [k for k in types if k not in obj]
    if missing:
        return f"the {kind} lacks member{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
    extra = [k for k in obj if k not in types]
    if extra:
        return f"the {kind} has unknown member{'s' if len(extra) > 1 else ''} {', '.join(extra)}"
    for key, allowed in types.items():
        value = obj[key]
        # exact types: bool is an int subclass, but true is not a seq and 1 is not an ok
        if object not in allowed and type(value) not in allowed:
            names = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
            return f"the {kind}'s {key} is {_short(value)}, not {names}"
        if type(value) is int and value < 0 and key in ("seq", "task", "records"):
            return f"the {kind}'s {key} is negative ({value})"
    return f"the {kind}'s members are invalid"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind_problem(kind: object) -> str:
    if kind == "h":
        return "a second header (only the first line is a header)"
    return f"unknown line kind t={_short(kind)} (a record is 'e', a footer 'f')"


def _header(obj: dict[str, Any], path: Path) -> Header:
    if obj.get("t") != "h":
        raise _LineError(
            path, 1, f"the first line is not a header (t={_short(obj.get('t'))}): this is not a "
            f"whole trace, or its header was lost", _NOT_A_TRACE,
        )
    fmt = obj.get("format")
    if fmt != FORMAT_VERSION or type(fmt) is not int:
        raise _LineError(
            path, 1, f"trace format {_short(fmt)}, but this effectus reads format {FORMAT_VERSION} "
            f"only (the trace was written by effectus {_short(obj.get('effectus', '?'))})",
            "Fix: read it with the effectus version that wrote it.",
        )
    if obj.keys() != _HEADER_TYPES.keys() or any(
        type(obj[k]) is not str for k in ("program", "effectus", "platform", "python", "created")
    ) or (obj["seed"] is not None and type(obj["seed"]) is not int):
        raise _LineError(path, 1, _members_problem("header", obj, _HEADER_TYPES))
    return Header(
        program=obj["program"], args=obj["args"], seed=obj["seed"], effectus=obj["effectus"],
        platform=obj["platform"], python=obj["python"], created=obj["created"], format=fmt,
    )


def _footer(obj: dict[str, Any], path: Path, lineno: int) -> Footer:
    if obj.keys() != _FOOTER_TYPES.keys() or type(obj["records"]) is not int or obj["records"] < 0 \
            or type(obj["outcome"]) is not str:
        raise _LineError(path, lineno, _members_problem("footer", obj, _FOOTER_TYPES))
    if obj["outcome"] not in OUTCOMES:
        raise _LineError(path, lineno, f"the footer's outcome is {_short(obj['outcome'])}, not one of {OUTCOMES}")
    return Footer(outcome=obj["outcome"], value=obj["value"], records=obj["records"])


def _check_blobs(
    path: Path, obj: dict[str, Any], lineno: int, seen: dict[str, str | None], problems: list[str]
) -> None:
    """Note in ``problems`` each blob named on this line that is missing or corrupt."""
    store = BlobStore(blob_directory(path))
    for sha in _blob_refs(obj):
        if sha not in seen:
            try:
                store.get(sha)
                seen[sha] = None
            except TraceError as err:
                seen[sha] = str(err).split("\n")[0]
        why = seen[sha]
        if why is not None:
            problems.append(f"line {lineno}: {why}")


def _blob_refs(root: Any) -> Iterator[str]:
    """The blob hashes named by encoded arrays in ``root`` (iteratively: depth is unbounded)."""
    stack: list[Any] = [root]
    while stack:
        value = stack.pop()
        if type(value) is dict:
            obj = cast("dict[str, Any]", value)
            array: Any = obj.get("$array") if len(obj) == 1 else None
            if type(array) is dict:
                sha: Any = cast("dict[str, Any]", array).get("blob")
                if sha is not None:
                    yield sha if type(sha) is str else repr(sha)
            stack.extend(obj.values())
        elif type(value) is list:
            stack.extend(cast("list[Any]", value))  # type: ignore[redundant-cast]  # for pyright
