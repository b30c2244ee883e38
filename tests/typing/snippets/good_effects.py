"""Well-typed uses of effectus' public API.

Both mypy --strict and pyright strict must accept this file; each ``reveal_type`` marks a type
that ``tests/typing/test_type_inference.py`` pins.  Nothing here runs at import: the file is
only type-checked (``tests/typing/conftest.py`` keeps pytest from collecting it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import reveal_type

import effectus as fx


# -- the DESIGN.md example -----------------------------------------------------------------------
@dataclass(frozen=True)
class Get(fx.Effect[int]):
    key: str


@dataclass(frozen=True)
class Put(fx.Effect[None]):
    key: str
    value: int


async def bump(key: str) -> int:
    v = await Get(key)
    reveal_type(v)  # R: int
    reveal_type(await Put(key, v + 1))  # R: None
    return v + 1


class Memory(fx.Handler):
    def __init__(self) -> None:
        self.data: dict[str, int] = {}

    @fx.handles(Get)
    def get(self, e: Get) -> int:
        return self.data.get(e.key, 0)

    @fx.handles(Put)
    def put(self, e: Put) -> None:
        self.data[e.key] = e.value


# -- @fx.effect: the library's fast effect declaration -------------------------------------------
@fx.effect
class Greet(fx.Effect[str]):
    name: str
    punctuation: str = "!"


@fx.effect(validate=False)
class Ticks(fx.Effect[list[float]]):
    count: int


# -- tools ---------------------------------------------------------------------------------------
@fx.tool
async def double(n: int) -> int:
    return 2 * n


@fx.tool()
async def describe(n: int, *, unit: str = "items") -> str:
    return f"{n} {unit}"


class Service:
    @fx.tool
    async def scaled(self, n: int) -> float:
        return n * 1.5


async def uses_tools(service: Service) -> str:
    call = double(1)
    reveal_type(call)  # R: Call[int]
    reveal_type(await double(1))  # R: int
    reveal_type(await describe(2, unit="boxes"))  # R: str
    reveal_type(await service.scaled(3))  # R: float
    greeting = await Greet("ada")
    reveal_type(greeting)  # R: str
    reveal_type(await Ticks(3))  # R: list[float]
    scoped = fx.handle(bump("y"), Memory())
    reveal_type(scoped)  # R: Handle[int]
    reveal_type(await scoped)  # R: int
    return greeting


# -- running -------------------------------------------------------------------------------------
def runs() -> None:
    reveal_type(fx.run(bump("x"), Memory()))  # R: int
    reveal_type(fx.run_result(bump("x"), Memory()))  # R: Result[int, Exception]
    reveal_type(fx.run(double(2)))  # R: int
    interpreter = fx.Interpreter(Memory())
    reveal_type(interpreter.run(bump("x")))  # R: int
    reveal_type(interpreter.run_result(bump("x")))  # R: Result[int, Exception]
    reveal_type(interpreter.with_handlers(Memory()))  # R: Interpreter
    reveal_type(interpreter.handler(Memory))  # R: Memory


# -- the standard effects ------------------------------------------------------------------------
async def counter() -> int:
    n = await fx.Get("n", 0)
    reveal_type(n)  # R: int
    await fx.Put("n", n + 1)
    name = await fx.Get("name", "")
    reveal_type(name)  # R: str
    bumped = await fx.Modify("n", lambda v: v + 1, 0)
    reveal_type(bumped)  # R: int
    return n


def runs_standard() -> None:
    reveal_type(fx.testing().run(counter()))  # R: int
    reveal_type(fx.run(counter(), Memory(), fx.testing(seed=1)))  # R: int
