"""Protocol tests: Hypothesis plays the other side of a tool's channel, and saves what breaks it.

The tools are module level, so that a failing conversation's trace names a program that
``effectus replay`` can import again (this module, as pytest imports it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import annotated_types as at
import pytest
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.stateful import run_state_machine_as_test

import effectus as fx
from effectus.cli import main as cli
from effectus.specs import PropertyFailure, PropertyResult, SpecError, properties_of, protocol_machine
from effectus.specs._protocols import converse, protocol_params
from effectus.types import Endpoint, Open, Session, offer, rec, recv, select, send

#: the server's side: the client adds numbers until it asks for the total
ADD = rec("loop", lambda loop: offer(add=recv(int, loop), total=send(int)))
#: the server's side: it reads numbers and says whether to go on (small) or stop (big)
CLASSIFY = rec("loop", lambda loop: recv(int, select(small=loop, big=send(str))))

#: small runs: each test stays well under a few seconds
FAST = settings(
    max_examples=15, stateful_step_count=10, deadline=None, database=None, report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow], phases=[p for p in Phase if p is not Phase.explain],
)


@fx.tool
async def adder(ep: Annotated[Endpoint[Session], ADD]) -> None:
    total = 0
    while True:
        label, ep = await ep.offer()
        if label == "total":
            ep = await ep.send(total)
            await ep.close()
            return
        n, ep = await ep.recv()
        total += n  # type: ignore[operator]


@fx.tool
async def classify(ep: Annotated[Endpoint[Session], CLASSIFY]) -> None:
    while True:
        n, ep = await ep.recv()
        if n < 100:  # type: ignore[operator]
            ep = await ep.select("small")
            continue
        ep = await ep.select("big")
        ep = await ep.send(f"{n} is big")
        await ep.close()
        return


@fx.tool
async def sloppy_adder(ep: Annotated[Endpoint[Session], ADD]) -> None:
    """Sends the total as a string once two numbers were added."""
    total = count = 0
    while True:
        label, ep = await ep.offer()
        if label == "total":
            ep = await ep.send(str(total) if count >= 2 else total)
            await ep.close()
            return
        n, ep = await ep.recv()
        total, count = total + n, count + 1  # type: ignore[operator]


@fx.tool
async def forgetful_adder(ep: Annotated[Endpoint[Session], ADD]) -> None:
    """Forgets to send the total when nothing was added."""
    total = 0
    while True:
        label, ep = await ep.offer()
        if label == "total":
            if total == 0:
                return
            ep = await ep.send(total)
            await ep.close()
            return
        n, ep = await ep.recv()
        total += n  # type: ignore[operator]


@fx.tool
async def shifted_adder(ep: Annotated[Endpoint[Session], ADD], offset: Annotated[int, at.Ge(0)]) -> None:
    """Adds ``offset`` to the total; crashes when it is over 10."""
    total = offset
    while True:
        label, ep = await ep.offer()
        if label == "total":
            if offset > 10:
                raise ValueError(f"offset {offset} is too big")
            ep = await ep.send(total)
            await ep.close()
            return
        n, ep = await ep.recv()
        total += n  # type: ignore[operator]


@fx.tool
async def stuck_classifier(ep: Annotated[Endpoint[Session], CLASSIFY]) -> None:
    """Follows the protocol to its end, then waits for a message nobody sends."""
    while True:
        n, ep = await ep.recv()
        if n < 100:  # type: ignore[operator]
            ep = await ep.select("small")
            continue
        ep = await ep.select("big")
        ep = await ep.send("big")
        await ep.close()
        _, inbox = await Open(send(int))
        await inbox.recv()
        return


@fx.tool
async def two_sides(a: Annotated[Endpoint[Session], ADD], b: Annotated[Endpoint[Session], CLASSIFY]) -> None:
    pass


@fx.tool
async def no_channel(x: int) -> int:
    return x


class Opaque:
    """A message type with no strategy (Hypothesis cannot tell what ``handle`` is)."""

    def __init__(self, handle):  # type: ignore[no-untyped-def]
        self.handle = handle


@fx.tool
async def takes_opaque(ep: Annotated[Endpoint[Session], recv(Opaque)]) -> None:
    _, ep = await ep.recv()
    await ep.close()


def run(tool: Any, tmp_path: Path, **kwargs: Any) -> PropertyResult:
    [prop] = properties_of(tool)
    assert prop.name == "protocol"
    return prop.run(failures=tmp_path, settings=kwargs.pop("settings", FAST), **kwargs)


# --- conversations --------------------------------------------------------------------------


def test_converse_plays_the_steps_and_answers_what_it_received() -> None:
    """The program each step runs: the other side's steps, then what the tool sent."""
    steps = [["select", "add"], ["send", 2], ["select", "add"], ["send", 3], ["select", "total"], ["recv"], ["close"]]
    assert fx.run(converse("test_protocols:adder", "ep", steps, {}), fx.testing(7)) == [5]


def test_converse_stops_the_tool_after_a_partial_conversation() -> None:
    """A conversation cut short stops the tool without reporting a leak or a deadlock."""
    steps = [["send", 150], ["offer"]]
    assert fx.run(converse("test_protocols:classify", "ep", steps, {}), fx.testing(3)) == ["big"]


def test_protocol_params_finds_the_annotated_endpoints() -> None:
    """Endpoints annotated with a protocol are found (the module need not import Send etc.)."""
    assert protocol_params(adder) == ["ep"]
    assert protocol_params(two_sides) == ["a", "b"]
    assert protocol_params(no_channel) == []


# --- tools that keep their protocol ----------------------------------------------------------


def test_a_server_that_keeps_a_recursive_protocol_passes(tmp_path: Path) -> None:
    """The adder passes every conversation; the client's both choices are taken."""
    result = run(adder, tmp_path, seed=0)
    assert result.outcome == "passed", result.message
    assert result.examples > 0 and result.trace is None
    assert "branches taken: select add, select total" in result.message
    assert not list(tmp_path.iterdir())


def test_a_server_that_chooses_passes_and_both_of_its_choices_are_explored(tmp_path: Path) -> None:
    """Where the tool chooses (an offer on the other side), the machine follows each label it
    picks: small numbers and big ones both come up."""
    machine: Any = protocol_machine(classify, failures=tmp_path)
    run_state_machine_as_test(machine, settings=FAST)
    assert machine.explored == {"offer small", "offer big"}
    assert machine.conversations > 0 and machine.runs > 0


def test_arguments_other_than_the_endpoint_are_drawn_from_their_types(tmp_path: Path) -> None:
    """``offset`` is drawn from ``Annotated[int, Ge(0)]``; the crash it causes above 10 is
    found, and the shrunk argument is the boundary."""
    result = run(shifted_adder, tmp_path, seed=0)
    assert result.outcome == "failed"
    assert result.message.startswith("ValueError: offset 11 is too big\n")
    assert "  arguments: offset=11\n" in result.message


def test_the_state_machine_runs_as_a_unittest_test_case(tmp_path: Path) -> None:
    """``protocol_machine(tool).TestCase`` is an ordinary test case; it passes for a good tool."""
    import unittest

    case = protocol_machine(adder, failures=tmp_path).TestCase
    case.settings = FAST
    outcome = unittest.TestResult()
    case("runTest").run(outcome)
    assert outcome.wasSuccessful(), outcome.failures + outcome.errors
    assert outcome.testsRun == 1


class TestClassifyProtocol(protocol_machine(classify).TestCase):  # type: ignore[misc]
    """The machine as a test case pytest collects: the classifier keeps its protocol."""

    settings = FAST


# --- tools that break it ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def sloppy(tmp_path_factory: pytest.TempPathFactory) -> PropertyResult:
    """The sloppy adder's protocol test, run once for the tests that read its result."""
    return run(sloppy_adder, tmp_path_factory.mktemp("sloppy"), seed=0)


def test_a_wrong_type_after_one_sequence_of_choices_fails_with_the_shrunk_conversation(sloppy: PropertyResult) -> None:
    """The bug shows only after two additions: Hypothesis finds it and shrinks the conversation
    to the shortest that shows it; the message says what, and how to replay it."""
    result = sloppy
    assert result.outcome == "failed"
    assert result.trace is not None
    trace = result.trace.parent / "test_protocols.sloppy_adder--protocol.jsonl"
    assert result.trace == trace and trace.exists()
    lines = result.message.splitlines()
    assert lines[0] == (
        "ProtocolError: protocol violation on channel #0 (first end): tried to send '0' (type=str), "
        "but the protocol expects int"
    )
    assert "  protocol of ep: rec loop . &{add: ?int . loop, total: !int . end}" in lines
    assert "  conversation (the other side; shrunk): select 'add'; send 0; select 'add'; send 0; select 'total'; receive; close" in lines
    assert lines[-2:] == [f"  trace: {trace}", f"  reproduce: effectus replay {trace}"]


def test_the_failing_conversation_replays_to_the_same_error(sloppy: PropertyResult, capsys: pytest.CaptureFixture[str]) -> None:
    """``effectus replay`` on the saved trace runs the conversation again and ends with the
    same error (the replay checks it against the trace's footer)."""
    result = sloppy
    assert result.trace is not None
    capsys.readouterr()
    assert cli(["replay", str(result.trace)]) == 0
    out = capsys.readouterr().out
    assert ": raised ProtocolError: protocol violation on channel #0 (first end): tried to send '0' (type=str)" in out
    assert out.startswith("replayed ")


def test_a_server_that_forgets_to_send_fails_with_its_dropped_endpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Returning where the protocol says send leaves the endpoint unconsumed: a LinearityError,
    found with the shortest conversation, and replayed alike."""
    result = run(forgetful_adder, tmp_path, seed=0)
    assert result.outcome == "failed"
    assert result.message.startswith("LinearityError: task #1 'forgetful_adder' ended without consuming ")
    assert "dropped mid-protocol, where it had to send int" in result.message
    assert "  conversation (the other side; shrunk): select 'total'; receive" in result.message
    assert result.trace is not None
    capsys.readouterr()
    assert cli(["replay", str(result.trace)]) == 0
    assert ": raised LinearityError: task #1 'forgetful_adder' ended without consuming" in capsys.readouterr().out


def test_a_server_that_never_finishes_fails_with_a_deadlock(tmp_path: Path) -> None:
    """Once the conversation is over the tool must finish: one that waits forever deadlocks,
    and the report names what it waits for."""
    result = run(stuck_classifier, tmp_path, seed=0)
    assert result.outcome == "failed"
    assert result.message.startswith("Deadlock: every task is blocked; none can make progress\n")
    assert "task #1 'stuck_classifier'" in result.message
    assert "  conversation (the other side; shrunk): send 100; tool chooses 'big'; receive; close" in result.message


def test_a_failure_is_raised_by_the_test_case_as_a_property_failure(tmp_path: Path) -> None:
    """Run directly, the machine fails with a PropertyFailure that carries the conversation
    and the trace path, saved in the folder given."""
    machine = seed(0)(protocol_machine(sloppy_adder, failures=tmp_path))
    with pytest.raises(PropertyFailure) as info:
        run_state_machine_as_test(machine, settings=FAST)
    assert "tried to send '0' (type=str)" in str(info.value)
    assert f"reproduce: effectus replay {tmp_path / 'test_protocols.sloppy_adder--protocol.jsonl'}" in str(info.value)
    assert isinstance(info.value.__cause__, fx.ProtocolError)


def test_a_seeded_run_finds_the_same_failure_again(tmp_path: Path) -> None:
    """With a seed the search is repeatable: the same conversation, and the same trace."""
    first = run(shifted_adder, tmp_path / "a", seed=3)
    second = run(shifted_adder, tmp_path / "b", seed=3)
    assert first.outcome == second.outcome == "failed"
    assert first.message.replace(str(tmp_path / "a"), "") == second.message.replace(str(tmp_path / "b"), "")
    assert first.trace is not None and second.trace is not None
    assert first.trace.read_text().count("\n") == second.trace.read_text().count("\n")


# --- what cannot be tested ------------------------------------------------------------------------


def test_a_tool_without_a_protocol_is_refused() -> None:
    """protocol_machine needs an endpoint annotated with a protocol, and says how to add one."""
    with pytest.raises(SpecError, match=r"no_channel has no endpoint annotated with a protocol") as info:
        protocol_machine(no_channel)
    assert "Fix: annotate the endpoint: `ep: Annotated[Endpoint[Session], PROTOCOL]`." in str(info.value)


def test_a_tool_that_serves_two_channels_is_refused() -> None:
    """Only one side can be played: naming an endpoint does not help when the other has no peer."""
    with pytest.raises(SpecError, match=r"two_sides serves several channels \(a, b\)"):
        protocol_machine(two_sides)
    with pytest.raises(SpecError, match=r"nothing would serve b"):
        protocol_machine(two_sides, "a")
    with pytest.raises(SpecError, match=r"two_sides has no endpoint 'c'"):
        protocol_machine(two_sides, "c")


def test_a_message_type_without_a_strategy_is_an_error_result(tmp_path: Path) -> None:
    """A protocol the other side cannot play (no strategy for a message it must send) is an
    error, not a failure of the tool."""
    result = run(takes_opaque, tmp_path, seed=0)
    assert result.outcome == "error"
    assert result.examples == 0
    assert result.message.startswith("cannot generate a message of takes_opaque's protocol (!Opaque . end) of type Opaque: ")


@fx.tool
async def deaf(ep: Annotated[Endpoint[Session], recv(int)]) -> None:
    """Never touches its end of the channel."""


def test_a_tool_that_ignores_its_endpoint_fails_on_its_own(tmp_path: Path) -> None:
    """The tool's end belongs to its task from the start, even if it never uses it: dropping
    it is the tool's LinearityError, before the other side does anything."""
    result = run(deaf, tmp_path, seed=0)
    assert result.outcome == "failed"
    assert result.message.startswith("LinearityError: task #1 'deaf' ended without consuming the endpoint of channel #0")
    assert "  conversation (the other side; shrunk): (none: the tool failed on its own)" in result.message
