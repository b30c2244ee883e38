"""Tests of `effectus.effects._random`: random effects under SystemRandom and SeededRandom."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

import effectus as fx
from effectus.effects import SeededRandom, SystemRandom

HANDLERS: list[Callable[[], fx.Handler]] = [SystemRandom, lambda: SeededRandom(3)]


async def draws() -> tuple[float, int, bytes, tuple[int, ...]]:
    return (
        await fx.RandomFloat(),
        await fx.RandomInt(1, 1_000_000),
        await fx.RandomBytes(16),
        await fx.Shuffle(tuple(range(20))),
    )


@pytest.mark.parametrize("make", HANDLERS, ids=["system", "seeded"])
def test_every_random_effect_is_answered_within_its_bounds(make: Callable[[], fx.Handler]) -> None:
    """Both handlers answer each effect with a value of the right type and range."""
    handler = make()
    x, n, data, shuffled = fx.run(draws(), handler)
    assert isinstance(x, float) and 0.0 <= x < 1.0
    assert isinstance(n, int) and 1 <= n <= 1_000_000
    assert isinstance(data, bytes) and len(data) == 16
    assert sorted(shuffled) == list(range(20))
    assert fx.run(fx.RandomBytes(0), handler) == b""
    assert fx.run(fx.RandomInt(7, 7), handler) == 7


def test_same_seed_gives_the_same_answers() -> None:
    """testing(seed) twice answers a sequence of random effects identically."""
    assert fx.testing(seed=11).run(draws()) == fx.testing(seed=11).run(draws())


def test_different_seeds_give_different_answers() -> None:
    """testing(seed=1) and testing(seed=2) answer the same sequence differently."""
    assert fx.testing(seed=1).run(draws()) != fx.testing(seed=2).run(draws())


def test_seeded_random_is_random_random_of_the_seed() -> None:
    """SeededRandom(seed) answers what random.Random(seed) gives, so answers are portable."""
    rng = random.Random(42)
    expected = (rng.random(), rng.randint(1, 1_000_000), rng.randbytes(16))

    async def main() -> tuple[float, int, bytes]:
        return await fx.RandomFloat(), await fx.RandomInt(1, 1_000_000), await fx.RandomBytes(16)

    assert fx.run(main(), SeededRandom(42)) == expected


def test_system_random_is_not_reproducible() -> None:
    """Two SystemRandom handlers draw different bytes (2**-128 chance of a false failure)."""
    assert fx.run(fx.RandomBytes(16), SystemRandom()) != fx.run(fx.RandomBytes(16), SystemRandom())


def test_shuffle_accepts_any_sequence_and_stores_a_tuple() -> None:
    """Shuffle([..]) stores its items as a tuple, so the effect is an immutable value."""
    effect = fx.Shuffle([3, 1, 2])
    assert effect.items == (3, 1, 2)
    assert effect == fx.Shuffle((3, 1, 2))


@pytest.mark.parametrize("items", ["abc", {1, 2}, (x for x in range(2)), 5])
def test_shuffle_refuses_non_sequences(items: object) -> None:
    """Shuffle of a str, set, generator or int is a TypeError explaining what to pass."""
    with pytest.raises(TypeError, match=r"Shuffle\(items=\.\.\.\): items must be a sequence"):
        fx.Shuffle(items)  # type: ignore[arg-type]  # the wrong call under test


def test_random_int_refuses_reversed_bounds() -> None:
    """RandomInt(6, 1) is a ValueError that suggests the bounds in order."""
    with pytest.raises(
        ValueError, match=r"(?s)RandomInt\(low=6, high=1\): low must be <= high.*RandomInt\(1, 6\)"
    ):
        fx.RandomInt(6, 1)


@pytest.mark.parametrize("low, high", [(1.5, 2), (1, "2"), (True, 2)])
def test_random_int_refuses_non_int_bounds(low: object, high: object) -> None:
    """RandomInt bounds must be ints (not floats, strings or bools)."""
    with pytest.raises(TypeError, match=r"RandomInt\(low=.*\): (low|high) must be an int"):
        fx.RandomInt(low, high)  # type: ignore[arg-type]  # the wrong call under test


def test_random_bytes_refuses_a_negative_count() -> None:
    """RandomBytes(-1) is a ValueError."""
    with pytest.raises(ValueError, match=r"RandomBytes\(n=-1\): n must be >= 0"):
        fx.RandomBytes(-1)


def test_seeded_random_refuses_a_non_int_seed() -> None:
    """SeededRandom('x') is a TypeError: seeds are ints."""
    with pytest.raises(TypeError, match=r"SeededRandom\(seed='x'\): seed must be an int"):
        SeededRandom("x")  # type: ignore[arg-type]  # the wrong call under test


@given(
    low=st.integers(-(2**70), 2**70),
    span=st.integers(0, 2**70),
    seed=st.integers(0, 2**32),
)
def test_law_random_int_is_within_its_bounds(low: int, span: int, seed: int) -> None:
    """Law: RandomInt(low, high) answers some x with low <= x <= high, under every handler."""
    effect = fx.RandomInt(low, low + span)
    for handler in (SeededRandom(seed), SystemRandom()):
        assert low <= fx.run(effect, handler) <= low + span


@given(items=st.lists(st.integers(0, 5)), seed=st.integers(0, 2**32))
def test_law_shuffle_is_a_permutation(items: list[int], seed: int) -> None:
    """Law: Shuffle answers a tuple with exactly the same items (with multiplicity)."""
    for handler in (SeededRandom(seed), SystemRandom()):
        out = fx.run(fx.Shuffle(items), handler)
        assert isinstance(out, tuple)
        assert Counter(out) == Counter(items)


@given(n=st.integers(0, 300), seed=st.integers(0, 2**32))
def test_law_random_bytes_has_the_requested_length(n: int, seed: int) -> None:
    """Law: RandomBytes(n) answers exactly n bytes, under every handler."""
    assert len(fx.run(fx.RandomBytes(n), SeededRandom(seed))) == n
    assert len(fx.run(fx.RandomBytes(n), SystemRandom())) == n
