"""Session-typed channels: conversations that follow the protocol, and every way to break it."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import effectus as fx
from effectus.types import END, Endpoint, Open, SendOn, Session, offer, rec, recv, select, send

HERE = Path(__file__).name

# Channel operations are answered inside their own `await` under the Cooperative scheduler when
# no handler takes traps (the fast path), and through the loop under Seeded: errors and reports
# must not depend on which.
SCHEDULERS = pytest.mark.parametrize(
    "interpreter",
    [fx.testing(), fx.Interpreter(scheduler=fx.Cooperative())],
    ids=["seeded", "cooperative"],
)

ADDER = rec("loop", lambda loop: select(add=send(int, loop), total=recv(int)))


async def add_client(ep: Endpoint[Session], numbers: list[int]) -> int:
    for n in numbers:
        ep = await ep.select("add")
        ep = await ep.send(n)
    ep = await ep.select("total")
    total, ep = await ep.recv()
    await ep.close()
    return int(total)  # type: ignore[call-overload]


async def add_server(ep: Endpoint[Session]) -> None:
    total = 0
    while True:
        label, ep = await ep.offer()
        if label == "total":
            ep = await ep.send(total)
            await ep.close()
            return
        n, ep = await ep.recv()
        total += int(n)  # type: ignore[call-overload]


async def adder(numbers: list[int]) -> int:
    client, server = await fx.Open(ADDER)
    serving = await fx.Spawn(add_server(server), name="server")
    total = await add_client(client, numbers)
    await fx.Join(serving)
    return total


@settings(max_examples=30, deadline=None)
@given(numbers=st.lists(st.integers(-1000, 1000), max_size=8), seed=st.integers(0, 2**16))
def test_a_recursive_conversation_with_choices_gives_the_sum(numbers: list[int], seed: int) -> None:
    """A client adds numbers and asks for the total; every interleaving gives the sum."""
    assert fx.run(adder(numbers), fx.testing(seed)) == sum(numbers)


def test_cooperative_and_seeded_runs_agree() -> None:
    """The same conversation under the Cooperative scheduler gives the same answer."""
    assert fx.run(adder([1, 2, 3])) == 6


class FlakyLink(fx.Handler):
    """Sees every message sent; the ``fail_at``-th send raises instead of being delivered."""

    def __init__(self, fail_at: int = 0) -> None:
        self.sent: list[object] = []
        self.fail_at = fail_at

    @fx.handles(SendOn)
    async def send_on(self, op: SendOn[Session]) -> Endpoint[Session]:
        self.sent.append(op.message)
        if len(self.sent) == self.fail_at:
            raise ConnectionError(f"link down at message {len(self.sent)}")
        return await op  # forwarded: performed by what is outside this handler


@settings(max_examples=25, deadline=None)
@given(numbers=st.lists(st.integers(-1000, 1000), max_size=8))
def test_a_handler_that_takes_channel_traps_sees_every_send_under_cooperative(numbers: list[int]) -> None:
    """Installing a handler for a channel trap turns the inline fast path off: it sees every
    message, in order, and the conversation still gives the sum."""
    link = FlakyLink()
    interp = fx.Interpreter(link, scheduler=fx.Cooperative())
    assert interp.run(adder(numbers)) == sum(numbers)
    assert link.sent == [*numbers, sum(numbers)]


def test_a_fault_injected_on_a_channel_surfaces_at_the_users_send() -> None:
    """A handler may refuse a send (fault injection); the error is raised at the `await`."""
    interp = fx.Interpreter(FlakyLink(fail_at=2), scheduler=fx.Cooperative())
    with pytest.raises(ConnectionError, match="link down at message 2") as info:
        interp.run(adder([10, 20, 30]))
    frames = traceback.extract_tb(info.value.__traceback__)
    assert any(f.name == "add_client" and f.line == "ep = await ep.send(n)" for f in frames)


def test_a_run_nested_in_a_handler_does_not_disturb_the_outer_conversation() -> None:
    """A handler that runs a whole program of its own (with its own channels) while the outer
    tasks are mid-conversation: both conversations give their sums."""

    @fx.effect
    class Audit(fx.Effect[int]):
        numbers: tuple[int, ...]

    class Auditor(fx.Handler):
        @fx.handles(Audit)
        def audit(self, e: Audit) -> int:
            return fx.run(adder(list(e.numbers)))

    async def client(ep: Endpoint[Session], numbers: list[int]) -> int:
        for n in numbers:
            ep = await ep.select("add")
            checked = await Audit((n, n))  # a nested run, between two steps of this one
            ep = await ep.send(checked // 2)
        ep = await ep.select("total")
        total, ep = await ep.recv()
        await ep.close()
        return int(total)  # type: ignore[call-overload]

    async def main() -> int:
        a, b = await fx.Open(ADDER)
        serving = await fx.Spawn(add_server(b))
        total = await client(a, [1, 2, 3])
        await fx.Join(serving)
        return total

    assert fx.Interpreter(Auditor(), scheduler=fx.Cooperative()).run(main()) == 6


async def conversation_error(step: str) -> None:
    """Open a `!int . ?str . end` channel and make the mistake named by ``step``.

    The error fails the task, so its endpoints are released without a leak report.
    """
    client, server = await fx.Open(send(int, recv(str)))
    if step == "wrong type":
        client.send("seven")  # type: ignore[arg-type]
    elif step == "wrong step":
        client.recv()  # type: ignore[misc]
    elif step == "close early":
        client.close()  # type: ignore[misc]
    elif step == "unknown label":
        client.select("add")  # type: ignore[arg-type]
    elif step == "used twice":
        await client.send(1)
        client.send(2)


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("wrong type", "protocol violation on channel #0 (first end): tried to send "
                       "'seven' (type=str), but the protocol expects int\n  protocol position: !int . ?str . end"),
        ("wrong step", "protocol violation on channel #0 (first end): tried to receive, "
                       "but the protocol expects to send int"),
        ("close early", "tried to close, but the protocol expects to send int"),
        ("unknown label", "tried to select 'add', but the protocol expects to send int"),
        ("used twice", f"the endpoint of channel #0 (first end) was already used at tests/types/{HERE}:"),
    ],
)
@SCHEDULERS
def test_each_misuse_raises_its_error_on_the_users_line(step: str, expected: str, interpreter: fx.Interpreter) -> None:
    """Wrong type, wrong step, early close, unknown label and reuse: each its error and site."""
    kind = fx.LinearityError if step == "used twice" else fx.ProtocolError
    with pytest.raises(kind) as info:
        interpreter.run(conversation_error(step))
    assert expected in str(info.value)
    assert "Fix:" in str(info.value)
    frames = traceback.extract_tb(info.value.__traceback__)
    assert frames[-1].name in ("conversation_error", "consume") or any(
        f.name == "conversation_error" and f.filename.endswith(HERE) for f in frames
    )
    assert [f for f in frames if f.name == "conversation_error"]


def test_an_unknown_label_lists_the_branches() -> None:
    """Selecting a label the protocol does not offer names the labels that exist."""

    async def main() -> None:
        a, b = await fx.Open(ADDER)
        a.select("sub")

    with pytest.raises(fx.ProtocolError) as info:
        fx.run(main())
    assert "tried to select 'sub', which is not a branch here" in str(info.value)
    assert "Fix: select one of: add, total." in str(info.value)


def test_a_message_after_the_end_is_refused() -> None:
    """Sending on an endpoint whose protocol has ended raises ProtocolError (expects close)."""

    async def main() -> str:
        a, b = await fx.Open(send(int))
        a2 = await a.send(1)
        _, b2 = await b.recv()
        await b2.close()
        try:
            a2.send(2)  # type: ignore[misc]
        except fx.ProtocolError as err:
            return str(err)
        finally:
            await a2.close()
        return ""

    assert "tried to send, but the protocol expects to end" in fx.run(main())


def test_a_failed_check_leaves_the_endpoint_usable() -> None:
    """A refused operation moves nothing and consumes nothing: the endpoint can go on."""

    async def main() -> int:
        a, b = await fx.Open(send(int))
        try:
            a.send("x")  # type: ignore[arg-type]
        except fx.ProtocolError:
            pass
        a = await a.send(5)
        n, b = await b.recv()
        await a.close()
        await b.close()
        return int(n)  # type: ignore[call-overload]

    assert fx.run(main()) == 5


def test_message_types_are_checked_by_beartype_for_typing_constructs() -> None:
    """Typing constructs (list[int], int | None) are checked deeply with beartype."""

    async def main() -> None:
        a, b = await fx.Open(send(list[int], send(int | None)))
        a = await a.send([1, 2])
        a = await a.send(None)
        a.send(["x"])  # type: ignore[misc]

    with pytest.raises(fx.ProtocolError) as info:
        fx.run(main())
    assert "tried to send, but the protocol expects to end" in str(info.value)

    async def deep() -> None:
        a, _ = await fx.Open(send(list[int]))
        a.send(["x"])  # type: ignore[list-item]

    with pytest.raises(fx.ProtocolError) as info:
        fx.run(deep())
    assert "tried to send ['x'] (type=list), but the protocol expects list[int]" in str(info.value)


@SCHEDULERS
def test_dropping_an_endpoint_mid_protocol_is_reported_with_where_it_was_acquired(interpreter: fx.Interpreter) -> None:
    """A task that ends holding an unfinished endpoint fails with LinearityError naming it."""

    async def main() -> None:
        a, b = await fx.Open(send(int, recv(str)))
        a = await a.send(1)
        _, b = await b.recv()
        b = await b.send("ok")
        # `a` is dropped here, before its receive; `b` too, at its end, unclosed

    with pytest.raises(fx.LinearityError) as info:
        interpreter.run(main())
    text = str(info.value)
    assert "task #0 'main' ended without consuming" in text
    assert "channel #0 (first end), dropped mid-protocol, where it had to receive str" in text
    assert "channel #0 (second end), unclosed at its end" in text
    sent = next(i for i, line in enumerate(Path(__file__).read_text().splitlines(), 1) if "a = await a.send(1)" in line)
    assert f"dropped mid-protocol, where it had to receive str, acquired at tests/types/{HERE}:{sent} in main" in text


def test_open_checks_the_peer_protocol_is_the_dual() -> None:
    """Open(p, q) with q not the dual of p is refused where it is built."""
    with pytest.raises(fx.ProtocolError, match=r"q must be the dual of p"):
        Open(send(int), send(int))
    with pytest.raises(fx.ProtocolError, match=r"not inside a Rec"):
        Open(send(int, fx.types.Var("x")))  # type: ignore[attr-defined]


@SCHEDULERS
def test_deadlock_report_shows_the_protocol_state_of_each_channel(interpreter: fx.Interpreter) -> None:
    """Two tasks each waiting to receive on a different channel first: Deadlock names each
    task, the channel it waits on, and where both ends of that channel stand."""

    async def peer(inbox: Endpoint[Session], outbox: Endpoint[Session]) -> None:
        n, inbox = await inbox.recv()
        outbox = await outbox.send(n)
        await inbox.close()
        await outbox.close()

    async def main() -> None:
        to_main, from_peer = await fx.Open(recv(int), send(int))
        to_peer, from_main = await fx.Open(send(int), recv(int))
        t = await fx.Spawn(peer(from_main, from_peer), name="peer")
        n, to_main = await to_main.recv()  # waits for the peer, which waits for us
        to_peer = await to_peer.send(n)
        await fx.Join(t)

    with pytest.raises(fx.Deadlock) as info:
        interpreter.run(main())
    text = str(info.value)
    assert f"task #0 'main' at tests/types/{HERE}:" in text and "task #1 'peer' at" in text
    assert "waits for: receive on channel #0 (first end); protocol here: ?int . end; " \
           "the peer has left: !int . end" in text
    assert "waits for: receive on channel #1 (second end); protocol here: ?int . end; " \
           "the peer has left: !int . end" in text


@SCHEDULERS
def test_deadlock_report_names_a_task_that_failed_unjoined(interpreter: fx.Interpreter) -> None:
    """When a peer died of an error, the Deadlock report says so: that is why nobody sends."""

    async def wrong(ep: Endpoint[Session]) -> None:
        _, ep = await ep.recv()  # its protocol says send first: ProtocolError

    async def main() -> None:
        a, b = await fx.Open(recv(int, send(int)))
        t = await fx.Spawn(wrong(b), name="peer")
        _, a = await a.recv()
        await fx.Join(t)

    with pytest.raises(fx.Deadlock) as info:
        interpreter.run(main())
    assert "task #1 'peer' raised ProtocolError: protocol violation on channel #0" in str(info.value)


def test_channels_record_and_replay(tmp_path: Path) -> None:
    """A channel conversation is recorded per task and replays to the same total."""
    path = tmp_path / "adder.jsonl"
    total = fx.record(fx.testing(5), path).run(adder([3, 4, 5]))
    trace = fx.read_trace(path)
    assert {r.task for r in trace.records} == {0, 1}
    assert any(r.effect.endswith(":SendOn") for r in trace.records)
    assert fx.replay(adder([3, 4, 5]), path) == total == 12


def test_replay_reports_a_changed_message(tmp_path: Path) -> None:
    """Replaying with a different message sent diverges at that send, naming the field."""
    path = tmp_path / "adder.jsonl"
    fx.record(fx.testing(5), path).run(adder([3, 4, 5]))
    with pytest.raises(fx.ReplayDivergence, match=r"message: recorded 4, performed 40"):
        fx.replay(adder([3, 40, 5]), path)


def test_an_offer_without_branches_cannot_be_built() -> None:
    """Protocols stay well formed: an offer must have branches."""
    with pytest.raises(fx.ProtocolError, match="has no branches"):
        offer()


def test_endpoints_are_linear_values() -> None:
    """An endpoint is a Linear: it is used once, and repr shows where it stands."""

    async def main() -> str:
        a, b = await fx.Open(send(int))
        shown = repr(a)
        a = await a.send(1)
        _, b = await b.recv()
        await a.close()
        await b.close()
        return shown

    assert isinstance(END, fx.types.End)  # type: ignore[attr-defined]
    assert fx.run(main()) == "<endpoint of channel #0 (first end) at !int . end>"
