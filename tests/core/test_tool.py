"""Tests of `effectus.core._tool`: tools run on the interpreter's own stack."""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

import effectus as fx
from effectus.core import Tool, _run

CORE_DIR = str(Path(_run.__file__).resolve().parent)
DEPTH = 50_000


@dataclass(frozen=True)
class Get(fx.Effect[int]):
    key: str


@dataclass(frozen=True)
class Fail(fx.Effect[int]):
    message: str


class Memory(fx.Handler):
    def __init__(self) -> None:
        self.data: dict[str, int] = {}

    @fx.handles(Get)
    def get(self, e: Get) -> int:
        return self.data.get(e.key, 0)


class Failing(fx.Handler):
    @fx.handles(Fail)
    def fail(self, e: Fail) -> int:
        raise ValueError(e.message)


@fx.tool
async def depth(n: int) -> int:
    return 0 if n == 0 else 1 + await depth(n - 1)


@fx.tool
async def explode_at_bottom(n: int) -> int:
    if n == 0:
        raise ZeroDivisionError("bottom")
    return await explode_at_bottom(n - 1)


@fx.tool
async def catch_at(n: int, catch_level: int) -> str:
    if n == 0:
        return f"{await Fail('bottom')}"
    if n == catch_level:
        try:
            return await catch_at(n - 1, catch_level)
        except ValueError as err:
            return f"caught {err} at {n}"
    return await catch_at(n - 1, catch_level)


def test_bare_and_called_decorators_make_tools() -> None:
    """@fx.tool and @fx.tool() both turn an async def into a Tool that keeps its metadata."""

    @fx.tool
    async def bare(x: int) -> int:
        """Bare."""
        return x + await Get("k")

    @fx.tool()
    async def called(x: int) -> int:
        return x * 2

    assert isinstance(bare, Tool) and isinstance(called, Tool)
    assert bare.__qualname__.endswith(".<locals>.bare") and bare.__doc__ == "Bare."
    assert repr(called) == (
        f"<tool {__name__}.test_bare_and_called_decorators_make_tools.<locals>.called>"
    )
    assert fx.run(bare(1), Memory()) == 1
    assert fx.run(called(4)) == 8


def test_calling_a_tool_gives_an_awaitable_call() -> None:
    """Calling a tool does not run it: it gives a Call that the interpreter runs when awaited."""
    call = depth(2)
    assert isinstance(call, fx.Call)
    assert call.tool is depth
    assert repr(call) == "<call of tool depth>"
    assert fx.run(call) == 2


def test_tool_on_a_plain_function_is_a_type_error() -> None:
    """@fx.tool on a def (not async def) raises TypeError with the fix."""

    def plain(x: int) -> int:
        return x

    with pytest.raises(TypeError) as info:
        fx.tool(plain)  # type: ignore[arg-type]  # the point of the test
    lines = str(info.value).splitlines()
    assert lines[0].startswith("@fx.tool decorates `async def` programs; got <function ")
    assert lines[1] == "Fix: write `async def plain(...)` and `await` effects inside it."


def test_tool_on_a_generator_function_is_a_type_error() -> None:
    """@fx.tool on a generator function says it got a generator function."""

    def gen() -> object:
        yield 1

    with pytest.raises(TypeError, match="^@fx.tool decorates `async def` .*; got a generator"):
        fx.tool(gen)  # type: ignore[arg-type]  # the point of the test


def test_tool_applied_twice_is_a_type_error() -> None:
    """@fx.tool on a tool raises TypeError asking to apply it once."""
    with pytest.raises(TypeError, match=r"^depth is already a tool: apply @fx.tool once\.$"):
        fx.tool(depth)  # type: ignore[arg-type]  # the point of the test


def test_wrong_call_arguments_fail_at_the_call_line() -> None:
    """A tool called with wrong arguments raises TypeError where it is called, not when run."""
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'n'") as info:
        depth()  # type: ignore[call-arg]  # wrong-call
    frames = traceback.extract_tb(info.value.__traceback__)
    assert frames[0].name == "test_wrong_call_arguments_fail_at_the_call_line"
    assert frames[0].line is not None and frames[0].line.endswith("# wrong-call")


def test_wrong_call_arguments_inside_a_program_fail_at_the_program_line() -> None:
    """Inside a program, a bad tool call raises at the program's line, where it can be caught."""

    async def main() -> str:
        try:
            await depth(1, 2)  # type: ignore[call-arg]  # the point of the test
        except TypeError as err:
            return str(err)
        return "not reached"

    assert "takes 1 positional argument but 2 were given" in fx.run(main())


def test_tool_recursion_50000_deep_works() -> None:
    """A tool calling itself 50,000 deep returns 50000: calls do not nest Python frames."""
    assert DEPTH > 10 * sys.getrecursionlimit()
    assert fx.run(depth(DEPTH)) == DEPTH


def test_error_at_the_bottom_of_a_deep_tool_recursion_propagates() -> None:
    """An exception raised 50,000 tools deep comes out of fx.run with its message."""
    with pytest.raises(ZeroDivisionError, match="^bottom$") as info:
        fx.run(explode_at_bottom(DEPTH))
    frames = traceback.extract_tb(info.value.__traceback__)
    assert sum(f.name == "explode_at_bottom" for f in frames) == DEPTH + 1
    assert [f.name for f in frames if f.filename.startswith(CORE_DIR)] == ["run"]


def test_error_at_the_bottom_of_a_deep_tool_recursion_can_be_caught_midway() -> None:
    """A handler error 50,000 tools deep is caught by the tool at level 25,000, which returns."""
    assert fx.run(catch_at(DEPTH, DEPTH // 2), Failing()) == f"caught bottom at {DEPTH // 2}"


def test_plain_async_nesting_beyond_the_recursion_limit_is_a_recursion_error() -> None:
    """The contrast: plain async def recursion nests Python frames and hits RecursionError."""

    async def plain_depth(n: int) -> int:
        return 0 if n == 0 else 1 + await plain_depth(n - 1)

    assert fx.run(plain_depth(100)) == 100
    with pytest.raises(RecursionError):
        fx.run(plain_depth(DEPTH))


def test_tool_effects_reach_the_callers_handlers() -> None:
    """Effects performed inside a tool are answered by the handlers of the run."""

    @fx.tool
    async def read(key: str) -> int:
        return await Get(key)

    memory = Memory()
    memory.data["k"] = 4

    async def main() -> int:
        return await read("k") + await read("j")

    assert fx.run(main(), memory) == 4


def test_handler_error_in_a_tool_traceback_shows_caller_tool_and_handler() -> None:
    """A handler error in a tool: the traceback shows the caller's await, the tool's, the raise."""

    @fx.tool
    async def risky() -> int:
        return await Fail("in tool")

    async def main() -> int:
        return await risky()

    with pytest.raises(ValueError, match="^in tool$") as info:
        fx.run(main(), Failing())
    frames = traceback.extract_tb(info.value.__traceback__)
    assert [f.name for f in frames[-3:]] == ["main", "risky", "fail"]
    assert [f.name for f in frames if f.filename.startswith(CORE_DIR)] == ["run"]


def test_tool_as_method() -> None:
    """A tool defined in a class body binds like a method."""

    class Counter:
        def __init__(self, start: int) -> None:
            self.start = start

        @fx.tool
        async def plus(self, n: int) -> int:
            return self.start + n + await Get("k")

    assert isinstance(Counter.plus, Tool)
    assert fx.run(Counter(10).plus(5), Memory()) == 15
