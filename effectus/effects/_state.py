"""Keyed state: `Get`, `Put` and `Modify` read and write named values held by a handler.

Guarantees: a key that was never written reads as the default given at the read, and `Modify`
is exactly `Get` followed by `Put` of the function's result, done as one step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, TypeVar, cast

from effectus.core import Effect, Handler, effect, handles

__all__ = ["Get", "MemoryState", "Modify", "Put"]

T = TypeVar("T")


@effect
class Get(Effect[T], Generic[T]):
    """Read the value stored under ``key``, or ``default`` when nothing is stored there.

    Handled by `MemoryState` under both ``fx.production()`` and ``fx.testing()``, which start
    empty unless given an initial mapping.  Recorded as its fields and its answer; a replay
    answers with the recorded value.

    Args:
        key: the name of the value.
        default: the answer when ``key`` was never written; it also fixes the answer's type.

    Returns:
        The stored value, or ``default``.

    Raises:
        TypeError, ValueError: ``key`` is not a non-empty string (raised on the user's line).

    >>> import effectus as fx
    >>> async def read() -> int:
    ...     return await fx.Get("hits", 0)
    >>> fx.testing().run(read()), fx.testing(state={"hits": 7}).run(read())
    (0, 7)
    """

    key: str
    default: T


@effect
class Put(Effect[None], Generic[T]):
    """Store ``value`` under ``key``, replacing what was there.

    Handled by `MemoryState` under both ``fx.production()`` and ``fx.testing()``.  Recorded as
    its fields; a replay checks the fields and answers ``None``.

    Args:
        key: the name of the value.
        value: what to store.

    Raises:
        TypeError, ValueError: ``key`` is not a non-empty string (raised on the user's line).

    >>> import effectus as fx
    >>> async def write() -> str:
    ...     await fx.Put("name", "ada")
    ...     return await fx.Get("name", "")
    >>> fx.testing().run(write())
    'ada'
    """

    key: str
    value: T


@effect
class Modify(Effect[T], Generic[T]):
    """Replace the value under ``key`` by ``fn(current)`` and answer the new value.

    ``current`` is the stored value, or ``default`` when nothing is stored.  The law: a
    ``Modify`` answers and stores the same as ``v = await Get(key, default)`` followed by
    ``await Put(key, fn(v))``.  If ``fn`` raises, nothing is stored and the error is raised
    in the program at its ``await``.

    Handled by `MemoryState` under both ``fx.production()`` and ``fx.testing()``.  Recorded as
    its fields (the function by its qualified name) and its answer; a replay answers with the
    recorded value without calling ``fn``.

    Args:
        key: the name of the value.
        fn: computes the new value from the current one.
        default: the current value when ``key`` was never written.

    Returns:
        The new value.

    Raises:
        TypeError, ValueError: ``key`` is not a non-empty string, or ``fn`` is not callable.

    >>> import effectus as fx
    >>> async def bump() -> int:
    ...     return await fx.Modify("hits", lambda n: n + 1, 0)
    >>> fx.testing(state={"hits": 41}).run(bump())
    42
    """

    key: str
    fn: Callable[[T], T]
    default: T

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise TypeError(
                f"Modify(key={self.key!r}, fn={self.fn!r}): fn must be callable "
                f"(type={type(self.fn).__name__}).\n"
                f"Fix: pass a function of the current value, e.g. "
                f"Modify({self.key!r}, lambda v: v + 1, 0); to store a value use Put."
            )


class MemoryState(Handler):
    """Keeps state in a dict in memory; handles `Get`, `Put` and `Modify`.

    Used by both ``fx.production()`` and ``fx.testing()``.  The state lives as long as the
    handler instance, so one interpreter shares it across the programs it runs.

    Args:
        initial: values present before the first effect; copied, never mutated.

    >>> import effectus as fx
    >>> interp = fx.testing()
    >>> interp.run(fx.Put("x", 1))
    >>> interp.handler(MemoryState).snapshot()
    {'x': 1}
    """

    def __init__(self, initial: Mapping[str, object] | None = None) -> None:
        self._data: dict[str, object] = {}
        for key, value in (initial or {}).items():
            if not isinstance(cast(object, key), str):  # unchecked until here
                raise TypeError(
                    f"MemoryState(initial=...): key {key!r} must be a str "
                    f"(type={type(key).__name__}).\nFix: name each value with a string."
                )
            self._data[key] = value

    @handles(Get)
    def get(self, e: Get[object]) -> object:
        return self._data.get(e.key, e.default)

    @handles(Put)
    def put(self, e: Put[object]) -> None:
        self._data[e.key] = e.value

    @handles(Modify)
    def modify(self, e: Modify[object]) -> object:
        new = e.fn(self._data.get(e.key, e.default))
        self._data[e.key] = new
        return new

    def snapshot(self) -> dict[str, object]:
        """A copy of the stored values, by key."""
        return dict(self._data)

    def __repr__(self) -> str:
        return f"MemoryState({len(self._data)} keys)"
