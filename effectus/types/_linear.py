"""Linear values: each is consumed exactly once, and the run says where when it is not.

A `Linear` wraps a value that must be used once — a handle, a token, a channel endpoint.
`Linear.consume` gives the value and marks the wrapper used; a second use raises
`LinearityError` on the user's line, naming where the first use was.  Inside a run, each
linear value belongs to the task that made it: when the task ends with values it never
consumed, they are released (newest first) and the task fails with `LinearityError` naming
where each was acquired; when the task fails or is cancelled, they are released all the same.
Linearity is a property of the value, not of a variable, so copying a reference escapes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

from effectus.core import LinearityError
from effectus.core._site import Site, caller_site
from effectus.core._stack import running_loop

__all__ = ["Linear"]

T = TypeVar("T")

_USED_TWICE = """\
{what} was already used at {used_at}; a linear value is consumed exactly once.
  acquired at {acquired_at}
Fix: use the value returned by the first use{hint}."""


async def _released(value: T, release: Callable[[T], Awaitable[None]] | None) -> None:
    if release is not None:
        await release(value)


class Linear(Generic[T]):
    """A value that must be consumed exactly once.

    Args:
        value: what `consume` gives.
        release: a program run (``await release(value)``) if the value is released without
            being consumed: when its task fails, is cancelled, or ends leaking it.
        name: how messages name it (default: the value's type).

    >>> import effectus as fx
    >>> from effectus.types import Linear
    >>> token = Linear("secret")
    >>> token.consume()
    'secret'
    >>> token.consume()
    Traceback (most recent call last):
    ...
    effectus.LinearityError: linear str was already used at <doctest ...>:1 in <module>; a linear value is consumed exactly once.
      acquired at <doctest ...>:1 in <module>
    Fix: use the value returned by the first use.
    """

    __slots__ = ("_value", "_release", "name", "acquired_at", "used_at", "_owner")

    def __init__(
        self,
        value: T,
        *,
        release: Callable[[T], Awaitable[None]] | None = None,
        name: str = "",
    ) -> None:
        self._value = value
        self._release = release
        self.name = name or type(value).__name__
        #: where the value was made (the user's ``file:line``)
        self.acquired_at: Site | str = caller_site()
        #: where it was consumed, once it has been
        self.used_at: Site | str | None = None
        self._owner: Any = None
        self._adopt()

    def _adopt(self) -> None:
        """Belong to the running task, if any (its end checks that this was consumed)."""
        loop = running_loop()
        task = None if loop is None else loop.current
        if task is not None:
            task.linear.append(self)
            self._owner = task

    def transfer(self, task: Any) -> None:
        """Make ``task`` (a scheduler task, or ``None`` for nobody) the owner of this value."""
        self._disown()
        if task is not None:
            task.linear.append(self)
            self._owner = task

    def _disown(self) -> None:
        owner = self._owner
        if owner is not None:
            self._owner = None
            try:
                owner.linear.remove(self)
            except ValueError:  # released by its task's cleanup meanwhile
                pass

    @property
    def used(self) -> bool:
        """Whether the value has been consumed (or released)."""
        return self.used_at is not None

    def describe(self) -> str:
        """How messages name this value: ``linear str``."""
        return f"linear {self.name}"

    def _hint(self) -> str:
        return ""

    def _use(self, site: Site | str) -> T:
        """Mark used at ``site`` and give the value; the second time, raise."""
        if self.used_at is not None:
            raise LinearityError(
                _USED_TWICE.format(
                    what=self.describe(), used_at=self.used_at, acquired_at=self.acquired_at,
                    hint=self._hint(),
                )
            )
        self.used_at = site
        self._disown()
        return self._value

    def consume(self) -> T:
        """Give the value and mark it used; a second call raises `LinearityError`."""
        return self._use(caller_site())

    def peek(self) -> T:
        """The value, without consuming it (a borrow); raises once the value is consumed."""
        if self.used_at is not None:
            self.consume()  # raises LinearityError naming the use
        return self._value

    def release_at(self, site: Site | str) -> Coroutine[Any, Any, None]:
        """Consume the value now, at ``site``; the program that runs its release (`Release`)."""
        return _released(self._use(site), self._release)

    def describe_leak(self) -> str:
        """For the report when a task ends without consuming this value."""
        return f"{self.describe()} acquired at {self.acquired_at}"

    async def release_program(self) -> None:
        """Release the value unconsumed (run by its task's cleanup)."""
        if self.used_at is None:
            self.used_at = "its task's cleanup"
            self._disown()
            if self._release is not None:
                await self._release(self._value)

    def __repr__(self) -> str:
        state = f"used at {self.used_at}" if self.used_at is not None else "live"
        return f"<{self.describe()} {state}>"
