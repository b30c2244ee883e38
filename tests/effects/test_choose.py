"""Tests of `effectus.effects._choose`: Fail, Choose, their handlers, and `outcomes`."""

from __future__ import annotations

import itertools
import traceback
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from returns.result import Failure, Success

import effectus as fx
from effectus.effects import PolicyChoice, Raise, SeededChoice

# --- Fail ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [fx.testing, fx.production], ids=["testing", "production"])
def test_fail_raises_its_error_at_the_await(make: Callable[[], fx.Interpreter]) -> None:
    """Under both interpreters, Fail raises its error on the program's await line."""

    async def main() -> None:
        await fx.Fail(KeyError("missing"))

    with pytest.raises(KeyError, match="missing") as info:
        make().run(main())
    assert "main" in [f.name for f in traceback.extract_tb(info.value.__traceback__)]


def test_a_program_may_catch_a_fail() -> None:
    """The error of a Fail can be caught by the program like any raised exception."""

    async def main() -> str:
        try:
            await fx.Fail(ValueError("bad"))
        except ValueError as err:
            return f"recovered from {err}"
        return "not reached"

    assert fx.run(main(), Raise()) == "recovered from bad"


def test_fail_with_an_exception_class_suggests_calling_it() -> None:
    """Fail(ValueError) (the class) is a TypeError whose fix instantiates it."""
    with pytest.raises(TypeError, match=r"(?s)error must be an Exception instance.*ValueError\('"):
        fx.Fail(ValueError)  # type: ignore[arg-type]  # the wrong call under test


def test_fail_with_a_non_exception_is_refused() -> None:
    """Fail('oops') and Fail(KeyboardInterrupt()) are TypeErrors: only Exceptions may fail."""
    with pytest.raises(TypeError, match=r"Fail\(error='oops'\): error must be an Exception"):
        fx.Fail("oops")  # type: ignore[arg-type]  # the wrong call under test
    with pytest.raises(TypeError, match=r"type=KeyboardInterrupt"):
        fx.Fail(KeyboardInterrupt())  # type: ignore[arg-type]  # the wrong call under test


# --- Choose and its handlers --------------------------------------------------------------


def test_choose_accepts_any_sequence_and_stores_a_tuple() -> None:
    """Choose of a list or range stores a tuple; the effect equals the tuple-built one."""
    assert fx.Choose([1, 2]).options == (1, 2)
    assert fx.Choose(range(3)) == fx.Choose((0, 1, 2))


def test_choose_refuses_no_options_and_suggests_fail() -> None:
    """Choose([]) is a ValueError that tells to Fail to abandon the branch."""
    with pytest.raises(ValueError, match=r"(?s)at least one option.*await Fail\("):
        fx.Choose([])


@pytest.mark.parametrize("options", ["ab", {1, 2}, iter([1])])
def test_choose_refuses_strings_and_unordered_collections(options: object) -> None:
    """Choose('ab'), Choose({1, 2}) and Choose(iterator) are TypeErrors."""
    with pytest.raises(TypeError, match=r"Choose\(options=\.\.\.\): options must be a sequence"):
        fx.Choose(options)  # type: ignore[arg-type]  # the wrong call under test


async def pick3() -> str:
    return await fx.Choose(["a", "b", "c"])


def test_production_policies_first_last() -> None:
    """production() picks the first option by default, the last with choice='last'."""
    assert fx.production().run(pick3()) == "a"
    assert fx.production(choice="last").run(pick3()) == "c"


def test_production_random_policy_is_seedable() -> None:
    """PolicyChoice('random', seed) is reproducible and reaches every option."""
    picks = [fx.run(pick3(), PolicyChoice("random", seed=s)) for s in range(40)]
    assert picks == [fx.run(pick3(), PolicyChoice("random", seed=s)) for s in range(40)]
    assert set(picks) == {"a", "b", "c"}
    assert fx.production(choice="random").run(pick3()) in {"a", "b", "c"}


def test_production_callable_policy_returns_an_index() -> None:
    """A policy function gets the options tuple and returns the index of the pick."""
    longest = PolicyChoice(lambda options: max(range(len(options)), key=lambda i: options[i]))
    assert fx.run(fx.Choose([3, 9, 4]), longest) == 9
    assert fx.production(choice=lambda options: 1).run(pick3()) == "b"


@pytest.mark.parametrize("bad", [3, -1, "b", True])
def test_a_policy_returning_a_bad_index_raises_at_the_await(bad: object) -> None:
    """A policy answering an out-of-range index, a non-int or a bool raises ValueError."""

    async def main() -> str:
        return await fx.Choose(["a", "b", "c"])

    with pytest.raises(ValueError, match=rf"returned {bad!r} for Choose.*range\(3\)") as info:
        policy = PolicyChoice(lambda options: bad)  # type: ignore[arg-type, return-value]  # bad
        fx.run(main(), policy)
    assert "main" in [f.name for f in traceback.extract_tb(info.value.__traceback__)]


def test_policy_choice_validates_its_arguments() -> None:
    """Unknown policy names, non-callables and seeds without 'random' are refused."""
    with pytest.raises(ValueError, match=r"policy='best'\): policy must be one of 'first'"):
        PolicyChoice("best")  # type: ignore[arg-type]  # the wrong call under test
    with pytest.raises(TypeError, match=r"policy=3\): policy must be a policy name or a callable"):
        PolicyChoice(3)  # type: ignore[arg-type]  # the wrong call under test
    with pytest.raises(ValueError, match=r"a seed only applies to the 'random' policy"):
        PolicyChoice("first", seed=1)
    with pytest.raises(TypeError, match=r"seed must be an int or None"):
        PolicyChoice("random", seed="1")  # type: ignore[arg-type]  # the wrong call under test


def test_seeded_choice_is_deterministic_per_seed() -> None:
    """testing(seed) picks the same options on every run; other seeds pick differently."""

    async def many() -> list[int]:
        return [await fx.Choose(range(10)) for _ in range(20)]

    assert fx.testing(seed=5).run(many()) == fx.testing(seed=5).run(many())
    assert fx.testing(seed=5).run(many()) != fx.testing(seed=6).run(many())
    assert fx.run(many(), SeededChoice(5)) == fx.testing(seed=5).run(many())


def test_seeded_choice_refuses_a_non_int_seed() -> None:
    """SeededChoice('1') is a TypeError."""
    with pytest.raises(TypeError, match=r"SeededChoice\(seed='1'\): seed must be an int"):
        SeededChoice("1")  # type: ignore[arg-type]  # the wrong call under test


# --- outcomes -----------------------------------------------------------------------------


async def two_by_three() -> str:
    a = await fx.Choose(["x", "y"])
    b = await fx.Choose([1, 2, 3])
    return f"{a}{b}"


def test_outcomes_enumerates_every_branch_in_lexicographic_order() -> None:
    """2 x 3 choices give 6 outcomes, ordered by their choice indices."""
    found = fx.outcomes(two_by_three)
    assert [o.choices for o in found] == list(itertools.product(range(2), range(3)))
    assert [o.result for o in found] == [
        Success(v) for v in ["x1", "x2", "x3", "y1", "y2", "y3"]
    ]


def test_outcomes_of_a_program_without_choices_is_one_outcome() -> None:
    """A program that never chooses has exactly one outcome, with no choices."""

    async def main() -> int:
        return 7

    assert fx.outcomes(main) == [fx.Outcome((), Success(7))]


def test_a_failing_branch_is_a_failure_outcome_and_exploring_goes_on() -> None:
    """A Fail (or any error) in one branch gives a Failure for it; other branches still run."""

    async def main() -> int:
        n = await fx.Choose([1, 0, 2])
        if n == 0:
            await fx.Fail(ZeroDivisionError("n is zero"))
        return 10 // n

    found = fx.outcomes(main)
    assert [o.choices for o in found] == [(0,), (1,), (2,)]
    assert found[0].result == Success(10) and found[2].result == Success(5)
    failure = found[1].result
    assert isinstance(failure, Failure)
    assert isinstance(failure.failure(), ZeroDivisionError)


def test_outcomes_follows_choices_that_depend_on_earlier_ones() -> None:
    """The branching may depend on earlier answers: choose n, then choose among range(n)."""

    async def main() -> tuple[int, int]:
        n = await fx.Choose([1, 2, 3])
        return n, await fx.Choose(range(n))

    found = fx.outcomes(main)
    assert [o.result.unwrap() for o in found] == [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]
    assert [o.choices for o in found] == [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2)]


def test_a_failure_before_later_choices_ends_only_that_branch() -> None:
    """A branch that fails after one choice has a one-element path; its siblings go deeper."""

    async def main() -> str:
        first = await fx.Choose(["stop", "go"])
        if first == "stop":
            await fx.Fail(RuntimeError("stopped"))
        return first + await fx.Choose(["!", "?"])

    found = fx.outcomes(main)
    assert [o.choices for o in found] == [(0,), (1, 0), (1, 1)]
    assert [o.result.value_or("failed") for o in found] == ["failed", "go!", "go?"]


def test_outcomes_uses_a_fresh_interpreter_from_the_factory_per_branch() -> None:
    """Each branch runs under a new interpreter, so state written in one branch is not seen
    in the next, and seeded effects answer the same in every branch."""

    async def main() -> tuple[int, int]:
        seen = await fx.Modify("runs", lambda n: n + 1, 0)
        roll = await fx.RandomInt(1, 1000)
        await fx.Choose([0, 1])
        return seen, roll

    found = fx.outcomes(main, lambda: fx.testing(seed=9))
    assert [o.result.unwrap()[0] for o in found] == [1, 1]
    assert found[0].result == found[1].result


def test_outcomes_works_with_the_production_interpreter() -> None:
    """The factory may be fx.production: the forcing handler overrides its policy."""
    assert len(fx.outcomes(two_by_three, fx.production)) == 6


def test_exceeding_the_limit_raises_with_how_many_branches_and_how_to_raise_it() -> None:
    """More branches than limit= is a ValueError stating the count and suggesting a limit."""
    with pytest.raises(
        ValueError,
        match=r"(?s)explored 5 branches \(limit=5\) and more remain.*limit=50",
    ):
        fx.outcomes(two_by_three, limit=5)


def test_exactly_limit_branches_is_allowed() -> None:
    """A program with exactly limit branches is explored completely."""
    assert len(fx.outcomes(two_by_three, limit=6)) == 6


def test_a_nondeterministic_program_is_reported_as_a_replay_divergence() -> None:
    """A program whose choices change between re-runs raises ReplayDivergence, not wrong data."""
    calls: list[int] = []

    async def main() -> int:
        calls.append(1)
        return await fx.Choose(range(len(calls) + 1))  # more options on every run

    with pytest.raises(fx.ReplayDivergence, match=r"(?s)at choice #0 it offered 3 options.*Fix"):
        fx.outcomes(main)


def test_a_program_that_stops_choosing_on_re_run_is_a_replay_divergence() -> None:
    """A re-run that makes fewer choices than the path it was forced along is reported."""
    calls: list[int] = []

    async def main() -> int:
        calls.append(1)
        if len(calls) > 1:
            return 0
        return await fx.Choose([1, 2])

    with pytest.raises(fx.ReplayDivergence, match=r"it finished after 0 choices"):
        fx.outcomes(main)


def test_outcomes_refuses_a_program_instead_of_a_factory() -> None:
    """outcomes(main()) is a TypeError (it must re-run), and closes the coroutine quietly."""
    with pytest.raises(TypeError, match=r"(?s)runs the program once per branch.*outcomes\(main\)"):
        fx.outcomes(two_by_three())  # type: ignore[arg-type]  # the wrong call under test


def test_outcomes_refuses_an_interpreter_instead_of_a_factory() -> None:
    """outcomes(p, fx.testing()) is a TypeError asking for a factory."""
    with pytest.raises(TypeError, match=r"pass a function that builds a fresh interpreter"):
        fx.outcomes(two_by_three, fx.testing())  # type: ignore[arg-type]  # wrong call under test


def test_outcomes_refuses_factories_that_return_the_wrong_thing() -> None:
    """A factory giving a non-interpreter, or a program factory giving a non-program, is a
    TypeError naming what came back."""
    with pytest.raises(TypeError, match=r"the factory returned 3 \(type=int\)"):
        fx.outcomes(two_by_three, lambda: 3)  # type: ignore[arg-type, return-value]  # under test
    with pytest.raises(TypeError, match=r"gave 4 \(type=int\), not a program"):
        fx.outcomes(lambda: 4)  # type: ignore[arg-type, return-value]  # under test


@pytest.mark.parametrize("limit", [0, -1, 1.5, True])
def test_outcomes_refuses_a_bad_limit(limit: object) -> None:
    """limit must be an int >= 1."""
    with pytest.raises(ValueError, match=r"limit must be an int >= 1"):
        fx.outcomes(two_by_three, limit=limit)  # type: ignore[arg-type]  # the wrong call


@given(st.lists(st.integers(1, 4), max_size=4))
def test_law_outcomes_is_the_product_of_the_choices(sizes: list[int]) -> None:
    """Law: for independent choices of sizes n1..nk, outcomes are itertools.product order."""

    async def main() -> tuple[int, ...]:
        return tuple([await fx.Choose(range(n)) for n in sizes])

    found = fx.outcomes(main)
    expected = list(itertools.product(*(range(n) for n in sizes)))
    assert [o.choices for o in found] == expected
    assert [o.result.unwrap() for o in found] == expected
