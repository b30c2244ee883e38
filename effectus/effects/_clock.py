"""Time: `Now` reads a clock and `Sleep` waits; a virtual clock makes both instant and exact.

Guarantees: under `VirtualClock`, time moves only when the program sleeps, by exactly the
amount slept, so a program's view of time is a pure function of its own sleeps.
"""

from __future__ import annotations

import math
import time
from typing import cast

from effectus.core import Effect, Handler, effect, handles
from effectus.core._stack import running_loop

__all__ = ["Now", "RealClock", "Sleep", "VirtualClock"]

#: 2026-01-01T00:00:00Z, where virtual clocks start unless told otherwise.
DEFAULT_START = 1_767_225_600.0


@effect
class Now(Effect[float]):
    """Read the current time, in seconds since the Unix epoch.

    ``fx.production()`` answers from the system clock (`RealClock`); ``fx.testing()``
    answers from a `VirtualClock` that starts at 2026-01-01T00:00:00Z and moves only when the
    program sleeps.  Recorded as its answer; a replay answers with the recorded time.

    >>> import effectus as fx
    >>> async def today() -> float:
    ...     return await fx.Now()
    >>> fx.testing().run(today())
    1767225600.0
    """


@effect
class Sleep(Effect[None]):
    """Wait ``seconds`` before going on.

    ``fx.production()`` blocks in ``time.sleep`` (`RealClock`); ``fx.testing()`` advances its
    `VirtualClock` by ``seconds`` at once, without waiting.  Recorded as its fields; a replay
    returns at once.

    Args:
        seconds: how long to wait; finite and ``>= 0``.

    Raises:
        TypeError, ValueError: ``seconds`` is not a finite number ``>= 0`` (raised on the
            user's line).

    >>> import effectus as fx
    >>> async def nap() -> float:
    ...     start = await fx.Now()
    ...     await fx.Sleep(3600)
    ...     return await fx.Now() - start
    >>> fx.testing().run(nap())
    3600.0
    """

    seconds: float

    def __post_init__(self) -> None:
        s = cast(object, self.seconds)  # unchecked until here
        if isinstance(s, bool) or not isinstance(s, (int, float)):
            raise TypeError(
                f"Sleep(seconds={s!r}): seconds must be a number (type={type(s).__name__}).\n"
                f"Fix: pass seconds as an int or float, e.g. Sleep(0.5)."
            )
        if not (math.isfinite(s) and s >= 0):
            raise ValueError(
                f"Sleep(seconds={s!r}): seconds must be finite and >= 0.\n"
                f"Fix: pass a duration such as Sleep(0.5); to wait until a time t, "
                f"sleep max(0, t - await Now())."
            )


class RealClock(Handler):
    """The system clock: `Now` is ``time.time()`` and `Sleep` blocks in ``time.sleep``.

    Used by ``fx.production()``.

    >>> import effectus as fx
    >>> fx.run(fx.Now(), RealClock()) > 1_700_000_000
    True
    """

    @handles(Now)
    def now(self, e: Now) -> float:
        return time.time()

    @handles(Sleep, blocking=True)
    def sleep(self, e: Sleep) -> None:
        time.sleep(e.seconds)


class VirtualClock(Handler):
    """A clock in memory: `Now` reads ``now`` and `Sleep` advances it instantly.

    With several tasks, a sleeping task waits while others can run; when every task is
    waiting, the clock jumps to the earliest wake-up time.

    Used by ``fx.testing()``.  Read ``now`` from outside to see how much time a program
    slept through.

    Args:
        start: the time ``now`` starts at, in seconds since the Unix epoch (default
            2026-01-01T00:00:00Z).

    Raises:
        TypeError, ValueError: ``start`` is not a finite number.

    >>> import effectus as fx
    >>> interp = fx.testing()
    >>> interp.run(fx.Sleep(90))
    >>> interp.handler(VirtualClock).now - 1_767_225_600.0
    90.0
    """

    def __init__(self, start: float = DEFAULT_START) -> None:
        given = cast(object, start)  # unchecked until here
        if isinstance(given, bool) or not isinstance(given, (int, float)):
            raise TypeError(
                f"VirtualClock(start={start!r}): start must be a number of seconds since the "
                f"Unix epoch (type={type(start).__name__}).\n"
                f"Fix: e.g. VirtualClock(start=datetime(2026, 1, 1, tzinfo=UTC).timestamp())."
            )
        if not math.isfinite(start):
            raise ValueError(f"VirtualClock(start={start!r}): start must be finite.")
        #: the current virtual time, in seconds since the Unix epoch
        self.now = float(start)

    @handles(Now)
    def read(self, e: Now) -> float:
        return self.now

    @handles(Sleep)
    def sleep(self, e: Sleep) -> None:
        loop = running_loop()
        if loop is None or loop.live <= 1:
            self.now += e.seconds
            return
        # Other tasks may run meanwhile: time moves on only when every task is waiting.
        deadline = self.now + e.seconds

        def fire() -> None:
            self.now = max(self.now, deadline)

        raise loop.sleep_until(deadline, fire)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self.now!r})"
