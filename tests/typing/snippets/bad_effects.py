"""Wrong uses of effectus' public API, one mistake per marked line.

``tests/typing/test_type_inference.py`` pins the error each checker reports on each line, and
that there are no others.  Nothing here runs at import: the file is only type-checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import effectus as fx


@dataclass(frozen=True)
class Get(fx.Effect[int]):
    key: str


@fx.effect
class Greet(fx.Effect[str]):
    name: str


@fx.tool
async def double(n: int) -> int:
    return 2 * n


async def bump(key: str) -> int:
    return await Get(key)


class Memory(fx.Handler):
    @fx.handles(Get)
    def get(self, e: Get) -> int:
        return 0


async def wrong_results() -> None:
    x: str = await Get("x")  # an effect's answer has the effect's type
    y: int = Get("y")  # forgot `await`
    z: str = await double(1)  # a tool call's result has the tool's return type
    w: str = await fx.Get("n", 0)  # the standard Get answers the default's type
    print(x, y, z, w)


async def wrong_arguments() -> None:
    await double("one")  # a tool checks its arguments
    await double(1, 2)  # ... and their number
    await Get(42)  # an effect's fields are typed
    await Greet(name=3)  # ... for @fx.effect classes too


def wrong_runs() -> None:
    s: str = fx.run(bump("x"), Memory())  # run returns the program's type
    print(s)
    fx.run(bump, Memory())  # forgot to call the program
    fx.run(bump("x"), Memory)  # a handler class, not an instance


def frozen_effect(e: Get, g: Greet) -> None:
    e.key = "y"  # effects are immutable
    g.name = "bob"  # ... @fx.effect classes too


class NotAnEffect(fx.Handler):
    @fx.handles(int)  # handles takes Effect subclasses
    def number(self, e: int) -> int:
        return e


@fx.tool  # tools are async def programs
def plain(n: int) -> int:
    return n
