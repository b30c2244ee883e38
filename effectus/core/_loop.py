"""The scheduler: runs a program and the tasks it spawns, on one thread, one step at a time.

Guarantees: a run with a single task costs what the bare interpreter loop costs (the task is
driven by the same ``send``/lookup/call loop until it finishes); with several tasks, the
`Cooperative` scheduler runs each until it blocks (FIFO) and may move blocking handler calls
to worker threads, while `Seeded` switches task before every effect, choosing by a seeded
generator, so a run is a pure function of the program, its handlers and the seed.  When every
task is blocked the run fails with `Deadlock`, naming what each task waits for.

Why one module of ~700 lines: the hot loop (`Loop.step`) and the bookkeeping it hands off to
(parking, waking, finishing, cancelling tasks) share the task's private state; splitting them
would make that state public.
"""

from __future__ import annotations

import dis
import heapq
import itertools
import queue
import random
import threading
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from types import CodeType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from effectus.core._effect import Trap
from effectus.core._errors import Deadlock, EffectusError, InternalError, LinearityError
from effectus.core._site import describe_site, throw_into
from effectus.core._stack import Handle, Push, Stack, Suspend, set_running_loop
from effectus.core._tool import Call

if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import Future, ThreadPoolExecutor  # imports logging: lazily

__all__ = [
    "Cancelled",
    "Cooperative",
    "Loop",
    "Picker",
    "Scheduler",
    "Seeded",
    "Suspend",
    "Task",
    "TaskError",
    "drive",
    "program_name",
]

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

_CONTROL: frozenset[type] = frozenset({Call, Handle})
_NOTHING: Any = object()  # no pending request

_READY, _RUNNING, _BLOCKED, _DONE = "ready", "running", "blocked", "done"


class Cancelled(EffectusError):
    """Raised inside a task at its ``await`` when another task cancels it (`Cancel`).

    A task may catch it to clean up, and should then re-raise it; joining a cancelled task
    raises it again.
    """


class TaskError(EffectusError, RuntimeError):
    """A task was used wrongly: joined twice, cancelled after it finished, joined by itself,
    or failed without anybody joining it."""


Cancelled.__module__ = TaskError.__module__ = "effectus"


class Task(Generic[R_co]):
    """A program running concurrently with the one that spawned it (see `Spawn`).

    Get its result with ``await fx.Join(task)``; stop it with ``await fx.Cancel(task)``.
    A task's fields are the scheduler's; read `id`, `name` and `done`.
    """

    __slots__ = (
        "id", "name", "loop", "coro", "stack", "frames", "in_handler", "value", "error",
        "pending", "state", "waiting", "on_cancel", "callbacks", "ok", "outcome", "joined",
        "watchers", "linear", "cancelling", "ticket", "returned",
    )

    def __init__(self, loop: Loop, id: int, name: str, coro: Coroutine[Any, Any, Any], stack: Stack) -> None:
        self.id = id
        self.name = name
        self.loop = loop
        self.coro = coro
        self.stack = stack
        self.frames: list[tuple[Coroutine[Any, Any, Any], Stack, bool]] = []
        self.in_handler = False  # running an async handler's program (asyncio may be awaited)
        self.value: object = None  # what to send in next
        self.error: BaseException | None = None  # or to raise in next
        self.pending: object = _NOTHING  # under Seeded: the effect it will perform next
        self.state = _READY
        self.waiting: str | Callable[[], str] = ""  # what it is blocked on, in words
        self.on_cancel: Callable[[], None] | None = None  # undoes the wait when cancelled
        self.callbacks: list[Callable[[bool, object], None]] = []
        self.ok = False
        self.outcome: object = None
        self.joined = False  # its outcome was taken by Join or seen by Wait
        self.watchers: list[Callable[[Task[Any]], None]] = []  # told when it finishes
        self.linear: list[Any] = []  # live linear values it holds, oldest first
        self.returned: list[Any] = []  # linear values it returned, for its joiner to own
        self.cancelling = False
        self.ticket = 0  # counts parks: a late answer to an earlier wait is ignored

    @property
    def done(self) -> bool:
        """Whether the task has finished (returned, raised or was cancelled)."""
        return self.state is _DONE

    def waits_for(self) -> str:
        """What the task is blocked on, in words."""
        waiting = self.waiting
        return waiting if isinstance(waiting, str) else waiting()

    def describe(self) -> str:
        """``task #1 'worker'``: how messages name the task."""
        return f"task #{self.id} {self.name!r}"

    def __repr__(self) -> str:
        state = self.state
        if state is _BLOCKED:
            state = f"blocked: {self.waits_for()}"
        elif state is _DONE:
            state = "returned" if self.ok else f"raised {type(self.outcome).__name__}"
        return f"<Task #{self.id} {self.name!r} {state}>"


Picker = Callable[[Sequence[Task[Any]]], Task[Any]]


class Scheduler:
    """How a run chooses the next task; set with ``fx.Interpreter(..., scheduler=...)``."""

    #: switch task before every effect (else: run each task until it blocks)
    preemptive: bool = False
    #: worker threads for ``blocking=True`` handler methods (0: run them inline)
    threads: int = 0
    #: (preemptive only) consult the picker even when one task can run: it sees every step
    every_step: bool = False

    def picker(self) -> Picker | None:
        """A fresh chooser for one run (``None``: first come, first served)."""
        return None


class Cooperative(Scheduler):
    """Run each task until it blocks, first come first served (like asyncio).

    Args:
        threads: run ``@handles(..., blocking=True)`` methods on up to this many worker
            threads while other tasks go on (``fx.production()`` uses 8); 0 runs them inline.

    >>> Cooperative(threads=4)
    Cooperative(threads=4)
    """

    def __init__(self, threads: int = 0) -> None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValueError(f"Cooperative(threads={threads!r}): threads must be an int >= 0")
        self.threads = threads

    def __repr__(self) -> str:
        return f"Cooperative(threads={self.threads})"


class Seeded(Scheduler):
    """Switch task before every effect, choosing among the ready ones with a seeded generator.

    The same seed gives the same interleaving; ``fx.testing(seed)`` uses ``Seeded(seed)``.
    `fx.explore` enumerates interleavings instead of sampling one.

    >>> Seeded(7)
    Seeded(7)
    """

    preemptive = True

    def __init__(self, seed: int = 0) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"Seeded(seed={seed!r}): seed must be an int")
        self.seed = seed

    def picker(self) -> Picker:
        rng = random.Random(self.seed)

        def pick(ready: Sequence[Task[Any]]) -> Task[Any]:
            return ready[rng.randrange(len(ready))] if len(ready) > 1 else ready[0]

        return pick

    def __repr__(self) -> str:
        return f"Seeded({self.seed})"


_DEFAULT = Cooperative()
_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(size: int) -> ThreadPoolExecutor:
    # One pool per size for the process: threads start lazily and are reused across runs.
    from concurrent.futures import ThreadPoolExecutor

    with _pools_lock:
        pool = _pools.get(size)
        if pool is None:
            pool = _pools[size] = ThreadPoolExecutor(size, thread_name_prefix="effectus")
        return pool


class Loop:
    """The tasks of one run and the order they run in."""

    def __init__(self, stack: Stack, scheduler: Scheduler | None = None) -> None:
        scheduler = scheduler or stack.scheduler or _DEFAULT
        self.stack = stack
        self.scheduler = scheduler
        self.preemptive = scheduler.preemptive
        self.pick = scheduler.picker()
        self.every_step = scheduler.every_step
        self.threads = scheduler.threads
        self.tasks: list[Task[Any]] = []
        self.ready: deque[Task[Any]] = deque()  # to step next
        self.runnable: list[Task[Any]] = []  # Seeded: ready, with the effect they will perform
        self.current: Task[Any] | None = None
        self.live = 0
        self.outstanding = 0  # answers awaited from threads or asyncio
        # (task, its ticket when it parked, ok, answer) from worker threads and asyncio
        self.completions: queue.SimpleQueue[tuple[Task[Any], int, bool, object]] = queue.SimpleQueue()
        self.timers: list[tuple[float, int, Task[Any], Callable[[], None]]] = []
        self._seq = itertools.count()
        self.bridge: asyncio.AbstractEventLoop | None = None
        self._signal: asyncio.Event | None = None
        self.decisions = 0  # scheduling choices made among two or more tasks
        # Whether the running program may answer traps inside their own `__await__` (channel
        # operations that need not wait): the scheduler runs each task until it blocks, and
        # no handler, recording or replay has to see traps.  Kept current by `step`.
        self.inline = False
        self._inline_ok = not scheduler.preemptive
        self.serial = itertools.count()  # numbers what a run creates (channels), alike on replay

    # --- tasks ------------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, R], stack: Stack, name: str = "") -> Task[R]:
        """A new task running ``coro`` under ``stack``; it starts when scheduled."""
        task: Task[R] = Task(self, len(self.tasks), name or program_name(coro), coro, stack)
        self.tasks.append(task)
        self.live += 1
        self.ready.append(task)
        return task

    def park(self, reason: str | Callable[[], str], on_cancel: Callable[[], None] | None = None) -> Suspend:
        """Block the running task; raise the result.

        ``reason`` (or what it returns, when it is a function: formatted only if needed)
        says what the task waits for, in `Deadlock` reports.
        """
        task = self.current
        if task is None:
            raise InternalError("park() outside a running task")
        task.waiting = reason
        task.on_cancel = on_cancel
        task.ticket += 1
        return Suspend(reason)

    def wake(self, task: Task[Any], ok: bool, value: object) -> None:
        """Resume a parked ``task`` with ``value`` (or raise it, when not ``ok``)."""
        if task.state is _DONE:
            return
        if ok:
            task.value = value
        else:
            task.error = value if isinstance(value, BaseException) else InternalError(f"bad error {value!r}")
        task.waiting = ""
        task.on_cancel = None
        callbacks, task.callbacks = task.callbacks, []
        if task.state is _BLOCKED:
            task.state = _READY
            self.ready.append(task)
        elif task.state is _RUNNING:
            task.state = _READY  # woken before it finished parking: `step` requeues it
        for callback in callbacks:
            callback(ok, value)

    def reschedule(self, value: object) -> Suspend:
        """Let other tasks run before the running task goes on with ``value``."""
        task = self.current
        if task is None:
            raise InternalError("reschedule() outside a running task")
        suspend = self.park("nothing (yielded)")
        self.wake(task, True, value)
        return suspend

    def cancel(self, task: Task[Any]) -> None:
        """Raise `Cancelled` inside ``task`` at its next step."""
        if task.state is _DONE or task.cancelling:
            return
        task.cancelling = True
        err = Cancelled(f"{task.describe()} was cancelled")
        if task.state is _BLOCKED:
            undo = task.on_cancel
            if undo is not None:
                undo()
            self.wake(task, False, err)
        elif task.pending is not _NOTHING:
            # Seeded: the effect it was about to perform is dropped; raise at that await.
            discard_trap(task.pending)
            task.pending = _NOTHING
            if task in self.runnable:
                self.runnable.remove(task)
            task.error = err
            self.ready.append(task)
        else:
            task.error = err

    def offloads(self) -> bool:
        """Whether a blocking handler call should move to a worker thread now."""
        return self.threads > 0 and self.live > 1

    def offload(self, method: Callable[[Any], Any], effect: object) -> Suspend:
        """Run ``method(effect)`` on a worker thread; the running task waits for it."""
        task = self.current
        if task is None:
            raise InternalError("offload() outside a running task")
        suspend = self.park(f"{type(effect).__name__} on a worker thread")
        ticket = task.ticket
        self.outstanding += 1
        future = _pool(self.threads).submit(method, effect)
        future.add_done_callback(lambda f: self._completed(task, ticket, f))
        return suspend

    def _completed(self, task: Task[Any], ticket: int, future: Future[Any]) -> None:
        # On the worker thread: hand the answer to the loop's thread.
        err = future.exception()
        self.completions.put((task, ticket, err is None, future.result() if err is None else err))
        if self.bridge is not None and self._signal is not None:
            self.bridge.call_soon_threadsafe(self._signal.set)

    def await_future(self, future: asyncio.Future[Any] | None) -> Suspend:
        """Under `run_async`: the running task waits for an asyncio ``future``.

        ``None`` (the bare ``yield`` of ``asyncio.sleep(0)``) waits one turn of the event loop.
        """
        task = self.current
        if task is None or self.bridge is None:
            raise InternalError("await_future() outside a running task of run_async")
        if future is None:
            suspend = self.park("a turn of the asyncio event loop")
            ticket = task.ticket
            self.outstanding += 1
            self.bridge.call_soon(self._turned, task, ticket)
            return suspend
        def undo() -> None:
            future.cancel()

        suspend = self.park(f"asyncio {future!r}", undo)
        ticket = task.ticket
        self.outstanding += 1
        future._asyncio_future_blocking = False  # what asyncio.Task does before waiting

        def done(_: object) -> None:
            # asyncio's protocol: resume with None; the future's __await__ reads its result.
            self.completions.put((task, ticket, True, None))
            if self._signal is not None:
                self._signal.set()

        future.add_done_callback(done)
        return suspend

    def _turned(self, task: Task[Any], ticket: int) -> None:
        self.completions.put((task, ticket, True, None))
        if self._signal is not None:
            self._signal.set()

    def sleep_until(self, deadline: float, on_fire: Callable[[], None]) -> Suspend:
        """Park the running task until virtual time ``deadline``; ``on_fire`` moves the clock."""
        task = self.current
        if task is None:
            raise InternalError("sleep_until() outside a running task")
        entry = (deadline, next(self._seq), task, on_fire)
        heapq.heappush(self.timers, entry)

        def undo() -> None:
            self.timers.remove(entry)
            heapq.heapify(self.timers)

        return self.park(f"sleep until virtual time {deadline}", undo)

    # --- the hot loop -----------------------------------------------------------------------

    def step(self, task: Task[Any]) -> None:
        """Run ``task`` until it blocks or finishes (`Seeded`: until its next effect)."""
        self.current = task
        task.state = _RUNNING
        coro = task.coro
        stack = task.stack
        frames = task.frames
        in_handler = task.in_handler
        tape = stack.tape
        if tape is not None:
            tape.coro = coro
            tape.task = task.id
        table = stack.table
        send = coro.send
        value = task.value
        error = task.error
        task.value = task.error = None
        request = task.pending
        task.pending = _NOTHING
        first = request is not _NOTHING  # a request chosen earlier, to handle now
        preemptive = self.preemptive
        inline_ok = self._inline_ok
        self.inline = inline_ok and stack.traps_inline and tape is None
        resolved: Callable[[Any], Any] | None = None  # the entry found for a missed request
        while True:
            try:
                if error is not None:
                    pending, error = error, None
                    request = throw_into(coro, pending)
                    if preemptive and request.__class__ not in _CONTROL:
                        return self._preempted(task, coro, stack, in_handler, request)
                    value = table[request.__class__](request)
                elif resolved is not None:
                    entry, resolved = resolved, None
                    value = entry(request)
                elif first:
                    first = False
                    value = table[request.__class__](request)
                if preemptive:
                    while True:
                        request = send(value)
                        if request.__class__ not in _CONTROL:
                            return self._preempted(task, coro, stack, in_handler, request)
                        value = table[request.__class__](request)
                while True:
                    request = send(value)
                    if request.__class__ is Suspend:  # the program parked itself (`inline`)
                        break
                    value = table[request.__class__](request)
                task.coro, task.stack, task.in_handler = coro, stack, in_handler
                self._parked(task, request)
                return None
            except Push as push:
                frames.append((coro, stack, in_handler))
                coro = push.coro
                stack = task.stack = push.stack  # traps (Spawn) read the task's stack
                in_handler = in_handler or push.handler
                table = stack.table
                send = coro.send
                value = None
                tape = stack.tape
                if tape is not None:
                    tape.coro = coro
                self.inline = inline_ok and stack.traps_inline and tape is None
            except Suspend as suspend:
                task.coro, task.stack, task.in_handler = coro, stack, in_handler
                self._parked(task, suspend)
                return None
            except BaseException as failure:
                tb = failure.__traceback__
                resumed = tb is not None and tb.tb_lineno in _RESUME_LINES
                tb = None  # (the traceback holds this frame: kept, it would keep the result alive)
                if resumed:
                    # The program itself returned or raised.
                    if not frames:
                        task.coro = coro
                        return self._finish(task, type(failure) is StopIteration, failure)
                    if type(failure) is StopIteration:
                        value = failure.value
                    else:
                        error = failure
                    coro, stack, in_handler = frames.pop()
                    task.stack = stack
                    table = stack.table
                    send = coro.send
                    tape = stack.tape
                    if tape is not None:
                        tape.coro = coro
                    self.inline = inline_ok and stack.traps_inline and tape is None
                elif type(failure) is KeyError and request.__class__ not in table:
                    # A miss: the handler never ran.
                    bridge = self.bridge
                    if bridge is not None and in_handler and _is_asyncio_future(request):
                        task.coro, task.stack, task.in_handler = coro, stack, in_handler
                        self._parked(task, self.await_future(cast("asyncio.Future[Any] | None", request)))
                        return None
                    resolved = stack.resolve(request, coro)
                else:
                    error = failure  # the handler raised
                    if isinstance(failure, EffectusError):
                        failure.locate(describe_site(coro))

    def _preempted(self, task: Task[Any], coro: Coroutine[Any, Any, Any], stack: Stack, in_handler: bool, request: object) -> None:
        task.coro, task.stack, task.in_handler = coro, stack, in_handler
        task.pending = request
        task.state = _READY
        self.runnable.append(task)

    def _parked(self, task: Task[Any], suspend: Suspend) -> None:
        if task.state is _READY:  # woken already (reschedule, or an answer that came at once)
            if task.error is None:
                for callback in suspend.callbacks:
                    callback(True, task.value)
            else:
                for callback in suspend.callbacks:
                    callback(False, task.error)
            self.ready.append(task)
            return
        task.state = _BLOCKED
        task.waiting = task.waiting or suspend.reason
        task.callbacks = suspend.callbacks

    def _finish(self, task: Task[Any], ok: bool, failure: BaseException) -> None:
        outcome: object = failure.value if ok and isinstance(failure, StopIteration) else failure
        if ok and task.linear:
            # Linear values the task returns are not leaked: they go to whoever joins it.
            task.returned = returned_linear(outcome, task.linear)
            for value in task.returned:
                value.transfer(None)
        if task.linear:
            cleanup = _release_live(task, ok, outcome)
            if cleanup is not None:
                # Run the releases on the task itself, then finish with the outcome they give.
                task.coro = cleanup
                task.frames.clear()
                task.in_handler = False
                task.value = None
                task.state = _READY
                self.ready.append(task)
                return
        task.state = _DONE
        task.ok = ok
        task.outcome = outcome
        task.coro.close()
        self.live -= 1
        watchers, task.watchers = task.watchers, []
        for watcher in watchers:
            watcher(task)

    # --- running ----------------------------------------------------------------------------

    def _next(self) -> Task[Any] | None:
        ready = self.ready
        if not self.preemptive:
            return ready.popleft() if ready else None
        while ready:  # bring each ready task to its next effect (performing none)
            self.step(ready.popleft())
        runnable = self.runnable
        if not runnable:
            return None
        if self.pick is None or (len(runnable) == 1 and not self.every_step):
            chosen = runnable[0]
        else:
            self.decisions += len(runnable) > 1
            chosen = self.pick(runnable)
        runnable.remove(chosen)
        return chosen

    def _idle(self, main: Task[Any], *, block: bool) -> bool:
        """Nothing is ready: end the run (False), or make a task ready (True)."""
        if self.outstanding:
            if not block:
                return True  # the caller waits on the event loop
            self._take(self.completions.get())
            return True
        if main.state is _DONE and self.live == 0:
            return False
        if main.state is _DONE:
            for task in self.tasks:  # children do not outlive the run
                self.cancel(task)
            if self.ready or self.runnable:
                return True
        if self.timers:
            _, _, task, on_fire = heapq.heappop(self.timers)
            on_fire()
            self.wake(task, True, None)
            return True
        raise self._deadlock()

    def _take(self, item: tuple[Task[Any], int, bool, object]) -> None:
        self.outstanding -= 1
        task, ticket, ok, value = item
        if task.ticket == ticket and task.state is _BLOCKED:  # else: cancelled meanwhile
            self.wake(task, ok, value)

    def _drain(self) -> None:
        while True:
            try:
                item = self.completions.get_nowait()
            except queue.Empty:
                return
            self._take(item)

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` as the main task, and every task it spawns, to the end."""
        main = self.spawn(coro, self.stack, "main")
        previous = set_running_loop(self)
        # A run nested in a handler: the outer loop's program is not the one running now.
        outer = previous if previous is not None and previous.inline else None
        if outer is not None:
            outer.inline = False
        try:
            while True:
                task = self._next()
                if task is not None:
                    self.step(task)
                elif not self._idle(main, block=True):
                    break
        except BaseException:
            self._abandon()
            raise
        finally:
            self.current = None
            self.inline = False
            set_running_loop(previous)
            if outer is not None:
                outer.inline = True
        return self._result(main)

    async def run_async(self, coro: Coroutine[Any, Any, Any], bridge: asyncio.AbstractEventLoop) -> Any:
        """`run`, inside an asyncio application: waits for threads and futures on ``bridge``."""
        import asyncio

        self.bridge = bridge
        self._signal = asyncio.Event()
        main = self.spawn(coro, self.stack, "main")
        try:
            while True:
                previous = set_running_loop(self)
                try:
                    self._drain()
                    task = self._next()
                    while task is not None:
                        self.step(task)
                        self._drain()
                        task = self._next()
                    more = self._idle(main, block=False)
                finally:
                    self.current = None
                    self.inline = False
                    set_running_loop(previous)
                if not more:
                    break
                if self.outstanding and self.completions.empty():
                    self._signal.clear()
                    await self._signal.wait()
        except BaseException:
            self._abandon()
            raise
        return self._result(main)

    def _result(self, main: Task[Any]) -> Any:
        lost = [t for t in self.tasks[1:] if not t.ok and not t.joined and not isinstance(t.outcome, Cancelled)]
        if not main.ok:
            err = main.outcome
            assert isinstance(err, BaseException)
            for t in lost:
                err.add_note(f"{t.describe()} also failed, unjoined: {type(t.outcome).__name__}: {t.outcome}")
            raise err
        if lost:
            first = lost[0]
            cause = first.outcome
            assert isinstance(cause, BaseException)
            raise TaskError(
                f"{first.describe()} raised {type(cause).__name__}: {cause}, and nobody joined it\n"
                f"Fix: `await fx.Join(task)` every task you spawn (or catch the error inside it)."
            ) from cause
        outcome = main.outcome
        # Tasks and their loop refer to each other: let go of the values they hold, so that the
        # result is freed when the caller drops it (by reference counting, not the cyclic GC: a
        # large array would otherwise keep its memory until the next collection).
        for task in self.tasks:
            task.outcome = None
        return outcome

    def _deadlock(self) -> Deadlock:
        blocked = [t for t in self.tasks if t.state is _BLOCKED]
        lines = ["every task is blocked; none can make progress"]
        for t in blocked:
            lines.append(f"  {t.describe()} at {describe_site(t.coro)}")
            lines.append(f"      waits for: {t.waits_for()}")
        for t in self.tasks:
            if t.state is _DONE and not t.ok and not t.joined:
                first = str(t.outcome).partition("\n")[0]
                lines.append(f"  {t.describe()} raised {type(t.outcome).__name__}: {first}")
        lines.append(
            "Fix: make sure each receive has a matching send and each join a task that can "
            "finish; fx.explore(...) finds the interleaving that leads here."
        )
        err = Deadlock("\n".join(lines))
        for t in blocked:  # a recording notes that these effects ended in the deadlock
            callbacks, t.callbacks = t.callbacks, []
            for callback in callbacks:
                callback(False, err)
        return err

    def _abandon(self) -> None:
        # The run is over with tasks unfinished: close their programs quietly.
        for t in self.tasks:
            if t.state is not _DONE:
                t.state = _DONE
                discard_trap(t.pending)
                for c in [t.coro, *(f[0] for f in t.frames)]:
                    try:
                        c.close()
                    except BaseException:  # a program that awaits in `finally` cannot finish
                        pass


def returned_linear(outcome: object, live: Sequence[Any]) -> list[Any]:
    """The live linear values among ``outcome``, or the items of a returned tuple, list or dict."""
    if isinstance(outcome, (tuple, list)):
        candidates: list[object] = list(cast("tuple[object, ...] | list[object]", outcome))
    elif isinstance(outcome, dict):
        candidates = list(cast("dict[object, object]", outcome).values())
    else:
        candidates = [outcome]
    return [v for v in candidates if any(v is held for held in live)]


def _is_asyncio_future(obj: object) -> bool:
    # A future asyncio waits on, or the bare `yield` of `asyncio.sleep(0)`.
    return obj is None or getattr(obj, "_asyncio_future_blocking", None) is True


def discard_trap(request: object) -> None:
    """Release what a trap dropped unperformed holds (see `Trap.discard`); others: nothing."""
    if isinstance(request, Trap):
        cast("Trap[object]", request).discard()


def program_name(coro: Coroutine[Any, Any, Any]) -> str:
    code: CodeType | None = getattr(coro, "cr_code", None)
    return code.co_name if code is not None else type(coro).__name__


def _release_live(task: Task[Any], ok: bool, outcome: object) -> Coroutine[Any, Any, Any] | None:
    """A program that releases ``task``'s live linear values, newest first, then ends as it did."""
    live = list(reversed(task.linear))
    task.linear.clear()
    leak: LinearityError | None = None
    if ok:
        leak = LinearityError(
            f"{task.describe()} ended without consuming "
            + "; ".join(v.describe_leak() for v in reversed(live))
            + "\nFix: consume each linear value exactly once (use it, or release it with "
            "`await fx.Release(value)` or `async with`)."
        )

    async def release_all() -> Any:
        for value in live:
            await value.release_program()
        if leak is not None:
            raise leak
        if not ok:
            raise outcome if isinstance(outcome, BaseException) else InternalError(repr(outcome))
        return outcome

    return release_all()


def drive(coro: Coroutine[Any, Any, Any], stack: Stack, scheduler: Scheduler | None = None) -> Any:
    """Run ``coro`` to completion under ``stack``, with every task it spawns."""
    return Loop(stack, scheduler).run(coro)


def _lines_resuming(code: CodeType) -> frozenset[int]:
    """Lines of ``code`` that resume the program: where ``send`` or ``throw_into`` is loaded."""
    return frozenset(
        ins.positions.lineno
        for ins in dis.get_instructions(code)
        if ins.argval in ("send", "throw_into")
        and ins.opname in ("LOAD_FAST", "LOAD_GLOBAL")
        and ins.positions is not None
        and ins.positions.lineno is not None
    )


_RESUME_LINES = _lines_resuming(Loop.step.__code__)
