"""Randomness: floats, bounded ints, bytes and shuffles, from OS entropy or from a seed.

Guarantees: `SeededRandom` with the same seed gives the same answers to the same sequence of
effects, on every run and platform (it is ``random.Random(seed)``); every answer respects
its effect's bounds under every handler.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Generic, TypeVar, cast

from effectus.core import Effect, Handler, effect, handles

__all__ = [
    "RandomBytes",
    "RandomFloat",
    "RandomInt",
    "SeededRandom",
    "Shuffle",
    "SystemRandom",
]

T = TypeVar("T")


def _check_int(where: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{where}: {name} must be an int; got {value!r} (type={type(value).__name__}).\n"
            f"Fix: convert it with int(...)."
        )


def as_sequence(where: str, name: str, items: object) -> tuple[object, ...]:
    """``items`` as a tuple, or a TypeError explaining which sequences are accepted."""
    if isinstance(items, tuple):
        return cast(tuple[object, ...], items)  # pyright leaves a narrowed tuple's items unknown
    if isinstance(items, (str, bytes, bytearray)) or not isinstance(items, Sequence):
        raise TypeError(
            f"{where}: {name} must be a sequence such as a tuple or list; got {items!r} "
            f"(type={type(items).__name__}).\n"
            f"Fix: pass tuple(...) of the items; strings and unordered collections (sets, "
            f"dicts) are refused because their items are ambiguous or unordered."
        )
    return tuple(cast(Sequence[object], items))  # as above: the narrowed items are unknown


@effect
class RandomFloat(Effect[float]):
    """Draw a float uniformly from ``[0, 1)``.

    ``fx.production()`` draws from OS entropy (`SystemRandom`); ``fx.testing(seed)`` from a
    generator seeded with ``seed`` (`SeededRandom`).  Recorded as its answer; a replay answers
    with the recorded float.

    >>> import effectus as fx
    >>> x = fx.testing(seed=1).run(fx.RandomFloat())
    >>> 0.0 <= x < 1.0, x == fx.testing(seed=1).run(fx.RandomFloat())
    (True, True)
    """


@effect
class RandomInt(Effect[int]):
    """Draw an int uniformly from ``low`` to ``high``, both included.

    Handled like `RandomFloat`: OS entropy in production, a seeded generator in testing.
    Recorded as its fields and its answer.

    Args:
        low: the smallest possible answer.
        high: the largest possible answer; ``low <= high``.

    Raises:
        TypeError, ValueError: a bound is not an int, or ``low > high``.

    >>> import effectus as fx
    >>> fx.testing(seed=3).run(fx.RandomInt(1, 6)) in range(1, 7)
    True
    """

    low: int
    high: int

    def __post_init__(self) -> None:
        where = f"RandomInt(low={self.low!r}, high={self.high!r})"
        _check_int(where, "low", self.low)
        _check_int(where, "high", self.high)
        if self.low > self.high:
            raise ValueError(
                f"{where}: low must be <= high (both bounds are included).\n"
                f"Fix: RandomInt({self.high!r}, {self.low!r})."
            )


@effect
class RandomBytes(Effect[bytes]):
    """Draw ``n`` random bytes.

    ``fx.production()`` reads them from ``os.urandom`` (fit for keys and tokens);
    ``fx.testing(seed)`` draws them from the seeded generator.  Recorded as its fields and
    its answer.

    Args:
        n: how many bytes; ``>= 0``.

    Raises:
        TypeError, ValueError: ``n`` is not an int ``>= 0``.

    >>> import effectus as fx
    >>> len(fx.testing().run(fx.RandomBytes(16)))
    16
    """

    n: int

    def __post_init__(self) -> None:
        _check_int(f"RandomBytes(n={self.n!r})", "n", self.n)
        if self.n < 0:
            raise ValueError(
                f"RandomBytes(n={self.n!r}): n must be >= 0.\n"
                f"Fix: pass the number of bytes wanted, e.g. RandomBytes(16)."
            )


@effect
class Shuffle(Effect[tuple[T, ...]], Generic[T]):
    """Answer a random permutation of ``items``.

    Any sequence is accepted and stored as a tuple.  Handled like `RandomFloat`: OS entropy
    in production, a seeded generator in testing.  Recorded as its fields and its answer.

    Args:
        items: what to shuffle.

    Returns:
        A tuple holding exactly the same items, in random order.

    Raises:
        TypeError: ``items`` is not a sequence (a str, set or generator is refused).

    >>> import effectus as fx
    >>> sorted(fx.testing(seed=7).run(fx.Shuffle([3, 1, 2])))
    [1, 2, 3]
    """

    items: Sequence[T]

    def __post_init__(self) -> None:
        items = self.items
        if type(items) is not tuple:
            object.__setattr__(self, "items", as_sequence("Shuffle(items=...)", "items", items))


class _Random(Handler):
    """Answers the random effects from ``self._rng``."""

    _rng: random.Random

    @handles(RandomFloat)
    def random_float(self, e: RandomFloat) -> float:
        return self._rng.random()

    @handles(RandomInt)
    def random_int(self, e: RandomInt) -> int:
        return self._rng.randint(e.low, e.high)

    @handles(RandomBytes)
    def random_bytes(self, e: RandomBytes) -> bytes:
        return self._rng.randbytes(e.n)

    @handles(Shuffle)
    def shuffle(self, e: Shuffle[object]) -> tuple[object, ...]:
        items = list(e.items)
        self._rng.shuffle(items)
        return tuple(items)


class SystemRandom(_Random):
    """Randomness from the operating system's entropy source (``random.SystemRandom``).

    Used by ``fx.production()``; answers cannot be reproduced, so record a trace to replay.

    >>> import effectus as fx
    >>> len(fx.run(fx.RandomBytes(8), SystemRandom()))
    8
    """

    def __init__(self) -> None:
        self._rng = random.SystemRandom()


class SeededRandom(_Random):
    """Randomness from ``random.Random(seed)``: the same seed gives the same answers.

    Used by ``fx.testing(seed)``.

    Args:
        seed: the generator's seed.

    Raises:
        TypeError: ``seed`` is not an int.

    >>> import effectus as fx
    >>> fx.run(fx.RandomInt(0, 99), SeededRandom(5)) == fx.run(fx.RandomInt(0, 99), SeededRandom(5))
    True
    """

    def __init__(self, seed: int = 0) -> None:
        _check_int(f"SeededRandom(seed={seed!r})", "seed", seed)
        self.seed = seed
        self._rng = random.Random(seed)

    def __repr__(self) -> str:
        return f"SeededRandom(seed={self.seed!r})"
