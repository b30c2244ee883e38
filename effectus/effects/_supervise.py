"""Supervision: run child programs as tasks, restarting those that fail, as a policy says.

Guarantees: a child that fails with an error the policy covers is started again (a fresh
program from its factory) after a backoff slept with `Sleep` — on the virtual clock under
``fx.testing()``, the real one under ``fx.production()`` — until it has been restarted
``max_restarts`` times; one more failure, or an error the policy does not cover, cancels the
other children and propagates from `supervise`, with a note listing the earlier failures.
Each restart is logged (`Log`), so traces and test logs show it.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from effectus.core import Cancel, Join, Spawn, Task, Wait
from effectus.effects._clock import Sleep
from effectus.effects._log import Log

__all__ = ["Restart", "supervise"]


@dataclass(frozen=True)
class Restart:
    """A restart policy.

    Args:
        max_restarts: how many times, in all, children may be restarted.
        backoff: seconds to wait before the first restart.
        factor: each later restart waits ``factor`` times longer ...
        max_backoff: ... but never longer than this.
        on: the errors that restart a child; others propagate at once.
        strategy: ``"one_for_one"`` restarts the failed child; ``"one_for_all"`` cancels and
            restarts every child still running as well.

    >>> Restart(max_restarts=2, backoff=0.5).delay(1)
    1.0
    """

    max_restarts: int = 3
    backoff: float = 0.0
    factor: float = 2.0
    max_backoff: float = 60.0
    on: tuple[type[BaseException], ...] = (Exception,)
    strategy: Literal["one_for_one", "one_for_all"] = "one_for_one"

    def __post_init__(self) -> None:
        if isinstance(self.max_restarts, bool) or not isinstance(self.max_restarts, int) or self.max_restarts < 0:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValueError(f"Restart(max_restarts={self.max_restarts!r}): must be an int >= 0")
        for name in ("backoff", "factor", "max_backoff"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"Restart({name}={value!r}): must be a finite number >= 0")
        if self.strategy not in ("one_for_one", "one_for_all"):
            raise ValueError(f"Restart(strategy={self.strategy!r}): 'one_for_one' or 'one_for_all'")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before restart number ``attempt`` (0-based)."""
        return float(min(self.max_backoff, self.backoff * self.factor**attempt))


async def supervise(
    children: Mapping[str, Callable[[], Awaitable[Any]]], policy: Restart = Restart()
) -> dict[str, Any]:
    """Run each child (made by its factory) as a task; restart failures as ``policy`` says.

    Returns each child's result by name once all have returned.

    >>> import effectus as fx
    >>> async def flaky() -> str:
    ...     n = await fx.Modify("attempts", lambda n: n + 1, 0)
    ...     if n < 3:
    ...         raise ConnectionError(f"attempt {n} failed")
    ...     return f"connected on attempt {n}"
    >>> async def main() -> tuple[dict[str, object], float]:
    ...     start = await fx.Now()
    ...     results = await fx.supervise({"conn": flaky}, fx.Restart(backoff=1.0))
    ...     return results, await fx.Now() - start
    >>> fx.run(main(), fx.testing())
    ({'conn': 'connected on attempt 3'}, 3.0)

    Raises:
        The error of a child that failed once the restarts were used up, or with an error
        the policy does not cover.
    """
    running: dict[str, Task[Any]] = {}
    results: dict[str, Any] = {}
    failures: list[str] = []
    restarts = 0
    for name, factory in children.items():
        running[name] = await Spawn(factory(), name=name)
    while running:
        done = await Wait(tuple(running.values()), until="first")
        for task in done:
            name = task.name
            del running[name]
            try:
                results[name] = await Join(task)
                continue
            except policy.on as err:
                if restarts >= policy.max_restarts:
                    await _stop(running)
                    err.add_note(_history(failures, name, restarts))
                    raise
                failures.append(f"{name}: {type(err).__name__}: {err}")
                delay = policy.delay(restarts)
                restarts += 1
                await Log(
                    f"supervisor: restarting {name!r} after {type(err).__name__}: {err} "
                    f"(restart {restarts} of {policy.max_restarts}, in {delay:g} s)",
                    level="warning",
                )
            except BaseException:
                await _stop(running)
                raise
            if policy.strategy == "one_for_all":
                for other in list(running):
                    await _stop_one(running.pop(other))  # it starts afresh
                    results.pop(other, None)
                    await _sleep_then_spawn(running, other, children[other], 0.0)
            await _sleep_then_spawn(running, name, children[name], delay)
    return {name: results[name] for name in children}


async def _sleep_then_spawn(running: dict[str, Task[Any]], name: str, factory: Callable[[], Awaitable[Any]], delay: float) -> None:
    if delay > 0:
        await Sleep(delay)
    running[name] = await Spawn(factory(), name=name)


async def _stop_one(task: Task[Any]) -> None:
    """Cancel ``task`` if it still runs, and take its outcome (Cancelled, or what it raised)."""
    if not task.done:
        await Cancel(task)
    try:
        await Join(task)
    except BaseException:
        pass


async def _stop(running: dict[str, Task[Any]]) -> None:
    for task in running.values():
        await _stop_one(task)
    running.clear()


def _history(failures: list[str], name: str, restarts: int) -> str:
    earlier = "; ".join(failures) if failures else "none"
    return f"supervisor: {name!r} failed after {restarts} restart(s); earlier failures: {earlier}"
