"""Tasks: spawn, join, cancel and wait, under each scheduler, with real threads and asyncio."""

from __future__ import annotations

import asyncio
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import effectus as fx

HERE = Path(__file__).name


async def square(x: int) -> int:
    await fx.Sleep(x)
    return x * x


async def fan_out(n: int) -> list[int]:
    tasks = [await fx.Spawn(square(i), name=f"sq{i}") for i in range(n)]
    return [await fx.Join(t) for t in tasks]


@pytest.mark.parametrize(
    "interpreter",
    [fx.testing, lambda: fx.Interpreter(fx.testing(), scheduler=fx.Cooperative())],
    ids=["seeded", "cooperative"],
)
def test_spawned_tasks_return_their_results_to_join(interpreter: object) -> None:
    """Joining each spawned task gives its result, in the order joined, under both schedulers."""
    assert fx.run(fan_out(5), interpreter()) == [0, 1, 4, 9, 16]  # type: ignore[operator]


def test_virtual_sleeps_of_concurrent_tasks_overlap() -> None:
    """Under the virtual clock, tasks sleeping at once wake in deadline order; time is the max."""
    interp = fx.testing()

    async def main() -> tuple[list[int], float]:
        start = await fx.Now()
        results = await fan_out(4)
        return results, await fx.Now() - start

    assert interp.run(main()) == ([0, 1, 4, 9], 3.0)


def test_join_raises_the_tasks_exception_at_the_joiners_await() -> None:
    """A task's exception is raised by Join, in the joiner, whose line is in the traceback."""

    async def boom() -> int:
        raise KeyError("lost")

    async def main() -> int:
        t = await fx.Spawn(boom())
        return await fx.Join(t)

    with pytest.raises(KeyError, match="lost") as info:
        fx.run(main(), fx.testing())
    names = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "main" in names and "boom" in names


def test_joining_a_task_twice_is_an_error_at_the_second_join() -> None:
    """The second Join of a task raises TaskError (with the fix), on the user's line."""

    async def main() -> int:
        t = await fx.Spawn(square(2))
        first = await fx.Join(t)
        try:
            await fx.Join(t)
        except fx.TaskError as err:
            assert "already joined" in str(err) and "Fix:" in str(err)
            assert HERE in "".join(traceback.format_tb(err.__traceback__))
            return first
        return -1

    assert fx.run(main(), fx.testing()) == 4


def test_cancelling_a_finished_task_is_an_error() -> None:
    """Cancel on a task that has returned raises TaskError saying how it finished."""

    async def main() -> str:
        t = await fx.Spawn(square(1))
        await fx.Join(t)
        try:
            await fx.Cancel(t)
        except fx.TaskError as err:
            return str(err)
        return "no error"

    message = fx.run(main(), fx.testing())
    assert "already finished (returned)" in message and "task.done" in message


def test_a_cancelled_task_sees_cancelled_and_its_joiner_too() -> None:
    """Cancelling a blocked task raises Cancelled inside it (its cleanup runs) and at Join."""
    cleaned: list[str] = []

    async def forever() -> None:
        try:
            while True:
                await fx.Sleep(1)
        except fx.Cancelled:
            cleaned.append("cleanup")
            raise

    async def main() -> str:
        t = await fx.Spawn(forever())
        await fx.Sleep(2.5)
        assert not t.done
        await fx.Cancel(t)
        try:
            await fx.Join(t)
        except fx.Cancelled:
            return "cancelled"
        return "joined"

    for interp in (fx.testing(), fx.Interpreter(fx.testing(), scheduler=fx.Cooperative())):
        cleaned.clear()
        assert fx.run(main(), interp) == "cancelled"
        assert cleaned == ["cleanup"]


def test_wait_first_and_all() -> None:
    """Wait(until='first') returns once one task is done; until='all' once every one is."""

    async def main() -> tuple[list[str], list[str]]:
        a = await fx.Spawn(square(3), name="a")
        b = await fx.Spawn(square(1), name="b")
        first = await fx.Wait((a, b), until="first")
        every = await fx.Wait([a, b])
        await fx.Join(a)
        await fx.Join(b)
        return [t.name for t in first], [t.name for t in every]

    assert fx.run(main(), fx.testing()) == (["b"], ["a", "b"])


def test_wait_rejects_bad_arguments_on_the_users_line() -> None:
    """Wait checks its arguments when built: an unknown mode, a lone task, nothing to wait for."""
    with pytest.raises(ValueError, match="until must be 'first' or 'all'"):
        fx.Wait((), until="any")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="wait for nothing"):
        fx.Wait(())


def test_spawn_refuses_a_function_instead_of_a_program() -> None:
    """Spawn(f) with the function itself (not f()) is a TypeError with the fix."""
    with pytest.raises(TypeError, match=r"Fix: fx.Spawn\(square\(\.\.\.\)"):
        fx.Spawn(square)  # type: ignore[arg-type]


def test_a_task_failing_unjoined_fails_the_run() -> None:
    """An exception in a task nobody joins is not lost: the run raises TaskError from it."""

    async def boom() -> None:
        raise ValueError("unseen")

    async def main() -> int:
        await fx.Spawn(boom())
        await fx.Sleep(1)
        return 1

    with pytest.raises(fx.TaskError, match="raised ValueError: unseen, and nobody joined it") as info:
        fx.run(main(), fx.testing())
    assert isinstance(info.value.__cause__, ValueError)


def test_children_still_running_when_main_returns_are_cancelled() -> None:
    """When the main program returns, tasks still running are cancelled, and their cleanup runs."""
    log: list[str] = []

    async def worker() -> None:
        try:
            await fx.Sleep(100)
        finally:
            log.append("worker cleaned up")

    async def main() -> str:
        await fx.Spawn(worker())
        return "main done"

    assert fx.run(main(), fx.testing()) == "main done"
    assert log == ["worker cleaned up"]


def test_deadlock_names_each_task_and_what_it_waits_for() -> None:
    """Two tasks joining each other deadlock; the report lists both, their lines and waits."""
    holder: dict[str, fx.Task[None]] = {}

    async def left() -> None:
        await fx.Sleep(1)
        await fx.Join(holder["right"])

    async def right() -> None:
        await fx.Sleep(1)
        await fx.Join(holder["left"])

    async def main() -> None:
        holder["left"] = await fx.Spawn(left())
        holder["right"] = await fx.Spawn(right())
        await fx.Wait((holder["left"], holder["right"]))

    with pytest.raises(fx.Deadlock) as info:
        fx.run(main(), fx.testing())
    text = str(info.value)
    assert "every task is blocked" in text
    assert "task #1 'left'" in text and "task #2 'right'" in text
    assert "waits for: join task #2 'right'" in text
    assert "waits for: all of: task #1 'left', task #2 'right'" in text
    assert f"{HERE}:" in text and "in left" in text


def test_a_task_cannot_join_itself() -> None:
    """Joining the running task raises TaskError instead of hanging."""

    async def main() -> str:
        me: list[fx.Task[str]] = []

        async def selfish() -> str:
            await fx.Sleep(0)
            try:
                await fx.Join(me[0])
            except fx.TaskError as err:
                return str(err)
            return "joined"

        me.append(await fx.Spawn(selfish()))
        return await fx.Join(me[0])

    assert "tried to join itself" in fx.run(main(), fx.testing())


def test_a_task_from_another_run_is_refused() -> None:
    """A task handle kept from one run cannot be joined in another."""
    kept: list[fx.Task[int]] = []

    async def first() -> None:
        kept.append(await fx.Spawn(square(1)))
        await fx.Join(kept[0])

    async def second() -> int:
        return await fx.Join(kept[0])

    fx.run(first(), fx.testing())
    with pytest.raises(fx.TaskError, match="belongs to another run"):
        fx.run(second(), fx.testing())


async def racer(name: str, rounds: int, sep: str = ":") -> None:
    for _ in range(rounds):
        n = await fx.Get("counter", 0)
        await fx.Put("counter", n + 1)
        await fx.Log(f"{name}{sep}{n}")


async def race(sep: str = ":") -> int:
    a = await fx.Spawn(racer("a", 3, sep))
    b = await fx.Spawn(racer("b", 3, sep))
    await fx.Join(a)
    await fx.Join(b)
    return await fx.Get("counter", 0)


def _logged(interp: fx.Interpreter) -> list[str]:
    from effectus.effects import MemoryLog

    return [r.message for r in interp.handler(MemoryLog).records]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_seeded_scheduling_is_a_function_of_the_seed(seed: int) -> None:
    """The same seed gives the same interleaving, result and log, run after run."""
    one, two = fx.testing(seed), fx.testing(seed)
    assert fx.run(race(), one) == fx.run(race(), two)
    assert _logged(one) == _logged(two)


def test_seeded_scheduling_explores_different_interleavings() -> None:
    """Different seeds interleave differently: the lost-update race shows under some seeds."""
    results = {fx.run(race(), fx.testing(seed)) for seed in range(40)}
    assert 6 in results and min(results) < 6


def test_cooperative_scheduling_runs_each_task_until_it_blocks() -> None:
    """Under Cooperative, a task without blocking effects runs to its end: no lost update."""
    interp = fx.Interpreter(fx.testing(), scheduler=fx.Cooperative())
    assert fx.run(race(), interp) == 6
    assert _logged(interp) == ["a:0", "a:1", "a:2", "b:3", "b:4", "b:5"]


@dataclass(frozen=True)
class Meet(fx.Effect[int]):
    """Wait at a barrier shared by the tasks (a blocking call)."""

    who: int


class Barrier(fx.Handler):
    """A blocking handler: each call waits until `parties` calls are waiting together."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=10)
        self.threads: set[str] = set()

    @fx.handles(Meet, blocking=True)
    def meet(self, e: Meet) -> int:
        self.threads.add(threading.current_thread().name)
        self.barrier.wait()  # raises BrokenBarrierError unless the calls really overlap
        return e.who


async def meeting(n: int) -> list[int]:
    tasks = [await fx.Spawn(Meet(i)) for i in range(n)]
    return [await fx.Join(t) for t in tasks]


def test_production_runs_blocking_handlers_on_threads_that_overlap() -> None:
    """Under production's scheduler, blocking calls of different tasks run at the same time.

    Three tasks each wait at a three-party barrier: run one after another, the first would
    time out (BrokenBarrierError); on worker threads all three meet.
    """
    barrier = Barrier(3)
    interp = fx.Interpreter(barrier, fx.production())
    assert fx.run(meeting(3), interp) == [0, 1, 2]
    assert len(barrier.threads) == 3 and all(n.startswith("effectus") for n in barrier.threads)


def test_production_offloads_real_file_io_and_sleep(tmp_path: Path) -> None:
    """Real files and sleeps of concurrent tasks work through the thread pool."""

    async def write(i: int) -> str:
        await fx.WriteFile(f"f{i}.txt", f"content {i}")
        await fx.Sleep(0.01)
        return await fx.ReadFile(f"f{i}.txt")

    async def main() -> list[str]:
        tasks = [await fx.Spawn(write(i)) for i in range(4)]
        return [await fx.Join(t) for t in tasks]

    assert fx.run(main(), fx.production(root=tmp_path)) == [f"content {i}" for i in range(4)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"f{i}.txt" for i in range(4)]


@dataclass(frozen=True)
class Fetch(fx.Effect[str]):
    """Ask the asyncio side for a value."""

    key: str


class AsyncSide(fx.Handler):
    """An async handler that awaits asyncio primitives (as an HTTP client would)."""

    def __init__(self, ready: asyncio.Event) -> None:
        self.ready = ready

    @fx.handles(Fetch)
    async def fetch(self, e: Fetch) -> str:
        await self.ready.wait()  # set by another asyncio task: the event loop must keep running
        await asyncio.sleep(0)
        return e.key.upper()


def test_run_async_awaits_async_handlers_on_the_event_loop() -> None:
    """Inside asyncio, run_async lets the event loop run other asyncio tasks meanwhile."""

    async def program() -> list[str]:
        tasks = [await fx.Spawn(Fetch(k)) for k in ("a", "b")]
        return [await fx.Join(t) for t in tasks]

    async def app() -> list[str]:
        ready = asyncio.Event()

        async def opener() -> None:
            await asyncio.sleep(0.01)
            ready.set()

        opening = asyncio.create_task(opener())
        result = await fx.run_async(program(), AsyncSide(ready), fx.testing())
        await opening
        return result

    assert asyncio.run(app()) == ["A", "B"]


def test_run_async_uses_the_thread_pool_for_blocking_handlers() -> None:
    """Blocking handlers overlap on threads under run_async too, without blocking the loop."""

    async def app() -> list[int]:
        barrier = Barrier(2)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        ticking = asyncio.create_task(ticker())
        result = await fx.run_async(meeting(2), barrier, fx.production())
        ticking.cancel()
        assert ticks >= 1
        return result

    assert asyncio.run(app()) == [0, 1]


def test_programs_still_cannot_await_asyncio_under_run_async() -> None:
    """Only handlers may await asyncio: a program doing so gets the foreign-await TypeError."""

    async def impure() -> None:
        await asyncio.sleep(0.01)

    async def app() -> None:
        await fx.run_async(impure(), fx.testing())

    with pytest.raises(TypeError, match="which is not an effect"):
        asyncio.run(app())


def test_run_async_refuses_recording_interpreters(tmp_path: Path) -> None:
    """run_async says plainly that it cannot record yet, and how to record from asyncio."""

    async def app() -> None:
        await fx.run_async(square(1), fx.record(fx.testing(), tmp_path / "t.jsonl"))

    with pytest.raises(TypeError, match="asyncio.to_thread"):
        asyncio.run(app())


def test_concurrent_runs_record_and_replay_to_the_same_result(tmp_path: Path) -> None:
    """A seeded concurrent run recorded to a trace replays to the same result, task by task."""
    path = tmp_path / "race.jsonl"
    for seed in range(6):
        expected = fx.record(fx.testing(seed), path).run(race())
        trace = fx.read_trace(path)
        assert {r.task for r in trace.records} == {0, 1, 2}
        assert fx.replay(race(), path) == expected


def test_replaying_a_changed_concurrent_program_reports_the_divergence(tmp_path: Path) -> None:
    """A racer that now logs differently diverges, and the report names the record and line."""
    path = tmp_path / "race.jsonl"
    fx.record(fx.testing(3), path).run(race())

    with pytest.raises(fx.ReplayDivergence, match="diverged from its trace at record") as info:
        fx.replay(race(sep="="), path)
    text = str(info.value)
    assert "message: recorded 'b:0', performed 'b=0'" in text  # seed 3 runs b's round first
    assert f"{HERE}:" in text and "in racer" in text


def test_replay_refusing_a_spawn_closes_its_program(tmp_path: Path) -> None:
    """A Spawn of a different program diverges; the refused program is closed, not leaked."""
    path = tmp_path / "race.jsonl"
    fx.record(fx.testing(3), path).run(race())

    async def other(name: str, rounds: int) -> None:
        await fx.Log(name)

    started: list[object] = []

    async def changed() -> int:
        program = other("a", 1)
        started.append(program)
        await fx.Spawn(program)
        return 0

    with pytest.raises(fx.ReplayDivergence, match="other"):
        fx.replay(changed(), path)
    assert started[0].cr_frame is None  # type: ignore[attr-defined]  # closed


def test_one_task_costs_no_scheduling_decisions() -> None:
    """A program that spawns nothing runs as one task, start to end, in a single step."""
    from effectus.core._loop import Loop
    from effectus.core._run import stack_of

    loop = Loop(stack_of(fx.testing()))
    assert loop.run(square(3)) == 9
    assert loop.decisions == 0 and len(loop.tasks) == 1
