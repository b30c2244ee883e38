"""Handler stacks: the dispatch table a run looks effects up in, prepared once per stack.

Guarantees: looking an effect up costs one dict lookup whatever the number of handlers
installed; the innermost handler whose types match an effect answers it (as with nested
``except`` clauses); a miss is resolved once through the effect's MRO and cached.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Generator
import threading
from typing import TYPE_CHECKING, Any, Generic, NoReturn, Protocol, TypeVar

from effectus.core._effect import AWAIT_CODE, Trap, is_effect_type
from effectus.core._errors import InternalError, UndeclaredEffect, UnhandledEffect
from effectus.core._handler import Handler, bound_methods
from effectus.core._site import describe_site, register_await_code
from effectus.core._tool import Call

if TYPE_CHECKING:
    from effectus.core._loop import Loop, Scheduler

__all__ = [
    "Entry", "Handle", "Installed", "Push", "Stack", "Suspend", "Tape", "running_loop", "set_running_loop",
]

R_co = TypeVar("R_co", covariant=True)

_running = threading.local()


def running_loop() -> Loop | None:
    """The scheduler loop running on this thread, if any."""
    loop: Loop | None = getattr(_running, "loop", None)
    return loop


def set_running_loop(loop: Loop | None) -> Loop | None:
    """Make ``loop`` this thread's running loop; returns the one it replaces."""
    previous = running_loop()
    _running.loop = loop
    return previous

register_await_code(AWAIT_CODE)

Entry = Callable[[Any], Any]


class Tape(Protocol):
    """What a recording run lets the driver see: the program and the task now running."""

    coro: Coroutine[Any, Any, Any] | None
    task: int


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


class Push(BaseException):
    """Control signal from a table entry: drive ``coro`` under ``stack``, then resume.

    ``handler`` marks the program of an ``async`` handler method (which, under
    `run_async`, may also await asyncio futures).
    """

    __slots__ = ("coro", "stack", "handler")

    def __init__(self, coro: Coroutine[Any, Any, Any], stack: Stack, handler: bool = False) -> None:
        self.coro = coro
        self.stack = stack
        self.handler = handler


class Suspend(BaseException):
    """Control signal from a handler: park the running task until the loop wakes it.

    Made by `Loop.park`; whoever raises it has arranged for `Loop.wake` to be called later.
    A program's own ``__await__`` may also yield it, having parked itself: every table
    raises it back (see `Loop.inline`).  ``callbacks`` are told the answer when the task
    wakes (recording uses them).
    """

    __slots__ = ("reason", "callbacks")

    def __init__(self, reason: str | Callable[[], str]) -> None:
        self.reason = reason
        self.callbacks: list[Callable[[bool, object], None]] = []


def _raise_suspend(suspend: Suspend) -> NoReturn:
    raise suspend


class Stack:
    """A prepared handler stack: the dispatch table and what was installed, for messages."""

    __slots__ = (
        "table", "installed", "tape", "wrap", "scheduler", "traps_inline", "guards", "restricted",
        "unguarded", "__weakref__",
    )

    def __init__(
        self,
        table: dict[type, Entry],
        installed: Installed,
        tape: Tape | None = None,
        wrap: Callable[[Entry], Entry] | None = None,
        scheduler: Scheduler | None = None,
    ) -> None:
        self.table = table
        self.installed = installed
        self.scheduler = scheduler  # how runs on this stack order their tasks (None: default)
        # A recording run: the driver keeps `tape.coro` on the running program, and misses are
        # wrapped like the table's entries, so an unhandled effect is recorded too.
        self.tape = tape
        self.wrap = wrap
        # No handler takes any trap and nothing wraps entries: a trap that can answer itself
        # without waiting may do so inside its own `__await__` (see `Loop.inline`).
        self.traps_inline = wrap is None and not any(_takes_traps(h) for _, h in installed)
        # Inside tools that declare their effects: (tool name, the types it declared) for
        # each; an effect must be a subclass of a declared type of every one (see `restrict`).
        self.guards: tuple[tuple[str, tuple[type, ...]], ...] = ()
        self.restricted: dict[tuple[str, frozenset[type]], Stack] | None = None
        #: a guarded stack: the table before guarding (see `restrict`)
        self.unguarded: dict[type, Entry] | None = None
        table[Suspend] = _raise_suspend
        table[Call] = self._enter_call
        table[Handle] = self._enter_handle

    @staticmethod
    def build(installed: Installed, base: Stack | None = None, scheduler: Scheduler | None = None) -> Stack:
        """Stack ``installed`` (innermost first) in front of ``base``."""
        table = {} if base is None else dict(base.table)
        done: Installed = () if base is None else base.installed
        tape = None if base is None else base.tape
        wrap = None if base is None else base.wrap
        if scheduler is None and base is not None:
            scheduler = base.scheduler
        outside = base
        for label, handler in reversed(installed):
            methods = bound_methods(handler)
            if any(is_async for _, _, is_async, _ in methods) and (
                outside is None or outside.installed is not done
            ):
                # An async method runs against exactly the handlers outside its own.
                outside = Stack(dict(table), done, tape, wrap, scheduler)
            own: dict[type, Entry] = {
                effect_type: _async_entry(method, outside)
                if is_async
                else _blocking_entry(method)
                if blocking
                else method
                for effect_type, method, is_async, blocking in methods
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
        stack = Stack(table, done, tape, wrap, scheduler)
        if base is not None and base.guards:
            # Handlers installed inside a tool answer effects the tool may perform unchecked:
            # they never leave it.
            inner = tuple(t for _, h in installed for t in type(h).handled())
            stack.guards = tuple((name, (*declared, *inner)) for name, declared in base.guards)
            stack.traps_inline = False
        return stack

    def restrict(self, tool: str, allowed: frozenset[type]) -> Stack:
        """This stack for the body of ``tool``, which may perform only ``allowed`` effects."""
        key = (tool, allowed)
        cache = self.restricted
        if cache is None:
            cache = self.restricted = {}
        stack = cache.get(key)
        if stack is None:
            guards = (*self.guards, (tool, tuple(allowed)))
            table = {k: v for k, v in self.table.items() if not is_effect_type(k) or _passes(k, guards)}
            stack = Stack(table, self.installed, self.tape, self.wrap, self.scheduler)
            stack.guards = guards
            # Catch-all entries (`@handles(Effect)`, a replayer's) are filtered out of the
            # table but still answer the allowed subclasses that `resolve` finds.
            stack.unguarded = self.unguarded if self.unguarded is not None else self.table
            stack.traps_inline = False  # channel operations must meet the guard too
            cache[key] = stack
        return stack

    def _enter_call(self, call: Call[Any]) -> NoReturn:
        allowed = call.tool.allowed
        if allowed is None:
            raise Push(call.coro, self)
        raise Push(call.coro, self.restrict(call.tool.__qualname__, allowed))

    def _enter_handle(self, h: Handle[Any]) -> NoReturn:
        raise Push(h.coro, Stack.build(h.handlers, self))

    def resolve(self, request: object, program: Coroutine[Any, Any, Any] | None) -> Entry:
        """The entry for a type not in the table: a handled base class, or an error."""
        cls = type(request)
        if self.guards and is_effect_type(cls) and not _passes(cls, self.guards):
            return _raiser(UndeclaredEffect(_undeclared_message(request, self.guards, program)))
        if is_effect_type(cls):
            # Fix (precedence of subclass effects): search handlers innermost first, each for its
            # most specific base of `cls`.  `build` keeps `table[base]` that handler's entry.
            for _, handler in self.installed:
                # Handler's own table, read by the interpreter it was written for.
                handled = type(handler)._effectus_methods  # pyright: ignore[reportPrivateUsage]
                for base in cls.__mro__[1:]:
                    if base in handled:
                        entry = self.table[base] if base in self.table or self.unguarded is None else self.unguarded[base]
                        self.table[cls] = entry
                        return entry
            if issubclass(cls, Trap):
                # No handler takes it: the scheduler answers it (spawn, join, channels, ...).
                entry = _perform_trap
                self.table[cls] = entry if self.wrap is None else self.wrap(entry)
                return self.table[cls]
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


def _passes(cls: type, guards: tuple[tuple[str, tuple[type, ...]], ...]) -> bool:
    return all(issubclass(cls, declared) for _, declared in guards)


def _undeclared_message(effect: object, guards: tuple[tuple[str, tuple[type, ...]], ...], program: Coroutine[Any, Any, Any] | None) -> str:
    cls = type(effect)
    tool, declared = next((name, d) for name, d in reversed(guards) if not issubclass(cls, d))
    names = ", ".join(sorted(t.__name__ for t in declared)) or "none"
    return (
        f"tool {tool} performed {effect!r}, an effect its spec does not declare\n"
        f"  at {describe_site(program)}\n"
        f"  declared effects: {names}\n"
        f"Fix: add {cls.__name__} to effects=[...] in @fx.tool(...) on {tool}, "
        f"or perform it outside the tool."
    )


def _takes_traps(handler: Handler) -> bool:
    return any(issubclass(t, Trap) or issubclass(Trap, t) for t in type(handler).handled())


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
        raise Push(method(effect), stack, True)

    return entry


def _blocking_entry(method: Entry) -> Entry:
    """A ``blocking=True`` handler method: run on a worker thread when other tasks could run."""

    def entry(effect: object) -> Any:
        loop = running_loop()
        if loop is None or not loop.offloads():
            return method(effect)
        raise loop.offload(method, effect)

    return entry


def _perform_trap(trap: Trap[Any]) -> Any:
    loop = running_loop()
    if loop is None:
        raise InternalError(f"{trap!r} was performed outside a running loop")
    return trap.perform(loop)

