"""Session-typed channels: conversations that follow the protocol, and every way to break it."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import effectus as fx
from effectus.types import END, Endpoint, Open, Session, offer, rec, recv, select, send

HERE = Path(__file__).name

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
        ("used twice", "the endpoint of channel #0 (first end) was already used at "),
    ],
)
def test_each_misuse_raises_its_error_on_the_users_line(step: str, expected: str) -> None:
    """Wrong type, wrong step, early close, unknown label and reuse: each its error and site."""
    kind = fx.LinearityError if step == "used twice" else fx.ProtocolError
    with pytest.raises(kind) as info:
        fx.run(conversation_error(step), fx.testing())
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


def test_dropping_an_endpoint_mid_protocol_is_reported_with_where_it_was_acquired() -> None:
    """A task that ends holding an unfinished endpoint fails with LinearityError naming it."""

    async def main() -> None:
        a, b = await fx.Open(send(int, recv(str)))
        a = await a.send(1)
        _, b = await b.recv()
        b = await b.send("ok")
        # `a` is dropped here, before its receive; `b` too, at its end, unclosed

    with pytest.raises(fx.LinearityError) as info:
        fx.run(main(), fx.testing())
    text = str(info.value)
    assert "task #0 'main' ended without consuming" in text
    assert "channel #0 (first end), dropped mid-protocol, where it had to receive str" in text
    assert "channel #0 (second end), unclosed at its end" in text
    assert "acquired at " in text and f"{HERE}:" in text


def test_open_checks_the_peer_protocol_is_the_dual() -> None:
    """Open(p, q) with q not the dual of p is refused where it is built."""
    with pytest.raises(fx.ProtocolError, match=r"q must be the dual of p"):
        Open(send(int), send(int))
    with pytest.raises(fx.ProtocolError, match=r"not inside a Rec"):
        Open(send(int, fx.types.Var("x")))  # type: ignore[attr-defined]


def test_deadlock_report_shows_the_protocol_state_of_each_channel() -> None:
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
        fx.run(main(), fx.testing())
    text = str(info.value)
    assert f"task #0 'main' at tests/types/{HERE}:" in text and "task #1 'peer' at" in text
    assert "waits for: receive on channel #0 (first end); protocol here: ?int . end; " \
           "the peer has left: !int . end" in text
    assert "waits for: receive on channel #1 (second end); protocol here: ?int . end; " \
           "the peer has left: !int . end" in text


def test_deadlock_report_names_a_task_that_failed_unjoined() -> None:
    """When a peer died of an error, the Deadlock report says so: that is why nobody sends."""

    async def wrong(ep: Endpoint[Session]) -> None:
        _, ep = await ep.recv()  # its protocol says send first: ProtocolError

    async def main() -> None:
        a, b = await fx.Open(recv(int, send(int)))
        t = await fx.Spawn(wrong(b), name="peer")
        _, a = await a.recv()
        await fx.Join(t)

    with pytest.raises(fx.Deadlock) as info:
        fx.run(main(), fx.testing())
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
