"""Tools: named programs whose calls run on the interpreter's own stack.

Awaiting a tool call does not nest Python frames: the interpreter keeps the caller suspended
in a list and drives the callee itself, so tools that call tools 50,000 deep work (plain
``async def`` nesting keeps Python's recursion limit).
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from effectus.core._site import register_await_code

__all__ = ["Call", "Tool", "tool"]

P = ParamSpec("P")
Q = ParamSpec("Q")
S = TypeVar("S")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class Call(Generic[R_co]):
    """A pending call of a tool: awaiting it runs the tool and gives its result."""

    __slots__ = ("tool", "coro", "args", "kwargs")

    def __init__(self, tool: Tool[..., R_co], coro: Coroutine[Any, Any, R_co], args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> None:
        self.tool = tool
        self.coro = coro
        #: the arguments the tool was called with (a distributed handler calls it again elsewhere)
        self.args = args
        self.kwargs = kwargs or {}

    def __await__(self) -> Generator[Call[R_co], Any, R_co]:
        answer: R_co = yield self  # a typed local, for mypy --strict (no-any-return)
        return answer

    def __repr__(self) -> str:
        return f"<call of tool {self.tool.__qualname__}>"


# (Read through `vars`: pyright sees `Call.__await__` of the bare class as partially unknown.)
register_await_code(vars(Call)["__await__"].__code__)


class Tool(Generic[P, R]):
    """An ``async def`` program wrapped by `tool`; calling it gives an awaitable `Call`."""

    __wrapped__: Callable[P, Coroutine[Any, Any, R]]
    __qualname__: str  # set by functools.update_wrapper; declared for mypy

    #: the effect types the tool may perform, its callees and tasks included (None: any);
    #: anything else is refused before a handler sees it
    allowed: frozenset[type] | None = None

    def __init__(self, fn: Callable[P, Coroutine[Any, Any, R]]) -> None:
        # A run-time guard for unchecked callers: statically a Tool is never a coroutine function.
        if isinstance(fn, Tool):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"{fn.__qualname__} is already a tool: apply @fx.tool once.")
        if not inspect.iscoroutinefunction(fn):
            what = "a generator function" if inspect.isgeneratorfunction(fn) else repr(fn)
            raise TypeError(
                f"@fx.tool decorates `async def` programs; got {what}.\n"
                f"Fix: write `async def {getattr(fn, '__name__', 'name')}(...)` and `await` "
                f"effects inside it."
            )
        functools.update_wrapper(self, fn)
        self._fn = fn

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Call[R]:
        # Creating the coroutine here binds the arguments now, so a wrong call fails on the
        # caller's line rather than when the interpreter reaches it.
        return Call(self, self._fn(*args, **kwargs), args, kwargs)

    def __repr__(self) -> str:
        return f"<tool {self.__module__}.{self.__qualname__}>"

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> Tool[P, R]: ...
    @overload
    def __get__(
        self: Tool[Concatenate[S, Q], R], obj: S, objtype: type | None = None
    ) -> Callable[Q, Call[R]]: ...

    def __get__(
        self, obj: object, objtype: type | None = None
    ) -> Tool[P, R] | Callable[..., Call[R]]:
        # Tools defined in a class body behave like methods: `obj.tool(x)` is `Call[R]`.
        if obj is None:
            return self
        return types.MethodType(self, obj)  # was functools.partial(self.__call__, obj): mypy arg-type


@overload
def tool(fn: Callable[P, Coroutine[Any, Any, R]], /) -> Tool[P, R]: ...
@overload
def tool() -> Callable[[Callable[P, Coroutine[Any, Any, R]]], Tool[P, R]]: ...


def tool(
    fn: Callable[P, Coroutine[Any, Any, R]] | None = None, /
) -> Tool[P, R] | Callable[[Callable[P, Coroutine[Any, Any, R]]], Tool[P, R]]:
    """Make an ``async def`` program a tool: its calls run on the interpreter's stack.

    Usable bare (``@fx.tool``) or called (``@fx.tool()``).

    >>> import effectus as fx
    >>> @fx.tool
    ... async def depth(n: int) -> int:
    ...     return 0 if n == 0 else 1 + await depth(n - 1)
    >>> fx.run(depth(50_000))
    50000
    """
    if fn is None:
        return Tool
    return Tool(fn)
