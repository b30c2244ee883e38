"""Distributed tasks: a handler that runs spawned tool calls as Ray tasks, unchanged programs.

Guarantees: with `Distributed` installed, ``await fx.Spawn(tool(args))`` submits the call to
Ray with the resources its placement asks for (``num_cpus``, ``num_gpus``, ``memory``; a
node pinned by a solved `Plan`; replicas in a placement group, the first to finish answers),
and answers a local `Task` that ``Join``, ``Wait`` and ``Cancel`` treat like any other; a tool
that raises on Ray raises the same exception type at the ``Join``.  Under ``fx.record`` the
remote run is recorded on its worker and its records join the local trace, tagged with the
task's number and in order, so that ``fx.replay`` reproduces the run on one machine without
Ray.  Spawned programs that are not tool calls (a bare coroutine cannot be shipped) run
locally.  Ray is imported when the first call is submitted, never by ``import effectus``.
"""

from __future__ import annotations

import functools
import math
import os
import pickle
import tempfile
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from effectus.core import Handler, Interpreter, handles
from effectus.core._errors import EffectusError
from effectus.core._loop import Cancelled, Loop, Task, program_name
from effectus.core._record import Tape, record
from effectus.core._run import Stack, stack_of
from effectus.core._stack import running_loop
from effectus.core._tasks import Spawn
from effectus.core._tool import Call, Tool
from effectus.core._trace import read_trace
from effectus.core._effect import Effect

if TYPE_CHECKING:
    from effectus.proofs._placement import Plan
    from effectus.types._placement import Placement

__all__ = ["Distributed"]

# (ok, value or error, records, blobs): what a remote run sends back
Outcome = tuple[bool, object, list[tuple[str, dict[str, Any], bool, Any, str, int]], dict[str, bytes]]


def _remote_run(tool: Tool[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], interpreter: Callable[[], Interpreter], recording: bool) -> Outcome:
    """On a Ray worker: run the call under ``interpreter()``, recording it when asked."""
    base = interpreter()
    if not recording:
        try:
            return True, base.run(tool(*args, **kwargs)), [], {}
        except BaseException as err:
            return False, _portable(err), [], {}
    with tempfile.TemporaryDirectory(prefix="effectus-ray-") as tmp:
        path = Path(tmp) / "remote.jsonl"
        ok, value = True, None
        try:
            value = record(base, path).run(tool(*args, **kwargs))
        except BaseException as err:
            ok, value = False, _portable(err)
        trace = read_trace(path)
        records = [(r.effect, dict(r.fields), r.ok, r.value, r.site, r.task) for r in trace.records]
        blob_dir = Path(f"{path}.blobs")
        blobs = {p.stem: p.read_bytes() for p in blob_dir.glob("*.bin")} if blob_dir.is_dir() else {}
    return ok, value, records, blobs


def _portable(err: BaseException) -> BaseException:
    """``err`` if it survives pickling (Ray sends it back), else a RuntimeError that says what it was."""
    try:
        pickle.loads(pickle.dumps(err))
        return err
    except Exception:
        return RuntimeError(f"{type(err).__module__}.{type(err).__qualname__}: {err}")


@dataclass(frozen=True, eq=False)
class _Fetch(Effect[Outcome]):
    """The proxy task waits for its Ray call (a private effect, never recorded)."""

    refs: tuple[Any, ...]


class _Fetcher(Handler):
    @handles(_Fetch, blocking=True)
    def fetch(self, effect: _Fetch) -> Outcome:
        ray = _ray()
        pending = list(effect.refs)
        failure: BaseException | None = None
        while pending:  # replicas: the first to succeed answers; the rest are cancelled
            done, pending = ray.wait(pending, num_returns=1)
            try:
                outcome: Outcome = ray.get(done[0])
            except BaseException as err:  # the worker died, or Ray could not run the call
                failure = failure or err
                continue
            for ref in pending:
                ray.cancel(ref, force=True)
            return outcome
        assert failure is not None
        raise failure


def _ray() -> Any:
    import ray  # (ray's own annotations leave much unknown to a strict checker)

    return ray


@functools.cache
def _fetch_stack() -> Stack:
    return stack_of(Interpreter(_Fetcher()))


class Distributed(Handler):
    """Run spawned tool calls as Ray tasks: ``fx.production().with_handlers(Distributed())``.

    Each spawned tool call goes to Ray with the resources of its tool's ``placement=`` (or
    of the `Plan` entry named like the tool, whose node it is pinned to) and runs there under
    ``interpreter()`` — a module-level function that makes the worker's interpreter, by
    default ``fx.production``.  Connect first (``ray.init(...)``); without a connection the
    first spawn starts a local Ray instance.

    Args:
        interpreter: makes the interpreter each remote call runs under (it must pickle).
        plan: a solved placement; a tool it places on a Ray node runs on that node.
        tools: only these tools go to Ray (default: every spawned tool call).
    """

    def __init__(self, interpreter: Callable[[], Interpreter] | None = None, *, plan: Plan | None = None, tools: Collection[Tool[..., Any]] | None = None) -> None:
        if interpreter is None:
            from effectus.effects._interpreters import production

            interpreter = production
        if not callable(interpreter):
            raise TypeError(f"Distributed(interpreter={interpreter!r}): expected a function that makes an interpreter, e.g. fx.production")
        self.interpreter = interpreter
        self.plan = plan
        self.tools = None if tools is None else frozenset(tools)
        self._remote: Any = None
        #: Ray calls submitted, by tool name (for reports and tests)
        self.submitted: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"Distributed({getattr(self.interpreter, '__qualname__', self.interpreter)!r})"

    @handles(Spawn)
    def spawn(self, effect: Spawn[Any]) -> Task[Any]:
        loop = running_loop()
        assert loop is not None and loop.current is not None
        program = effect.program
        if not isinstance(program, Call) or (self.tools is not None and program.tool not in self.tools):
            return effect.perform(loop)
        call: Call[Any] = program
        name = effect.task_name() or program_name(call.coro)
        options = self._options(call.tool)
        replicas = int(options.pop("replicas", 1))
        remote = self._remote_function()
        recording = loop.current.stack.tape is not None
        group = None
        if replicas > 1:
            from ray.util.placement_group import placement_group
            from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

            bundle = {k: v for k, v in (("CPU", options.get("num_cpus", 1)), ("GPU", options.get("num_gpus", 0))) if v}
            group = placement_group([bundle] * replicas, strategy="SPREAD")
            refs = tuple(
                remote.options(**options, scheduling_strategy=PlacementGroupSchedulingStrategy(group, placement_group_bundle_index=i))
                .remote(call.tool, call.args, call.kwargs, self.interpreter, recording)
                for i in range(replicas)
            )
        else:
            refs = (remote.options(**options).remote(call.tool, call.args, call.kwargs, self.interpreter, recording),)
        call.coro.close()  # it runs on Ray, not here
        self.submitted[name] = self.submitted.get(name, 0) + 1
        stack = loop.current.stack
        task: Task[Any] = loop.spawn(_proxy(refs, stack, loop, group), _fetch_stack(), name)
        if loop.preemptive:
            raise loop.reschedule(task)
        return task

    def _remote_function(self) -> Any:
        if self._remote is None:
            ray = _ray()
            if not ray.is_initialized():
                ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
            self._remote = ray.remote(_remote_run)
        return self._remote

    def _options(self, tool: Tool[..., Any]) -> dict[str, Any]:
        """Ray options for ``tool``: its placement's resources, and its node in the plan."""
        from effectus.specs._spec import spec_of
        from effectus.types._placement import parse_placement

        name = tool.__qualname__
        placement = None
        if self.plan is not None:
            for request in self.plan.requests:
                if request.name in (name, f"{tool.__module__}.{name}"):
                    placement = request.placement
                    node = self.plan.nodes(request.name)[0]
                    if node.ray_id:
                        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

                        return {**_resources(placement), "scheduling_strategy": NodeAffinitySchedulingStrategy(node.ray_id, soft=False)}
        spec = spec_of(tool)
        if placement is None and spec is not None and spec.placement is not None:
            placement = parse_placement(spec.placement, where=f"placement of {name}")
        return _resources(placement) if placement is not None else {"num_cpus": 1}


def _resources(placement: Placement) -> dict[str, Any]:
    """Ray resource options for a parsed placement's lower bounds."""
    options: dict[str, Any] = {"num_cpus": 1}
    custom: dict[str, float] = {}
    for term in placement.requirements:
        if term.op not in (">=", ">", "==") or term.percent:
            continue
        value = term.value + (1 if term.op == ">" and term.resource in ("cpu", "gpu", "npu") else 0)
        if term.resource == "cpu":
            options["num_cpus"] = value
        elif term.resource == "gpu":
            options["num_gpus"] = value
        elif term.resource == "memory":
            options["memory"] = int(math.ceil(value))
        elif term.resource == "npu":
            custom["NPU"] = value
    for label in placement.labels:
        if label.op == "=":
            custom[f"label:{label.key}={label.value}"] = 0.001
    if custom:
        options["resources"] = custom
    if placement.replicas > 1:
        options["replicas"] = placement.replicas
    return options


async def _proxy(refs: tuple[Any, ...], spawner: Stack, loop: Loop, group: Any) -> Any:
    """The local task standing for a Ray call: waits for it, then answers as the call did."""
    me = loop.current
    assert me is not None
    try:
        ok, value, records, blobs = await _Fetch(refs)
    except Cancelled:
        for ref in refs:
            _ray().cancel(ref, force=True)
        raise
    finally:
        if group is not None:
            from ray.util.placement_group import remove_placement_group

            remove_placement_group(group)
    if spawner.tape is not None:
        tape = cast(Tape, spawner.tape)  # a recording run's stack holds the recorder's tape
        if any(task != 0 for *_, task in records):
            raise EffectusError(
                f"{me.describe()} spawned tasks of its own on its Ray worker; a recording cannot "
                f"place their records yet.\nFix: spawn them from the driver, or run without fx.record."
            )
        tape.flush()  # what this run recorded so far comes first
        writer = tape.writer
        for data in blobs.values():
            writer.blobs.put(data)
        for effect, fields, rec_ok, answer, site, _ in records:
            writer.append(me.id, effect, fields, rec_ok, answer, site)
            tape.seq += 1
    if ok:
        return value
    raise value if isinstance(value, BaseException) else EffectusError(f"{me.describe()} failed on Ray: {value!r}")
