"""Tests of `effectus.effects._state`: Get, Put, Modify and the MemoryState handler."""

from __future__ import annotations

import traceback
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

import effectus as fx
from effectus.effects import MemoryState

INTERPRETERS: list[Callable[[], fx.Interpreter]] = [
    fx.testing,
    lambda: fx.production(),
    lambda: fx.Interpreter(MemoryState()),
]


@pytest.mark.parametrize("make", INTERPRETERS, ids=["testing", "production", "bare"])
def test_get_answers_the_default_for_an_unset_key(make: Callable[[], fx.Interpreter]) -> None:
    """Get of a key never written answers the default given at the read, under every handler."""
    assert make().run(fx.Get("missing", 5)) == 5
    assert make().run(fx.Get("missing", "x")) == "x"


@pytest.mark.parametrize("make", INTERPRETERS, ids=["testing", "production", "bare"])
def test_put_then_get_reads_the_stored_value(make: Callable[[], fx.Interpreter]) -> None:
    """A value stored with Put is what Get answers, whatever the default; Put answers None."""

    async def main() -> int:
        await fx.Put("n", 3)
        return await fx.Get("n", 0)

    assert make().run(main()) == 3
    assert make().run(fx.Put("n", 3)) is None


def test_a_stored_none_is_not_replaced_by_the_default() -> None:
    """Get distinguishes a key storing None from an unset key."""

    async def main() -> object:
        await fx.Put("k", None)
        return await fx.Get("k", "default")

    assert fx.testing().run(main()) is None


@pytest.mark.parametrize("make", INTERPRETERS, ids=["testing", "production", "bare"])
def test_modify_applies_fn_to_the_current_or_default_value(
    make: Callable[[], fx.Interpreter],
) -> None:
    """Modify starts from the default when unset, stores fn's result and answers it."""

    async def main() -> tuple[int, int, int]:
        first = await fx.Modify("n", lambda v: v + 10, 1)
        second = await fx.Modify("n", lambda v: v * 2, 1)
        return first, second, await fx.Get("n", 0)

    assert make().run(main()) == (11, 22, 22)


def test_modify_whose_fn_raises_stores_nothing_and_raises_at_the_await() -> None:
    """An error in Modify's fn leaves the old value and surfaces on the program's await line."""

    def boom(v: int) -> int:
        raise ArithmeticError(f"cannot modify {v}")

    async def main() -> int:
        await fx.Put("n", 1)
        try:
            await fx.Modify("n", boom, 0)
        except ArithmeticError as err:
            frames = [f.name for f in traceback.extract_tb(err.__traceback__)]
            assert "main" in frames
        return await fx.Get("n", 0)

    assert fx.testing().run(main()) == 1


def test_state_persists_across_runs_of_one_interpreter() -> None:
    """The handler keeps its state between programs run by the same interpreter."""
    interp = fx.testing()
    interp.run(fx.Put("a", 1))
    assert interp.run(fx.Get("a", 0)) == 1
    assert fx.testing().run(fx.Get("a", 0)) == 0


def test_initial_state_and_snapshot() -> None:
    """MemoryState starts from a copy of its initial mapping; snapshot returns a copy."""
    initial = {"a": 1}
    state = MemoryState(initial)
    initial["a"] = 99
    assert fx.run(fx.Get("a", 0), state) == 1
    snap = state.snapshot()
    snap["a"] = 42
    assert state.snapshot() == {"a": 1}
    assert fx.testing(state={"b": [1]}).handler(MemoryState).snapshot() == {"b": [1]}


def test_get_with_a_non_string_key_is_refused_on_the_users_line() -> None:
    """Get(1, 0) raises TypeError naming the key, from the line that built it."""
    with pytest.raises(TypeError, match=r"Get\(key=1\): key must be a str \(type=int\)") as info:
        fx.Get(1, 0)  # type: ignore[arg-type]  # the wrong call under test
    assert traceback.extract_tb(info.value.__traceback__)[0].name == (
        "test_get_with_a_non_string_key_is_refused_on_the_users_line"
    )


def test_the_empty_string_is_a_key_like_any_other() -> None:
    """Keys are only type-checked (inline, for speed): "" stores and reads back."""

    async def main() -> int:
        await fx.Put("", 5)
        return await fx.Modify("", lambda v: v + 1, 0)

    assert fx.testing().run(main()) == 6


def test_modify_with_a_non_callable_fn_suggests_put() -> None:
    """Modify(key, 5, 0) is a TypeError that points to Put for storing a plain value."""
    with pytest.raises(TypeError, match=r"(?s)fn must be callable \(type=int\).*use Put"):
        fx.Modify("k", 5, 0)  # type: ignore[arg-type]  # the wrong call under test


def test_memory_state_refuses_bad_initial_keys() -> None:
    """MemoryState({1: ...}) raises TypeError: keys are the names Get reads."""
    with pytest.raises(TypeError, match=r"MemoryState\(initial=\.\.\.\): key 1 must be a str"):
        MemoryState({1: "x"})  # type: ignore[dict-item]  # the wrong call under test


def test_state_effects_are_values() -> None:
    """State effects are frozen, comparable values with readable reprs."""
    assert fx.Get("a", 1) == fx.Get("a", 1)
    assert repr(fx.Put("a", 2)) == "Put(key='a', value=2)"
    with pytest.raises(AttributeError):
        fx.Get("a", 1).key = "b"  # type: ignore[misc]  # frozen, under test


def test_explicitly_parametrised_generic_effect_can_be_built() -> None:
    """Get[int]('n', 0) builds the same effect as Get('n', 0)."""
    assert fx.Get[int]("n", 0) == fx.Get("n", 0)


FUNCTIONS: list[Callable[[int], int]] = [lambda v: v + 1, lambda v: -v, lambda v: v * v, abs]


@given(
    initial=st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers()),
    key=st.sampled_from(["a", "b", "c"]),
    fn=st.sampled_from(FUNCTIONS),
    default=st.integers(),
)
def test_law_modify_is_get_then_put(
    initial: dict[str, int], key: str, fn: Callable[[int], int], default: int
) -> None:
    """Law: Modify(k, f, d) answers and stores what Get(k, d) followed by Put(k, f(v)) does."""

    async def with_modify() -> int:
        return await fx.Modify(key, fn, default)

    async def with_get_put() -> int:
        v = await fx.Get(key, default)
        await fx.Put(key, fn(v))
        return fn(v)

    left, right = fx.testing(state=initial), fx.testing(state=initial)
    assert left.run(with_modify()) == right.run(with_get_put())
    assert left.handler(MemoryState).snapshot() == right.handler(MemoryState).snapshot()


@given(key=st.text(min_size=1), value=st.integers() | st.text() | st.none())
def test_law_get_after_put_reads_the_value(key: str, value: object) -> None:
    """Law: Put(k, v) then Get(k, d) answers v, for any key and value."""

    async def main() -> object:
        await fx.Put(key, value)
        return await fx.Get(key, object())

    assert fx.testing().run(main()) == value
