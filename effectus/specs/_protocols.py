"""Stateful tests from protocols: Hypothesis plays the other side of a tool's channel.

A tool serves one side of a session-typed channel when a parameter is an endpoint annotated
with the protocol it follows: ``ep: Annotated[Endpoint[Session], PROTOCOL]``.
`protocol_machine` makes a Hypothesis state machine that holds the other end and follows
``dual(PROTOCOL)`` through every conversation it allows: where the peer sends, it sends a
message drawn from the message type; where it selects, it picks any branch; it receives what
the tool sends (and checks its type), waits for the tool's choices, and closes at the end.  The
tool fails the test when it breaks the protocol (`ProtocolError`, `LinearityError`), deadlocks,
raises, or does not finish once the conversation is over.

Programs are deterministic given their effects' answers, so the machine holds no thread and
no live conversation: each step runs the whole conversation so far again, from scratch, as the
module-level program `converse`, under ``fx.testing(seed)``.  A failing conversation (shrunk
by Hypothesis) is run once more, recorded; its trace is saved, and ``effectus replay PATH``
runs it again to the same error.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import sys
import tempfile
import typing
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from effectus.core import (
    Cancel, Cancelled, Join, PreconditionError, ProtocolError, Spawn, TaskError, UnhandledEffect, Wait, record,
)
from effectus.core._tool import Tool
from effectus.specs._properties import FAILURES, Property, PropertyFailure, PropertyResult, hypothesis_settings, phases
from effectus.specs._properties import _save  # pyright: ignore[reportPrivateUsage]  # the sibling's trace saving
from effectus.specs._spec import SpecError
from effectus.types._session import End, Offer, Rec, Recv, Select, Send, Session, Step, Var, dual, unfold

if TYPE_CHECKING:
    from hypothesis.stateful import RuleBasedStateMachine

__all__ = ["converse", "protocol_machine", "protocol_params", "run_protocol"]

#: Steps per generated run (Hypothesis' ``stateful_step_count``) unless settings say otherwise:
#: each step replays the conversation so far, so a run costs steps² channel operations.
STEPS = 20

_SESSIONS = (Send, Recv, Select, Offer, Rec, Var, End)


def _hints(tool: Tool[..., Any]) -> dict[str, Any]:
    """``tool``'s annotations, resolved.  ``Endpoint[Session]`` holds `Session`'s definition
    as a string, which names the session classes: the tool's module need not import them."""
    from effectus.types import _session

    fn = tool.__wrapped__
    names = {n: getattr(_session, n) for n in ("Send", "Recv", "Select", "Offer", "Rec", "Var", "End", "Session")}
    return typing.get_type_hints(fn, globalns={**names, **getattr(fn, "__globals__", {})}, include_extras=True)


def protocol_params(tool: Tool[..., Any]) -> list[str]:
    """The parameters of ``tool`` that are endpoints annotated with a protocol."""
    from effectus.types import Endpoint

    try:
        hints = _hints(tool)
    except Exception:  # noqa: BLE001 - unresolved annotations: the strategies report them
        return []
    out: list[str] = []
    for name in inspect.signature(tool.__wrapped__).parameters:
        hint = hints.get(name)
        if typing.get_origin(hint) is not typing.Annotated:
            continue
        base, *metadata = typing.get_args(hint)
        if (typing.get_origin(base) or base) is Endpoint and any(_is_session(m) for m in metadata):
            out.append(name)
    return out


def _is_session(value: object) -> bool:
    return isinstance(value, _SESSIONS)


@functools.lru_cache(maxsize=256)  # each step of a protocol test asks again
def _protocol_of(tool: Tool[..., Any], endpoint: str) -> Session:
    """The protocol ``tool``'s parameter ``endpoint`` is annotated with (its side of the channel)."""
    hint = _hints(tool)[endpoint]
    metadata: tuple[object, ...] = typing.get_args(hint)[1:]
    return cast(Session, next(m for m in metadata if _is_session(m)))


def _endpoint_of(tool: Tool[..., Any], endpoint: str | None) -> str:
    if not isinstance(tool, Tool):  # pyright: ignore[reportUnnecessaryIsInstance]  # for untyped callers
        raise TypeError(f"protocol_machine() takes a tool (made by @fx.tool); got {tool!r} (type={type(tool).__qualname__})")
    found = protocol_params(tool)
    name = tool.__qualname__
    if not found:
        raise SpecError(
            f"{name} has no endpoint annotated with a protocol, so there is no conversation to test.\n"
            f"Fix: annotate the endpoint: `ep: Annotated[Endpoint[Session], PROTOCOL]`."
        )
    if endpoint is None and len(found) == 1:
        endpoint = found[0]
    if endpoint not in found:
        raise SpecError(
            f"protocol_machine({name}, endpoint={endpoint!r}): "
            + (f"{name} serves several channels ({', '.join(found)})" if endpoint is None else f"{name} has no endpoint {endpoint!r}")
            + f".\nFix: name one of its endpoints: {', '.join(repr(f) for f in found)}."
        )
    others = [f for f in found if f != endpoint]
    if others:
        raise SpecError(
            f"{name} serves several channels ({', '.join(found)}); a protocol test plays the other side of one, "
            f"and nothing would serve {', '.join(others)}.\nFix: test a tool that serves one channel (split this one)."
        )
    return endpoint


def _call(tool: Tool[..., Any], endpoint: str, ep: object, args: dict[str, Any]) -> Any:
    """``tool`` called with ``ep`` for ``endpoint`` and ``args`` for the rest (by name)."""
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    for p in inspect.signature(tool.__wrapped__).parameters.values():
        value = ep if p.name == endpoint else args.get(p.name, p.default)
        if value is inspect.Parameter.empty:
            continue  # a parameter with no strategy and no default: the call says so
        if p.kind is p.POSITIONAL_ONLY:
            positional.append(value)
        else:
            keywords[p.name] = value
    return tool(*positional, **keywords)


# --- the program each step runs (module level, so that its trace replays) ---------------------------


async def converse(tool: str, endpoint: str, steps: list[list[Any]], args: dict[str, Any]) -> list[Any]:
    """Serve the tool named ``module:qualname`` a conversation: its other side does ``steps``.

    Opens a channel with the protocol of the tool's parameter ``endpoint``, spawns the tool
    with its end (``args`` are its other arguments), and does each step on the other end:
    ``["send", value]``, ``["select", label]``, ``["recv"]``, ``["offer"]`` or ``["close"]``.
    After ``close`` it joins the tool; after a shorter list of steps it stops the tool.

    Returns:
        What it received: each value and each label the tool chose, in order.

    Raises:
        Exception: what the tool raised (a `ProtocolError` for a step out of protocol, a
            `LinearityError` for an endpoint it dropped, a `Deadlock`, ...); a `ProtocolError`
            when a message received is not of its declared type.
    """
    from effectus.effects import Release, Sleep
    from effectus.types import Open

    from effectus.specs._golden import resolve

    found: object = resolve(tool)
    if not isinstance(found, Tool):
        raise SpecError(f"converse(): {tool} is {found!r}, not a tool")
    target = cast(Tool[..., Any], found)
    theirs, ep = await Open(_protocol_of(target, endpoint))
    ours: Any = ep
    serving = await Spawn(_serve(_call(target, endpoint, theirs, args), theirs), name=target.__qualname__)
    seen: list[Any] = []
    joined = False
    for kind, *given in steps:
        if kind == "send":
            ours = await ours.send(given[0])
        elif kind == "select":
            ours = await ours.select(given[0])
        elif kind in ("recv", "offer"):
            got, ours, joined = await _receive(ours, serving, kind, target.__qualname__, joined)
            seen.append(got)
        elif kind == "close":
            await ours.close()
            if not joined:
                await Join(serving)
            return seen
        else:
            raise ValueError(f"converse(): unknown step {[kind, *given]!r}; expected send, select, recv, offer or close")
    await Release(ours)  # the conversation stops here: the rest was not asked for
    if joined:
        return seen
    # Under fx.testing a sleep waits until every other task waits too: the tool goes on until
    # it needs more from us, so what it does with what it got is checked at this step.
    await Sleep(0)
    try:
        await Cancel(serving)
    except TaskError:
        pass  # it has finished: joining it says how
    try:
        await Join(serving)
    except Cancelled:
        pass
    return seen


async def _serve(call: Any, ep: Any) -> Any:
    """The tool's task: it owns its end of the channel before it runs (`Open` gave both ends
    to the task that opened it), so an end the tool drops is reported as the tool's."""
    from effectus.core._stack import running_loop

    loop = running_loop()
    ep.transfer(None if loop is None else loop.current)
    return await call


async def _take(ep: Any, kind: str) -> Any:
    return await (ep.recv() if kind == "recv" else ep.offer())


async def _receive(ep: Any, serving: Any, kind: str, name: str, joined: bool) -> tuple[Any, Any, bool]:
    """Receive (or wait for a choice) on ``ep``, or raise what the tool raised instead of sending.

    Answers what arrived, the next endpoint, and whether the tool's task has been joined."""
    want = unfold(cast(Session, ep.protocol))
    receiving = await Spawn(_take(ep, kind), name="peer")
    if not joined and receiving not in await Wait((receiving, serving), until="first"):
        await Join(serving)  # raises what the tool raised; if it returned, its message is on the way
        joined = True
    got, ep = await Join(receiving)
    if isinstance(want, Recv) and not _bearable(got, want.message):
        raise ProtocolError(f"{name} sent {got!r} (type={type(got).__qualname__}), but its protocol says {dual(want)}")
    return got, ep, joined


def _bearable(value: object, hint: object) -> bool:
    from beartype.door import is_bearable

    return is_bearable(value, cast(Any, hint))


# --- the protocol as a graph -------------------------------------------------------------------------


class _Graph:
    """The positions a protocol can reach (unfolded), and how far each is from its end."""

    def __init__(self, protocol: Session) -> None:
        self.start: Step = unfold(protocol)
        self.next: dict[Step, tuple[Step, ...]] = {}
        todo = [self.start]
        while todo:
            s = todo.pop()
            if s in self.next:
                continue
            match s:
                case Send(then=then) | Recv(then=then):
                    after: tuple[Step, ...] = (unfold(then),)
                case Select(branches=branches) | Offer(branches=branches):
                    after = tuple(unfold(b) for b in branches.values())
                case _:
                    after = ()
            self.next[s] = after
            todo += after
        # Steps to the end: we choose at a Select (the nearest branch), the tool at an Offer
        # (the farthest); a loop with no way out stays infinite.
        self.distance: dict[Step, float] = dict.fromkeys(self.next, math.inf)
        changed = True
        while changed:
            changed = False
            for s, after in self.next.items():
                if isinstance(s, End):
                    d = 0.0
                elif isinstance(s, Offer):
                    d = 1 + max(self.distance[a] for a in after)
                else:
                    d = 1 + min(self.distance[a] for a in after)
                if d < self.distance[s]:
                    self.distance[s], changed = d, True

    def exit(self, step: Select) -> str | None:
        """The label of ``step`` nearest the end (None: no branch ends)."""
        label, body = min(step.branches.items(), key=lambda kv: self.distance[unfold(kv[1])])
        return label if self.distance[unfold(body)] < math.inf else None


# --- the state machine -----------------------------------------------------------------------------------


class _Broken(PropertyFailure):
    """A conversation the tool got wrong; the message says how, with the conversation and trace."""

    def __init__(self, message: str, error: BaseException, trace: Path | None) -> None:
        super().__init__(message)
        self.error = error
        self.trace = trace


def _show(steps: list[list[Any]], observed: list[Any]) -> str:
    got = iter(observed)
    parts: list[str] = []
    for kind, *given in steps:
        if kind in ("send", "select"):
            parts.append(f"{kind} {given[0]!r}")
        else:
            seen = next(got, _NOTHING)
            verb = "receive" if kind == "recv" else "tool chooses" if kind == "offer" else str(kind)
            parts.append(verb if seen is _NOTHING else f"{verb} {seen!r}")
    return "; ".join(parts) or "(none: the tool failed on its own)"


_NOTHING = object()


def protocol_machine(tool: Tool[..., Any], endpoint: str | None = None, *, failures: str | os.PathLike[str] = FAILURES) -> type[RuleBasedStateMachine]:
    """A Hypothesis state machine that plays the other side of ``tool``'s channel.

    It follows the dual of the protocol ``tool``'s parameter ``endpoint`` is annotated with
    (by default, its only such parameter), taking every way the protocol allows: it sends
    messages drawn from their types, selects any branch, receives and checks what the tool
    sends, waits for the tool's choices, and closes where the protocol ends; at the end of a
    run it finishes the conversation by the shortest way out and checks that the tool's task
    finished cleanly.  The tool's other arguments are drawn once per run from their types.

    The class counts its runs (``runs``) and finished conversations (``conversations``), and
    collects the branches taken (``explored``: ``'select add'``, ``'offer big'``, ...).  A
    failing conversation's trace is saved in ``failures`` (``effectus replay`` it); the failure
    is a `PropertyFailure` whose message shows the conversation.

    >>> from typing import Annotated
    >>> import effectus as fx
    >>> from effectus.types import Endpoint, Session, recv, send
    >>> @fx.tool
    ... async def double(ep: Annotated[Endpoint[Session], recv(int, send(int))]) -> None:
    ...     n, ep = await ep.recv()
    ...     ep = await ep.send(2 * n)
    ...     await ep.close()
    >>> Doubling = protocol_machine(double)
    >>> TestDoubling = Doubling.TestCase  # collected by pytest (or run it with unittest)

    Raises:
        SpecError: the tool has no protocol endpoint, several of them, or a message type or
            argument with no strategy.
    """
    name = _endpoint_of(tool, endpoint)
    return _machine(tool, f"{tool.__module__}:{tool.__qualname__}", name, Path(failures))


def _machine(tool: Tool[..., Any], target: str, endpoint: str, failures: Path) -> type[RuleBasedStateMachine]:
    from hypothesis import HealthCheck, reject, settings
    from hypothesis import strategies as st
    from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

    from effectus.effects import testing
    from effectus.specs._strategies import strategy_for_type

    protocol = _protocol_of(tool, endpoint)
    graph = _Graph(dual(protocol))
    about = f"{tool.__qualname__}'s protocol"
    messages = {s: strategy_for_type(s.message, where=f"a message of {about} ({s})") for s in graph.next if isinstance(s, Send)}
    hints = _hints(tool)
    arguments: dict[str, Any] = {}
    for p in inspect.signature(tool.__wrapped__).parameters.values():
        if p.name == endpoint or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        try:
            arguments[p.name] = strategy_for_type(hints.get(p.name, object), where=f"argument {p.name} of {tool.__qualname__}")
        except SpecError:
            if p.default is p.empty:
                raise
    prop = Property(tool, "protocol", target)

    class ProtocolMachine(RuleBasedStateMachine):
        runs: ClassVar[int] = 0
        conversations: ClassVar[int] = 0
        explored: ClassVar[set[str]] = set()

        def __init__(self) -> None:
            super().__init__()
            ProtocolMachine.runs += 1
            self.steps: list[list[Any]] = []
            self.observed: list[Any] = []
            self.position: Step = graph.start
            self.args: dict[str, Any] = {}
            self.fillers: dict[Step, Any] = {}
            self.seed = 0
            self.started = False
            self.finished = 0

        def __repr__(self) -> str:
            return f"<conversation with {tool.__qualname__}: {_show(self.steps, self.observed)}>"

        @initialize(data=st.data())
        def start(self, data: st.DataObject) -> None:
            self.args = {n: data.draw(s, label=n) for n, s in arguments.items()}
            self.seed = data.draw(st.integers(0, 2**32 - 1), label="fx.testing seed")
            # What the ending sends, where it has to send to reach the end.
            self.fillers = {s: data.draw(m, label=f"message at {s}") for s, m in messages.items()}
            self._converse()  # no steps: the tool starts, and arguments it refuses are rejected
            self.started = True

        @precondition(lambda self: isinstance(self.position, Send))
        @rule(data=st.data())
        def send(self, data: st.DataObject) -> None:
            step = cast(Send[object, Session], self.position)
            self._step(["send", data.draw(messages[step], label="message")], step.then)

        @precondition(lambda self: isinstance(self.position, Select))
        @rule(data=st.data())
        def select(self, data: st.DataObject) -> None:
            step = cast(Select, self.position)
            label = data.draw(st.sampled_from(list(step.branches)), label="label")
            ProtocolMachine.explored.add(f"select {label}")
            self._step(["select", label], step.branches[label])

        @precondition(lambda self: isinstance(self.position, Recv))
        @rule()
        def receive(self) -> None:
            self._step(["recv"], cast(Recv[object, Session], self.position).then)

        @precondition(lambda self: isinstance(self.position, Offer))
        @rule()
        def offer(self) -> None:
            step = cast(Offer, self.position)
            self.steps.append(["offer"])
            self._converse()
            label = self.observed[-1]
            ProtocolMachine.explored.add(f"offer {label}")
            self.position = unfold(step.branches[label])

        @precondition(lambda self: isinstance(self.position, End))
        @rule()
        def close(self) -> None:
            self._step(["close"], self.position)
            ProtocolMachine.conversations += 1
            self.finished += 1
            self.steps, self.observed, self.position = [], [], graph.start  # the next conversation

        @precondition(lambda self: not isinstance(self.position, End))
        @rule(data=st.data())
        def finish(self, data: st.DataObject) -> None:
            """End the conversation the shortest way the protocol allows, and close it.

            (As a rule, not only at teardown: Hypothesis shrinks a failure found in a rule
            better than one found when a run ends.)"""
            self._finish(lambda step: data.draw(messages[step], label="message"))

        def teardown(self) -> None:
            if sys.exc_info()[1] is not None or not self.started or (not self.steps and self.finished):
                return  # the run ends on an error (a failure, or Hypothesis ending it): nothing to finish
            self._finish(self.fillers.__getitem__)

        def _finish(self, message: Callable[[Send[object, Session]], object]) -> None:
            # The shortest way out is never longer than the number of positions, unless the
            # tool keeps choosing to go round: then stop trying, and check it got this far.
            for _ in range(len(graph.next) + 1):
                step = self.position
                if isinstance(step, End):
                    self.close()
                    return
                if isinstance(step, Offer):
                    self.offer()
                    continue
                if isinstance(step, Select):
                    label = graph.exit(step)
                    if label is None:
                        break  # a protocol with no end
                    ProtocolMachine.explored.add(f"select {label}")
                    self.steps.append(["select", label])
                    then = step.branches[label]
                elif isinstance(step, Send):
                    self.steps.append(["send", message(step)])
                    then = step.then
                else:
                    self.steps.append(["recv"])
                    then = step.then
                self.position = unfold(then)
            self._converse()

        def _step(self, step: list[Any], then: Session) -> None:
            self.steps.append(step)
            self._converse()
            self.position = unfold(then)

        def _converse(self) -> None:
            try:
                self.observed = testing(self.seed).run(self._program())
            except UnhandledEffect:
                raise  # the environment's, not the tool's: reported as an error
            except Exception as err:  # noqa: BLE001 - whatever the tool did is the verdict
                if isinstance(err, PreconditionError) and not self.steps:
                    reject()  # arguments the tool refuses
                trace = self._record()
                raise _Broken(self._describe(err, trace), err, trace) from err

        def _program(self) -> Coroutine[Any, Any, list[Any]]:
            return converse(target, endpoint, [list(s) for s in self.steps], dict(self.args))

        def _record(self) -> Path | None:
            """The failing conversation again, recorded (runs are deterministic: it fails alike),
            its trace saved in ``failures``.  Only failures are recorded: recording costs more
            than the run."""
            fd, name = tempfile.mkstemp(prefix="effectus-protocol-", suffix=".jsonl")
            os.close(fd)
            scratch = Path(name)
            try:
                record(testing(self.seed), scratch).run(self._program())
            except Exception:  # noqa: BLE001 - the error it raises is the one just caught
                pass
            try:
                return _save(scratch, failures, prop)
            finally:
                scratch.unlink(missing_ok=True)

        def _describe(self, err: BaseException, trace: Path | None) -> str:
            lines = [f"{type(err).__name__}: {err}"]
            if self.args:
                lines.append(f"  arguments: {', '.join(f'{k}={v!r}' for k, v in self.args.items())}")
            lines += [
                f"  protocol of {endpoint}: {protocol}",
                f"  conversation (the other side; shrunk): {_show(self.steps, self.observed)}",
            ]
            if trace is not None:
                lines += [f"  trace: {trace}", f"  reproduce: effectus replay {trace}"]
            return "\n".join(lines)

    ProtocolMachine.__name__ = ProtocolMachine.__qualname__ = f"{tool.__qualname__.replace('.', '_')}_protocol"
    cast(Any, ProtocolMachine).TestCase.settings = settings(  # Hypothesis' TestCase is untyped
        deadline=None, stateful_step_count=STEPS, suppress_health_check=[HealthCheck.too_slow], phases=phases(),
    )
    return ProtocolMachine


# --- the property -------------------------------------------------------------------------------------------


def run_protocol(prop: Property, *, examples: int, seed: int | None, failures: Path, settings: Any) -> PropertyResult:
    """Run ``prop.tool``'s protocol machine (see `protocol_machine`); a failure's trace goes
    to ``failures``.  ``settings`` (Hypothesis settings) replaces the defaults: ``examples``
    runs of up to `STEPS` steps, no deadline; ``seed`` seeds Hypothesis (None: it chooses)."""
    from hypothesis import seed as seeded
    from hypothesis import settings as Settings
    from hypothesis.stateful import run_state_machine_as_test as untyped  # pyright: ignore[reportUnknownVariableType]

    run_state_machine_as_test = cast("Callable[..., None]", untyped)  # untyped in Hypothesis
    try:
        machine: Any = _machine(prop.tool, prop.target, _endpoint_of(prop.tool, None), failures)
    except SpecError as err:
        return PropertyResult(prop.target, prop.name, "error", 0, str(err))
    if seed is not None:
        machine = seeded(seed)(machine)
    config = settings or Settings(hypothesis_settings(examples, seed), stateful_step_count=STEPS, phases=phases())
    try:
        run_state_machine_as_test(machine, settings=config)
    except Exception as err:  # noqa: BLE001 - the verdict: a failure, or why the test could not run
        found = _broken(err)
        if found is not None:
            return PropertyResult(prop.target, prop.name, "failed", machine.runs, str(found), found.trace)
        if isinstance(err, UnhandledEffect):
            return PropertyResult(prop.target, prop.name, "error", machine.runs, (
                f"{err}\nFix: a protocol test runs the tool under fx.testing(); give it effects that "
                f"interpreter handles."
            ))
        return PropertyResult(prop.target, prop.name, "error", machine.runs, f"{type(err).__name__}: {err}")
    explored = ", ".join(sorted(machine.explored)) or "none (the protocol has no choices)"
    return PropertyResult(
        prop.target, prop.name, "passed", machine.runs,
        f"{machine.conversations} conversations finished in {machine.runs} runs; branches taken: {explored}",
    )


def _broken(err: BaseException) -> _Broken | None:
    """The protocol failure in ``err`` (Hypothesis may group several)."""
    if isinstance(err, _Broken):
        return err
    if isinstance(err, BaseExceptionGroup):
        for inner in cast(BaseExceptionGroup[BaseException], err).exceptions:
            found = _broken(inner)
            if found is not None:
                return found
    return None
