"""A corpus of spec'd tools with known verdicts, read by tests/proofs/test_check.py.

``EXPECTED[tool name] = (preconditions satisfiable, postconditions consistent[, body])``.  A
tool without postconditions has nothing to satisfy: its second check is proved even when its
preconditions are vacuous (the first check reports that).  A tool with postconditions also
gets its body checked (``body meets postconditions``, the third verdict): proved or refuted
where the body is in the body subset, unknown where it calls ``sorted``, ``int``, loops, ...
(tests/proofs/corpus_bodies.py is the corpus of bodies and composites).
"""

from __future__ import annotations

import math
from typing import Annotated

from annotated_types import Ge, Gt, Interval, Le, Len, Lt, MaxLen, MinLen, MultipleOf

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



# --- floats and MultipleOf -------------------------------------------------------------------


@fx.tool(requires=lambda p: 1 / p > 2, ensures=lambda result, p: p < result < 1)
async def midpoint_above(p: Annotated[float, Interval(gt=0.0, lt=1.0)]) -> float:
    return (p + 1) / 2


@fx.tool(requires=lambda p: p * p > p)
async def square_grows_in_unit(p: Annotated[float, Gt(0.0), Lt(1.0)]) -> float:
    return p


@fx.tool(requires=lambda x: x // 1 == x and 0 < x < 1)
async def whole_between_zero_and_one(x: float) -> float:
    return x


@fx.tool(requires=lambda x: x in range(3) and x > 1.5, ensures=lambda result: result == 2)
async def float_in_range(x: float) -> int:
    return int(x)


@fx.tool()
async def multiple_of_seven_below_seven(n: Annotated[int, MultipleOf(7), Interval(ge=1, le=6)]) -> int:
    return n


@fx.tool(requires=lambda n: 10 < n <= 12, ensures=lambda result, n: result * -3 == n)
async def multiple_of_negative_three(n: Annotated[int, MultipleOf(-3)]) -> int:
    return n // -3


@fx.tool(requires=lambda n: n ** 2 == 2)
async def square_is_two(n: int) -> int:
    return n


# --- Python's floor division and remainder, and what raises ----------------------------------


@fx.tool(requires=lambda k: 10 // k > 100)
async def floor_quotient_huge(k: int) -> int:
    return 10 // k


@fx.tool(requires=lambda k: 7 // k == -4 and 7 % k == -1, ensures=lambda result: result == -4)
async def floor_division_negative_divisor(k: int) -> int:
    return 7 // k


@fx.tool(requires=lambda k: k < 0 and 7 % k == 1)
async def remainder_sign_of_divisor(k: int) -> int:
    return 7 % k


@fx.tool(requires=lambda xs: not xs[-1] > 0 and len(xs) == 0)
async def empty_list_last_item(xs: list[int]) -> int:
    return len(xs)


@fx.tool(requires=lambda xs: xs[-1] == xs[0] + 1)
async def last_exceeds_first_short(xs: Annotated[list[int], MaxLen(1)]) -> int:
    return xs[-1]


# --- tuples, quantifiers, sortedness ----------------------------------------------------------


@fx.tool(requires=lambda p: p[0] < p[1], ensures=lambda result, p: result == p[0] + p[1] and result > 2 * p[0])
async def ordered_pair_sum(p: tuple[int, int]) -> int:
    return p[0] + p[1]


@fx.tool(requires=lambda t: t[-4] == 0)
async def fourth_of_a_triple(t: tuple[int, int, int]) -> int:
    return t[0]


@fx.tool(
    requires=lambda xs: len(xs) >= 2 and all(x >= xs[0] for x in xs) and xs[-1] > xs[0],
    ensures=lambda result, xs: result == xs[-1] - xs[0] and result > 0,
)
async def rise_of_tuple(xs: tuple[int, ...]) -> int:
    return xs[-1] - xs[0]


@fx.tool(requires=[
    lambda xs: len(xs) >= 2,
    lambda xs: all(xs[i] <= xs[j] for i in range(len(xs)) for j in range(i, len(xs))),
    lambda xs: xs[0] > xs[-1],
])
async def sorted_yet_descending(xs: list[int]) -> int:
    return xs[0]


@fx.tool(requires=lambda xs: any(x > 10 for x in xs) and all(x < 5 for x in xs if x > 0))
async def filtered_all_any(xs: list[int]) -> int:
    return len(xs)


@fx.tool(requires=lambda flags: len(flags) > 0 and all(flags) and not any(flags))
async def all_flags_none_set(flags: list[bool]) -> int:
    return len(flags)


@fx.tool(requires=lambda rows, cells: rows == 3 and len(cells) == 7)
async def cells_of_three_rows(rows: int, cols: int, cells: Annotated[list[int], Length("rows * cols")]) -> int:
    return len(cells)


# --- predicates calling module-level predicates -----------------------------------------------


def in_bounds(i: int, n: int) -> bool:
    """Whether ``i`` indexes a sequence of length ``n`` from the front."""
    return 0 <= i < n


is_digit = lambda d: 0 <= d <= 9  # noqa: E731  (a lambda constant, inlined by the translator)
both_digits = lambda a, b: is_digit(a) and is_digit(b)  # noqa: E731


@fx.tool(requires=lambda xs, i: in_bounds(i, len(xs)) and xs[i] % 2 == 0, ensures=lambda result: result % 2 == 0)
async def even_at_index(xs: list[int], i: int) -> int:
    return xs[i]


@fx.tool(requires=lambda a, b: both_digits(a, b) and a != 0, ensures=lambda result: 10 <= result <= 99)
async def two_digit_number(a: int, b: int) -> int:
    return 10 * a + b


@fx.tool(requires=lambda a, b: both_digits(a, b) and a + b > 18)
async def digits_summing_past_eighteen(a: int, b: int) -> int:
    return a + b


# --- arrays: a class with a .shape ------------------------------------------------------------


class Grid:
    """A stand-in for an n-dimensional array: only its shape."""

    shape: tuple[int, ...]

    def __init__(self, *shape: int) -> None:
        self.shape = shape

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@fx.tool(
    requires=lambda a, b: a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0],
    ensures=lambda result, a, b: result.ndim == 2 and result.shape[0] == a.shape[0] and result.shape[1] == b.shape[1],
)
async def matmul_shape(a: Grid, b: Grid) -> Grid:
    return Grid(a.shape[0], b.shape[1])


@fx.tool(requires=lambda a: a.ndim == 2 and len(a.shape) == 3)
async def matrix_and_cube(a: Grid) -> int:
    return a.ndim


@fx.tool(requires=lambda a: a.ndim == 2 and a.shape[0] == 5 and a.size == 12)
async def five_rows_of_twelve_cells(a: Grid) -> int:
    return a.size


@fx.tool(
    requires=lambda a: a.ndim == 2 and a.shape[0] == a.shape[1] and a.size == 16,
    ensures=lambda result, a: result == a.shape[0],
)
async def square_of_sixteen_cells(a: Grid) -> Annotated[int, Gt(0)]:
    return a.shape[0]


@fx.tool(requires=lambda a: a.ndim == 0 and a.size == 0)
async def empty_scalar_grid(a: Grid) -> int:
    return a.size


# --- postconditions against preconditions and result refinements -----------------------------


@fx.tool(requires=lambda x: x > 0, ensures=lambda result, x: result < 0 and result > x)
async def above_positive_yet_negative(x: int) -> int:
    return -x


@fx.tool(requires=lambda n: n <= 0, ensures=lambda result, n: result == n - 1)
async def natural_below_nonpositive(n: int) -> Annotated[int, Ge(0)]:
    return -n


# --- membership, bools, min/max of three ------------------------------------------------------


@fx.tool(requires=lambda k: k in range(2, 10) and k not in (2, 3, 5, 7) and k % 2 == 1, ensures=lambda result: result in range(10))
async def odd_nonprime_digit(k: int) -> int:
    return k


@fx.tool(requires=lambda flag: flag and not flag)
async def flag_and_not_flag(flag: bool) -> bool:
    return flag


@fx.tool(requires=lambda flag, n: (n > 0) == flag, ensures=lambda result, flag, n: result == (n if flag else -n))
async def sign_by_flag(flag: bool, n: int) -> Annotated[int, Ge(0)]:
    return n if flag else -n


@fx.tool(requires=lambda a, b, c: min(a, b, c) == max(a, b, c) and a + b + c == 10)
async def three_equal_sum_ten(a: int, b: int, c: int) -> int:
    return a


@fx.tool(requires=lambda a, b, c: a < b < c, ensures=lambda result, a, b, c: result == a + b + c - min(a, b, c) - max(a, b, c))
async def median_of_three(a: int, b: int, c: int) -> int:
    return sorted((a, b, c))[1]


@fx.tool(invariants=lambda budget: budget >= 0, requires=lambda budget, cost: cost > budget and cost <= 0)
async def budget_invariant(budget: int, cost: int) -> int:
    return budget - cost


# --- runtime-only predicates next to a contradiction among the others -------------------------


@fx.tool(requires=[lambda xs: sum(xs) == 10, lambda xs: len(xs) > 3, lambda xs: len(xs) < 2])
async def runtime_sum_short_and_long(xs: list[int]) -> int:
    return sum(xs)


@fx.tool(requires=[lambda x: isinstance(x, bool), lambda x: 0 < x < 1])
async def bool_strictly_between(x: int) -> int:
    return x


@fx.tool(requires=lambda s: len(s) > 0, ensures=[
    lambda result: result.endswith("!"),
    lambda result, s: len(result) == len(s) + 1,
    lambda result, s: len(result) <= len(s),
])
async def exclaim_no_longer(s: str) -> str:
    return s + "!"



@fx.tool(requires=lambda n: n % 3)
async def truthy_int(n: int) -> int:
    """The check requires True itself: ``n % 3`` answers an int, so no call passes."""
    return n


@fx.tool(requires=lambda xs: len(xs) >= 2 and all(xs[i] <= xs[i + 1] for i in range(len(xs) - 1)),
         ensures=lambda result, xs: result == xs[-1] and all(x <= result for x in xs))
async def last_of_sorted(xs: tuple[int, ...]) -> int:
    """Consistent (xs = (1, 2), result 2), but the witness needs the adjacent-order quantifier
    unrolled: z3 gives up within the rlimit, and says so, the same way every run."""
    return xs[-1]

EXPECTED: dict[str, tuple[str, ...]] = {
    "top_k": ("proved", "proved", "unknown"),
    "vacuous_refined": ("refuted", "proved"),
    "vacuous_pair": ("refuted", "proved"),
    "impossible_result": ("proved", "refuted", "refuted"),
    "half_of_odd": ("proved", "refuted", "refuted"),
    "isqrt": ("proved", "proved", "unknown"),
    "positive_sum": ("proved", "proved", "unknown"),
    "some_negative_all_nonneg": ("refuted", "proved"),
    "below_limit": ("refuted", "proved"),
    "double_small": ("proved", "proved", "proved"),
    "none_of_the_set": ("refuted", "proved"),
    "multiple_of_three": ("refuted", "proved"),
    "bounded_list": ("proved", "proved"),
    "short_list": ("refuted", "proved"),
    "vec_of_n": ("proved", "proved"),
    "vec_of_negative": ("refuted", "proved"),
    "halves": ("proved", "proved", "proved"),
    "max_below_min": ("refuted", "proved"),
    "neighbours": ("proved", "proved"),
    "negative_abs": ("refuted", "proved"),
    "runtime_only_method": ("unknown", "proved"),
    "grows": ("proved", "proved", "proved"),
    "indexed_contradiction": ("refuted", "proved"),
    "midpoint_above": ("proved", "proved", "proved"),
    "square_grows_in_unit": ("refuted", "proved"),
    "whole_between_zero_and_one": ("refuted", "proved"),
    "float_in_range": ("proved", "proved", "unknown"),
    "multiple_of_seven_below_seven": ("refuted", "proved"),
    "multiple_of_negative_three": ("proved", "proved", "proved"),
    "square_is_two": ("refuted", "proved"),
    "floor_quotient_huge": ("refuted", "proved"),
    "floor_division_negative_divisor": ("proved", "proved", "proved"),
    "remainder_sign_of_divisor": ("refuted", "proved"),
    "empty_list_last_item": ("refuted", "proved"),
    "last_exceeds_first_short": ("refuted", "proved"),
    "ordered_pair_sum": ("proved", "proved", "proved"),
    "fourth_of_a_triple": ("refuted", "proved"),
    "rise_of_tuple": ("proved", "proved", "proved"),
    "sorted_yet_descending": ("refuted", "proved"),
    "filtered_all_any": ("refuted", "proved"),
    "all_flags_none_set": ("refuted", "proved"),
    "cells_of_three_rows": ("refuted", "proved"),
    "even_at_index": ("proved", "proved", "proved"),
    "two_digit_number": ("proved", "proved", "proved"),
    "digits_summing_past_eighteen": ("refuted", "proved"),
    "matmul_shape": ("proved", "proved", "unknown"),
    "matrix_and_cube": ("refuted", "proved"),
    "five_rows_of_twelve_cells": ("refuted", "proved"),
    "square_of_sixteen_cells": ("proved", "proved", "proved"),
    "empty_scalar_grid": ("refuted", "proved"),
    "above_positive_yet_negative": ("proved", "refuted", "refuted"),
    "natural_below_nonpositive": ("proved", "refuted", "refuted"),
    "odd_nonprime_digit": ("proved", "proved", "proved"),
    "flag_and_not_flag": ("refuted", "proved"),
    "sign_by_flag": ("proved", "proved", "proved"),
    "three_equal_sum_ten": ("refuted", "proved"),
    "median_of_three": ("proved", "proved", "unknown"),
    "budget_invariant": ("refuted", "proved"),
    "runtime_sum_short_and_long": ("refuted", "proved"),
    "bool_strictly_between": ("refuted", "proved"),
    "exclaim_no_longer": ("proved", "refuted", "unknown"),
    "truthy_int": ("refuted", "proved"),
    "last_of_sorted": ("proved", "unknown", "unknown"),
}
