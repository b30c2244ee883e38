"""strategy_for: arguments that meet a tool's preconditions, built by construction."""

from __future__ import annotations

import enum
import inspect
from typing import Annotated, Any, Literal

import pytest
import spec_tools as t
from annotated_types import Ge, Le, Len, Lt, MaxLen, MinLen, MultipleOf
from hypothesis import find, given, settings
from hypothesis import strategies as st

import effectus as fx
from effectus.specs import SpecError, Unsatisfiable, strategy_for, strategy_for_type
from effectus.specs._strategies import _plan  # pyright: ignore[reportPrivateUsage]

RELATIONAL = [t.top, t.window, t.chain, t.factors, t.halfway, t.kinds]
STRICT = settings(max_examples=150, derandomize=True, database=None, deadline=None)


def _accepts(tool: Any, args: tuple[Any, ...]) -> bool:
    params = list(inspect.signature(tool.__wrapped__).parameters.values())
    positional = [a for p, a in zip(params, args) if p.kind is not p.KEYWORD_ONLY]
    keywords = {p.name: a for p, a in zip(params, args) if p.kind is p.KEYWORD_ONLY}
    try:
        tool._pre(*positional, **keywords)
    except fx.PreconditionError:
        return False
    return True


@pytest.mark.parametrize("tool", RELATIONAL, ids=lambda tool: tool.__qualname__)
def test_every_drawn_tuple_meets_the_preconditions(tool: Any) -> None:
    """Each tuple drawn for a tool passes its compiled precondition check (types included),
    with Hypothesis' health checks on: nothing is rejected behind its back."""
    seen: list[tuple[Any, ...]] = []

    @STRICT
    @given(strategy_for(tool))
    def check(args: tuple[Any, ...]) -> None:
        assert _accepts(tool, args), args
        seen.append(args)

    check()
    assert len(seen) == 150


def test_linear_preconditions_are_read_whole() -> None:
    """0 < k <= len(xs), chained orders and windows are linear: drawn by construction alone
    (no candidate needs checking), while a * b == 36 is not and goes to z3."""
    assert all(_plan(tool).complete for tool in (t.top, t.window, t.chain))
    assert not _plan(t.factors).complete


def test_dependent_draws_reach_both_ends_of_the_range() -> None:
    """k is drawn from exactly [1, len(xs)]: over a run both k == 1 and k == len(xs) > 1 occur."""
    ends: set[str] = set()

    @STRICT
    @given(strategy_for(t.top))
    def check(args: tuple[list[int], int]) -> None:
        xs, k = args
        if k == 1:
            ends.add("low")
        if k == len(xs) > 1:
            ends.add("high")

    check()
    assert ends == {"low", "high"}


def test_a_narrow_window_is_filled_without_rejection_where_filter_fails() -> None:
    """lo <= x < hi with hi - lo <= 3 over unbounded ints: the filtered strategy trips
    Hypothesis' health check, the constructed one does not."""
    naive = st.tuples(st.integers(), st.integers(), st.integers(max_value=999)).filter(lambda a: a[0] <= a[1] < a[2] and a[2] - a[0] <= 3)

    @settings(max_examples=50, derandomize=True, database=None)
    @given(naive)
    def filtered(args: tuple[int, int, int]) -> None:
        pass

    with pytest.raises(Exception, match="filter|Unsatisfiable|health"):
        filtered()

    @settings(max_examples=50, derandomize=True, database=None)
    @given(strategy_for(t.window))
    def constructed(args: tuple[int, int, int]) -> None:
        lo, x, hi = args
        assert lo <= x < hi and hi - lo <= 3

    constructed()


def test_z3_supplies_pairs_for_a_non_linear_precondition() -> None:
    """a * b == 36 within [1, 36]: every drawn pair is a factor pair, and the boundary pairs
    (1, 36) and (36, 1) come from z3's minimised and maximised witnesses."""
    seen: set[tuple[int, int]] = set()

    @STRICT
    @given(strategy_for(t.factors))
    def check(args: tuple[int, int]) -> None:
        a, b = args
        assert a * b == 36
        seen.add(args)

    check()
    assert {(1, 36), (36, 1)} <= seen
    assert len(seen) >= 5


def test_shrinking_still_works_through_dependent_draws() -> None:
    """A failing example over dependent draws shrinks to the smallest one."""
    found = find(strategy_for(t.top), lambda args: len(args[0]) >= 3, settings=settings(database=None, derandomize=True))
    assert found == ([0, 0, 0], 1)


def test_unsatisfiable_preconditions_are_reported_with_the_contradiction() -> None:
    """x > 5 and x < 3: strategy_for raises Unsatisfiable naming the predicates (the linear
    part contradicts itself, so before any draw), not a health check."""
    with pytest.raises(Unsatisfiable, match=r"never.*x > 5 and x < 3"):
        strategy_for(t.never)


def test_an_unsupported_parameter_type_names_the_parameter_and_the_fix() -> None:
    """A class Hypothesis cannot build: SpecError naming the parameter and register_type_strategy."""
    with pytest.raises(SpecError, match=r"argument o of takes_opaque.*Opaque.*register_type_strategy"):
        strategy_for(t.takes_opaque)


def test_strategy_for_refuses_what_is_not_a_tool() -> None:
    """A plain function is not a tool: a TypeError says what was given."""
    with pytest.raises(TypeError, match="takes a tool"):
        strategy_for(len)  # type: ignore[arg-type]


@given(st.data())
@settings(max_examples=60, database=None, deadline=None)
def test_refinements_bound_single_values(data: st.DataObject) -> None:
    """Each annotated-types refinement is a bound of the drawn value."""
    even = data.draw(strategy_for_type(Annotated[int, Ge(3), Lt(11), MultipleOf(2)]))
    assert even in (4, 6, 8, 10)
    ratio = data.draw(strategy_for_type(Annotated[float, Ge(0.0), Le(1.0)]))
    assert 0.0 <= ratio <= 1.0
    items = data.draw(strategy_for_type(Annotated[list[int], Len(2, 4)]))
    assert 2 <= len(items) <= 4
    word = data.draw(strategy_for_type(Annotated[str, MinLen(1), MaxLen(3)]))
    assert 1 <= len(word) <= 3


def test_a_strategy_in_the_annotation_is_used_as_given() -> None:
    """Annotated[float, st.just(...)] overrides the float strategy (NaN here, which the
    default float strategy never draws)."""
    drawn = find(strategy_for_type(Annotated[float, st.just(float("nan"))]), lambda v: True)
    assert drawn != drawn  # NaN


def test_default_floats_are_finite() -> None:
    """A plain float parameter never gets NaN or infinity unless the annotation asks."""
    seen: list[float] = []

    @settings(max_examples=200, database=None, derandomize=True)
    @given(strategy_for_type(float))
    def check(x: float) -> None:
        seen.append(x)

    check()
    assert all(x == x and abs(x) != float("inf") for x in seen)


def test_keyword_only_parameters_and_lengths_tied_to_a_parameter() -> None:
    """halfway(lo, hi, *, weights, n): len(weights) == n, and the tuple is in signature order."""

    @STRICT
    @given(strategy_for(t.halfway))
    def check(args: tuple[float, float, list[float], int]) -> None:
        lo, hi, weights, n = args
        assert lo < hi and len(weights) == n and 0 <= n <= 5

    check()


def test_enums_literals_dataclasses_and_optionals() -> None:
    """kinds(colour, mode, item, maybe, even): each drawn from its own type."""
    colours: set[t.Colour] = set()

    @STRICT
    @given(strategy_for(t.kinds))
    def check(args: tuple[Any, ...]) -> None:
        colour, mode, item, maybe, even = args
        assert isinstance(colour, t.Colour) and mode in ("a", "b")
        assert isinstance(item, t.Item) and item.grams > 0
        assert maybe is None or isinstance(maybe, int)
        assert even % 2 == 0 and 0 <= even <= 20
        colours.add(colour)

    check()
    assert colours == set(t.Colour)


class _Size(enum.Enum):
    S = "s"


def test_strategy_for_type_reports_the_unbuildable() -> None:
    """A bare object annotation says there is no type to build from."""
    with pytest.raises(SpecError, match="no type annotation"):
        strategy_for_type(object, where="argument x of f")
    assert find(strategy_for_type(Literal["only"]), lambda v: True) == "only"
    assert find(strategy_for_type(_Size), lambda v: True) is _Size.S


def test_health_checks_stay_on_for_the_constructed_strategies() -> None:
    """The chain of six ordered ints within a span of 5 runs with every health check on."""

    @settings(max_examples=100, database=None, derandomize=True, suppress_health_check=[])
    @given(strategy_for(t.chain))
    def check(args: tuple[int, ...]) -> None:
        assert list(args) == sorted(args) and args[-1] - args[0] <= 5

    check()


def test_arrays_with_symbolic_shapes_get_consistent_shapes() -> None:
    """Shape("n m") and Shape("m k") with n a parameter: a.shape[0] == n, a.shape[1] ==
    b.shape[0] on every draw, and the dims vary across a run."""
    shapes: set[tuple[tuple[int, ...], tuple[int, ...]]] = set()

    @STRICT
    @given(strategy_for(t.matmul))
    def check(args: tuple[Any, Any, int]) -> None:
        a, b, n = args
        assert a.shape[0] == n and a.shape[1] == b.shape[0] and a.ndim == b.ndim == 2
        assert _accepts(t.matmul, args)
        shapes.add((a.shape, b.shape))

    check()
    assert len({s[0][0] for s in shapes}) == 4 and len({s[0][1] for s in shapes}) >= 3
