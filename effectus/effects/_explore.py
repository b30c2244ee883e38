"""Deterministic simulation testing: run a concurrent program under many interleavings.

`explore` re-executes a program from scratch once per schedule (a program is deterministic
given its effects' answers and the order its tasks take turns), enumerating schedules depth
first — or sampling them at random — within a budget.  Sleep sets (a partial-order reduction)
keep it from re-exploring schedules that differ only in the order of independent steps: two
steps are independent when their effects touch different things (state keys, channels, files).
The first schedule that fails — a deadlock, a protocol violation, a leaked linear value, an
assertion, any exception — is shrunk to few forced choices, recorded as a trace that
``fx.replay`` re-runs to the same failure, and returned in an `Exploration` report.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from effectus.core import Interpreter, Join, Scheduler, Spawn, Task, Wait, record
from effectus.core._loop import Picker
from effectus.effects._clock import Now, Sleep
from effectus.effects._files import DeleteFile, FileExists, ReadBytes, ReadFile, WriteBytes, WriteFile
from effectus.effects import _interpreters
from effectus.effects._log import Log
from effectus.effects._state import Get, Modify, Put

__all__ = ["Exploration", "explore"]

# What an effect touches: (thing, writes) pairs; ``None`` means "treat as touching everything".
Footprint = tuple[tuple[tuple[str, object], bool], ...] | None


def footprint(effect: object) -> Footprint:
    """What ``effect`` reads or writes, for deciding which steps are independent.

    An effect class may define ``footprint(self)`` itself, returning ``((thing, writes),
    ...)``; effects effectus does not know conflict with everything (always correct, only
    slower to explore).
    """
    own = getattr(effect, "footprint", None)
    if callable(own):
        return cast(Footprint, own())
    if isinstance(effect, Get):
        return ((("state", effect.key), False),)
    if isinstance(effect, (Put, Modify)):
        return ((("state", effect.key), True),)
    if isinstance(effect, (ReadFile, ReadBytes, FileExists)):
        return ((("file", effect.path), False),)
    if isinstance(effect, (WriteFile, WriteBytes, DeleteFile)):
        return ((("file", effect.path), True),)
    if isinstance(effect, Log):
        return ((("log", None), True),)
    if isinstance(effect, (Now, Sleep)):
        return ((("clock", None), isinstance(effect, Sleep)),)
    if isinstance(effect, Spawn):
        return ((("spawn", None), True),)  # task numbers follow the order of spawns
    if isinstance(effect, Join):
        number: int = effect.task.id  # pyright: ignore[reportUnknownMemberType]  # Join[Unknown]
        return ((("task", number), False),)
    if isinstance(effect, Wait):
        return tuple((("task", t.id), False) for t in effect.tasks)
    endpoint = getattr(effect, "endpoint", None)
    channel = getattr(endpoint, "channel", None)
    if channel is not None:
        return ((("channel", id(channel)), True),)
    return None  # ListFiles reads every path; unknown effects may touch anything


def independent(a: tuple[int, object], b: tuple[int, object]) -> bool:
    """Whether steps ``(task, effect)`` ``a`` and ``b`` give the same state in either order.

    Every step may be its task's last, so it also writes ``("task", id)``, which `Join` and
    `Wait` on that task read.
    """
    fa, fb = footprint(a[1]), footprint(b[1])
    if fa is None or fb is None or a[0] == b[0]:
        return False
    touched = dict(fa)
    touched[("task", a[0])] = True
    for thing, writes in (*fb, (("task", b[0]), True)):
        if thing in touched and (writes or touched[thing]):
            return False
    return True


class _Blocked(BaseException):
    """Every runnable task is asleep: this schedule is equivalent to one explored already."""


@dataclass
class _Node:
    """A step of a schedule: who could run (and with what effect), who ran, who was asleep."""

    runnable: dict[int, object]  # task id -> the effect it would perform
    chosen: int
    sleep: frozenset[int]
    done: set[int] = field(default_factory=set[int])


class _Schedule(Scheduler):
    """Before each step: follow ``prefix``, then pick a task that is not asleep.

    With ``nodes`` (depth-first search), the first ``len(prefix)`` steps are the previous
    run's nodes again — a run is deterministic given its choices — so their explored choices
    and sleep sets carry over.  Past the prefix, a new node's sleep set is its parent's
    sleeping and explored tasks whose next effect is independent of the step just taken.
    Without ``rng`` the choice keeps the last task running while it can (few switches).
    """

    preemptive = True
    every_step = True

    def __init__(self, prefix: Sequence[int], nodes: list[_Node] | None, rng: random.Random | None) -> None:
        self.prefix = list(prefix)
        self.nodes = nodes or []
        self.rng = rng
        self.path: list[_Node] = []

    @property
    def taken(self) -> list[int]:
        """The task that took each step of the last run."""
        return [node.chosen for node in self.path]

    def picker(self) -> Picker:
        self.path = []

        def pick(ready: Sequence[Task[Any]]) -> Task[Any]:
            by_id = {t.id: t for t in ready}
            depth = len(self.path)
            forced = self.prefix[depth] if depth < len(self.prefix) else None
            if forced is not None and depth < len(self.nodes) and forced in by_id:
                node = self.nodes[depth]  # the same node as in the previous run
                node.chosen = forced
            else:
                runnable = {t.id: t.pending for t in ready}
                sleep = self._inherited(runnable)
                if forced is not None and forced in by_id:
                    choice = forced
                else:
                    awake = sorted(i for i in by_id if i not in sleep)
                    if not awake:
                        raise _Blocked()
                    last = self.path[-1].chosen if self.path else -1
                    if self.rng is not None:
                        choice = self.rng.choice(awake)
                    else:
                        choice = last if last in awake else awake[0]
                node = _Node(runnable, choice, sleep)
            self.path.append(node)
            return by_id[node.chosen]

        return pick

    def _inherited(self, runnable: dict[int, object]) -> frozenset[int]:
        if not self.path:
            return frozenset()
        parent = self.path[-1]
        ran = parent.runnable[parent.chosen]
        return frozenset(
            u
            for u in parent.sleep | parent.done
            if u != parent.chosen
            and u in runnable
            and independent((u, parent.runnable[u]), (parent.chosen, ran))
        )


@dataclass
class Exploration:
    """What `explore` found.

    Attributes:
        schedules: interleavings run to the end (or to their failure).
        pruned: interleavings cut short as equivalent to one already run (sleep sets).
        exhausted: every interleaving was covered (no failure, budget not reached).
        failure: the first failure found (after shrinking), or ``None``.
        schedule: the task that took each step of the failing run, shrunk.
        forced: how many leading choices of ``schedule`` had to be forced to fail.
        switches: how many times the failing schedule switches between tasks.
        trace: the failing run, recorded; ``fx.replay(program(), trace)`` fails the same way.
        seconds: wall time spent.
    """

    schedules: int = 0
    pruned: int = 0
    exhausted: bool = False
    failure: BaseException | None = None
    schedule: tuple[int, ...] = ()
    forced: int = 0
    switches: int = 0
    trace: Path | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No schedule failed."""
        return self.failure is None

    def raise_for_failure(self) -> None:
        """Raise the failure found (with the report as a note), if any."""
        if self.failure is not None:
            self.failure.add_note(str(self))
            raise self.failure

    def __str__(self) -> str:
        head = (
            f"explored {self.schedules} schedules ({self.pruned} pruned as equivalent) "
            f"in {self.seconds:.2f} s"
        )
        if self.failure is None:
            return head + (": all interleavings pass" if self.exhausted else ": no failure within the budget")
        first = str(self.failure).partition("\n")[0]
        return (
            f"{head}; schedule {self.schedules} fails with {type(self.failure).__name__}: {first}\n"
            f"  shrunk schedule (task per step): {list(self.schedule)} — {self.switches} switches, "
            f"the first {self.forced} steps forced, then each task runs on while it can\n"
            f"  trace: {self.trace}\n"
            f"  reproduce: fx.replay(program(), {str(self.trace)!r})"
        )


def _switches(schedule: Sequence[int]) -> int:
    return sum(1 for a, b in zip(schedule, schedule[1:]) if a != b)


def explore(
    program: Callable[[], Awaitable[Any]],
    interpreter: Callable[[], Interpreter] = _interpreters.testing,
    *,
    budget: int = 1000,
    mode: Literal["exhaustive", "random"] = "exhaustive",
    seed: int = 0,
    trace: str | os.PathLike[str] | None = None,
) -> Exploration:
    """Run ``program()`` under many interleavings of its tasks; report the first that fails.

    Args:
        program: makes the program afresh for each run (a lambda or an ``async def``).
        interpreter: makes a fresh interpreter for each run (default ``fx.testing``), so no
            run sees another's state.
        budget: at most this many runs.
        mode: ``"exhaustive"`` enumerates interleavings depth first, skipping ones that only
            reorder independent steps; ``"random"`` samples them with a generator seeded by
            ``seed``.
        trace: where to write the failing run's trace (default: a new temporary file).

    >>> import effectus as fx
    >>> async def bump() -> None:
    ...     n = await fx.Get("n", 0)
    ...     await fx.Put("n", n + 1)
    >>> async def twice() -> None:
    ...     a, b = await fx.Spawn(bump()), await fx.Spawn(bump())
    ...     await fx.Join(a)
    ...     await fx.Join(b)
    ...     assert await fx.Get("n", 0) == 2, "lost update"
    >>> report = fx.explore(twice)
    >>> type(report.failure).__name__, report.switches <= 4
    ('AssertionError', True)
    >>> fx.replay(twice(), report.trace)
    Traceback (most recent call last):
    ...
    AssertionError: lost update
    """
    if budget < 1:
        raise ValueError(f"explore(budget={budget!r}): budget must be >= 1")
    if mode not in ("exhaustive", "random"):
        raise ValueError(f"explore(mode={mode!r}): mode must be 'exhaustive' or 'random'")
    started = time.perf_counter()
    report = Exploration()
    prefix: list[int] = []
    nodes: list[_Node] = []
    rng = random.Random(seed) if mode == "random" else None
    taken: list[int] = []
    while report.schedules + report.pruned < budget:
        scheduler = _Schedule(prefix, nodes if rng is None else None, rng)
        failure = _run(program, interpreter, scheduler)
        taken = scheduler.taken
        if isinstance(failure, _Blocked):
            report.pruned += 1
        else:
            report.schedules += 1
            if failure is not None:
                report.failure = failure
                break
        if rng is not None:
            continue
        nodes = scheduler.path
        nxt = _backtrack(nodes)
        if nxt is None:
            report.exhausted = True
            break
        prefix = nxt
    if report.failure is not None:
        _shrink(program, interpreter, report, taken)
        report.trace = _record(program, interpreter, report, trace)
    report.seconds = time.perf_counter() - started
    return report


def _run(program: Callable[[], Awaitable[Any]], interpreter: Callable[[], Interpreter], scheduler: Scheduler) -> BaseException | None:
    try:
        interpreter().with_handlers(scheduler=scheduler).run(program())
    except _Blocked as blocked:
        return blocked
    except Exception as err:  # any failure of the program is a finding
        return err
    return None


def _backtrack(nodes: list[_Node]) -> list[int] | None:
    """The prefix of the next schedule: the deepest node with an unexplored, awake choice."""
    for depth in range(len(nodes) - 1, -1, -1):
        node = nodes[depth]
        node.done.add(node.chosen)
        left = sorted(t for t in node.runnable if t not in node.done and t not in node.sleep)
        if left:
            del nodes[depth + 1 :]
            return [n.chosen for n in nodes[:depth]] + [left[0]]
    return None


def _shrink(program: Callable[[], Awaitable[Any]], interpreter: Callable[[], Interpreter], report: Exploration, schedule: list[int]) -> None:
    """Fewest forced choices, then fewest switches, that still fail with the same error type."""
    kind = type(report.failure)

    def attempt(prefix: list[int]) -> tuple[BaseException, list[int]] | None:
        scheduler = _Schedule(prefix, None, None)
        failure = _run(program, interpreter, scheduler)
        if failure is not None and type(failure) is kind:
            return failure, scheduler.taken
        return None

    best: tuple[BaseException, list[int], int] | None = None
    for k in range(len(schedule) + 1):  # the shortest forced prefix that still fails
        found = attempt(schedule[:k])
        if found is not None:
            best = (found[0], found[1], k)
            break
    if best is None:
        best = (report.failure or RuntimeError(), schedule, len(schedule))
    failure, taken, forced = best
    for i in range(forced - 1, -1, -1):  # let each forced step follow the default instead
        candidate = taken[:i] + taken[i + 1 : forced]
        found = attempt(candidate)
        if found is not None and _switches(found[1]) <= _switches(taken):
            failure, taken, forced = found[0], found[1], len(candidate)
    report.failure = failure
    report.schedule = tuple(taken)
    report.forced = forced
    report.switches = _switches(taken)


def _record(program: Callable[[], Awaitable[Any]], interpreter: Callable[[], Interpreter], report: Exploration, path: str | os.PathLike[str] | None) -> Path:
    if path is None:
        handle, name = tempfile.mkstemp(prefix="effectus-explore-", suffix=".jsonl")
        os.close(handle)
        path = name
    scheduler = _Schedule(list(report.schedule), None, None)
    recorder = record(interpreter().with_handlers(scheduler=scheduler), path)
    try:
        recorder.run(program())
    except Exception:
        pass  # the failure, now on the trace
    return Path(path)
