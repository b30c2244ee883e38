"""A corpus of tool bodies and composites with known verdicts, read by tests/proofs/test_body.py.

``EXPECTED_ROWS[name] = {check: verdict}`` for the body and composition rows of each tool or
composite (the spec rows, preconditions satisfiable and postconditions consistent, are the
other corpus's business; every tool here passes them).  Each verdict was worked out by hand
from Python's semantics; the docstrings say why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from annotated_types import Ge

import effectus as fx


@dataclass(frozen=True)
class Stock(fx.Effect[Annotated[int, Ge(0)]]):
    """How many of ``item`` are in stock: the handler may answer any int >= 0."""

    item: str


# --- callees ---------------------------------------------------------------------------------


@fx.tool(requires=lambda x: x > 0, ensures=lambda result, x: result >= 2 * x)
async def double(x: int) -> int:
    return 2 * x


@fx.tool(requires=lambda y: y > 1)
async def needs_two(y: int) -> int:
    """Promises nothing about its result."""
    return y - 1


@fx.tool(requires=lambda y: y > 5)
async def needs_six(y: int) -> int:
    return y


@fx.tool(requires=lambda y: y < 0)
async def needs_negative(y: int) -> int:
    return -y


@fx.tool(requires=lambda v: v > 0, ensures=lambda result, v: result == v)
async def positive(v: int) -> int:
    return v


@fx.tool
async def plain_increment(x: int) -> int:
    """No spec: a receiver can assume nothing about its result."""
    return x + 1


@fx.tool(ensures=lambda result: result[0] <= result[1])
async def ordered(a: int, b: int) -> tuple[int, int]:
    """Proved: each branch returns its pair in order."""
    if a < b:
        return a, b
    return b, a


# --- bodies ----------------------------------------------------------------------------------


@fx.tool(requires=lambda lo, hi: lo <= hi, ensures=lambda result, lo, hi: lo <= result <= hi)
async def clamp(x: int, lo: int, hi: int) -> int:
    """Proved: three paths, each inside [lo, hi] given lo <= hi."""
    if x < lo:
        return lo
    elif x > hi:
        return hi
    return x


@fx.tool(ensures=lambda result: result >= 0)
async def distance(a: int, b: int) -> int:
    """Proved: the larger minus the smaller."""
    if a > b:
        return a - b
    return b - a


@fx.tool(ensures=lambda result: result >= 0)
async def careless_distance(a: int, b: int) -> int:
    """Refuted: the second path returns a - b when a <= b (a=0, b=1 gives -1)."""
    if a > b:
        return a - b
    return a - b


@fx.tool(requires=lambda b: b > 0, ensures=lambda result, a, b: result * b <= a < (result + 1) * b)
async def floor_ratio(a: int, b: int) -> int:
    """Proved: Python's floor division, for a positive divisor."""
    return a // b


@fx.tool(requires=lambda n: n >= 0, ensures=lambda result: result >= 0)
async def sell(n: int) -> int:
    """Proved: the stock is some int >= 0 (the effect's declared type), and selling stops at it."""
    have = await Stock("apple")
    if have >= n:
        return have - n
    return 0


@fx.tool(requires=lambda n: n >= 0, ensures=lambda result: result >= 0)
async def oversell(n: int) -> int:
    """Refuted: the stock may be below n (n=1, stock 0 gives -1)."""
    have = await Stock("apple")
    return have - n


@fx.tool(requires=lambda x: x > 0, ensures=lambda result, x: result == 2 * x)
async def scaled(x: int) -> int:
    """Proved both ways: 2x > 0 meets positive's precondition, and its ensures gives the result."""
    y = x * 2
    return await positive(y)


@fx.tool(requires=lambda x: x >= 0)
async def unguarded(x: int) -> int:
    """Refuted call: x - 1 is not positive for x = 0 or 1."""
    return await positive(x - 1)


@fx.tool(requires=lambda x: x >= 0, ensures=lambda result: result > 0)
async def guarded(x: int) -> int:
    """Proved: the call happens only where x > 1; the other path returns 1."""
    if x > 1:
        return await positive(x - 1)
    return 1


@fx.tool(ensures=lambda result, xs: result == len(xs))
async def counted(xs: list[int]) -> int:
    """Unknown: the body has a loop, outside the body subset."""
    n = 0
    for _ in xs:
        n += 1
    return n


@fx.tool(ensures=lambda result, xs: result == len(xs))
async def via_sorted(xs: list[int]) -> int:
    """Unknown: sorted() is outside the subset, so the returned value has no model."""
    s = sorted(xs)
    return len(s)


@fx.tool(ensures=lambda result, xs: result == xs[0])
async def first(xs: list[int]) -> int:
    """Proved (partial correctness): on an empty list the body raises and returns nothing."""
    return xs[0]


@fx.tool(ensures=lambda result: result >= 0)
async def from_stock_and_call(n: int) -> int:
    """Refuted twice: needs_two's precondition fails for n <= 1, and its result is unconstrained."""
    have = await Stock("pear")
    return have + await needs_two(n)


@fx.tool(ensures=lambda result: result[0] <= result[1])
async def swapped(a: int, b: int) -> tuple[int, int]:
    """Refuted: the pair is out of order when a > b."""
    return a, b


# --- composites ------------------------------------------------------------------------------

fits = fx.pipe(double, needs_two)
"""Proved: double's result is >= 2x >= 2 > 1."""

does_not_fit = fx.pipe(double, needs_six)
"""Refuted: x = 1 gives 2, not > 5."""

no_common_input = fx.fan_out(needs_six, needs_negative)
"""Refuted: no y is both > 5 and < 0."""

common_input = fx.fan_out(double, needs_two)
"""Proved: x = 2 satisfies x > 0 and x > 1."""

split_then_join = fx.pipe(fx.fan_out(double, double), fx.parallel(needs_two, needs_six))
"""Both doubles accept x > 0; needs_two proved on item 0 (2x >= 2 > 1); needs_six refuted on
item 1 (x = 1 gives 2)."""

wrong_type = fx.pipe(ordered, needs_two)
"""Refuted: needs_two gets a tuple[int, int] where its parameter is an int."""

after_plain = fx.pipe(plain_increment, needs_two)
"""Refuted: plain_increment promises nothing, so needs_two may get 1."""

through_identity = fx.pipe(double, fx.identity, needs_two)
"""Proved: identity passes double's result through unchanged."""


EXPECTED_ROWS: dict[str, dict[str, str]] = {
    "double": {"body meets postconditions": "proved"},
    "positive": {"body meets postconditions": "proved"},
    "ordered": {"body meets postconditions": "proved"},
    "clamp": {"body meets postconditions": "proved"},
    "distance": {"body meets postconditions": "proved"},
    "careless_distance": {"body meets postconditions": "refuted"},
    "floor_ratio": {"body meets postconditions": "proved"},
    "sell": {"body meets postconditions": "proved"},
    "oversell": {"body meets postconditions": "refuted"},
    "scaled": {"call of positive (line 124)": "proved", "body meets postconditions": "proved"},
    "unguarded": {"call of positive (line 130)": "refuted"},
    "guarded": {"call of positive (line 137)": "proved", "body meets postconditions": "proved"},
    "counted": {"body meets postconditions": "unknown"},
    "via_sorted": {"body meets postconditions": "unknown"},
    "first": {"body meets postconditions": "proved"},
    "from_stock_and_call": {"call of needs_two (line 167)": "refuted", "body meets postconditions": "refuted"},
    "swapped": {"body meets postconditions": "refuted"},
    "fits": {"call of needs_two after double": "proved"},
    "does_not_fit": {"call of needs_six after double": "refuted"},
    "no_common_input": {"arguments every part accepts (needs_six, needs_negative)": "refuted"},
    "common_input": {"arguments every part accepts (double, needs_two)": "proved"},
    "split_then_join": {
        "arguments every part accepts (double, double)": "proved",
        "call of needs_two on item 0 after fan_out(double, double)": "proved",
        "call of needs_six on item 1 after fan_out(double, double)": "refuted",
    },
    "wrong_type": {"call of needs_two after ordered": "refuted"},
    "after_plain": {"call of needs_two after plain_increment": "refuted"},
    "through_identity": {"call of needs_two after identity": "proved"},
}
