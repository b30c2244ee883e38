"""A corpus of tools whose preconditions a rejection sampler cannot meet, read by
tests/specs/test_strategies_health.py.

Each precondition leaves a thin slice of what the parameters' types allow: a window of three
integers over unbounded ``lo``, an equation, a length tied to another parameter, a float interval
of width 1e-3, a chain of six orderings.  `effectus.specs._strategies.strategy_for` builds
arguments inside the slice; ``st.tuples(from_type...).filter(pre)`` throws almost every draw
away, and Hypothesis's health checks stop it.  The last three are not linear (a product, a
sortedness check, a remainder): for those the constructed candidates are checked, and z3's
witnesses fill in.

``FILTER_FAILS`` names the tools for which the filter approach was seen to fail a health check
(or give up with ``Unsatisfiable``) under the settings of the test; the test asserts it for
those and only those.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le, Len, MinLen, MultipleOf

import effectus as fx
from effectus.specs import Length


@fx.tool(requires=lambda lo, x: lo <= x <= lo + 2)
async def narrow_window(lo: int, x: int) -> int:
    """x within three integers of an unbounded lo."""
    return x - lo


@fx.tool(requires=lambda a, b, c: a + b == c)
async def sum_equation(a: int, b: int, c: int) -> int:
    """c is the sum of a and b: one equation over three unbounded integers."""
    return c


@fx.tool(requires=lambda xs, n, i: len(xs) == n and 0 <= i < n)
async def index_into(xs: list[int], n: int, i: int) -> int:
    """A list of exactly n items and an index into it."""
    return xs[i]


@fx.tool(requires=lambda x, y: x * 2 == y + 1)
async def odd_successor(x: Annotated[int, Ge(-1000), Le(1000)], y: Annotated[int, Ge(-1000), Le(1000)]) -> int:
    """y is 2x - 1, both within +-1000."""
    return y


@fx.tool
async def dot(n: Annotated[int, Ge(1), Le(8)], a: Annotated[list[int], Length("n")],
              b: Annotated[list[int], Length("n")]) -> int:
    """Two vectors of n items each (the ``Length("n")`` refinement)."""
    return sum(x * y for x, y in zip(a, b))


@fx.tool(requires=lambda lo, x: lo < x < lo + 1e-3)
async def float_sliver(lo: float, x: float) -> float:
    """x strictly inside an open float interval of width 1e-3 above an unbounded lo."""
    return x - lo


@fx.tool(requires=lambda a, b, c, d, e, f: a <= b <= c <= d <= e <= f and f - a <= 3)
async def chained(a: int, b: int, c: int, d: int, e: int, f: int) -> int:
    """Six integers in order, spanning at most 3."""
    return f - a


@fx.tool(requires=lambda x: 1_000 <= x <= 1_100)
async def multiple_in_range(x: Annotated[int, MultipleOf(7)]) -> int:
    """A multiple of 7 (the refinement) between 1000 and 1100 (the precondition)."""
    return x // 7


@fx.tool(requires=lambda xs, ys: len(xs) == len(ys) + 1 and len(ys) >= 3)
async def one_longer(xs: list[int], ys: Annotated[list[int], Len(0, 10)]) -> int:
    """xs one item longer than ys, which has 3 to 10 items."""
    return len(xs)


@fx.tool(requires=lambda lo, x, hi: lo <= x < hi and hi - lo <= 8)
async def small_range(lo: int, x: int, hi: int) -> int:
    """x in a half-open range [lo, hi) at most 8 wide, all three unbounded."""
    return x


@fx.tool(requires=lambda a, b: a * b == 36)
async def factor_pair(a: Annotated[int, Ge(1), Le(36)], b: Annotated[int, Ge(1), Le(36)]) -> int:
    """Two factors of 36 (not linear: construction alone misses, z3 supplies the pairs)."""
    return a + b


@fx.tool(requires=lambda xs: xs == sorted(xs))
async def ascending(xs: Annotated[list[int], MinLen(5)]) -> int:
    """A sorted list of at least 5 items (not linear, and z3 does not model ``sorted``)."""
    return xs[0]


@fx.tool(requires=lambda n: n % 97 == 13 and 0 <= n <= 100_000)
async def residue(n: int) -> int:
    """n leaves remainder 13 modulo 97 (a remainder: checked per candidate, z3 fills in)."""
    return n // 97


#: every tool of the corpus, in definition order
TOOLS = [narrow_window, sum_equation, index_into, odd_successor, dot, float_sliver, chained,
         multiple_in_range, one_longer, small_range, factor_pair, ascending, residue]

#: the tools whose filter approach fails a health check or is Unsatisfiable (see the docstring)
FILTER_FAILS: frozenset[str] = frozenset(t.__name__ for t in TOOLS)
