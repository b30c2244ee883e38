"""Resources: `Acquire` gives a linear handle that `Release` (or ``async with``) gives back.

Guarantees: a resource acquired with `Acquire` is released exactly once — by `Release`, at the
end of an ``async with acquire(...)`` block, or, if its task fails, is cancelled or forgets
it, by the task's cleanup (newest first); releasing it twice raises `LinearityError` on the
user's line, naming where it was first released.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import Any, Generic, TypeVar

from effectus.core._site import Site, caller_site
from effectus.types import Linear

__all__ = ["Acquire", "Release", "acquire"]

T = TypeVar("T")


async def _acquiring(program: Awaitable[T], release: Callable[[T], Awaitable[None]], name: str, site: Site) -> Linear[T]:
    value = await program
    held = Linear(value, release=release, name=name)  # adopted by the task running this
    held.acquired_at = site
    return held


class Acquire(Generic[T]):
    """Run ``program`` to get a resource; answer it as a `Linear` value owned by this task.

    ``release(value)`` is the program that gives it back.  `Acquire` and `Release` are
    programs made of the effects of ``program`` and ``release`` (so they are recorded and
    replayed as those effects), plus the bookkeeping of the linear value.

    >>> import effectus as fx
    >>> from effectus.effects import Acquire, Release
    >>> async def connect() -> str:
    ...     await fx.Log("open")
    ...     return "conn"
    >>> async def hang_up(conn: str) -> None:
    ...     await fx.Log(f"close {conn}")
    >>> async def main() -> str:
    ...     conn = await Acquire(connect(), hang_up)
    ...     name = conn.peek()
    ...     await Release(conn)
    ...     return name
    >>> fx.run(main(), fx.testing())
    'conn'
    """

    __slots__ = ("_run",)

    def __init__(self, program: Awaitable[T], release: Callable[[T], Awaitable[None]], name: str = "") -> None:
        if not callable(release):
            raise TypeError(f"Acquire(program, release): release must be a function of the value; got {release!r}")
        self._run = _acquiring(program, release, name, caller_site())

    def __await__(self) -> Generator[Any, Any, Linear[T]]:
        return self._run.__await__()


class Release:
    """Give back a resource from `Acquire`: consumes it (on this line) and runs its release."""

    __slots__ = ("_run",)

    def __init__(self, resource: Linear[Any]) -> None:
        if not isinstance(resource, Linear):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"Release takes what Acquire gave; got {resource!r}")
        # Consumed here, on the user's line: releasing twice fails where it is written.
        self._run = resource.release_at(caller_site())

    def __await__(self) -> Generator[Any, Any, None]:
        return self._run.__await__()


class acquire(Generic[T]):  # noqa: N801  (a context manager reads as a verb, like open())
    """``async with acquire(program, release) as value:`` — Acquire, then Release at the end.

    The block gets the value itself; the resource is released when the block ends, however
    it ends.

    >>> import effectus as fx
    >>> from effectus.effects import acquire
    >>> async def opened() -> list[str]:
    ...     return []
    >>> async def closed(log: list[str]) -> None:
    ...     log.append("released")
    >>> async def main() -> list[str]:
    ...     async with acquire(opened(), closed) as log:
    ...         log.append("used")
    ...     return log
    >>> fx.run(main(), fx.testing())
    ['used', 'released']
    """

    def __init__(self, program: Awaitable[T], release: Callable[[T], Awaitable[None]], *, name: str = "") -> None:
        self._acquire = Acquire(program, release, name)
        self._held: Linear[T] | None = None

    async def __aenter__(self) -> T:
        self._held = await self._acquire
        return self._held.peek()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        held = self._held
        if held is not None and not held.used:
            await Release(held)
