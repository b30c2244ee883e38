"""The interpreter: an immutable handler stack, and the ways to run a program under one.

Guarantees: the per-effect path is one coroutine ``send``, one dict lookup and one call,
whatever the number of handlers installed (the table is prepared once per handler stack);
an error from a handler is raised inside the program at its ``await``; tool calls, scoped
handlers and ``async`` handler methods run on the interpreter's own frame list, not on
Python's stack.
"""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine
from types import CoroutineType
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar, cast

from effectus.core._effect import Effect
from effectus.core._handler import Handler
from effectus.core._loop import Loop, Scheduler, drive
from effectus.core._site import trim
from effectus.core._stack import Entry, Handle, Installed, Push, Stack
from effectus.core._tool import Call

if TYPE_CHECKING:
    from returns.result import Result

__all__ = [
    "Entry",
    "Handle",
    "Interpreter",
    "Push",
    "Stack",
    "as_coroutine",
    "drive",
    "handle",
    "run",
    "run_async",
    "run_result",
    "stack_of",
]

R = TypeVar("R")
H = TypeVar("H", bound=Handler)


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




def as_coroutine(program: object, where: str) -> Coroutine[Any, Any, Any]:
    if type(program) is CoroutineType:
        return cast(Coroutine[Any, Any, Any], program)
    # Fix: an effect is an awaitable program too (`fx.handle(Name(), ...)` in `handle`'s doctest).
    if isinstance(program, Call) and program.tool.allowed is None:  # pyright: ignore[reportUnknownMemberType]
        # isinstance leaves Call's type argument unknown to pyright; the coroutine is the tool's.
        # (A tool that declares its effects is awaited, so that its guard applies.)
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


def _scheduler_of(handlers: tuple[object, ...]) -> Scheduler | None:
    """The scheduler of the innermost interpreter among ``handlers`` that has one."""
    for h in handlers:
        if isinstance(h, Interpreter) and h.scheduler is not None:
            return h.scheduler
    return None


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
        scheduler: how concurrent tasks take turns: `Cooperative` (the default; each runs
            until it blocks) or `Seeded` (switch before every effect, seeded).  By default,
            that of the innermost interpreter given among ``handlers``.
    """

    __slots__ = ("_installed", "_stack")

    def __init__(
        self, *handlers: Handler | Interpreter, name: str | None = None, scheduler: Scheduler | None = None
    ) -> None:
        installed = _flatten(handlers, "fx.Interpreter")
        if name is not None:
            installed = tuple((name, h) for _, h in installed)
        if scheduler is not None and not isinstance(scheduler, Scheduler):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(
                f"fx.Interpreter(scheduler={scheduler!r}): expected fx.Cooperative(...) or "
                f"fx.Seeded(...) (type={type(scheduler).__qualname__})."
            )
        self._installed = installed
        self._stack = Stack.build(installed, scheduler=scheduler or _scheduler_of(handlers))

    @property
    def scheduler(self) -> Scheduler | None:
        """How concurrent tasks take turns in this interpreter's runs (None: `Cooperative`)."""
        return self._stack.scheduler

    @property
    def handlers(self) -> tuple[Handler, ...]:
        """The installed handler instances, innermost first."""
        return tuple(h for _, h in self._installed)

    def with_handlers(self, *handlers: Handler | Interpreter, scheduler: Scheduler | None = None) -> Interpreter:
        """A new interpreter with ``handlers`` installed in front of (inside) these.

        The scheduler is kept unless ``scheduler`` is given.
        """
        return Interpreter(*handlers, self, scheduler=scheduler or self.scheduler)

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


async def run_async(program: Awaitable[R], *handlers: Handler | Interpreter) -> R:
    """Run ``program`` inside a running asyncio application; ``await`` it from asyncio code.

    Like `run`, but while the program's tasks wait — for ``blocking=True`` handler methods on
    worker threads, or for asyncio futures that ``async`` handler methods await (an HTTP
    client's, say) — the asyncio event loop keeps serving the rest of the application.
    Programs themselves still await only effects.

    >>> import asyncio, effectus as fx
    >>> async def main() -> float:
    ...     await fx.Sleep(2)
    ...     return await fx.Now() - 1767225600.0
    >>> asyncio.run(fx.run_async(main(), fx.testing()))
    2.0

    Raises:
        TypeError: as `run`; also for a recording or replaying interpreter, which
            ``run_async`` does not support yet.
    """
    import asyncio

    try:
        interpreter = _one_interpreter(handlers)
        if type(interpreter)._execute is not Interpreter._execute:  # pyright: ignore[reportPrivateUsage]
            raise TypeError(
                f"fx.run_async() cannot run {interpreter!r} yet: recording and replaying run "
                f"synchronously.\nFix: record or replay with fx.run(...) (in a thread, from "
                f"asyncio: `await asyncio.to_thread(interpreter.run, program)`)."
            )
    except TypeError:
        _close(program)
        raise
    coro = as_coroutine(program, "run_async")
    loop = Loop(interpreter._stack)  # pyright: ignore[reportPrivateUsage]  # this module's class
    try:
        return cast(R, await loop.run_async(coro, asyncio.get_running_loop()))
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
