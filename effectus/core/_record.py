"""Recording: an interpreter that writes every effect the program performs, and its answer.

On the hot path a recorded effect costs one extra call, a look at where the program is, and
one ``append``; records are encoded and written in batches, or with ``durable=True`` each one
before the program resumes, so a killed process loses no completed effect.  Fields and answers
that are not immutable scalars are encoded at once: a later mutation cannot alter the trace,
and a value with no codec fails at the ``await`` that produced it.
"""

from __future__ import annotations

import dataclasses
import operator
import os
from collections.abc import Callable, Coroutine
from functools import lru_cache
from pathlib import Path
from types import CodeType, CoroutineType
from typing import Any, cast

from effectus.core._codec import JSON, BlobStore, CodecError, encode
from effectus.core._effect import Effect
from effectus.core._handler import Handler
from effectus.core._loop import Scheduler, Suspend
from effectus.core._run import (
    Entry,
    Interpreter,
    Push,
    Stack,
    drive,
    stack_of,
)
from effectus.core._site import relative
from effectus.core._trace import Footer, Header, TraceWriter

__all__ = [
    "Recording",
    "Tape",
    "close_tape",
    "effect_name",
    "encode_fields",
    "outcome_json",
    "record",
    "recording_stack",
    "run_recorded",
]

# Values of these types cannot change: they are kept as they are and encoded at flush time.
_ATOMIC: frozenset[type] = frozenset({type(None), bool, int, float, str, bytes})
_FLUSH_EVERY = 4096

# (code, instruction, task) of the await that performed an effect
Where = tuple[CodeType | None, int, int]


@dataclasses.dataclass(frozen=True, slots=True)
class _Encoded:
    """Data encoded when it was recorded."""

    data: JSON


_NAMES: dict[type, str] = {}
_LAYOUTS: dict[type, tuple[tuple[str, ...], Callable[[object], tuple[object, ...]]]] = {}


def effect_name(cls: type) -> str:
    """``module:qualname`` of an effect class, as traces name it."""
    name = _NAMES.get(cls)
    if name is None:
        name = _NAMES[cls] = f"{cls.__module__}:{cls.__qualname__}"
    return name


def _layout(cls: type) -> tuple[tuple[str, ...], Callable[[object], tuple[object, ...]]]:
    """The field names of an effect class and a fast getter of their values, as a tuple."""
    layout = _LAYOUTS.get(cls)
    if layout is None:
        layout = _LAYOUTS[cls] = _make_layout(cls)
    return layout


def _make_layout(cls: type) -> tuple[tuple[str, ...], Callable[[object], tuple[object, ...]]]:
    name = cls.__qualname__  # (read before is_dataclass narrows `cls` for pyright)
    if not dataclasses.is_dataclass(cls):
        raise CodecError(
            f"cannot record {name}: an effect must be a dataclass so that its fields "
            f"can be recorded.\nFix: declare it with @dataclass(frozen=True) or @fx.effect."
        )
    names = tuple(f.name for f in dataclasses.fields(cls))
    if not names:
        return names, lambda _: ()
    if len(names) == 1:
        one = operator.attrgetter(names[0])
        return names, lambda e: (one(e),)
    many: Callable[[object], tuple[object, ...]] = operator.attrgetter(*names)
    return names, many


def encode_fields(effect: object, blobs: BlobStore | None = None) -> dict[str, JSON]:
    """The effect's fields, encoded; errors name ``Effect.field``."""
    cls = type(effect)
    names, values = _layout(cls)
    return {
        name: encode(value, f"{cls.__qualname__}.{name}", blobs)
        for name, value in zip(names, values(effect))
    }


@lru_cache(maxsize=4096)
def _line_of(filename: str, code: CodeType, lasti: int) -> int:
    # `filename` is part of the key: equal code objects from two files compare equal.
    for start, end, lineno in code.co_lines():
        if start <= lasti < end and lineno is not None:
            return lineno
    return code.co_firstlineno


def site_text(code: CodeType, lasti: int) -> str:
    """``path:line in function`` for an instruction of ``code``."""
    line = _line_of(code.co_filename, code, lasti)
    return f"{relative(code.co_filename)}:{line} in {code.co_name}"


class Tape:
    """The records of one run: appended while it runs, encoded and written in batches."""

    __slots__ = ("coro", "buffer", "writer", "seq", "task", "_sites")

    def __init__(self, writer: TraceWriter, first_seq: int = 0) -> None:
        self.coro: Coroutine[Any, Any, Any] | None = None  # kept on the running program by the driver
        # (effect class, fields: atomic values or _Encoded, ok, answer or _Encoded, code, lasti, task)
        self.buffer: list[tuple[type, object, bool, object, CodeType | None, int, int]] = []
        self.writer = writer
        self.seq = first_seq
        self.task = 0  # kept on the running task by the scheduler
        # (id(code), lasti) -> (code, text); holding the code keeps its id from being reused
        self._sites: dict[tuple[int, int], tuple[CodeType, str]] = {}

    def where(self) -> Where:
        """The code and instruction where the running program is suspended."""
        c: Any = self.coro  # a coroutine object: cr_await and cr_frame are there
        if c is None:
            return None, 0, self.task
        inner: Any = c.cr_await
        while type(inner) is CoroutineType:
            c = cast(Any, inner)
            inner = c.cr_await
        frame = c.cr_frame
        return (frame.f_code, frame.f_lasti, self.task) if frame is not None else (None, 0, self.task)

    def add(self, effect: object, ok: bool, answer: object, where: Where) -> None:
        """Append one record; encodes at once whatever is not an immutable scalar."""
        cls = type(effect)
        values = _layout(cls)[1](effect)
        fields: object = values
        for value in values:
            if type(value) not in _ATOMIC:
                fields = _Encoded(encode_fields(effect, self.writer.blobs))
                break
        if type(answer) not in _ATOMIC:
            what = f"the {'answer' if ok else 'error'} of {cls.__qualname__}"
            answer = _Encoded(encode(answer, what, self.writer.blobs))
        self.buffer.append((cls, fields, ok, answer, *where))

    def _site(self, code: CodeType | None, lasti: int) -> str:
        if code is None:
            return "<unknown>"
        known = self._sites.get((id(code), lasti))
        if known is None:
            known = self._sites[(id(code), lasti)] = (code, site_text(code, lasti))
        return known[1]

    def flush(self) -> None:
        """Encode and write what the buffer holds."""
        batch = self.buffer[:]
        self.buffer.clear()
        blobs = self.writer.blobs
        append = self.writer.append
        for cls, fields, ok, answer, code, lasti, task in batch:
            if type(fields) is _Encoded:
                encoded_fields = fields.data
            else:
                names = _layout(cls)[0]
                encoded_fields = {n: encode(v) for n, v in zip(names, cast(tuple[object, ...], fields))}
            value = answer.data if type(answer) is _Encoded else encode(answer, blobs=blobs)
            append(task, effect_name(cls), cast(dict[str, JSON], encoded_fields), ok, value, self._site(code, lasti))
            self.seq += 1


def recording_entry(entry: Entry, tape: Tape, *, durable: bool) -> Entry:
    """``entry`` that also records each effect it answers, and its answer."""
    add = tape.add
    buffer = tape.buffer

    def note(effect: object, ok: bool, answer: object, where: Where) -> None:
        # The slow paths (errors, async answers); the hot path below inlines the same.
        add(effect, ok, answer, where)
        if durable or len(buffer) >= _FLUSH_EVERY:
            tape.flush()

    async def answered_later(coro: Coroutine[Any, Any, Any], effect: object, where: Where) -> Any:
        # An async handler's answer arrives when its own program finishes.
        try:
            value = await coro
        except BaseException as err:
            note(effect, False, err, where)
            raise
        note(effect, True, value, where)
        return value

    def recorded(effect: object) -> Any:
        where = tape.where()
        try:
            value = entry(effect)
        except Push as push:
            raise Push(answered_later(push.coro, effect, where), push.stack, push.handler) from None
        except Suspend as suspend:
            # The task waits (a join, a receive, a worker thread): the answer comes at wake-up.
            suspend.callbacks.append(lambda ok, answer: note(effect, ok, answer, where))
            raise
        except BaseException as err:
            note(effect, False, err, where)
            raise
        add(effect, True, value, where)
        if durable or len(buffer) >= _FLUSH_EVERY:
            tape.flush()
        return value

    return recorded


def recording_stack(stack: Stack, tape: Tape, *, durable: bool) -> Stack:
    """A copy of ``stack`` whose every answer is recorded on ``tape``."""

    def wrap(entry: Entry) -> Entry:
        return recording_entry(entry, tape, durable=durable)

    table: dict[type, Entry] = {
        cls: wrap(entry) for cls, entry in stack.table.items() if issubclass(cls, Effect)
    }
    return Stack(table, stack.installed, tape, wrap, stack.scheduler)


def program_identity(coro: Coroutine[Any, Any, Any]) -> tuple[str, JSON | None]:
    """``module:qualname`` of a program not yet started, and its arguments if they encode."""
    program: Any = coro  # a coroutine object: cr_frame and cr_code are there
    frame = program.cr_frame
    module = frame.f_globals.get("__name__", "?") if frame is not None else "?"
    name = f"{module}:{program.cr_code.co_qualname}"
    try:
        # Before its first step a coroutine's locals are exactly its arguments.
        args = encode(dict(frame.f_locals)) if frame is not None else None
    except CodecError:
        args = None
    return name, args


def outcome_json(value: object) -> JSON:
    """A run's result or error as footers store it: encoded, or its repr when it has no codec."""
    try:
        return encode(value)
    except CodecError:
        return {"$repr": repr(value)}  # compared as text on replay; never decoded


def run_recorded(coro: Coroutine[Any, Any, Any], stack: Stack, writer: TraceWriter, *, first_seq: int, durable: bool) -> Any:
    """Drive ``coro`` under ``stack``, recording to ``writer``; the footer is always written."""
    tape = Tape(writer, first_seq)
    recorded = recording_stack(stack, tape, durable=durable)
    try:
        result = drive(coro, recorded)
    except BaseException as err:
        close_tape(tape, writer, "raised", err)
        raise
    close_tape(tape, writer, "returned", result)
    return result


def close_tape(tape: Tape, writer: TraceWriter, outcome: str, value: object) -> None:
    try:
        tape.flush()
    except BaseException as err:  # a late codec error: the trace says the run failed with it
        writer.close(Footer(outcome="raised", value=outcome_json(err), records=tape.seq))
        raise
    writer.close(Footer(outcome=outcome, value=outcome_json(value), records=tape.seq))


class Recording(Interpreter):
    """An interpreter that writes a trace of every run; made by `record`."""

    __slots__ = ("_base", "_path", "_durable", "_fsync", "_seed")

    def __init__(self, base: Interpreter, path: str | os.PathLike[str], *, durable: bool, fsync: bool, seed: int | None) -> None:
        self._base = base
        self._installed = base._installed  # pyright: ignore[reportPrivateUsage]  # an Interpreter, as self is
        self._stack = stack_of(base)
        self._path = Path(path)
        self._durable = durable or fsync
        self._fsync = fsync
        self._seed = seed

    def _execute(self, coro: Coroutine[Any, Any, Any]) -> Any:
        program, args = program_identity(coro)
        writer = TraceWriter(self._path, Header.now(program, args, self._seed), durable=self._durable, fsync=self._fsync)
        return run_recorded(coro, self._stack, writer, first_seq=0, durable=self._durable)

    def with_handlers(self, *handlers: Handler | Interpreter, scheduler: Scheduler | None = None) -> Recording:
        return Recording(self._base.with_handlers(*handlers, scheduler=scheduler), self._path, durable=self._durable, fsync=self._fsync, seed=self._seed)

    @property
    def path(self) -> Path:
        """Where each run's trace is written (a new run replaces it)."""
        return self._path

    def __repr__(self) -> str:
        return f"record({self._base!r}, {str(self._path)!r})"


def record(interpreter: Interpreter, path: str | os.PathLike[str], *, durable: bool = False, fsync: bool = False, seed: int | None = None) -> Recording:
    """An interpreter like ``interpreter`` that writes a trace of each run to ``path``.

    Buffered by default; with ``durable=True`` each record reaches the operating system
    before the program resumes (``fsync=True`` also asks the OS to put it on disk), so a killed
    process loses no completed effect and `resume` can pick the run up.  ``seed`` is written in
    the header (default: the ``seed`` of an installed handler that has one).

    >>> import effectus as fx, tempfile, os
    >>> async def main() -> float:
    ...     await fx.Sleep(5)
    ...     return await fx.Now()
    >>> path = os.path.join(tempfile.mkdtemp(), "run.jsonl")
    >>> fx.record(fx.testing(), path).run(main())
    1767225605.0
    >>> fx.replay(main(), path)
    1767225605.0
    """
    if not isinstance(interpreter, Interpreter):  # pyright: ignore[reportUnnecessaryIsInstance]  # for untyped callers
        raise TypeError(
            f"fx.record() records an interpreter's runs; got {interpreter!r} "
            f"(type={type(interpreter).__qualname__}). Fix: fx.record(fx.testing(), path)."
        )
    if seed is None:
        seeds = [getattr(h, "seed") for h in interpreter.handlers if isinstance(getattr(h, "seed", None), int)]
        seed = seeds[0] if seeds else None
    return Recording(interpreter, path, durable=durable, fsync=fsync, seed=seed)
