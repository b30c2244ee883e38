"""The ready interpreters: `production` for the real world, `testing` for a deterministic one.

Guarantees: both handle every standard effect of state, clock, random, log/metrics, files and
fail/choose; each call builds fresh handler instances, so two interpreters never share state;
``testing(seed)`` answers the same effects the same way on every run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal, cast

from effectus.core import Cooperative, Handler, Interpreter, Seeded
from effectus.effects._clock import DEFAULT_START, RealClock, VirtualClock
from effectus.effects._files import MemoryFiles, RealFiles
from effectus.effects._log import MemoryLog, StdlibLog
from effectus.effects._random import SeededRandom, SystemRandom
from effectus.effects._state import MemoryState

if TYPE_CHECKING:
    from effectus.effects._choose import ChoicePolicy

__all__ = ["extend_standard", "production", "testing"]

# Handlers that packages built on effectus add to every ready interpreter (`extend_standard`).
_EXTENSIONS: dict[str, list[Callable[[], Handler]]] = {"production": [], "testing": []}


def extend_standard(kind: Literal["production", "testing"], factory: Callable[[], Handler]) -> None:
    """Add ``factory()`` to every interpreter ``fx.production()`` (or ``fx.testing()``) makes from now on.

    For packages that define standard effects of their own: ``effectus.kernels`` adds its
    `Jit` handler to production and its `Reference` handler to testing when it is imported.
    Each interpreter gets a fresh handler from ``factory``.
    """
    if kind not in _EXTENSIONS:
        raise ValueError(f"extend_standard: kind must be 'production' or 'testing'; got {kind!r}")
    if factory not in _EXTENSIONS[kind]:
        _EXTENSIONS[kind].append(factory)


def production(
    *, root: str | os.PathLike[str] = ".", choice: ChoicePolicy = "first"
) -> Interpreter:
    """The interpreter for real runs: real clock, OS randomness, stdlib logging, real files.

    Handlers, innermost first: `MemoryState`, `RealClock`, `SystemRandom`, `StdlibLog`,
    ``RealFiles(root)``, `Raise`, ``PolicyChoice(choice)``.  Tasks take turns cooperatively,
    and file I/O and sleeps run on up to 8 worker threads while other tasks go on
    (``Cooperative(threads=8)``).  Add your own in front with
    ``production().with_handlers(...)``.

    Args:
        root: the directory that file paths are relative to; it must exist.
        choice: how `Choose` picks: ``"first"``, ``"last"``, ``"random"`` or a function of
            the options returning an index (see `PolicyChoice`).

    Raises:
        FileNotFoundError, NotADirectoryError: ``root`` is not an existing directory.
        ValueError, TypeError: ``choice`` is not a valid policy.

    >>> import effectus as fx
    >>> fx.production()
    Interpreter(production())
    """
    from effectus.effects._choose import PolicyChoice, Raise  # _choose imports this module

    return Interpreter(
        MemoryState(),
        RealClock(),
        SystemRandom(),
        StdlibLog(),
        RealFiles(root),
        *(make() for make in _EXTENSIONS["production"]),
        Raise(),
        PolicyChoice(choice),
        name="production()",
        scheduler=Cooperative(threads=8),
    )


def testing(
    seed: int = 0,
    *,
    files: Mapping[str, str | bytes] | None = None,
    state: Mapping[str, object] | None = None,
    start: float = DEFAULT_START,
) -> Interpreter:
    """The interpreter for tests: everything in memory, time virtual, randomness seeded.

    Handlers, innermost first: ``MemoryState(state)``, ``VirtualClock(start)``,
    ``SeededRandom(seed)``, `MemoryLog`, ``MemoryFiles(files)``, `Raise`,
    ``SeededChoice(seed)``; tasks interleave before every effect in an order drawn from
    ``seed`` (``Seeded(seed)``).  Read what a program did afterwards from the handlers, e.g.
    ``interp.handler(MemoryFiles).snapshot()`` or ``interp.handler(MemoryLog).records``.

    Args:
        seed: seeds the answers of the random effects and of `Choose`.
        files: the in-memory files at the start, path -> content.
        state: the values of `Get` keys at the start.
        start: the virtual time at the start (default 2026-01-01T00:00:00Z).

    Raises:
        TypeError, ValueError: a bad seed, file path, state key or start time.

    >>> import effectus as fx
    >>> async def roll() -> int:
    ...     return await fx.RandomInt(1, 6)
    >>> fx.testing(seed=1).run(roll()) == fx.testing(seed=1).run(roll())
    True
    >>> fx.testing(seed=1)
    Interpreter(testing(seed=1))
    """
    from effectus.effects._choose import Raise, SeededChoice  # _choose imports this module

    given = cast(object, seed)  # unchecked until here
    if isinstance(given, bool) or not isinstance(given, int):
        raise TypeError(
            f"testing(seed={seed!r}): seed must be an int (type={type(seed).__name__}).\n"
            f"Fix: e.g. fx.testing(seed=42); derive one from a string with "
            f"int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], 'big')."
        )
    return Interpreter(
        MemoryState(state),
        VirtualClock(start),
        SeededRandom(seed),
        MemoryLog(),
        MemoryFiles(files),
        *(make() for make in _EXTENSIONS["testing"]),
        Raise(),
        SeededChoice(seed),
        name=f"testing(seed={seed!r})",
        scheduler=Seeded(seed),
    )
