"""Tests of `effectus.core._reference`: the plain reference interpreter means what `run` means."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

import effectus as fx
from effectus.core._reference import reference_run


@dataclass(frozen=True)
class Get(fx.Effect[int]):
    key: str


@dataclass(frozen=True)
class Put(fx.Effect[None]):
    key: str
    value: int


@dataclass(frozen=True)
class Peek(Get):
    pass


@dataclass(frozen=True)
class Fail(fx.Effect[int]):
    message: str


class Memory(fx.Handler):
    def __init__(self) -> None:
        self.data: dict[str, int] = {}

    @fx.handles(Get)
    def get(self, e: Get) -> int:
        return self.data.get(e.key, 0)

    @fx.handles(Put)
    def put(self, e: Put) -> None:
        self.data[e.key] = e.value


class Constant(fx.Handler):
    def __init__(self, value: int) -> None:
        self.value = value

    @fx.handles(Get)
    def get(self, e: Get) -> int:
        return self.value


class Failing(fx.Handler):
    @fx.handles(Fail)
    def fail(self, e: Fail) -> int:
        raise ValueError(e.message)


class Forward(fx.Handler):
    def __init__(self) -> None:
        self.seen: list[fx.Effect[object]] = []

    @fx.handles(Get, Put)
    async def forward(self, e: Get | Put) -> object:
        self.seen.append(e)
        return await e


async def bump(key: str) -> int:
    v = await Get(key)
    await Put(key, v + 1)
    return v + 1


@fx.tool
async def bump_tool(key: str) -> int:
    return await bump(key)


def test_design_example() -> None:
    """The reference interpreter runs DESIGN.md's example to 1."""
    memory = Memory()
    assert reference_run(bump("x"), memory) == 1
    assert memory.data == {"x": 1}


def test_innermost_first() -> None:
    """The first handler listed answers; the rest reach the outer ones."""
    memory = Memory()
    assert reference_run(bump("x"), Constant(5), memory) == 6
    assert memory.data == {"x": 6}


def test_subclass_effect_precedence_agrees_with_run() -> None:
    """A subclass effect goes to the innermost handler of any of its bases, in both interpreters."""

    class Peeker(fx.Handler):
        @fx.handles(Peek)
        def peek(self, e: Peek) -> int:
            return 2

    async def main() -> tuple[int, int]:
        return await Peek("k"), await Get("k")

    for stack in ([Constant(1), Peeker()], [Peeker(), Constant(1)], [Memory()]):
        assert reference_run(main(), *stack) == fx.run(main(), *stack)
    assert reference_run(main(), Constant(1), Peeker()) == (1, 1)


def test_async_handler_forwards_outward() -> None:
    """An async handler method runs against the handlers outside it."""
    forward, memory = Forward(), Memory()
    assert reference_run(bump("x"), forward, memory) == 1
    assert forward.seen == [Get("x"), Put("x", 1)]
    assert memory.data == {"x": 1}


def test_scoped_handle_and_interpreter_arguments() -> None:
    """fx.handle scopes handlers; Interpreter arguments are spliced in."""

    async def main() -> tuple[int, int]:
        return await fx.handle(bump("x"), Constant(10)), await Get("x")

    memory = Memory()
    assert reference_run(main(), fx.Interpreter(memory)) == (11, 11)


def test_tools_run_under_the_same_handlers() -> None:
    """A tool call is run by recursion under the caller's handlers."""
    memory = Memory()
    assert reference_run(bump_tool("x"), memory) == 1
    assert reference_run(bump_tool("x"), memory) == 2


def test_handler_error_is_thrown_into_the_program() -> None:
    """A handler's exception reaches the program's await, where it can be caught."""

    async def main() -> str:
        try:
            await Fail("no")
        except ValueError as err:
            return f"caught {err}"
        return "not reached"

    assert reference_run(main(), Failing()) == "caught no"


def test_unhandled_effect() -> None:
    """An effect nobody handles raises UnhandledEffect, catchable in the program."""

    async def main() -> str:
        try:
            await Fail("x")
        except LookupError as err:
            return str(err)
        return "not reached"

    assert reference_run(main()) == "no handler for Fail(message='x')"
    with pytest.raises(fx.UnhandledEffect):
        reference_run(Fail("x"))


def test_foreign_await_is_a_type_error() -> None:
    """Awaiting something that is not an effect raises TypeError in the program."""

    async def main() -> None:
        await asyncio.sleep(0)

    with pytest.raises(TypeError, match="a program awaited None, which is not an effect"):
        reference_run(main())


def test_reference_keeps_pythons_recursion_limit() -> None:
    """Unlike fx.run, the reference interpreter recurses on Python's stack for tool calls."""

    @fx.tool
    async def depth(n: int) -> int:
        return 0 if n == 0 else 1 + await depth(n - 1)

    assert reference_run(depth(50)) == fx.run(depth(50)) == 50
    with pytest.raises(RecursionError):
        reference_run(depth(50_000))
