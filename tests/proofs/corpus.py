"""A corpus of spec'd tools with known verdicts, read by tests/proofs/test_check.py.

``EXPECTED[tool name] = (preconditions satisfiable, postconditions consistent)``.  A tool
without postconditions has nothing to satisfy: its second check is proved even when its
preconditions are vacuous (the first check reports that).
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Gt, Le, Len, Lt, MaxLen, MinLen, MultipleOf

import effectus as fx
from effectus.specs import Length

LIMIT = 100


@fx.tool(requires=lambda xs, k: 0 < k <= len(xs), ensures=lambda result, k: len(result) == k)
async def top_k(xs: list[int], k: int) -> list[int]:
    return sorted(xs, reverse=True)[:k]


@fx.tool(requires=lambda x: x > 10)
async def vacuous_refined(x: Annotated[int, Lt(5)]) -> int:
    return x


@fx.tool(requires=[lambda a, b: a < b, lambda a, b: b < a])
async def vacuous_pair(a: int, b: int) -> int:
    return a + b


@fx.tool(ensures=lambda result: result > 0 and result < 0)
async def impossible_result(x: int) -> int:
    return x


@fx.tool(requires=lambda n: n % 2 == 1, ensures=lambda result, n: result * 2 == n)
async def half_of_odd(n: int) -> int:
    return n // 2


@fx.tool(requires=lambda n: n >= 0, ensures=lambda result, n: result * result <= n < (result + 1) * (result + 1))
async def isqrt(n: int) -> int:
    r = 0
    while (r + 1) * (r + 1) <= n:
        r += 1
    return r


@fx.tool(requires=lambda xs: all(x > 0 for x in xs) and len(xs) > 0, ensures=lambda result: result > 0)
async def positive_sum(xs: list[int]) -> int:
    return sum(xs)


@fx.tool(requires=lambda xs: any(x < 0 for x in xs) and all(x >= 0 for x in xs))
async def some_negative_all_nonneg(xs: list[int]) -> int:
    return len(xs)


@fx.tool(requires=lambda x: x < LIMIT)
async def below_limit(x: Annotated[int, Ge(LIMIT)]) -> int:
    return x


@fx.tool(requires=lambda k: k in {1, 2, 3}, ensures=lambda result: result in (2, 4, 6))
async def double_small(k: int) -> int:
    return 2 * k


@fx.tool(requires=lambda k: k in {1, 2, 3} and k > 3)
async def none_of_the_set(k: int) -> int:
    return k


@fx.tool(requires=lambda n: n == 7)
async def multiple_of_three(n: Annotated[int, MultipleOf(3)]) -> int:
    return n


@fx.tool(requires=lambda xs: len(xs) == 3)
async def bounded_list(xs: Annotated[list[int], MinLen(1), MaxLen(5)]) -> int:
    return len(xs)


@fx.tool(requires=lambda xs: len(xs) > 5)
async def short_list(xs: Annotated[list[int], Len(0, 4)]) -> int:
    return len(xs)


@fx.tool(requires=lambda n, xs: n > 2)
async def vec_of_n(n: int, xs: Annotated[list[float], Length("n")]) -> float:
    return sum(xs)


@fx.tool(requires=lambda n, xs: n < 0)
async def vec_of_negative(n: int, xs: Annotated[list[float], Length("n")]) -> float:
    return sum(xs)


@fx.tool(requires=lambda x: x / 2 > 1.5, ensures=lambda result: result > 3)
async def halves(x: float) -> float:
    return x


@fx.tool(requires=lambda a, b: max(a, b) < min(a, b))
async def max_below_min(a: int, b: int) -> int:
    return a


@fx.tool(requires=lambda a, b: abs(a - b) <= 1 and a != b)
async def neighbours(a: int, b: int) -> int:
    return a - b


@fx.tool(requires=lambda p: (p if p > 0 else -p) < 0)
async def negative_abs(p: int) -> int:
    return p


@fx.tool(requires=lambda s: s.startswith("a"))
async def runtime_only_method(s: str) -> str:
    return s


@fx.tool(requires=lambda x: x > 0, ensures=lambda result, x: result > x)
async def grows(x: Annotated[int, Le(1000)]) -> Annotated[int, Gt(0)]:
    return x + 1


@fx.tool(requires=lambda xs, i: 0 <= i < len(xs) and xs[i] > 100 and all(x < 50 for x in xs))
async def indexed_contradiction(xs: list[int], i: int) -> int:
    return xs[i]


EXPECTED: dict[str, tuple[str, str]] = {
    "top_k": ("proved", "proved"),
    "vacuous_refined": ("refuted", "proved"),
    "vacuous_pair": ("refuted", "proved"),
    "impossible_result": ("proved", "refuted"),
    "half_of_odd": ("proved", "refuted"),
    "isqrt": ("proved", "proved"),
    "positive_sum": ("proved", "proved"),
    "some_negative_all_nonneg": ("refuted", "proved"),
    "below_limit": ("refuted", "proved"),
    "double_small": ("proved", "proved"),
    "none_of_the_set": ("refuted", "proved"),
    "multiple_of_three": ("refuted", "proved"),
    "bounded_list": ("proved", "proved"),
    "short_list": ("refuted", "proved"),
    "vec_of_n": ("proved", "proved"),
    "vec_of_negative": ("refuted", "proved"),
    "halves": ("proved", "proved"),
    "max_below_min": ("refuted", "proved"),
    "neighbours": ("proved", "proved"),
    "negative_abs": ("refuted", "proved"),
    "runtime_only_method": ("unknown", "proved"),
    "grows": ("proved", "proved"),
    "indexed_contradiction": ("refuted", "proved"),
}
