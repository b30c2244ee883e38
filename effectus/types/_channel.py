"""Channels whose two ends follow dual session types, checked at every step.

Guarantees: `Open` gives two `Endpoint`s of dual protocols; every operation consumes its
endpoint (a linear value) and answers the endpoint for the rest of the protocol.  Each step is
checked when the operation is built, on the user's line, before anything moves: a message of
the wrong type (checked with beartype), an unknown label, a step the protocol does not expect
or a message after the end raise `ProtocolError` naming the protocol position, the expected
and the actual step; reusing an endpoint raises `LinearityError`.  Sends never block (each
direction is a FIFO queue); receives and offers wait for the peer.  An endpoint dropped before
its protocol's end is reported when its task ends, with where it was acquired.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast, overload

from effectus.core import ProtocolError, Trap, register_codec
from effectus.core._codec import JSON
from effectus.core._loop import Loop, Task
from effectus.core._site import Site, program_site
from effectus.types._linear import Linear
from effectus.types._session import (
    END,
    End,
    Offer,
    Rec,
    Recv,
    Select,
    Send,
    Session,
    Var,
    _type_name,  # pyright: ignore[reportPrivateUsage]  # the sibling's notation for types
    check,
    dual,
    expects,
    unfold,
)

__all__ = ["ChooseOn", "CloseOn", "Endpoint", "OfferOn", "Open", "RecvOn", "SendOn"]

P = TypeVar("P")
Q = TypeVar("Q")
P2 = TypeVar("P2")
Q2 = TypeVar("Q2")
M = TypeVar("M")
K = TypeVar("K", bound=Session)

_WRONG_STEP = """\
protocol violation on {endpoint}: tried to {actual}, but the protocol expects to {expected}
  protocol position: {position}
Fix: follow the protocol: {fix}"""

_WRONG_TYPE = """\
protocol violation on {endpoint}: tried to send {value!r} (type={kind}), but the protocol \
expects {expected}
  protocol position: {position}
Fix: send a value of type {expected}, or change the protocol."""

_WRONG_LABEL = """\
protocol violation on {endpoint}: tried to select {label!r}, which is not a branch here
  protocol position: {position}
Fix: select one of: {labels}."""


def _fix_for(step: Session) -> str:
    match step:
        case Send(message=message):
            return f"`ep = await ep.send(<{_type_name(message)}>)`"
        case Recv():
            return "`value, ep = await ep.recv()`"
        case Select(branches=branches):
            return f"`ep = await ep.select({next(iter(branches))!r})`"
        case Offer():
            return "`label, ep = await ep.offer()`"
        case _:
            return "`await ep.close()`"


class Channel:
    """What the two ends share: a queue per direction, and a receiver waiting on each side."""

    __slots__ = ("id", "loop", "inbox", "waiting", "position", "names")

    def __init__(self, loop: Loop, protocol: Session, peer: Session) -> None:
        self.id = next(loop.serial)  # numbered per run, so a replay numbers them alike
        self.loop = loop
        # inbox[i]: what side i has yet to receive, as (kind, payload), oldest first
        self.inbox: tuple[deque[tuple[str, object]], deque[tuple[str, object]]] = (deque(), deque())
        # waiting[i]: the task blocked receiving on side i, and how to answer it
        self.waiting: list[tuple[Task[Any], Session, Site | str] | None] = [None, None]
        # position[i]: what side i has left to do (for Deadlock reports)
        self.position: list[Session] = [protocol, peer]
        self.names = (f"channel #{self.id} (first end)", f"channel #{self.id} (second end)")

    def side_name(self, side: int) -> str:
        return self.names[side]


class Endpoint(Linear[None], Generic[P]):
    """One end of a channel, at one point of its protocol ``P``; each operation consumes it.

    The type parameter lets mypy and pyright check a linear (non-branching) conversation:
    ``send`` exists on ``Endpoint[Send[M, K]]`` and answers ``Endpoint[K]``, ``recv`` on
    ``Endpoint[Recv[M, K]]``, ``close`` on ``Endpoint[End]``.  After a `Select`, `Offer` or
    `Rec`, the protocol is checked at run time only (the endpoint is ``Endpoint[Session]``).

    Give each step's endpoint a new name (``asked = await ep.send(1)``): its type changes at
    each step, and mypy (unlike pyright) refuses to rebind a name to another type unless
    ``allow_redefinition_new`` is on.
    """

    __slots__ = ("channel", "side", "protocol")

    def __init__(self, channel: Channel, side: int, protocol: P, owner: Task[Any], acquired_at: Site | str) -> None:
        # Made by the scheduler for `owner` (not necessarily the running task), so Linear's
        # own __init__, which adopts into the running task, is not used.
        self._value = None
        self._release = None
        self.name = channel.names[side]
        self.used_at = None
        self._owner = None
        self.transfer(owner)
        self.acquired_at = acquired_at
        self.channel = channel
        self.side = side
        self.protocol = protocol

    def describe(self) -> str:
        return f"the endpoint of {self.name}"

    def _hint(self) -> str:
        return " (each operation answers the endpoint for the next step: `ep = await ep.send(x)`)"

    def describe_leak(self) -> str:
        left = unfold(cast(Session, self.protocol))
        state = "unclosed at its end" if isinstance(left, End) else f"dropped mid-protocol, where it had to {expects(left)}"
        return f"{self.describe()}, {state}, acquired at {self.acquired_at}"

    def _step(self, actual: str, want: type | tuple[type, ...]) -> Session:
        """The protocol's next step, if it is of kind ``want``; else `ProtocolError`."""
        if self.used_at is not None:
            self.consume()  # raises LinearityError naming the first use
        step = unfold(cast("Session", self.protocol))
        if not isinstance(step, want):
            raise ProtocolError(
                _WRONG_STEP.format(
                    endpoint=self.name, actual=actual, expected=expects(step),
                    position=self.protocol, fix=_fix_for(step),
                )
            )
        return step

    # (The dynamic overload comes first: mypy sees the two as overlapping otherwise; an
    # endpoint typed by a Send protocol does not match it, Endpoint being invariant.)
    @overload
    def send(self: Endpoint[Session] | Endpoint[Rec], message: object) -> SendOn[Session]: ...
    @overload
    def send(self: Endpoint[Send[M, K]], message: M) -> SendOn[K]: ...
    def send(self, message: object) -> SendOn[Any]:
        """Send ``message``; ``await`` it for the endpoint of the rest of the protocol."""
        step = cast("Send[object, Session]", self._step("send", Send))
        if not _bearable(message, step.message):
            raise ProtocolError(
                _WRONG_TYPE.format(
                    endpoint=self.name, value=message, kind=type(message).__qualname__,
                    expected=_type_name(step.message), position=self.protocol,
                )
            )
        self.consume()
        return SendOn(self, message, step.then)

    @overload
    def recv(self: Endpoint[Session] | Endpoint[Rec]) -> RecvOn[object, Session]: ...
    @overload
    def recv(self: Endpoint[Recv[M, K]]) -> RecvOn[M, K]: ...
    def recv(self) -> RecvOn[Any, Any]:
        """Receive a message; ``await`` it for ``(message, endpoint)``."""
        step = cast("Recv[object, Session]", self._step("receive", Recv))
        self.consume()
        return RecvOn(self, step.then)

    def select(self: Endpoint[Select] | Endpoint[Session] | Endpoint[Rec], label: str) -> ChooseOn:
        """Choose the branch ``label`` (the peer offers); ``await`` it for the endpoint."""
        step = cast(Select, self._step(f"select {label!r}", Select))
        if label not in step.branches:
            raise ProtocolError(
                _WRONG_LABEL.format(
                    endpoint=self.name, label=label, position=self.protocol,
                    labels=", ".join(step.branches),
                )
            )
        self.consume()
        return ChooseOn(self, label, step.branches[label])

    def offer(self: Endpoint[Offer] | Endpoint[Session] | Endpoint[Rec]) -> OfferOn:
        """Wait for the peer's choice; ``await`` it for ``(label, endpoint)``."""
        step = cast(Offer, self._step("wait for the peer's choice", Offer))
        self.consume()
        return OfferOn(self, step)

    def close(self: Endpoint[End] | Endpoint[Session] | Endpoint[Rec]) -> CloseOn:
        """End the conversation; allowed only where the protocol ends."""
        self._step("close", End)
        self.consume()
        return CloseOn(self)

    def __repr__(self) -> str:
        state = f"used at {self.used_at}" if self.used_at is not None else f"at {self.protocol}"
        return f"<endpoint of {self.name} {state}>"


def _bearable(value: object, hint: object) -> bool:
    if isinstance(hint, type) and not hasattr(hint, "__origin__"):
        return isinstance(value, hint)  # the common case stays off beartype
    from beartype.door import is_bearable

    return is_bearable(value, cast(Any, hint))


def _site_of(loop: Loop, endpoint: Endpoint[Any] | None = None) -> tuple[Task[Any], Site | str]:
    """The running task, and the user's line of this operation (where it used ``endpoint``)."""
    task = loop.current
    assert task is not None
    used_at = None if endpoint is None else endpoint.used_at
    return task, used_at if used_at is not None else program_site(task.coro)


def _next(endpoint: Endpoint[Any], then: Session, owner: Task[Any], site: Site | str) -> Endpoint[Any]:
    channel = endpoint.channel
    channel.position[endpoint.side] = then
    return Endpoint(channel, endpoint.side, then, owner, site)


def _deliver(endpoint: Endpoint[Any], kind: str, payload: object) -> None:
    """Put ``payload`` in the peer's inbox, or hand it to the peer if it is waiting."""
    channel = endpoint.channel
    peer = 1 - endpoint.side
    waiting = channel.waiting[peer]
    if waiting is None:
        channel.inbox[peer].append((kind, payload))
        return
    channel.waiting[peer] = None
    task, protocol, site = waiting
    channel.loop.wake(task, True, _answer(channel, peer, protocol, kind, payload, task, site))


def _answer(
    channel: Channel, side: int, protocol: Session, kind: str, payload: object, owner: Task[Any], site: Site | str
) -> tuple[object, Endpoint[Any]]:
    """What a receive or an offer on ``side`` answers, given what arrived."""
    if kind == "label":
        step = cast("Offer", unfold(protocol))
        label = cast("str", payload)
        then = step.branches[label]
        channel.position[side] = then
        return label, Endpoint(channel, side, then, owner, site)
    then = cast("Recv[object, Session]", unfold(protocol)).then
    channel.position[side] = then
    return payload, Endpoint(channel, side, then, owner, site)


def _receive(loop: Loop, endpoint: Endpoint[Any], protocol: Session, what: str) -> tuple[object, Endpoint[Any]]:
    channel = endpoint.channel
    side = endpoint.side
    task, site = _site_of(loop, endpoint)
    inbox = channel.inbox[side]
    if inbox:
        kind, payload = inbox.popleft()
        return _answer(channel, side, protocol, kind, payload, task, site)
    channel.waiting[side] = (task, protocol, site)

    def undo() -> None:
        channel.waiting[side] = None

    def reason() -> str:  # formatted only for a Deadlock report
        return (
            f"{what} on {channel.names[side]}; protocol here: {protocol}; "
            f"the peer has left: {channel.position[1 - side]}"
        )

    raise loop.park(reason, undo)


@dataclass(frozen=True, eq=False)
class SendOn(Trap[Endpoint[K]]):
    """Send a message on an endpoint (made by `Endpoint.send`); answers the next endpoint.

    Never blocks.  Recorded with the message; replay sends it again.
    """

    endpoint: Endpoint[Any]
    message: object
    then: K

    def perform(self, loop: Loop) -> Endpoint[K]:
        owner, site = _site_of(loop, self.endpoint)
        _deliver(self.endpoint, "message", self.message)
        return cast("Endpoint[K]", _next(self.endpoint, cast("Session", self.then), owner, site))


@dataclass(frozen=True, eq=False)
class RecvOn(Trap[tuple[M, Endpoint[K]]]):
    """Receive on an endpoint (made by `Endpoint.recv`); answers ``(message, next endpoint)``.

    Waits until the peer sends.  Recorded with its answer; replay receives again.
    """

    endpoint: Endpoint[Any]
    then: K

    def perform(self, loop: Loop) -> tuple[M, Endpoint[K]]:
        answer = _receive(loop, self.endpoint, cast("Session", self.endpoint.protocol), "receive")
        return cast("tuple[M, Endpoint[K]]", answer)


@dataclass(frozen=True, eq=False)
class ChooseOn(Trap[Endpoint[Session]]):
    """Select a branch on an endpoint (made by `Endpoint.select`); answers the next endpoint."""

    endpoint: Endpoint[Any]
    label: str
    then: Session

    def perform(self, loop: Loop) -> Endpoint[Session]:
        owner, site = _site_of(loop, self.endpoint)
        _deliver(self.endpoint, "label", self.label)
        return _next(self.endpoint, self.then, owner, site)


@dataclass(frozen=True, eq=False)
class OfferOn(Trap[tuple[str, Endpoint[Session]]]):
    """Wait for the peer's choice (made by `Endpoint.offer`); answers ``(label, endpoint)``."""

    endpoint: Endpoint[Any]
    step: Offer

    def perform(self, loop: Loop) -> tuple[str, Endpoint[Session]]:
        answer = _receive(loop, self.endpoint, self.step, "wait for a choice")
        return cast("tuple[str, Endpoint[Session]]", answer)


@dataclass(frozen=True, eq=False)
class CloseOn(Trap[None]):
    """Close an endpoint at its protocol's end (made by `Endpoint.close`)."""

    endpoint: Endpoint[Any]

    def perform(self, loop: Loop) -> None:
        self.endpoint.channel.position[self.endpoint.side] = END


@dataclass(frozen=True, eq=False, init=False)
class Open(Trap[tuple[Endpoint[P], Endpoint[Q]]], Generic[P, Q]):
    """Open a channel: answers two endpoints, of ``protocol`` and of its dual.

    Give the peer's protocol too (``Open(p, q)``) to have both ends typed; it must be
    ``dual(p)``.  Both endpoints belong to the task that opens the channel until an
    operation on one is performed by another task (pass it to the task you spawn).

    >>> import effectus as fx
    >>> from effectus.types import Open, recv, send
    >>> async def main() -> str:
    ...     client, server = await Open(send(int, recv(str)), recv(int, send(str)))
    ...     asked = await client.send(41)
    ...     n, replying = await server.recv()
    ...     served = await replying.send(f"got {n + 1}")
    ...     answer, finished = await asked.recv()
    ...     await finished.close()
    ...     await served.close()
    ...     return answer
    >>> fx.run(main(), fx.testing())
    'got 42'

    Raises:
        ProtocolError: ``protocol`` is ill-formed, or ``peer`` is not its dual.
    """

    protocol: P
    peer: Q

    @overload
    def __init__(self: Open[P2, Session], protocol: P2) -> None: ...
    @overload
    def __init__(self: Open[P2, Q2], protocol: P2, peer: Q2) -> None: ...
    def __init__(self, protocol: object, peer: object = None) -> None:
        p = check(cast(Session, protocol))
        expected = dual(p)
        if peer is None:
            peer = expected
        elif check(cast(Session, peer)) != expected:
            raise ProtocolError(
                f"Open(p, q): q must be the dual of p.\n  p:       {p}\n  dual(p): {expected}\n"
                f"  q:       {peer}\nFix: pass q = dual(p), or leave it out."
            )
        object.__setattr__(self, "protocol", protocol)
        object.__setattr__(self, "peer", peer)

    def perform(self, loop: Loop) -> tuple[Endpoint[P], Endpoint[Q]]:
        owner, site = _site_of(loop)
        p, q = cast(Session, self.protocol), cast(Session, self.peer)
        channel = Channel(loop, p, q)
        return (
            Endpoint(channel, 0, self.protocol, owner, site),
            Endpoint(channel, 1, self.peer, owner, site),
        )

    def __repr__(self) -> str:
        return f"Open({self.protocol})"


def _encode_endpoint(ep: Endpoint[Any]) -> JSON:
    return [ep.channel.id, ep.side, str(ep.protocol)]


def _register() -> None:
    register_codec(Endpoint, "endpoint", _encode_endpoint, lambda data: f"<endpoint {data}>")  # pyright: ignore[reportUnknownLambdaType]
    for cls in (Send, Recv, Select, Offer, Rec, Var, End):
        register_codec(cls, f"session_{cls.__name__.lower()}", str, str)


_register()
