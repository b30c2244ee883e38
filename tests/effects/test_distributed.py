"""Spawned tools on a real local Ray cluster (2 CPUs, started here): the same program runs
locally or on Ray, errors come back as themselves, plans pin nodes, and a trace recorded on
Ray replays on one machine without Ray."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

import effectus as fx
from effectus.core._trace import read_trace
from effectus.effects import Distributed
from effectus.effects._distributed import _resources  # pyright: ignore[reportPrivateUsage]
from effectus.examples.distributed import estimate_pi, sample, whereabouts
from effectus.proofs import Request, place
from effectus.types import Cluster, parse_placement

@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    # Ray ships functions by reference to importable modules; this test module is not one.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray.shutdown()


@fx.tool
async def refuse(n: int) -> int:
    """Fails on purpose, on whichever machine runs it."""
    await fx.Sleep(0)
    raise ValueError(f"refused {n}")


@fx.tool
async def nap(seconds: float) -> float:
    await fx.Sleep(seconds)
    return seconds


def test_spawned_tools_run_as_ray_tasks() -> None:
    """Each spawned tool call is submitted to Ray; the program is unchanged and its result sound."""
    handler = Distributed()
    estimate = fx.run(estimate_pi(4, 300), fx.production().with_handlers(handler))
    assert handler.submitted == {"sample": 4}
    assert 2.5 < estimate < 3.8


def test_the_call_runs_in_another_process() -> None:
    """A tool sent to Ray (here with replicas(2) in a placement group) runs in a worker process."""
    async def main() -> int:
        return await fx.Join(await fx.Spawn(whereabouts()))

    pid = fx.run(main(), fx.production().with_handlers(Distributed()))
    assert pid != os.getpid()


def test_an_error_on_ray_is_raised_at_the_join_as_itself() -> None:
    """A tool that raises on Ray raises the same exception type and message at the Join."""
    async def main() -> str:
        task = await fx.Spawn(refuse(7))
        try:
            await fx.Join(task)
        except ValueError as err:
            return str(err)
        return "no error"

    assert fx.run(main(), fx.production().with_handlers(Distributed())) == "refused 7"


def test_a_ray_call_can_be_cancelled() -> None:
    """Cancelling the task of a long call stops it; the Join raises Cancelled at once."""
    async def main() -> str:
        task = await fx.Spawn(nap(60.0))
        await fx.Sleep(0.2)
        await fx.Cancel(task)
        try:
            await fx.Join(task)
        except fx.Cancelled:
            return "cancelled"
        return "finished"

    import time

    started = time.monotonic()
    assert fx.run(main(), fx.production().with_handlers(Distributed())) == "cancelled"
    assert time.monotonic() - started < 30


def test_programs_that_are_not_tool_calls_stay_local() -> None:
    """A bare coroutine cannot be shipped: it runs as a local task."""
    async def local() -> int:
        return os.getpid()

    async def main() -> int:
        return await fx.Join(await fx.Spawn(local()))

    handler = Distributed()
    assert fx.run(main(), fx.production().with_handlers(handler)) == os.getpid()
    assert handler.submitted == {}


def test_a_trace_recorded_on_ray_replays_on_one_machine(tmp_path: Path) -> None:
    """Records of each remote call join the trace tagged by its task, in order; a process
    without Ray replays the run to the same result."""
    path = tmp_path / "ray.jsonl"
    recorded = fx.record(fx.production().with_handlers(Distributed()), path).run(estimate_pi(3, 40))
    trace = read_trace(path)
    by_task: dict[int, list[str]] = {}
    for record in trace.records:
        by_task.setdefault(record.task, []).append(record.effect.rpartition(":")[2])
    assert sorted(by_task) == [0, 1, 2, 3]
    assert by_task[0] == ["Spawn"] * 3 + ["Join"] * 3
    assert all(by_task[t] == ["RandomFloat"] * 80 for t in (1, 2, 3))
    script = (
        "import sys, effectus as fx\n"
        "from effectus.examples.distributed import estimate_pi\n"
        f"print(fx.replay(estimate_pi(3, 40), {str(path)!r}))\n"
        "print('ray' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert out == [repr(recorded), "False"]


def test_a_changed_program_diverges_from_the_ray_trace(tmp_path: Path) -> None:
    """Replaying with fewer points per shard stops at the first record that differs."""
    path = tmp_path / "ray.jsonl"
    fx.record(fx.production().with_handlers(Distributed()), path).run(estimate_pi(2, 10))
    with pytest.raises(fx.ReplayDivergence, match="diverged|fewer|never performed"):
        fx.replay(estimate_pi(2, 9), path)


def test_a_plan_pins_a_tool_to_its_ray_node() -> None:
    """A tool placed by z3 on a node of the Ray cluster runs with node affinity to it."""
    cluster = Cluster.ray()
    assert len(cluster) == 1 and cluster.nodes[0].cpu == 2
    plan = place([Request("sample", "on(cpu>=1, memory>=64MB)")], cluster)
    handler = Distributed(plan=plan)
    options = handler._options(sample)  # pyright: ignore[reportPrivateUsage]
    assert options["scheduling_strategy"].node_id == cluster.nodes[0].ray_id
    assert options["memory"] == 64 * 1024**2
    assert fx.run(estimate_pi(2, 50), fx.production().with_handlers(handler)) > 0


def test_placements_become_ray_resources() -> None:
    """Lower bounds become num_cpus/num_gpus/memory, labels custom resources, replicas a count."""
    options = _resources(parse_placement("on(cpu>=2, gpu>=1, memory>=1GB, npu>0).label(zone=a).replicas(3)"))
    assert options == {
        "num_cpus": 2.0, "num_gpus": 1.0, "memory": 1024**3,
        "resources": {"NPU": 1.0, "label:zone=a": 0.001}, "replicas": 3,
    }
