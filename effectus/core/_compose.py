"""Combinators that build tools from tools: `pipe`, `fan_out`, `parallel`, and `identity`.

A composite is itself a `Tool`: calling it gives an awaitable `Call`, its parts check their own
specs on every call, and ``fx.check`` proves (or refutes) that the parts fit — that what each
stage promises about its result implies what the next stage requires.

- ``pipe(f, g, h)(*args)`` is ``h(g(f(*args)))``: the first stage takes the composite's
  arguments, each later stage the one value the stage before it returned;
- ``fan_out(f, g)(*args)`` is ``(f(*args), g(*args))``: every part gets the same arguments and
  runs as its own task, concurrently;
- ``parallel(f, g)((a, b))`` is ``(f(a), g(b))``: one argument, a tuple with one item per part,
  each part run as its own task on its item;
- ``identity(x)`` is ``x``.

They obey the laws of the category of tools (tested as Hypothesis properties in
``tests/laws/test_compose_laws.py``): ``pipe(identity, f)``, ``pipe(f, identity)`` and ``f``
agree, ``pipe(pipe(f, g), h)`` and ``pipe(f, pipe(g, h))`` agree, ``parallel`` is associative
up to the nesting of its tuples, and ``fan_out(f, g)`` agrees with
``pipe(fan_out(identity, identity), parallel(f, g))``.

Calling a composite calls the parts that take its arguments at once, so their preconditions
are checked on the caller's line (as a spec'd tool's are).  A part that fails makes the
composite fail with its exception; under ``fan_out`` and
``parallel`` the parts still running are cancelled first (their linear resources are released),
so a failure leaves no task behind.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any, Literal, ParamSpec, TypeVar, cast, overload

from effectus.core._loop import Cancelled, Task, TaskError
from effectus.core._tasks import Cancel, Join, Spawn
from effectus.core._tool import Call, Tool

__all__ = ["Composite", "fan_out", "identity", "parallel", "pipe"]

P = ParamSpec("P")
A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
D = TypeVar("D")
T = TypeVar("T")

Kind = Literal["pipe", "fan_out", "parallel"]


class Composite(Tool[..., Any]):
    """A tool made by `pipe`, `fan_out` or `parallel` from its `parts`."""

    kind: Kind
    parts: tuple[Tool[..., Any], ...]

    def __init__(
        self, kind: Kind, parts: tuple[Tool[..., Any], ...],
        start: Callable[..., list[Call[Any]]], body: Callable[[list[Call[Any]]], Coroutine[Any, Any, Any]],
    ) -> None:
        super().__init__(body)
        self.kind = kind
        self.parts = parts
        self._start = start
        self.__name__ = self.__qualname__ = f"{kind}({', '.join(_name(p) for p in parts)})"
        self.__doc__ = _DOCS[kind]
        # The module that built it (pipe() is one frame up): `fx.check(module)` finds it there.
        built_in = sys._getframe(2).f_globals  # pyright: ignore[reportPrivateUsage]
        self.__module__ = str(built_in.get("__name__", self.__module__))

    def __call__(self, *args: Any, **kwargs: Any) -> Call[Any]:
        # The parts that take the composite's arguments are called now, so that their
        # preconditions are checked on the caller's line, as a spec'd tool's are.
        return Call(self, self._fn(self._start(*args, **kwargs)), args, kwargs)

    def __repr__(self) -> str:
        return f"<tool {self.__qualname__}>"


def _calls(calls: Iterator[Call[Any]]) -> list[Call[Any]]:
    """The calls ``calls`` makes, one by one; if one of them is refused, the ones made before
    it are closed (never started, so no "coroutine was never awaited" warning)."""
    made: list[Call[Any]] = []
    try:
        for call in calls:
            made.append(call)
    except BaseException:
        for call in made:
            call.coro.close()
        raise
    return made


_DOCS: dict[Kind, str] = {
    "pipe": "Each part's result is the next part's argument; the last part's result is returned.",
    "fan_out": "Every part gets the same arguments, concurrently; their results as a tuple.",
    "parallel": "Part i gets item i of the one tuple argument, concurrently; the results as a tuple.",
}


def _name(part: Tool[..., Any]) -> str:
    return part.__qualname__


def _tools(combinator: str, parts: Sequence[object]) -> tuple[Tool[..., Any], ...]:
    if not parts:
        raise TypeError(f"fx.{combinator}() needs at least one tool")
    out: list[Tool[..., Any]] = []
    for i, part in enumerate(parts):
        if isinstance(part, Tool):
            out.append(cast(Tool[..., Any], part))
            continue
        raise TypeError(
            f"fx.{combinator}(): part {i} is {part!r}, not a tool.\n"
            f"Fix: decorate the `async def` with @fx.tool (or @fx.tool(...) with a spec)."
        )
    return tuple(out)


@overload
def pipe(f: Tool[P, A], /) -> Tool[P, A]: ...
@overload
def pipe(f: Tool[P, A], g: Tool[[A], B], /) -> Tool[P, B]: ...
@overload
def pipe(f: Tool[P, A], g: Tool[[A], B], h: Tool[[B], C], /) -> Tool[P, C]: ...
@overload
def pipe(f: Tool[P, A], g: Tool[[A], B], h: Tool[[B], C], i: Tool[[C], D], /) -> Tool[P, D]: ...
@overload
def pipe(*parts: Tool[..., Any]) -> Tool[..., Any]: ...


def pipe(*parts: Any) -> Any:
    """The tool that runs ``parts`` one after another, each on the result of the one before.

    >>> import effectus as fx
    >>> @fx.tool
    ... async def double(x: int) -> int:
    ...     return 2 * x
    >>> @fx.tool
    ... async def succ(x: int) -> int:
    ...     return x + 1
    >>> fx.run(fx.pipe(double, succ)(5))
    11
    """
    tools = _tools("pipe", parts)
    first, rest = tools[0], tools[1:]

    def start(*args: Any, **kwargs: Any) -> list[Call[Any]]:
        return [first(*args, **kwargs)]

    async def run_pipe(calls: list[Call[Any]]) -> Any:
        value = await calls[0]
        for part in rest:
            value = await part(value)
        return value

    return Composite("pipe", tools, start, run_pipe)


@overload
def fan_out(f: Tool[P, A], /) -> Tool[P, tuple[A]]: ...
@overload
def fan_out(f: Tool[P, A], g: Tool[P, B], /) -> Tool[P, tuple[A, B]]: ...
@overload
def fan_out(f: Tool[P, A], g: Tool[P, B], h: Tool[P, C], /) -> Tool[P, tuple[A, B, C]]: ...
@overload
def fan_out(*parts: Tool[..., Any]) -> Tool[..., tuple[Any, ...]]: ...


def fan_out(*parts: Any) -> Any:
    """The tool that gives its arguments to every part, runs them concurrently, and answers
    their results as a tuple (in the order of ``parts``).

    >>> import effectus as fx
    >>> @fx.tool
    ... async def low(x: int) -> int:
    ...     return x - 1
    >>> @fx.tool
    ... async def high(x: int) -> int:
    ...     return x + 1
    >>> fx.run(fx.fan_out(low, high)(10))
    (9, 11)
    """
    tools = _tools("fan_out", parts)

    def start(*args: Any, **kwargs: Any) -> list[Call[Any]]:
        return _calls(part(*args, **kwargs) for part in tools)

    async def run_fan_out(calls: list[Call[Any]]) -> tuple[Any, ...]:
        return await _together(calls, tools)

    return Composite("fan_out", tools, start, run_fan_out)


@overload
def parallel(f: Tool[[A], B], /) -> Tool[[tuple[A]], tuple[B]]: ...
@overload
def parallel(f: Tool[[A], B], g: Tool[[C], D], /) -> Tool[[tuple[A, C]], tuple[B, D]]: ...
@overload
def parallel(*parts: Tool[..., Any]) -> Tool[[tuple[Any, ...]], tuple[Any, ...]]: ...


def parallel(*parts: Any) -> Any:
    """The tool that takes one tuple, gives item i to part i, runs the parts concurrently, and
    answers their results as a tuple.

    >>> import effectus as fx
    >>> @fx.tool
    ... async def neg(x: int) -> int:
    ...     return -x
    >>> @fx.tool
    ... async def shout(s: str) -> str:
    ...     return s.upper()
    >>> fx.run(fx.parallel(neg, shout)((3, "hi")))
    (-3, 'HI')
    """
    tools = _tools("parallel", parts)
    name = f"parallel({', '.join(_name(p) for p in tools)})"

    def start(items: object) -> list[Call[Any]]:
        values: Sequence[Any] | None = cast(Sequence[Any], items) if _listlike(items) else None
        if values is None or len(values) != len(tools):
            got = repr(items) if values is None else f"a {type(items).__name__} of {len(values)}"
            raise TypeError(
                f"{name} takes one tuple of {len(tools)} items, one per part; got {got}.\n"
                f"Fix: call it as {name}(({', '.join(f'x{i}' for i in range(len(tools)))}))."
            )
        return _calls(part(value) for part, value in zip(tools, values))

    async def run_parallel(calls: list[Call[Any]]) -> tuple[Any, ...]:
        return await _together(calls, tools)

    return Composite("parallel", tools, start, run_parallel)


def _listlike(value: object) -> bool:
    return isinstance(value, (tuple, list))


async def _together(calls: list[Call[Any]], tools: tuple[Tool[..., Any], ...]) -> tuple[Any, ...]:
    """Run ``calls`` as tasks and answer their results in order; on a failure cancel the rest."""
    if len(calls) == 1:
        return (await calls[0],)
    tasks: list[Task[Any]] = []
    for call, part in zip(calls, tools):
        tasks.append(await Spawn(call, name=_name(part)))
    results: list[Any] = []
    try:
        for task in tasks:
            results.append(await Join(task))
    except BaseException:
        for task in tasks[len(results) + 1:]:
            await _cancelled(task)
        raise
    return tuple(results)


async def _cancelled(task: Task[Any]) -> None:
    """Stop ``task`` and take its outcome (the first failure is the one the composite reports)."""
    if not task.done:
        try:
            await Cancel(task)
        except TaskError:
            pass  # it finished between the check and the cancel (tasks interleave at effects)
    try:
        await Join(task)
    except (Exception, Cancelled):
        pass


@Tool
async def identity(x: T) -> T:
    """Answer the argument: the unit of `pipe` (``pipe(identity, f)`` agrees with ``f``)."""
    return x

