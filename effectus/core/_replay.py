"""Replay: answer a program's effects from a trace, and say exactly where it diverged.

Each performed effect is compared with the next record (type and encoded fields, so repeated
identical effects match in order); the first mismatch raises `ReplayDivergence` with the
record number, recorded vs performed effect, a field-level diff and the program's line.  The
same machinery resumes a crashed run (replay the recorded prefix, then go on live and keep
appending) and branches from a recording (substitute one answer, then go on live).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from effectus.core._codec import JSON, CodecError, decode, encode
from effectus.core._effect import Effect, Trap
from effectus.core._errors import EffectusError, ReplayDivergence, TraceError
from effectus.core._handler import Handler, handles
from effectus.core._record import (
    Tape,
    close_tape,
    effect_name,
    encode_fields,
    outcome_json,
    recording_stack,
)
from effectus.core._loop import Picker, Scheduler, Task, discard_trap
from effectus.core._stack import running_loop
from effectus.core._run import (
    Entry,
    Interpreter,
    Stack,
    as_coroutine,
    drive,
    stack_of,
)
from effectus.core._trace import Record, Trace, TraceWriter, read_trace

__all__ = ["Replayer", "Replaying", "ReplayStopped", "branch", "replay", "replaying", "resume"]

R = TypeVar("R")

_FIX = (
    "Fix: if the program changed on purpose, record a new trace; to read the records, run "
    "`effectus trace show {path}`."
)


class ReplayStopped(EffectusError, RuntimeError):
    """A replay reached the record it was asked to stop at (``stop_at=``)."""


def _dispatcher(stack: Stack) -> Entry:
    """Answer an effect the way ``stack`` would: one lookup, then the entry."""
    table = stack.table

    def dispatch(effect: object) -> Any:
        try:
            entry = table[effect.__class__]
        except KeyError:
            entry = stack.resolve(effect, None)
        return entry(effect)

    return dispatch


def _show_recorded(record: Record) -> str:
    parts: list[str] = []
    for name, data in record.fields.items():
        try:
            text = repr(decode(data))
        except CodecError:
            text = str(data)
        parts.append(f"{name}={text}")
    return f"{record.effect.partition(':')[2] or record.effect}({', '.join(parts)})"


def _field_diff(recorded: dict[str, JSON], performed: dict[str, JSON]) -> list[str]:
    lines: list[str] = []
    for name in sorted(set(recorded) | set(performed)):
        a, b = recorded.get(name, "<absent>"), performed.get(name, "<absent>")
        if a != b:
            try:
                a_text, b_text = repr(decode(a)), repr(decode(b))
            except CodecError:
                a_text, b_text = str(a), str(b)
            lines.append(f"    {name}: recorded {a_text}, performed {b_text}")
    return lines


class Replayer(Handler):
    """Answers every effect from a trace's records, in order.

    Args:
        trace: the recording.
        live: after the last record, answer effects with this (resume, branch).
        live_types: effect types re-executed through ``live`` whose answers are compared with
            the recorded ones (pure kernels, say): exactly, or by the effect's own
            ``differs(recorded, live)`` method when it has one (None when they agree).
        substitute: record number -> (ok, answer) to give instead of the recorded one.
        stop_at: raise `ReplayStopped` when the program reaches this record.
    """

    def __init__(
        self,
        trace: Trace,
        *,
        live: Entry | None = None,
        live_types: tuple[type[Effect[Any]], ...] = (),
        substitute: dict[int, tuple[bool, object]] | None = None,
        stop_at: int | None = None,
        records: int | None = None,
    ) -> None:
        self.trace = trace
        self.blobs = trace.blobs  # built once: a property that makes a new store each time
        self.records = trace.records if records is None else trace.records[:records]
        self.position = 0
        self.live = live
        self.live_types = frozenset(live_types)
        self.substitute = substitute or {}
        self.stop_at = stop_at
        #: the first divergence (or unreadable record): reported even if the program swallowed it
        self.divergence: ReplayDivergence | TraceError | None = None

    def _diverge(self, message: str) -> ReplayDivergence:
        err = ReplayDivergence(message + "\n" + _FIX.format(path=self.trace.path))
        if self.divergence is None:
            self.divergence = err
        return err

    def _mismatch(self, index: int, record: Record, effect: object, fields: dict[str, JSON] | None) -> ReplayDivergence:
        discard_trap(effect)  # refused: e.g. the program a Spawn carried is never started
        lines = [
            f"the program diverged from its trace at record {index} (of {len(self.trace.records)})",
            f"  recorded:  {_show_recorded(record)}  at {record.site}",
            f"  performed: {effect!r}  at {{site}}",
        ]
        if fields is not None and effect_name(type(effect)) == record.effect:
            lines.append("  differences:")
            lines += _field_diff(record.fields, fields)
        lines.append(f"  trace: {self.trace.path}")
        return self._diverge("\n".join(lines))

    @handles(Effect)
    def answer(self, effect: Effect[Any]) -> Any:
        index = self.position
        if index >= len(self.records):
            if self.live is not None:
                return self.live(effect)
            raise self._diverge(
                f"the program performed more effects than its trace holds ({len(self.records)})\n"
                f"  performed: {effect!r}  at {{site}}\n  trace: {self.trace.path}"
            )
        if self.stop_at is not None and index >= self.stop_at:
            raise ReplayStopped(f"replay stopped at record {index}, before {effect!r}")
        record = self.records[index]
        if effect_name(type(effect)) != record.effect:
            raise self._mismatch(index, record, effect, None)
        fields = encode_fields(effect, self.blobs)
        if fields != record.fields:
            raise self._mismatch(index, record, effect, fields)
        self.position = index + 1
        if isinstance(effect, Trap):
            # Other tasks depend on what a trap does (a spawn, a send): perform it again.
            loop = running_loop()
            assert loop is not None
            return effect.perform(loop)
        if index in self.substitute:
            ok, answer = self.substitute[index]
        elif type(effect) in self.live_types and self.live is not None:
            return self._compare_live(index, record, effect)
        else:
            ok = record.ok
            try:
                answer = decode(record.value, self.blobs)
            except TraceError as err:  # damaged: reported as itself, whatever the program does with it
                broken = TraceError(f"record {index} of {self.trace.path} cannot be replayed: {err}")
                if self.divergence is None:
                    self.divergence = broken
                raise broken from None
        if ok:
            return answer
        raise cast(BaseException, answer)

    def _compare_live(self, index: int, record: Record, effect: Effect[Any]) -> Any:
        assert self.live is not None
        value = self.live(effect)
        differs = getattr(effect, "differs", None)
        if record.ok and differs is not None:
            # The effect compares answers itself (a kernel: within its tolerance, not bit for bit).
            why = differs(decode(record.value, self.blobs), value)
            if why is None:
                return value
            raise self._diverge(
                f"re-executed live, {effect!r} answered differently from record {index}\n"
                f"  {why}\n  at {{site}}\n  trace: {self.trace.path}"
            )
        if not record.ok or encode(value, blobs=self.blobs) != record.value:
            raise self._diverge(
                f"re-executed live, {effect!r} answered differently from record {index}\n"
                f"  recorded:  {'error ' if not record.ok else ''}{record.value}\n"
                f"  live:      {encode(value, blobs=self.blobs)}\n"
                f"  at {{site}}\n  trace: {self.trace.path}"
            )
        return value

    def finish(self, outcome: str, value: object) -> None:
        """After the run: a divergence the program swallowed, or records left over, fail it."""
        if self.divergence is not None:
            raise self.divergence
        if self.live is None and self.position < len(self.records):
            nxt = self.records[self.position]
            raise self._diverge(
                f"the program finished after {self.position} of {len(self.records)} recorded "
                f"effects; record {self.position} ({_show_recorded(nxt)} at {nxt.site}) was never "
                f"performed\n  trace: {self.trace.path}"
            )
        footer = self.trace.footer
        if footer is not None and self.live is None and not self.substitute:
            performed = outcome_json(value)
            if (outcome, performed) != (footer.outcome, footer.value):
                raise self._diverge(
                    f"every effect matched, but the program's outcome differs\n"
                    f"  recorded:  {footer.outcome} {footer.value}\n"
                    f"  performed: {outcome} {performed}\n  trace: {self.trace.path}"
                )


def _load(trace: Trace | str | os.PathLike[str]) -> Trace:
    return trace if isinstance(trace, Trace) else read_trace(trace)


class TraceOrder(Scheduler):
    """Replay's scheduler: before each effect, run the task that performed the next record."""

    preemptive = True

    def __init__(self, replayer: Replayer) -> None:
        self.replayer = replayer

    def picker(self) -> Picker:
        replayer = self.replayer

        def pick(ready: Sequence[Task[Any]]) -> Task[Any]:
            position = replayer.position
            if position < len(replayer.records):
                wanted = replayer.records[position].task
                for task in ready:
                    if task.id == wanted:
                        return task
            return ready[0]  # the record's task cannot run: its effect will show the divergence

        return pick


class Replaying(Interpreter):
    """An interpreter that answers from a trace; made by `replaying`."""

    __slots__ = ("_replayer",)

    def __init__(self, replayer: Replayer, *outer: Handler | Interpreter) -> None:
        super().__init__(replayer, *outer)
        self._replayer = replayer

    def _execute(self, coro: Coroutine[Any, Any, Any]) -> Any:
        replayer = self._replayer
        replayer.position = 0
        replayer.divergence = None
        try:
            result = drive(coro, self._stack, TraceOrder(replayer))
        except (ReplayDivergence, ReplayStopped, TraceError) as err:
            first = replayer.divergence
            if first is not None and err is not first:
                raise first from None  # the first mismatch (in one task) is the one to report
            raise
        except BaseException as err:
            replayer.finish("raised", err)
            raise
        replayer.finish("returned", result)
        return result


def replaying(
    trace: Trace | str | os.PathLike[str],
    *,
    interpreter: Interpreter | None = None,
    live: tuple[type[Effect[Any]], ...] = (),
    stop_at: int | None = None,
) -> Replaying:
    """An interpreter that answers every effect from ``trace``.

    Args:
        trace: a trace file (or a `Trace` already read).
        interpreter: handlers for the effect types in ``live``.
        live: effect types to re-execute through ``interpreter`` and compare with the
            recorded answers (a pure kernel, say).
        stop_at: raise `ReplayStopped` into the program when it reaches this record.

    Raises:
        ReplayDivergence: (from ``run``) at the first effect that differs from the record.
    """
    if live and interpreter is None:
        raise ValueError("replaying(live=...) re-executes effects, so it needs interpreter=... to run them")
    dispatch = None if interpreter is None else _dispatcher(stack_of(interpreter))
    replayer = Replayer(_load(trace), live=dispatch if live else None, live_types=live, stop_at=stop_at)
    return Replaying(replayer)


def replay(program: Awaitable[R], trace: Trace | str | os.PathLike[str], **options: Any) -> R:
    """Re-run ``program`` against ``trace``; return its result or raise `ReplayDivergence`.

    Options are those of `replaying`.
    """
    return replaying(trace, **options).run(program)


def resume(program: Awaitable[R], path: str | os.PathLike[str], interpreter: Interpreter, *, fsync: bool = False) -> R:
    """Durable execution: replay the recorded prefix of ``path``, then go on live, appending.

    Effects whose records were written are answered from the trace and not performed again;
    the effect that was in flight when the process died (its record not written) runs again,
    so effects that are not safe to redo (appends, sends) should be idempotent or checked.
    New records are written through to the OS before the program resumes.
    """
    trace = read_trace(path)
    if trace.footer is not None:
        return replay(program, trace)
    coro = as_coroutine(program, "resume")
    writer = TraceWriter(Path(path), None, durable=True, fsync=fsync, append=True)
    tape = Tape(writer, len(trace.records))
    # After the recorded prefix, effects go to the live handlers, recorded onto the same trace.
    live = _dispatcher(recording_stack(stack_of(interpreter), tape, durable=True))
    replayer = Replayer(trace, live=live)
    stack = stack_of(Interpreter(replayer))  # a fresh stack of our own: safe to give it the tape
    stack.tape = tape
    try:
        result = drive(coro, stack, TraceOrder(replayer))
    except BaseException as err:
        close_tape(tape, writer, "raised", err)
        if replayer.divergence is not None and err is not replayer.divergence:
            raise replayer.divergence from err
        raise
    close_tape(tape, writer, "returned", result)
    if replayer.divergence is not None:
        raise replayer.divergence
    return cast(R, result)


def branch(
    program: Awaitable[R],
    trace: Trace | str | os.PathLike[str],
    at: int,
    interpreter: Interpreter,
    *,
    value: object = None,
    error: BaseException | None = None,
) -> R:
    """Counterfactual replay: what if record ``at`` had answered ``value`` (or raised ``error``)?

    Replays the records before ``at``, gives the program ``value`` (or raises ``error`` into
    it) for the effect at ``at`` — which must still match the recorded effect — and then runs
    on live under ``interpreter``.
    """
    loaded = _load(trace)
    if not 0 <= at < len(loaded.records):
        raise ValueError(f"branch(at={at}): the trace has records 0..{len(loaded.records) - 1}")
    substitute = {at: (False, error) if error is not None else (True, value)}
    live = _dispatcher(stack_of(interpreter))
    replayer = Replayer(loaded, live=live, substitute=substitute, records=at + 1)
    return Replaying(replayer).run(program)

