"""The interpreter: drives a program, answering each effect from a dispatch table.

Guarantees: the per-effect path is one coroutine ``send``, one dict lookup and one call,
whatever the number of handlers installed (the table is prepared once per handler stack);
an error from a handler is raised inside the program at its ``await``; tool calls, scoped
handlers and ``async`` handler methods run on the interpreter's own frame list, not on
Python's stack.
"""

from __future__ import annotations

import dis
from collections.abc import Awaitable, Callable, Coroutine, Generator
from types import CodeType, CoroutineType
from typing import TYPE_CHECKING, Any, Generic, NoReturn, Protocol, TypeGuard, TypeVar, cast

from effectus.core._effect import AWAIT_CODE, Effect, is_effect_type
from effectus.core._errors import EffectusError, UnhandledEffect
from effectus.core._handler import Handler, bound_methods
from effectus.core._site import describe_site, register_await_code, throw_into, trim
from effectus.core._tool import Call

if TYPE_CHECKING:
    from returns.result import Result

__all__ = ["Handle", "Interpreter", "handle", "run", "run_result"]

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
H = TypeVar("H", bound=Handler)

register_await_code(AWAIT_CODE)

Entry = Callable[[Any], Any]


class Tape(Protocol):
    """What a recording run lets the driver see: the program now running."""

    coro: Coroutine[Any, Any, Any] | None


# (group label, handler), innermost first; the label names the interpreter the handler came from
Installed = tuple[tuple[str | None, Handler], ...]


class Handle(Generic[R_co]):
    """A program run under extra, innermost handlers; see `handle`."""

    __slots__ = ("coro", "handlers")

    def __init__(self, coro: Coroutine[Any, Any, R_co], handlers: Installed) -> None:
        self.coro = coro
        self.handlers = handlers

    def __await__(self) -> Generator[Handle[R_co], Any, R_co]:
        answer: R_co = yield self  # a typed local, for mypy --strict (no-any-return)
        return answer


# (Read through `vars`: pyright sees `Handle.__await__` of the bare class as partially unknown.)
register_await_code(vars(Handle)["__await__"].__code__)


def handle(program: Awaitable[R], *handlers: Handler | Interpreter) -> Handle[R]:
    """Run ``program`` with ``handlers`` installed in front of the current ones.

    ``handle`` is itself a program: awaiting it gives the program's result.  Effects the new
    handlers do not handle go on to the handlers outside.

    >>> import effectus as fx
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Name(fx.Effect[str]):
    ...     pass
    >>> class Says(fx.Handler):
    ...     def __init__(self, name: str) -> None:
    ...         self.name = name
    ...     @fx.handles(Name)
    ...     def say(self, e: Name) -> str:
    ...         return self.name
    >>> async def both() -> str:
    ...     inner = await fx.handle(Name(), Says("inner"))
    ...     return inner + "/" + await Name()
    >>> fx.run(both(), Says("outer"))
    'inner/outer'
    """
    try:
        installed = _flatten(handlers, "fx.handle")
    except TypeError:
        _close(program)  # Fix: as in `run`, a refused program must not warn "never awaited"
        raise
    return Handle(as_coroutine(program, "fx.handle"), installed)


class Push(BaseException):
    """Control signal from a table entry: drive ``coro`` under ``stack``, then resume."""

    __slots__ = ("coro", "stack")

    def __init__(self, coro: Coroutine[Any, Any, Any], stack: Stack) -> None:
        self.coro = coro
        self.stack = stack


class Stack:
    """A prepared handler stack: the dispatch table and what was installed, for messages."""

    __slots__ = ("table", "installed", "tape", "wrap", "__weakref__")

    def __init__(
        self,
        table: dict[type, Entry],
        installed: Installed,
        tape: Tape | None = None,
        wrap: Callable[[Entry], Entry] | None = None,
    ) -> None:
        self.table = table
        self.installed = installed
        # A recording run: the driver keeps `tape.coro` on the running program, and misses are
        # wrapped like the table's entries, so an unhandled effect is recorded too.
        self.tape = tape
        self.wrap = wrap
        table[Call] = self._enter_call
        table[Handle] = self._enter_handle

    @staticmethod
    def build(installed: Installed, base: Stack | None = None) -> Stack:
        """Stack ``installed`` (innermost first) in front of ``base``."""
        table = {} if base is None else dict(base.table)
        done: Installed = () if base is None else base.installed
        tape = None if base is None else base.tape
        wrap = None if base is None else base.wrap
        outside = base
        for label, handler in reversed(installed):
            methods = bound_methods(handler)
            if any(is_async for _, _, is_async in methods) and (
                outside is None or outside.installed is not done
            ):
                # An async method runs against exactly the handlers outside its own.
                outside = Stack(dict(table), done, tape, wrap)
            own: dict[type, Entry] = {
                effect_type: _async_entry(method, outside) if is_async else method
                for effect_type, method, is_async in methods
            }
            # Fix (precedence of subclass effects): the innermost handler whose types match the
            # effect wins, as with nested `except` clauses.  An outer handler's entry for a
            # subclass of a type this handler handles is shadowed by this handler's most
            # specific match, or an inner catch-all (`@handles(Effect)`) would be skipped.
            for known in [k for k in table if k not in own and is_effect_type(k)]:
                for ancestor in known.__mro__:
                    if ancestor in own:
                        table[known] = own[ancestor]
                        break
            table.update(own)
            done = ((label, handler), *done)
        return Stack(table, done, tape, wrap)

    def _enter_call(self, call: Call[Any]) -> NoReturn:
        raise Push(call.coro, self)

    def _enter_handle(self, h: Handle[Any]) -> NoReturn:
        raise Push(h.coro, Stack.build(h.handlers, self))

    def resolve(self, request: object, program: Coroutine[Any, Any, Any] | None) -> Entry:
        """The entry for a type not in the table: a handled base class, or an error."""
        cls = type(request)
        if is_effect_type(cls):
            # Fix (precedence of subclass effects): search handlers innermost first, each for its
            # most specific base of `cls`.  `build` keeps `table[base]` that handler's entry.
            for _, handler in self.installed:
                # Handler's own table, read by the interpreter it was written for.
                handled = type(handler)._effectus_methods  # pyright: ignore[reportPrivateUsage]
                for base in cls.__mro__[1:]:
                    if base in handled:
                        entry = self.table[base]
                        self.table[cls] = entry
                        return entry
            missing = _raiser(UnhandledEffect(self._unhandled_message(request, program)))
            return missing if self.wrap is None else self.wrap(missing)
        return _raiser(TypeError(_foreign_message(request, program)))

    def _unhandled_message(self, effect: object, program: Coroutine[Any, Any, Any] | None) -> str:
        name = type(effect).__name__
        lines = [f"no handler for {effect!r}", f"  at {describe_site(program)}"]
        lines += _describe_installed(self.installed)
        standard = type(effect).__module__.startswith("effectus.")
        fix = (
            f"Fix: add a handler for {name}, or run under fx.production() or fx.testing()."
            if standard
            else f"Fix: add a handler with a method marked @fx.handles({name}) to the handlers "
            f"you run with, e.g. fx.run(program, YourHandler(), fx.testing())."
        )
        lines.append(fix)
        return "\n".join(lines)


def _describe_installed(installed: Installed) -> list[str]:
    if not installed:
        return ["  installed: nothing (no handlers were given)"]
    groups: list[tuple[str, list[str]]] = []
    for label, handler in installed:
        title = label if label is not None else repr(handler)
        names = [t.__name__ for t in type(handler).handled()]
        if groups and groups[-1][0] == title and label is not None:
            groups[-1][1].extend(names)
        else:
            groups.append((title, names))
    out: list[str] = []
    for i, (title, names) in enumerate(groups):
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        out.append(f"  {'installed:' if i == 0 else '          '} {title} — handles {shown or 'nothing'}")
    return out


def _foreign_message(obj: object, program: Coroutine[Any, Any, Any] | None) -> str:
    hint = (
        "are you using a library written for asyncio? effectus programs may only await "
        "effects, tool calls and other effectus programs; run asyncio code inside a handler."
    )
    return (
        f"a program awaited {obj!r} (type={type(obj).__qualname__}), which is not an effect\n"
        f"  at {describe_site(program)}\n"
        f"Hint: {hint}"
    )


def _raiser(err: BaseException) -> Entry:
    def entry(_: object) -> NoReturn:
        raise err

    return entry


def _async_entry(method: Callable[[Any], Coroutine[Any, Any, Any]], outside: Stack | None) -> Entry:
    stack = outside if outside is not None else Stack({}, ())

    def entry(effect: object) -> NoReturn:
        raise Push(method(effect), stack)

    return entry


def drive(coro: Coroutine[Any, Any, Any], stack: Stack) -> Any:
    """Run ``coro`` to completion under ``stack``; the hot loop of effectus.

    The innermost ``while`` is the whole per-effect path: resume the program, look its
    request up, call the entry.  Everything else happens in the ``except`` clauses, which cost
    nothing until something is raised; which statement raised is read from the traceback's
    line number (`_RESUME_LINES`), so the hot loop carries no flags.
    """
    frames: list[tuple[Coroutine[Any, Any, Any], Stack]] = []
    if stack.tape is not None:
        stack.tape.coro = coro
    table = stack.table
    send = coro.send
    value: Any = None
    request: Any = None
    error: BaseException | None = None  # to raise inside the program at its await
    resolved: Entry | None = None  # the entry found for a request the table missed
    while True:
        try:
            if error is not None:
                pending, error = error, None
                request = throw_into(coro, pending)
                value = table[request.__class__](request)
            elif resolved is not None:
                entry, resolved = resolved, None
                value = entry(request)
            while True:
                request = send(value)
                value = table[request.__class__](request)
        except Push as push:
            frames.append((coro, stack))
            coro = push.coro
            stack = push.stack
            table = stack.table
            send = coro.send
            value = None
            if stack.tape is not None:
                stack.tape.coro = coro
        except BaseException as failure:
            tb = failure.__traceback__
            if tb is not None and tb.tb_lineno in _RESUME_LINES:
                # The program itself returned or raised.
                if not frames:
                    if type(failure) is StopIteration:
                        return failure.value
                    raise
                if type(failure) is StopIteration:
                    value = failure.value
                else:
                    error = failure
                coro, stack = frames.pop()
                table = stack.table
                send = coro.send
                if stack.tape is not None:
                    stack.tape.coro = coro
            elif type(failure) is KeyError and request.__class__ not in table:
                resolved = stack.resolve(request, coro)  # a miss: the handler never ran
            else:
                error = failure  # the handler raised
                if isinstance(failure, EffectusError):
                    failure.locate(describe_site(coro))


def _lines_resuming(code: CodeType) -> frozenset[int]:
    """Lines of ``code`` that resume the program: where ``send`` or ``throw_into`` is loaded."""
    return frozenset(
        ins.positions.lineno
        for ins in dis.get_instructions(code)
        if ins.argval in ("send", "throw_into")
        and ins.opname in ("LOAD_FAST", "LOAD_GLOBAL")
        and ins.positions is not None
        and ins.positions.lineno is not None
    )


_RESUME_LINES = _lines_resuming(drive.__code__)


def as_coroutine(program: object, where: str) -> Coroutine[Any, Any, Any]:
    if type(program) is CoroutineType:
        return cast(Coroutine[Any, Any, Any], program)
    # Fix: an effect is an awaitable program too (`fx.handle(Name(), ...)` in `handle`'s doctest).
    if isinstance(program, Call):
        # isinstance leaves Call's type argument unknown to pyright; the coroutine is the tool's.
        return program.coro  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    if isinstance(program, (Call, Handle, Effect)):
        # (The cast: isinstance leaves the result type unknown to pyright; all three are awaitable.)
        return _await(cast("Awaitable[object]", program))
    raise TypeError(_not_a_program(program, where))


async def _await(awaitable: Awaitable[R]) -> R:
    return await awaitable


def _not_a_program(program: object, where: str) -> str:
    name = getattr(program, "__name__", None)
    if callable(program) and name is not None:
        return (
            f"{where}() takes a program — the coroutine you get by calling an async def — but "
            f"got the function {name} itself.\nFix: {where}({name}(...), ...)"
        )
    return (
        f"{where}() takes a program — the coroutine you get by calling an async def — but got "
        f"{program!r} (type={type(program).__qualname__}).\n"
        f"Fix: define `async def main(): ...` that awaits effects, and pass main()."
    )


def stack_of(interpreter: Interpreter) -> Stack:
    """The prepared handler stack of ``interpreter`` (for recording and replaying)."""
    return interpreter._stack  # pyright: ignore[reportPrivateUsage]  # this module's class


def _one_interpreter(handlers: tuple[Handler | Interpreter, ...]) -> Interpreter:
    """The interpreter ``fx.run(program, *handlers)`` uses: a lone interpreter as it is."""
    if len(handlers) == 1 and isinstance(handlers[0], Interpreter):
        return handlers[0]
    return Interpreter(*handlers)


def _flatten(handlers: tuple[object, ...], where: str) -> Installed:
    out: list[tuple[str | None, Handler]] = []
    for h in handlers:
        if isinstance(h, Interpreter) and type(h)._execute is not Interpreter._execute:  # pyright: ignore[reportPrivateUsage]
            raise TypeError(
                f"{where}() cannot take {h!r} among other handlers: it records or replays runs, "
                f"and splicing its handlers elsewhere would silently drop that.\n"
                f"Fix: add handlers to it with .with_handlers(...), or run it alone."
            )
        if isinstance(h, Interpreter):
            out.extend(h._installed)  # pyright: ignore[reportPrivateUsage]  # this module's class
        elif isinstance(h, Handler):
            out.append((None, h))
        elif _is_handler_class(h):
            raise TypeError(
                f"{where}() takes handler instances; got the class {h.__qualname__}.\n"
                f"Fix: pass {h.__qualname__}() instead of {h.__qualname__}."
            )
        else:
            raise TypeError(
                f"{where}() takes fx.Handler instances or fx.Interpreter objects as handlers; "
                f"got {h!r} (type={type(h).__qualname__})."
            )
    return tuple(out)


def _is_handler_class(obj: object) -> TypeGuard[type[Handler]]:
    # A type guard, unlike `isinstance(obj, type) and ...`, leaves `obj` an `object` (not a
    # partially unknown `type`) when it fails.
    return isinstance(obj, type) and issubclass(obj, Handler)


class Interpreter:
    """An immutable stack of handlers, innermost first, ready to run programs.

    The dispatch table is prepared once here, so running a program costs one dict lookup
    per effect however many handlers are installed.  Handlers may hold state; an interpreter
    holds the same handler instances for every run.

    Args:
        *handlers: `Handler` instances or other interpreters (whose handlers are spliced in
            place), innermost first.
        name: how this group of handlers is named in error messages, e.g. ``"testing()"``.
    """

    __slots__ = ("_installed", "_stack")

    def __init__(self, *handlers: Handler | Interpreter, name: str | None = None) -> None:
        installed = _flatten(handlers, "fx.Interpreter")
        if name is not None:
            installed = tuple((name, h) for _, h in installed)
        self._installed = installed
        self._stack = Stack.build(installed)

    @property
    def handlers(self) -> tuple[Handler, ...]:
        """The installed handler instances, innermost first."""
        return tuple(h for _, h in self._installed)

    def with_handlers(self, *handlers: Handler | Interpreter) -> Interpreter:
        """A new interpreter with ``handlers`` installed in front of (inside) these."""
        return Interpreter(*handlers, self)

    def handler(self, kind: type[H]) -> H:
        """The innermost installed handler that is an instance of ``kind``.

        Raises:
            LookupError: when none is installed.
        """
        for h in self.handlers:
            if isinstance(h, kind):
                return h
        raise LookupError(f"no {kind.__qualname__} is installed in {self!r}")

    def run(self, program: Awaitable[R]) -> R:
        """Run ``program`` to completion and return its result (or raise its error)."""
        coro = as_coroutine(program, "run")
        try:
            return cast(R, self._execute(coro))
        except BaseException as err:
            raise err.with_traceback(trim(err.__traceback__))

    def _execute(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Drive ``coro`` to completion; recording and replaying interpreters extend this."""
        return drive(coro, self._stack)

    def run_result(self, program: Awaitable[R]) -> Result[R, Exception]:
        """Run ``program`` and return ``Success(result)`` or ``Failure(exception)``."""
        from returns.result import Failure, Success

        coro = as_coroutine(program, "run_result")  # misuse raises; it is not a Failure
        try:
            return Success(cast(R, self._execute(coro)))
        except Exception as err:  # KeyboardInterrupt and friends still propagate
            return Failure(err.with_traceback(trim(err.__traceback__)))

    def __repr__(self) -> str:
        parts: list[str] = []
        for label, h in self._installed:
            text = label if label is not None else repr(h)
            if not parts or parts[-1] != text or label is None:
                parts.append(text)
        return f"Interpreter({', '.join(parts)})"


def run(program: Awaitable[R], *handlers: Handler | Interpreter) -> R:
    """Run ``program`` under ``handlers`` (innermost first) and return its result.

    >>> import effectus as fx
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Double(fx.Effect[int]):
    ...     x: int
    >>> class Doubler(fx.Handler):
    ...     @fx.handles(Double)
    ...     def double(self, e: Double) -> int:
    ...         return 2 * e.x
    >>> async def main() -> int:
    ...     return await Double(21)
    >>> fx.run(main(), Doubler())
    42

    Raises:
        TypeError: ``program`` is not a program, or a handler is not a `Handler`.
        UnhandledEffect: the program performed an effect no handler handles (and did not
            catch the error).
    """
    try:
        interpreter = _one_interpreter(handlers)
    except TypeError:
        _close(program)
        raise
    coro = as_coroutine(program, "run")
    try:
        return cast(R, interpreter._execute(coro))  # pyright: ignore[reportPrivateUsage]
    except BaseException as err:
        raise err.with_traceback(trim(err.__traceback__))


def run_result(program: Awaitable[R], *handlers: Handler | Interpreter) -> Result[R, Exception]:
    """Like `run`, but return a ``returns`` `Result` instead of raising.

    >>> import effectus as fx
    >>> async def boom() -> int:
    ...     raise ValueError("no")
    >>> fx.run_result(boom())
    <Failure: no>
    """
    try:
        interpreter = _one_interpreter(handlers)
    except TypeError:
        _close(program)
        raise
    return interpreter.run_result(program)


def _close(program: object) -> None:
    # A program we refuse to run must not also warn "coroutine was never awaited".
    coro = (
        cast("Call[object] | Handle[object]", program).coro  # (cast: see as_coroutine)
        if isinstance(program, (Call, Handle))
        else program
    )
    if type(coro) is CoroutineType:
        coro.close()
