"""Task effects: `Spawn` a program as a task, `Join` it, `Cancel` it, `Wait` for several.

Guarantees: each is answered by the run's scheduler (a handler may take them instead); a
task's outcome is taken exactly once — a second `Join` raises `TaskError` at its ``await``,
as does cancelling a task that has finished; misuse never blocks, it raises.
"""

from __future__ import annotations

import types
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard, TypeVar, cast

from effectus.core._codec import JSON, register_codec
from effectus.core._effect import Effect, Trap
from effectus.core._loop import Cancelled, Loop, Task, TaskError
from effectus.core._run import as_coroutine
from effectus.core._stack import Handle
from effectus.core._tool import Call

__all__ = ["Cancel", "Join", "Spawn", "Wait"]

R = TypeVar("R")


def _task_of(value: object, where: str, loop: Loop) -> Task[Any]:
    if not _is_task(value):
        raise TypeError(
            f"{where} takes a task made by `await fx.Spawn(...)`; got {value!r} "
            f"(type={type(value).__qualname__})."
        )
    task = value
    if task.loop is not loop:
        raise TaskError(
            f"{where}: {task.describe()} belongs to another run; a task lives only as long as "
            f"the run that spawned it.\nFix: spawn and join it within one fx.run(...)."
        )
    return task


def _is_task(value: object) -> TypeGuard[Task[Any]]:
    # A type guard: isinstance would leave the type argument unknown to pyright.
    return isinstance(value, Task)


def _outcome(task: Task[R], joiner: Task[Any]) -> R:
    if task.ok:
        # Linear values the task returned now belong to the joiner.
        for value in task.returned:
            if not value.used:
                value.transfer(joiner)
        return cast(R, task.outcome)
    raise cast(BaseException, task.outcome)


@dataclass(frozen=True, eq=False)
class Spawn(Trap[Task[R]]):
    """Start ``program`` as a task running alongside this one; answers its `Task`.

    The task runs under the same handlers, and starts when the scheduler gets to it: under
    ``fx.production()`` when this task next blocks, under ``fx.testing()`` at a seeded point.
    Recorded with the program's name; replay spawns it again.

    >>> import effectus as fx
    >>> async def square(x: int) -> int:
    ...     return x * x
    >>> async def main() -> list[int]:
    ...     tasks = [await fx.Spawn(square(x)) for x in range(4)]
    ...     return [await fx.Join(t) for t in tasks]
    >>> fx.run(main(), fx.testing())
    [0, 1, 4, 9]

    Args:
        program: the program to run (a coroutine, or a tool call).
        name: how messages and `Deadlock` reports name the task (default: the function's).
    """

    program: Awaitable[R]
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"Spawn(name={self.name!r}): name must be a str")
        if not isinstance(self.program, (types.CoroutineType, Call, Handle, Effect)):
            _ = as_coroutine(self.program, "fx.Spawn")  # raises: a wrong program fails here

    def task_name(self) -> str:
        """The name the task gets: ``name``, else the tool's, else the function's (or "" to let
        the loop name it after its coroutine)."""
        if self.name:
            return self.name
        program = self.program
        return getattr(program.tool, "__name__", "") if isinstance(program, Call) else ""

    def discard(self) -> None:
        program = self.program
        coro = program.coro if isinstance(program, Call) else program
        if isinstance(coro, types.CoroutineType):
            coro.close()  # never started: no "coroutine was never awaited" warning

    def perform(self, loop: Loop) -> Task[R]:
        current = loop.current
        assert current is not None
        task: Task[R] = loop.spawn(as_coroutine(self.program, "fx.Spawn"), current.stack, self.task_name())
        if loop.preemptive:
            raise loop.reschedule(task)  # the new task may run first
        return task


@dataclass(frozen=True, eq=False)
class Join(Trap[R]):
    """Wait for ``task`` to finish; answer its result, or raise its exception here.

    A task's outcome can be taken once: joining it again raises `TaskError`.  A task that
    was cancelled raises `Cancelled`.  Recorded with the task's number; replay joins again.

    >>> import effectus as fx
    >>> async def boom() -> int:
    ...     raise ValueError("no")
    >>> async def main() -> str:
    ...     t = await fx.Spawn(boom())
    ...     try:
    ...         await fx.Join(t)
    ...     except ValueError as e:
    ...         return f"caught {e}"
    ...     return "unreachable"
    >>> fx.run(main())
    'caught no'
    """

    task: Task[R]

    def perform(self, loop: Loop) -> R:
        task: Task[R] = _task_of(self.task, "fx.Join", loop)
        me = loop.current
        assert me is not None
        if task is me:
            raise TaskError(f"{task.describe()} tried to join itself, which can never finish.")
        if task.joined:
            raise TaskError(
                f"{task.describe()} was already joined; its outcome can be taken once.\n"
                f"Fix: keep the result of the first `await fx.Join(task)`."
            )
        task.joined = True
        if task.done:
            return _outcome(task, me)

        def finished(t: Task[Any]) -> None:
            try:
                value: object = _outcome(t, me)
            except BaseException as err:
                loop.wake(me, False, err)
                return
            loop.wake(me, True, value)

        def undo() -> None:
            task.watchers.remove(finished)
            task.joined = False

        task.watchers.append(finished)
        raise loop.park(f"join {task.describe()}", undo)


@dataclass(frozen=True, eq=False)
class Cancel(Trap[None]):
    """Cancel ``task``: `Cancelled` is raised inside it at its next ``await``.

    Its linear resources are released; joining it raises `Cancelled`.  Cancelling a task
    that has already finished raises `TaskError` (check ``task.done`` first).

    >>> import effectus as fx
    >>> async def forever() -> None:
    ...     while True:
    ...         await fx.Sleep(1)
    >>> async def main() -> str:
    ...     t = await fx.Spawn(forever())
    ...     await fx.Sleep(3)
    ...     await fx.Cancel(t)
    ...     try:
    ...         await fx.Join(t)
    ...     except fx.Cancelled:
    ...         return "cancelled"
    ...     return "unreachable"
    >>> fx.run(main(), fx.testing())
    'cancelled'
    """

    task: Task[Any]

    def perform(self, loop: Loop) -> None:
        task = _task_of(self.task, "fx.Cancel", loop)
        if task.done:
            how = "returned" if task.ok else f"raised {type(task.outcome).__name__}"
            raise TaskError(
                f"cannot cancel {task.describe()}: it has already finished ({how}).\n"
                f"Fix: check `task.done` before cancelling, or join it for its outcome."
            )
        if task is loop.current:
            raise Cancelled(f"{task.describe()} cancelled itself")
        loop.cancel(task)


@dataclass(frozen=True, eq=False)
class Wait(Trap[tuple[Task[Any], ...]]):
    """Wait until the first of ``tasks`` finishes (``until="first"``) or all of them do.

    Answers the finished tasks, in the order given; join them for their results (a failed
    task's error is not raised by `Wait`).

    >>> import effectus as fx
    >>> async def nap(s: float) -> float:
    ...     await fx.Sleep(s)
    ...     return s
    >>> async def main() -> float:
    ...     slow, fast = await fx.Spawn(nap(5)), await fx.Spawn(nap(1))
    ...     done = await fx.Wait((slow, fast), until="first")
    ...     await fx.Cancel(slow)
    ...     return await fx.Join(done[0])
    >>> fx.run(main(), fx.testing())
    1
    """

    tasks: Sequence[Task[Any]]
    until: Literal["first", "all"] = "all"

    def __post_init__(self) -> None:
        if self.until not in ("first", "all"):
            raise ValueError(f"Wait(until={self.until!r}): until must be 'first' or 'all'")
        if isinstance(self.tasks, Task) or not isinstance(self.tasks, Sequence):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"Wait takes a sequence of tasks, e.g. Wait((a, b)); got {self.tasks!r}")
        object.__setattr__(self, "tasks", tuple(self.tasks))
        if not self.tasks:
            raise ValueError("Wait(()) would wait for nothing: give at least one task")

    def perform(self, loop: Loop) -> tuple[Task[Any], ...]:
        tasks = [_task_of(t, "fx.Wait", loop) for t in self.tasks]
        me = loop.current
        assert me is not None
        if me in tasks:
            raise TaskError(f"{me.describe()} cannot wait for itself")

        def ready() -> tuple[Task[Any], ...] | None:
            done = tuple(t for t in tasks if t.done)
            enough = bool(done) if self.until == "first" else len(done) == len(tasks)
            return done if enough else None

        now = ready()
        if now is not None:
            return now

        def finished(_: Task[Any]) -> None:
            answer = ready()
            if answer is not None:
                undo()
                loop.wake(me, True, answer)

        def undo() -> None:
            for t in tasks:
                if finished in t.watchers:
                    t.watchers.remove(finished)

        for t in tasks:
            if not t.done:
                t.watchers.append(finished)
        names = ", ".join(t.describe() for t in tasks if not t.done)
        raise loop.park(f"{'the first of' if self.until == 'first' else 'all of'}: {names}", undo)


def _encode_task(task: Task[Any]) -> JSON:
    return [task.id, task.name]


def _decode_task(data: JSON) -> str:
    # Traces name tasks; a replay spawns them again rather than decoding them.
    number, name = cast(list[Any], data)
    return f"<task #{number} {name!r}>"


register_codec(Task, "task", _encode_task, _decode_task)


def _encode_program(program: Any) -> JSON:
    # Recorded by name, which is what a replay compares; the replay runs the program it is given.
    code = getattr(program, "cr_code", None) or getattr(getattr(program, "coro", None), "cr_code", None)
    return getattr(code, "co_qualname", type(program).__qualname__)


register_codec(types.CoroutineType, "program", _encode_program, str)
register_codec(Call, "call", _encode_program, str)
