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
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast, overload

from effectus.core import ProtocolError, Trap, effect, register_codec
from effectus.core._codec import JSON
from effectus.core._loop import Loop, Suspend, Task
from effectus.core._site import Site, caller_site, program_site, register_await_code
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
    well_formed,
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
R = TypeVar("R")
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
        # inbox[i]: what side i has yet to receive (messages and labels), oldest first
        self.inbox: tuple[deque[object], deque[object]] = (deque(), deque())
        # waiting[i]: the task blocked receiving on side i, and its receive (or offer)
        self.waiting: list[tuple[Task[Any], _Receiving[Any]] | None] = [None, None]
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

    def _refuse(self, actual: str, want: type, message: object = None) -> ProtocolError:
        """Why this endpoint cannot ``actual`` now: `LinearityError` (raised) or `ProtocolError`."""
        if self.used_at is not None:
            self.consume()  # raises LinearityError naming the first use
        step = unfold(cast(Session, self.protocol))
        if not isinstance(step, want):
            return ProtocolError(
                _WRONG_STEP.format(
                    endpoint=self.name, actual=actual, expected=expects(step),
                    position=self.protocol, fix=_fix_for(step),
                )
            )
        if isinstance(step, Send):
            return ProtocolError(
                _WRONG_TYPE.format(
                    endpoint=self.name, value=message, kind=type(message).__qualname__,
                    expected=_type_name(step.message), position=self.protocol,
                )
            )
        branches = cast(Select, step).branches
        return ProtocolError(
            _WRONG_LABEL.format(
                endpoint=self.name, label=message, position=self.protocol, labels=", ".join(branches),
            )
        )

    def _take(self) -> None:
        """Mark this endpoint used by the caller's caller (the user's line); leave its owner."""
        self.used_at = caller_site(3)
        owner = self._owner
        if owner is not None:
            self._owner = None
            owner.linear.remove(self)

    # Each operation checks its step inline (this is the hot path of every conversation) and
    # leaves the error messages to `_refuse`.  The protocol is checked before anything moves:
    # a refused step consumes nothing.

    # (The dynamic overload comes first: mypy sees the two as overlapping otherwise; an
    # endpoint typed by a Send protocol does not match it, Endpoint being invariant.)
    @overload
    def send(self: Endpoint[Session] | Endpoint[Rec], message: object) -> SendOn[Session]: ...
    @overload
    def send(self: Endpoint[Send[M, K]], message: M) -> SendOn[K]: ...
    def send(self, message: object) -> SendOn[Any]:
        """Send ``message``; ``await`` it for the endpoint of the rest of the protocol."""
        step: Any = unfold(self.protocol) if self.used_at is None else None  # type: ignore[arg-type]
        if step.__class__ is not Send or not (message.__class__ is step.message or _bearable(message, step.message)):
            raise self._refuse("send", Send, message)
        self._take()
        return SendOn(self, message, step.then)

    @overload
    def recv(self: Endpoint[Session] | Endpoint[Rec]) -> RecvOn[object, Session]: ...
    @overload
    def recv(self: Endpoint[Recv[M, K]]) -> RecvOn[M, K]: ...
    def recv(self) -> RecvOn[Any, Any]:
        """Receive a message; ``await`` it for ``(message, endpoint)``."""
        step: Any = unfold(self.protocol) if self.used_at is None else None  # type: ignore[arg-type]
        if step.__class__ is not Recv:
            raise self._refuse("receive", Recv)
        self._take()
        return RecvOn(self, step.then)

    def select(self: Endpoint[Select] | Endpoint[Session] | Endpoint[Rec], label: str) -> ChooseOn:
        """Choose the branch ``label`` (the peer offers); ``await`` it for the endpoint."""
        step: Any = unfold(self.protocol) if self.used_at is None else None
        if step.__class__ is not Select or label not in step.branches:
            raise self._refuse(f"select {label!r}", Select, label)
        self._take()
        return ChooseOn(self, label, step.branches[label])

    def offer(self: Endpoint[Offer] | Endpoint[Session] | Endpoint[Rec]) -> OfferOn:
        """Wait for the peer's choice; ``await`` it for ``(label, endpoint)``."""
        step: Any = unfold(self.protocol) if self.used_at is None else None
        if step.__class__ is not Offer:
            raise self._refuse("wait for the peer's choice", Offer)
        self._take()
        return OfferOn(self, step)

    def close(self: Endpoint[End] | Endpoint[Session] | Endpoint[Rec]) -> CloseOn:
        """End the conversation; allowed only where the protocol ends."""
        step: Any = unfold(self.protocol) if self.used_at is None else None
        if step.__class__ is not End:
            raise self._refuse("close", End)
        self._take()
        return CloseOn(self)

    def __repr__(self) -> str:
        state = f"used at {self.used_at}" if self.used_at is not None else f"at {self.protocol}"
        return f"<endpoint of {self.name} {state}>"


def _bearable(value: object, hint: object) -> bool:
    if isinstance(hint, type) and not hasattr(hint, "__origin__"):
        return isinstance(value, hint)  # the common case stays off beartype
    from beartype.door import is_bearable

    return is_bearable(value, cast(Any, hint))


def _site_of(task: Task[Any], endpoint: Endpoint[Any] | None = None) -> Site | str:
    """The user's line of this operation: where it used ``endpoint``, else where ``task`` is."""
    used_at = None if endpoint is None else endpoint.used_at
    return used_at if used_at is not None else program_site(task.coro)


def _endpoint(channel: Channel, side: int, protocol: Any, owner: Task[Any], site: Site | str) -> Endpoint[Any]:
    """`Endpoint(...)` without the call overhead: one is made at every step of a conversation."""
    channel.position[side] = protocol
    ep: Endpoint[Any] = _new(Endpoint)  # pyright: ignore[reportUnknownVariableType]
    ep._value = ep._release = ep.used_at = None  # pyright: ignore[reportPrivateUsage]
    ep.name = channel.names[side]
    ep.acquired_at = site
    ep.channel = channel
    ep.side = side
    ep.protocol = protocol
    ep._owner = owner  # pyright: ignore[reportPrivateUsage]
    owner.linear.append(ep)
    return ep


_new = object.__new__


def _send(loop: Loop, endpoint: Endpoint[Any], payload: object, then: object) -> Endpoint[Any]:
    """Hand ``payload`` to the peer (waiting, or to its inbox); the endpoint after the step."""
    channel = endpoint.channel
    owner = loop.current
    assert owner is not None
    site = _site_of(owner, endpoint)
    peer = 1 - endpoint.side
    waiting = channel.waiting[peer]
    if waiting is None:
        channel.inbox[peer].append(payload)
    else:
        channel.waiting[peer] = None
        task, receiving = waiting
        loop.wake(task, True, receiving.answer(payload, task))
    return _endpoint(channel, endpoint.side, then, owner, site)


# The operations below answer inside their own ``await`` when `Loop.inline` holds (tasks run
# until they block, and no handler, recording or replay has to see traps): a send or a select
# is delivered at once, a receive whose message has arrived takes it, and a receive that has
# to wait parks its task itself and yields the `Suspend` for the loop to raise.  Otherwise an
# operation goes to the loop like any trap (`perform`, which shares the same steps), where
# handlers, recording and the `Seeded` scheduler see it.


class _Sending(Trap[R]):
    """A send or a select: never waits."""

    __slots__ = ()

    endpoint: Endpoint[Any]

    def payload(self) -> tuple[object, object]:
        """What goes to the peer, and the protocol after this step."""
        raise NotImplementedError  # each sending operation says what it sends

    def perform(self, loop: Loop) -> R:
        payload, then = self.payload()
        return _send(loop, self.endpoint, payload, then)  # type: ignore[return-value]

    def __await__(self) -> Generator[Any, Any, R]:
        loop = self.endpoint.channel.loop
        if loop.inline:
            payload, then = self.payload()
            return _send(loop, self.endpoint, payload, then)  # type: ignore[return-value]
        performed: R = yield self
        return performed


class _Receiving(Trap[R]):
    """A receive or an offer: waits for what the peer sends."""

    __slots__ = ()

    endpoint: Endpoint[Any]
    what = "receive"

    def answer(self, payload: object, owner: Task[Any]) -> Any:
        """What this operation answers when ``payload`` arrives, for ``owner``."""
        raise NotImplementedError  # each receiving operation says what it answers

    def _next(self, then: object, owner: Task[Any]) -> Endpoint[Any]:
        """The endpoint after this step, for ``owner``."""
        endpoint = self.endpoint
        return _endpoint(endpoint.channel, endpoint.side, then, owner, _site_of(owner, endpoint))

    def _arrived(self, loop: Loop) -> object:
        """The answer, if the peer's message is there; else park the task (the `Suspend`)."""
        endpoint = self.endpoint
        inbox = endpoint.channel.inbox[endpoint.side]
        task = loop.current
        assert task is not None
        if inbox:
            return self.answer(inbox.popleft(), task)
        endpoint.channel.waiting[endpoint.side] = (task, self)
        return loop.park(self._reason, self._undo)

    def _undo(self) -> None:
        self.endpoint.channel.waiting[self.endpoint.side] = None

    def _reason(self) -> str:  # formatted only for a Deadlock report
        endpoint = self.endpoint
        channel = endpoint.channel
        return (
            f"{self.what} on {channel.names[endpoint.side]}; protocol here: {endpoint.protocol}; "
            f"the peer has left: {channel.position[1 - endpoint.side]}"
        )

    def perform(self, loop: Loop) -> R:
        answer: Any = self._arrived(loop)
        if answer.__class__ is Suspend:
            raise answer
        return answer  # type: ignore[no-any-return]

    def __await__(self) -> Generator[Any, Any, R]:
        loop = self.endpoint.channel.loop
        if loop.inline:
            answer: Any = self._arrived(loop)
            if answer.__class__ is not Suspend:
                return answer  # type: ignore[no-any-return]
            woken: R = yield answer  # the loop raises it; the peer wakes us
            return woken
        performed: R = yield self
        return performed


for _operation in (_Sending, _Receiving):
    register_await_code(vars(_operation)["__await__"].__code__)


@effect
class SendOn(_Sending[Endpoint[K]]):
    """Send a message on an endpoint (made by `Endpoint.send`); answers the next endpoint.

    Never blocks.  Recorded with the message; replay sends it again.
    """

    endpoint: Endpoint[Any]
    message: object
    then: K

    def payload(self) -> tuple[object, object]:
        return self.message, self.then


@effect
class RecvOn(_Receiving[tuple[M, Endpoint[K]]]):
    """Receive on an endpoint (made by `Endpoint.recv`); answers ``(message, next endpoint)``.

    Waits until the peer sends.  Recorded with its answer; replay receives again.
    """

    endpoint: Endpoint[Any]
    then: K

    def answer(self, payload: object, owner: Task[Any]) -> tuple[object, Endpoint[K]]:
        return payload, self._next(self.then, owner)


@effect
class ChooseOn(_Sending[Endpoint[Session]]):
    """Select a branch on an endpoint (made by `Endpoint.select`); answers the next endpoint."""

    endpoint: Endpoint[Any]
    label: str
    then: Session

    def payload(self) -> tuple[object, object]:
        return self.label, self.then


@effect
class OfferOn(_Receiving[tuple[str, Endpoint[Session]]]):
    """Wait for the peer's choice (made by `Endpoint.offer`); answers ``(label, endpoint)``."""

    endpoint: Endpoint[Any]
    step: Offer

    what = "wait for a choice"

    def answer(self, payload: object, owner: Task[Any]) -> tuple[str, Endpoint[Session]]:
        label: str = payload  # type: ignore[assignment]  # the peer's select checked it
        return label, self._next(self.step.branches[label], owner)


@effect
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
        p = well_formed(cast(Session, protocol))
        expected = dual(p)
        if peer is None:
            peer = expected
        elif well_formed(cast(Session, peer)) != expected:
            raise ProtocolError(
                f"Open(p, q): q must be the dual of p.\n  p:       {p}\n  dual(p): {expected}\n"
                f"  q:       {peer}\nFix: pass q = dual(p), or leave it out."
            )
        object.__setattr__(self, "protocol", protocol)
        object.__setattr__(self, "peer", peer)

    def perform(self, loop: Loop) -> tuple[Endpoint[P], Endpoint[Q]]:
        owner = loop.current
        assert owner is not None
        site = _site_of(owner)
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
