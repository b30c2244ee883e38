"""Spec'd tools for the generated-test tests: module-level, so their traces replay."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, Literal

from annotated_types import Ge, Gt, Le, Lt, MultipleOf

import effectus as fx
from effectus.effects import Acquire, Release
from effectus.specs import Length, metamorphic


@fx.tool(requires=lambda xs, k: 0 < k <= len(xs), ensures=lambda result, k: len(result) == k)
async def top(xs: list[int], k: int) -> list[int]:
    """The k largest."""
    return sorted(xs)[len(xs) - k:]


@fx.tool(requires=[lambda lo, x, hi: lo <= x < hi, lambda lo, hi: hi - lo <= 3])
async def window(lo: int, x: int, hi: Annotated[int, Lt(1000)]) -> int:
    """A narrow relational window over three unbounded ints."""
    return x - lo


@fx.tool(requires=lambda a, b, c, d, e, f: a <= b <= c <= d <= e <= f <= a + 5)
async def chain(a: int, b: int, c: int, d: int, e: int, f: int) -> int:
    """Six ordered ints within a span of five."""
    return f - a


@fx.tool(requires=lambda a, b: a * b == 36)
async def factors(a: Annotated[int, Ge(1), Le(36)], b: Annotated[int, Ge(1), Le(36)]) -> int:
    """A non-linear precondition: z3 supplies the pairs."""
    return a + b


@fx.tool(requires=lambda x: x > 5 and x < 3)
async def never(x: int) -> int:
    """No x satisfies it."""
    return x


class Opaque:
    """A class Hypothesis cannot build (its __init__ takes an unannotated argument)."""

    def __init__(self, thing) -> None:  # type: ignore[no-untyped-def]  # deliberately unannotated
        self.thing = thing


@fx.tool(ensures=lambda result: result >= 0)
async def takes_opaque(o: Opaque, n: Annotated[int, Ge(0)]) -> int:
    """One parameter with no strategy."""
    return n


@fx.tool(requires=lambda lo, hi: lo < hi)
async def halfway(lo: float, hi: float, *, weights: Annotated[list[float], Length("n")], n: Annotated[int, Ge(0), Le(5)]) -> float:
    """Floats, keyword-only parameters and a length tied to a parameter."""
    return (lo + hi) / 2


class Colour(enum.Enum):
    RED = 1
    BLUE = 2


@dataclass(frozen=True)
class Item:
    """A dataclass argument."""

    name: str
    grams: Annotated[int, Gt(0)]


@fx.tool(ensures=lambda result: result > 0)
async def kinds(colour: Colour, mode: Literal["a", "b"], item: Item, maybe: int | None, even: Annotated[int, Ge(0), Le(20), MultipleOf(2)]) -> int:
    """Enums, literals, dataclasses, optionals and multiples."""
    return item.grams


@dataclass(frozen=True)
class Reading(fx.Effect[Annotated[int, Ge(0), Le(10)]]):
    """A sensor reading: the environment answers 0..10."""


@fx.tool(effects=[Reading], ensures=lambda result: result != 7)
async def sensor() -> int:
    """Seeded bug: passes the reading through, and 7 breaks the postcondition."""
    return await Reading()


@fx.tool(effects=[fx.Log], ensures=lambda result: result >= 0)
async def chatty(n: Annotated[int, Ge(0), Le(50)]) -> int:
    """Declares Log but, for n > 40, also reads the clock: an undeclared effect."""
    await fx.Log("n", fields={"n": n})
    if n > 40:
        await fx.Now()
    return n


async def _open() -> str:
    return "handle"


async def _close(handle: str) -> None:
    await fx.Log("closed")


@fx.tool(ensures=lambda result: result >= 0)
async def leaky(n: Annotated[int, Ge(0), Le(20)]) -> int:
    """Acquires a resource and, for n >= 13, forgets to release it."""
    handle = await Acquire(_open(), _close)
    if n < 13:
        await Release(handle)
    return n


@metamorphic(lambda xs: (list(reversed(xs)),), lambda a, b: a == b, name="order does not matter")
@fx.tool(requires=lambda xs: len(xs) > 0)
async def first_max(xs: list[int]) -> int:
    """Seeded bug: the first item when there are more than two, not the maximum."""
    return xs[0] if len(xs) > 2 else max(xs)


@dataclass(frozen=True)
class Unknown(fx.Effect[int]):
    """An effect no handler handles and no tool declares."""


@fx.tool(ensures=lambda result: result >= 0)
async def asks_unknown(n: Annotated[int, Ge(0)]) -> int:
    """Performs an effect it does not declare and nothing handles."""
    return n + await Unknown()


import numpy as np  # noqa: E402  (kept next to the tool that needs it)

from effectus.specs import Shape  # noqa: E402


@fx.tool(ensures=lambda result, a, b: result.shape == (a.shape[0], b.shape[1]))
async def matmul(a: Annotated[np.ndarray, Shape("n m")], b: Annotated[np.ndarray, Shape("m k")], n: Annotated[int, Ge(1), Le(4)]) -> np.ndarray:
    """Arrays whose shapes share symbols, one of them a parameter."""
    return a @ b
