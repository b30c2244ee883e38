"""`strategy_for` meets hard preconditions without tripping Hypothesis's health checks.

The corpus (tests/specs/hard_preconditions.py) holds tools whose preconditions leave a thin
slice of their parameters' types.  Built by construction, every drawn argument tuple passes the
tool's own check and Hypothesis's default health checks stay quiet; the rejection approach,
``st.tuples(from_type...).filter(pre)``, fails them (the contrast).  A tool no arguments satisfy
raises `Unsatisfiable` naming the predicates that contradict each other, and a parameter with no
strategy raises `SpecError` naming it and saying how to register one.
"""

from __future__ import annotations

import inspect
import random
import typing
from pathlib import Path
from typing import Annotated, Any

import pytest
from annotated_types import Ge, Lt
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import FailedHealthCheck
from hypothesis.errors import Unsatisfiable as HypothesisUnsatisfiable

import effectus as fx
from effectus._cli_check import load_module
from effectus.core import PreconditionError
from effectus.specs import SpecError, strategy_for
from effectus.specs._strategies import Unsatisfiable

CORPUS = load_module(str(Path(__file__).with_name("hard_preconditions.py")))
TOOLS: list[fx.Tool[..., Any]] = CORPUS.TOOLS
FILTER_FAILS: frozenset[str] = CORPUS.FILTER_FAILS


def _name(tool: fx.Tool[..., Any]) -> str:
    return tool.__name__


def _holds(tool: fx.Tool[..., Any], args: tuple[Any, ...]) -> bool:
    state = random.getstate()  # the check samples container items with `random`
    try:
        tool._pre(*args)  # type: ignore[attr-defined]
    except PreconditionError:
        return False
    finally:
        random.setstate(state)
    return True


def _rejection(tool: fx.Tool[..., Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    """Each parameter from its annotation, the tuples that fail the precondition thrown away."""
    hints = typing.get_type_hints(tool.__wrapped__, include_extras=True)
    names = inspect.signature(tool.__wrapped__).parameters
    types = st.tuples(*(st.from_type(hints[n]) for n in names))
    return types.filter(lambda args: _holds(tool, args))


def test_the_corpus_is_the_modules_tools_and_the_filter_fails_for_most() -> None:
    """TOOLS lists every tool of the corpus once; FILTER_FAILS names only corpus tools, and the
    filter approach fails for at least two thirds of them (else the corpus is not hard)."""
    tools = [v for v in vars(CORPUS).values() if isinstance(v, fx.Tool)]
    assert sorted(map(_name, TOOLS)) == sorted(map(_name, tools))
    assert len(TOOLS) >= 12
    assert FILTER_FAILS <= set(map(_name, TOOLS))
    assert len(FILTER_FAILS) * 3 >= len(TOOLS) * 2


@pytest.mark.parametrize("tool", TOOLS, ids=_name)
def test_strategy_for_passes_the_default_health_checks(tool: fx.Tool[..., Any]) -> None:
    """50 derandomized examples with Hypothesis's default health checks: no health check fails,
    and every argument tuple drawn passes the tool's own precondition check."""
    drawn: list[tuple[Any, ...]] = []

    @settings(max_examples=50, derandomize=True, database=None, deadline=None)
    @given(strategy_for(tool))
    def check(args: tuple[Any, ...]) -> None:
        tool._pre(*args)  # type: ignore[attr-defined]  # raises PreconditionError: the test fails
        drawn.append(args)

    check()
    assert drawn  # (multiple_in_range has 15 valid arguments only: Hypothesis stops there)


# from_type resolves lazily, when drawing: it says then that it ignores MultipleOf and Length
@pytest.mark.filterwarnings("ignore:Ignoring unsupported:hypothesis.errors.HypothesisWarning")
@pytest.mark.parametrize("tool", [t for t in TOOLS if _name(t) in FILTER_FAILS], ids=_name)
def test_the_filter_approach_fails_where_construction_passes(tool: fx.Tool[..., Any]) -> None:
    """The contrast: ``st.tuples(from_type...).filter(pre)`` under the same settings stops with a
    failed health check (filter_too_much) or gives up (Hypothesis's Unsatisfiable)."""

    @settings(max_examples=50, derandomize=True, database=None, deadline=None)
    @given(_rejection(tool))
    def check(args: tuple[Any, ...]) -> None:
        pass

    with pytest.raises((FailedHealthCheck, HypothesisUnsatisfiable)):
        check()


@fx.tool(requires=[lambda lo, hi: lo < hi, lambda lo, hi: hi + 1 < lo])
async def empty_range(lo: int, hi: int) -> int:
    return hi - lo


@fx.tool(requires=lambda x: x > 10)
async def refined_away(x: Annotated[int, Ge(0), Lt(5)]) -> int:
    return x


@fx.tool(requires=lambda x: x * x < 0)
async def negative_square(x: int) -> int:
    return x


def _run(tool: fx.Tool[..., Any]) -> None:
    @settings(max_examples=10, derandomize=True, database=None, deadline=None)
    @given(strategy_for(tool))
    def check(args: tuple[Any, ...]) -> None:
        pass

    check()


def _raised_here(excinfo: pytest.ExceptionInfo[BaseException]) -> bool:
    return any(Path(str(entry.path)) == Path(__file__) for entry in excinfo.traceback)


@pytest.mark.parametrize(("tool", "predicates"), [
    (empty_range, ["lo < hi", "hi + 1 < lo"]),
    (refined_away, ["x > 10", "x < 5"]),
    (negative_square, ["x * x < 0"]),
], ids=["two requires", "requires against a refinement", "not linear"])
def test_contradictory_preconditions_raise_unsatisfiable_naming_them(
    tool: fx.Tool[..., Any], predicates: list[str]
) -> None:
    """A tool no arguments satisfy: drawing raises `Unsatisfiable` (a ValueError), whose message
    names the tool and each contradicting predicate and says what to do; the traceback holds the
    test's own frame."""
    with pytest.raises(Unsatisfiable) as excinfo:
        _run(tool)
    message = str(excinfo.value)
    assert message.startswith(f"cannot generate arguments for {tool.__name__}: "), message
    for predicate in predicates:
        assert predicate in message, message
    assert "Fix: correct the preconditions" in message
    assert isinstance(excinfo.value, ValueError)
    assert _raised_here(excinfo)


class Opaque:
    """A class Hypothesis cannot build: its ``__init__`` takes an unannotated argument."""

    def __init__(self, handle):  # type: ignore[no-untyped-def]  # deliberately unannotated
        self.handle = handle


@fx.tool(requires=lambda n: n >= 0)
async def uses_opaque(n: int, thing: Opaque) -> int:
    return n


@fx.tool(requires=lambda n: n >= 0)
async def uses_object(n: int, thing: object) -> int:
    return n


@pytest.mark.parametrize(("tool", "type_name"), [(uses_opaque, "Opaque"), (uses_object, "object")],
                         ids=["unannotated __init__", "object"])
def test_a_parameter_without_a_strategy_raises_spec_error_naming_it(tool: fx.Tool[..., Any], type_name: str) -> None:
    """`strategy_for` itself (not the draw) raises `SpecError` naming the parameter, the tool and
    the type, and points to ``register_type_strategy`` and to a strategy in the annotation."""
    with pytest.raises(SpecError) as excinfo:
        strategy_for(tool)
    message = str(excinfo.value)
    if type_name == "object":  # nothing to register: the parameter needs a type
        assert f"argument thing of {tool.__name__}: it has no type annotation" in message, message
        assert "Fix: annotate it with the type of the values it takes" in message, message
        return
    assert f"argument thing of {tool.__name__} of type {type_name}" in message, message
    assert f"register_type_strategy({type_name}, ...)" in message, message
    assert f"Annotated[{type_name}, st.builds(...)]" in message, message
    assert _raised_here(excinfo)
