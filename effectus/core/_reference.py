"""A reference interpreter: the meaning of `run`, written as plainly as possible.

It gives the same results as `effectus.run` (the law tests in ``tests/laws/`` check that on
generated programs), but trades speed for obviousness: no dispatch table, no trampoline, no
traceback trimming.  Each effect is answered by searching the handlers innermost first; tool
calls, scoped handlers and ``async`` handler methods are run by plain recursion, so it keeps
Python's recursion limit.  It is private: read it to learn what the fast interpreter must do.

>>> import effectus as fx
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Ask(fx.Effect[int]):
...     pass
>>> class FortyTwo(fx.Handler):
...     @fx.handles(Ask)
...     def ask(self, e: Ask) -> int:
...         return 42
>>> async def main() -> int:
...     return await Ask() + 1
>>> reference_run(main(), FortyTwo())
43
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar, cast

from effectus.core._effect import Effect
from effectus.core._errors import UnhandledEffect
from effectus.core._handler import Handler, bound_methods
from effectus.core._run import Handle, Interpreter
from effectus.core._tool import Call

__all__ = ["reference_run"]

R = TypeVar("R")
Handlers = tuple[Handler, ...]  # innermost first


def reference_run(program: Awaitable[R], *handlers: Handler | Interpreter) -> R:
    """Run ``program`` under ``handlers`` (innermost first), as `effectus.run` does."""
    return cast(R, drive(_coroutine(program), _flatten(handlers)))


def _flatten(handlers: tuple[Handler | Interpreter, ...]) -> Handlers:
    out: list[Handler] = []
    for h in handlers:
        out.extend(h.handlers if isinstance(h, Interpreter) else [h])
    return tuple(out)


async def _awaiting(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _coroutine(program: Awaitable[Any]) -> Coroutine[Any, Any, Any]:
    if inspect.iscoroutine(program):
        return program
    return _awaiting(program)  # an effect, tool call or `fx.handle` given as the whole program


def drive(coro: Coroutine[Any, Any, Any], handlers: Handlers) -> Any:
    """Send answers into ``coro`` until it returns; errors are thrown in at its ``await``."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            request = coro.send(value) if error is None else coro.throw(error)
        except StopIteration as stop:
            return stop.value
        value, error = None, None
        try:
            value = _answer(request, handlers)
        except BaseException as err:  # the real interpreter throws every error back in, too
            error = err


def _answer(request: object, handlers: Handlers) -> Any:
    """The answer to one thing the program awaited, under ``handlers``."""
    # (The casts: pyright leaves the type argument of an isinstance-narrowed generic unknown.)
    if isinstance(request, Call):  # a tool call: run the tool under the same handlers
        return drive(cast("Call[object]", request).coro, handlers)
    if isinstance(request, Handle):  # a scoped handle: its handlers go innermost
        scoped = cast("Handle[object]", request)
        return drive(scoped.coro, tuple(h for _, h in scoped.handlers) + handlers)
    if not isinstance(request, Effect):
        raise TypeError(f"a program awaited {request!r}, which is not an effect")
    effect = cast("Effect[object]", request)
    for depth, handler in enumerate(handlers):
        method = _method_for(handler, type(effect))
        if method is None:
            continue
        if inspect.iscoroutinefunction(method):
            # An async handler method is a program against the handlers outside its own.
            return drive(method(effect), handlers[depth + 1 :])
        return method(effect)
    raise UnhandledEffect(f"no handler for {effect!r}")


def _method_for(handler: Handler, effect_type: type) -> Callable[[Any], Any] | None:
    """The handler's method for the most specific of its types that ``effect_type`` is."""
    methods = {handled: method for handled, method, _, _ in bound_methods(handler)}
    for ancestor in effect_type.__mro__:  # the effect's own type first, `object` last
        if ancestor in methods:
            return methods[ancestor]
    return None
