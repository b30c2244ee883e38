"""Multiparty session types as values: a protocol that projects gives each pair of roles duals.

A global protocol says who sends what to whom: a `Message` from one role to another, a `Choice`
that one role makes and tells one other, loops with `GlobalRec` / `GlobalVar`, and
`GLOBAL_END`.  Effectus runs it over one binary channel per pair of roles, so
``project(g, role)`` gives `role`'s end of each of its channels as a binary protocol
(`Session`): the steps between the two roles, the rest skipped.

A role that is not told which branch of a choice was taken must act alike in every branch
until a peer that knows tells it (the standard "full merge"), and a channel must carry the
label of every choice its protocol follows; otherwise projection is refused with a
`ProtocolError` saying who cannot tell, and what it would do in each branch.
``project_all(g)`` projects every role; then ``project(g, a)[b] == dual(project(g, b)[a])``.

Notation: ``str(g)`` is compact — ``a -> b: int . then`` message, ``a -> b {ask: ..., stop:
...}`` choice, ``rec x . ...`` and ``x`` recursion, ``end`` — and ``repr(g)`` is the
constructor expression.

>>> g = global_rec("loop", lambda loop: choice("client", "server",
...     ask=message("client", "server", int, message("server", "client", str, loop)),
...     stop=GLOBAL_END))
>>> print(g)
rec loop . client -> server {ask: client -> server: int . server -> client: str . loop, stop: end}
>>> print(project(g, "server")["client"])
rec loop . &{ask: ?int . !str . loop, stop: end}
"""
from __future__ import annotations

import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias, cast

from effectus.core import ProtocolError
from effectus.types._session import END, Offer, Rec, Recv, Select, Send, Session, Var, expects
from effectus.types._session import (  # the sibling's checks, so both kinds of protocol read alike
    _at,  # pyright: ignore[reportPrivateUsage]
    _check_message,  # pyright: ignore[reportPrivateUsage]
    _type_name,  # pyright: ignore[reportPrivateUsage]
)

__all__ = [
    "GLOBAL_END",
    "Choice",
    "Global",
    "GlobalEnd",
    "GlobalRec",
    "GlobalVar",
    "Message",
    "choice",
    "global_rec",
    "message",
    "project",
    "project_all",
    "roles",
]

_BAD_ROLE = """\
ill-formed protocol: {where} has {field} {role!r}, which is not a Python identifier.
Fix: name roles with identifiers, e.g. message('client', 'server', int)."""

_SELF_MESSAGE = """\
ill-formed protocol: {where} has role {role!r} talk to itself; a role cannot message itself.
Fix: name two different roles, e.g. {kind}({role!r}, 'other', ...); what one role does alone \
is not part of the protocol."""

_BAD_THEN = """\
ill-formed protocol: {where} continues with {then!r} (type={kind}), which is not a global \
protocol.
Fix: continue with Message, Choice, GlobalRec, GlobalVar or GLOBAL_END (the default); binary \
steps such as Send come out of project(), not into a global protocol."""

_BAD_BRANCHES = """\
ill-formed protocol: Choice takes a dict from labels to global protocols, not {branches!r} \
(type={given}).
Fix: pass a dict, e.g. Choice('client', 'server', {{'stop': GLOBAL_END}}), or use the builder \
choice('client', 'server', ask=..., stop=...)."""

_NO_BRANCHES = """\
ill-formed protocol: {where} has no branches, so it can never go on.
Fix: give at least one labelled branch, e.g. choice('client', 'server', stop=GLOBAL_END), or \
use GLOBAL_END to stop."""

_BAD_LABEL = """\
ill-formed protocol: {where} has label {label!r}, which is not a Python identifier.
Fix: name each branch with an identifier, e.g. choice('client', 'server', ask=..., stop=...)."""

_BAD_NAME = """\
ill-formed protocol: {where} has name {name!r}, which is not a Python identifier.
Fix: name loops with identifiers, e.g. GlobalRec('loop', ...) and GlobalVar('loop')."""

_UNGUARDED = """\
ill-formed protocol: recursion is unguarded at {where}: GlobalVar({name!r}) is reached without \
a message or choice since GlobalRec({name!r}), so unfolding it never makes progress.
Fix: put a step before the GlobalVar, e.g. \
GlobalRec({name!r}, Message('a', 'b', int, GlobalVar({name!r})))."""

_FREE_VAR = """\
ill-formed protocol: GlobalVar({name!r}) at {where} is not inside a GlobalRec({name!r}).
Fix: wrap the protocol in GlobalRec({name!r}, ...), or build it with \
global_rec({name!r}, lambda {name}: ...)."""

_UNKNOWN_ROLE = """\
cannot project onto {role!r}: it takes no part in the protocol, whose roles are {roles}.
Fix: project onto one of those roles, or give {role!r} a part in the protocol."""

_CANNOT_TELL = """\
{who} cannot tell which branch {chooser!r} chose at {where}, yet {before}in branch {one!r} \
it would {does_one}, but in branch {two!r} it would {does_two}.
Fix: have {informed!r} tell {told!r} the choice, e.g. choice({informed!r}, {told!r}, {example}) \
inside each branch, before {told!r} acts differently{channel}."""

_CHANNEL = "; each pair's channel must carry the labels of the choices its protocol follows"


def _check_roles(pair: tuple[object, object], fields: tuple[str, str], where: str) -> None:
    for role, field in zip(pair, fields):
        if not isinstance(role, str) or not role.isidentifier():
            raise ProtocolError(_BAD_ROLE.format(where=where, field=field, role=role))
    if pair[0] == pair[1]:
        raise ProtocolError(_SELF_MESSAGE.format(where=where, role=pair[0], kind=where.lower()))


def _check_then(then: object, where: str) -> None:
    if not isinstance(then, _GLOBALS):
        raise ProtocolError(_BAD_THEN.format(where=where, then=then, kind=type(then).__name__))


def _check_name(name: object, where: str) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ProtocolError(_BAD_NAME.format(where=where, name=name))


def _head(step: Message | Choice) -> str:
    """How a step is named in paths: ``Message(a->b: int)``, ``Choice(a->b)``."""
    if isinstance(step, Message):
        return f"Message({step.sender}->{step.receiver}: {_type_name(step.message)})"
    return f"Choice({step.chooser}->{step.receiver})"


@dataclass(frozen=True, slots=True)
class GlobalEnd:
    """The protocol is over for every role.  Written ``end``; use the constant `GLOBAL_END`.

    >>> GLOBAL_END
    GLOBAL_END
    """

    def __str__(self) -> str:
        return "end"

    def __repr__(self) -> str:
        return "GLOBAL_END"


GLOBAL_END = GlobalEnd()


@dataclass(frozen=True, slots=True)
class Message:
    """`sender` sends `receiver` a message of type `message`, then all follow `then`.

    Written ``sender -> receiver: T . then``; `then` defaults to `GLOBAL_END`.  Build it with
    `message` to give a typing construct (``int | None``) as the type.

    >>> print(Message("client", "server", int))
    client -> server: int . end
    """

    sender: str
    receiver: str
    message: type[object]
    then: Global = GLOBAL_END

    def __post_init__(self) -> None:
        _check_roles((self.sender, self.receiver), ("sender", "receiver"), "Message")
        _check_message(self.message, "Message")
        _check_then(self.then, _head(self))

    def __str__(self) -> str:
        return f"{self.sender} -> {self.receiver}: {_type_name(self.message)} . {self.then}"

    def __repr__(self) -> str:
        rest = "" if self.then == GLOBAL_END else f", {self.then!r}"
        return f"Message({self.sender!r}, {self.receiver!r}, {_type_name(self.message)}{rest})"


@dataclass(frozen=True, slots=True)
class Choice:
    """`chooser` picks a labelled branch and tells `receiver`; then all follow that branch.

    Written ``chooser -> receiver {label: ..., ...}``.  `branches` maps each label (a Python
    identifier) to its protocol and is copied into a read-only mapping; branch order is kept
    for display but does not affect equality.  No other role is told the label.

    >>> print(Choice("a", "b", {"more": Message("a", "b", int, GLOBAL_END), "stop": GLOBAL_END}))
    a -> b {more: a -> b: int . end, stop: end}
    """

    chooser: str
    receiver: str
    branches: Mapping[str, Global]

    def __post_init__(self) -> None:
        _check_roles((self.chooser, self.receiver), ("chooser", "receiver"), "Choice")
        branches = cast(object, self.branches)  # as the user gave it, unchecked
        if not isinstance(branches, Mapping):
            given = type(branches).__name__
            raise ProtocolError(_BAD_BRANCHES.format(branches=branches, given=given))
        if not branches:
            raise ProtocolError(_NO_BRANCHES.format(where=_head(self)))
        labelled = cast("Mapping[object, object]", branches)
        for label, body in labelled.items():
            if not isinstance(label, str) or not label.isidentifier():
                raise ProtocolError(_BAD_LABEL.format(where=_head(self), label=label))
            _check_then(body, f"{_head(self)}[{label!r}]")
        object.__setattr__(self, "branches", types.MappingProxyType(dict(labelled)))

    def __hash__(self) -> int:
        return hash((self.chooser, self.receiver, frozenset(self.branches.items())))

    def __reduce__(self) -> tuple[type[Choice], tuple[str, str, dict[str, Global]]]:
        return (Choice, (self.chooser, self.receiver, dict(self.branches)))  # no mappingproxy

    def __str__(self) -> str:
        shown = ", ".join(f"{label}: {body}" for label, body in self.branches.items())
        return f"{self.chooser} -> {self.receiver} {{{shown}}}"

    def __repr__(self) -> str:
        return f"Choice({self.chooser!r}, {self.receiver!r}, {dict(self.branches)!r})"


@dataclass(frozen=True, slots=True)
class GlobalRec:
    """A loop: `body`, where each ``GlobalVar(name)`` stands for the whole `GlobalRec` again.

    Every ``GlobalVar(name)`` in `body` must come after at least one message or choice, so
    that unfolding makes progress.  Written ``rec name . body``.

    >>> print(GlobalRec("loop", Message("a", "b", int, GlobalVar("loop"))))
    rec loop . a -> b: int . loop
    """

    name: str
    body: Global

    def __post_init__(self) -> None:
        _check_name(self.name, "GlobalRec")
        path: tuple[str, ...] = (f"GlobalRec({self.name!r})",)
        inner = self.body
        _check_then(inner, path[0])
        while isinstance(inner, GlobalRec) and inner.name != self.name:  # not yet past a step
            path, inner = (*path, f"GlobalRec({inner.name!r})"), inner.body
        if inner == GlobalVar(self.name):
            raise ProtocolError(_UNGUARDED.format(where=_at(path), name=self.name))

    def __str__(self) -> str:
        return f"rec {self.name} . {self.body}"

    def __repr__(self) -> str:
        return f"GlobalRec({self.name!r}, {self.body!r})"


@dataclass(frozen=True, slots=True)
class GlobalVar:
    """A jump back to the enclosing ``GlobalRec(name, ...)``.  Written ``name``.

    >>> GlobalVar("loop")
    GlobalVar('loop')
    """

    name: str

    def __post_init__(self) -> None:
        _check_name(self.name, "GlobalVar")

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"GlobalVar({self.name!r})"


#: Any global protocol: `Message` and `Choice` are steps, `GlobalRec`/`GlobalVar` loop.
Global: TypeAlias = "Message | Choice | GlobalRec | GlobalVar | GlobalEnd"
_GLOBALS = (Message, Choice, GlobalRec, GlobalVar, GlobalEnd)


def message(sender: str, receiver: str, message: object, then: Global = GLOBAL_END) -> Message:
    """`sender` sends `receiver` a message of type `message`, then all follow `then`.

    `message` is a class or a typing construct that beartype can check (``int | None``).

    Raises:
        ProtocolError: a role is not an identifier, the two roles are one, `message` is not a
            type, or `then` is not a global protocol.

    >>> print(message("client", "server", int | None, message("server", "client", str)))
    client -> server: int | None . server -> client: str . end
    """
    return Message(sender, receiver, cast("type[object]", message), then)


def choice(chooser: str, receiver: str, /, **branches: Global) -> Choice:
    """`chooser` picks one of the labelled `branches` (labels are the keyword names) and tells
    `receiver`.

    Raises:
        ProtocolError: a role is not an identifier, the two roles are one, there are no
            branches, or a branch is not a global protocol.

    >>> print(choice("client", "server", ask=message("client", "server", int), stop=GLOBAL_END))
    client -> server {ask: client -> server: int . end, stop: end}
    """
    return Choice(chooser, receiver, branches)


def global_rec(name: str, body: Callable[[GlobalVar], Global]) -> GlobalRec:
    """A loop: ``body(GlobalVar(name))``, where the variable jumps back to the loop's start.

    Raises:
        ProtocolError: `name` is not an identifier, or the loop reaches its variable without
            a message or choice (unguarded recursion).

    >>> print(global_rec("ping", lambda again: message("a", "b", str, again)))
    rec ping . a -> b: str . ping
    """
    _check_name(name, "GlobalRec")  # before GlobalVar(name), so the message names the rec
    return GlobalRec(name, body(GlobalVar(name)))


def _inside(g: Global) -> list[tuple[str, Global]]:
    """The protocols right inside `g`, each with its place in a path."""
    match g:
        case Message(then=then):
            return [(_head(g), then)]
        case Choice(branches=branches):
            return [(f"{_head(g)}[{label!r}]", body) for label, body in branches.items()]
        case GlobalRec(name=name, body=body):
            return [(f"GlobalRec({name!r})", body)]
        case GlobalVar() | GlobalEnd():
            return []


def roles(g: Global) -> tuple[str, ...]:
    """The roles of `g`, in order of first appearance (sender or chooser before receiver).

    Raises:
        ProtocolError: `g` is not a global protocol.

    >>> roles(message("client", "server", int, message("server", "db", str)))
    ('client', 'server', 'db')
    """
    _check_then(g, "the protocol")
    match g:
        case Message(sender=one, receiver=two) | Choice(chooser=one, receiver=two):
            found = [one, two]
        case _:
            found = []
    found += [role for _, inner in _inside(g) for role in roles(inner)]
    return tuple(dict.fromkeys(found))  # each once, in order


def _free(g: Global, bound: frozenset[str], path: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """``(name, path)`` for each `GlobalVar` of `g` not bound by a `GlobalRec` around it."""
    if isinstance(g, GlobalVar) and g.name not in bound:
        yield g.name, _at(path)
    bound = bound | {g.name} if isinstance(g, GlobalRec) else bound
    for place, inner in _inside(g):
        yield from _free(inner, bound, (*path, place))


class _Clash(NamedTuple):
    """Where two parts of a role first differ, after the steps they share, in words."""

    one: Global
    two: Global
    before: tuple[str, ...] = ()


def _does(g: Global, role: str) -> str:
    """What `role` does first in `g`, which holds only steps of `role`, in words."""
    match g:
        case Message(sender=sender, receiver=receiver, message=sent) if sender == role:
            return f"{expects(Send(sent, END))} to {receiver!r}"
        case Message(sender=sender, message=sent):
            return f"{expects(Recv(sent, END))} from {sender!r}"
        case Choice(chooser=chooser, receiver=receiver, branches=branches) if chooser == role:
            return f"{expects(Select(dict.fromkeys(branches, END)))} and tell {receiver!r}"
        case Choice(chooser=chooser, branches=branches):
            return expects(Offer(dict.fromkeys(branches, END))).replace("the peer", repr(chooser))
        case GlobalRec(body=body):
            return _does(body, role)
        case GlobalVar(name=name):
            return f"go back to the start of loop {name!r}"
        case GlobalEnd():
            return "do nothing more"


def _merge(one: Global, two: Global, role: str, knows: bool) -> Global | _Clash:
    """One protocol by which `role` follows both `one` and `two`, or where they differ.

    Alike steps merge, and so do their continuations.  A choice told to `role` merges by
    the union of its branches, since `role` learns which is taken, and so does any choice if
    `role` `knows` the branch taken; else a choice must have the same labels in both.
    """
    match one, two:
        case (Message() as a, Message() as b) if (a.sender, a.receiver, a.message) == (
            b.sender, b.receiver, b.message
        ):
            then = _merge(a.then, b.then, role, knows)
            if isinstance(then, _Clash):
                return then._replace(before=(_does(a, role), *then.before))
            return Message(a.sender, a.receiver, a.message, then)
        case (Choice() as a, Choice() as b) if (a.chooser, a.receiver) == (b.chooser, b.receiver):
            if not (knows or a.receiver == role) and a.branches.keys() != b.branches.keys():
                return _Clash(a, b)
            merged = dict(a.branches)
            for label, body in b.branches.items():
                both = _merge(merged[label], body, role, knows) if label in merged else body
                if isinstance(both, _Clash):
                    step = f"choose {label!r} and tell {a.receiver!r}"
                    if a.chooser != role:
                        step = f"be told {label!r} by {a.chooser!r}"
                    return both._replace(before=(step, *both.before))
                merged[label] = both
            return Choice(a.chooser, a.receiver, merged)
        case (GlobalRec() as a, GlobalRec() as b) if a.name == b.name:
            inner = _merge(a.body, b.body, role, knows)
            return inner if isinstance(inner, _Clash) else GlobalRec(a.name, inner)
        case _:
            return one if one == two else _Clash(one, two)


def _merge_branches(
    g: Choice, parts: dict[str, Global], role: str, peer: str | None, where: str
) -> Global:
    """One protocol from the `parts` in the branches of `g`, as `_part` says (see `_merge`)."""
    who, knows, labels = peer or role, peer is not None, list(parts)
    merged = parts[labels[0]]
    for at, two in enumerate(labels[1:], 1):
        both = _merge(merged, parts[two], who, knows)
        if not isinstance(both, _Clash):
            merged = both
            continue
        clashes = (
            (one, clash) for one in labels[:at]
            if isinstance(clash := _merge(parts[one], parts[two], who, knows), _Clash)
        )
        one, clash = next(clashes, (labels[0], both))  # name a branch that differs on its own
        first = f"in both it would first {', then '.join(clash.before)}; then "
        raise ProtocolError(
            _CANNOT_TELL.format(
                who=f"role {who!r}" + (f", on its channel with {role!r}," if peer else ""),
                chooser=g.chooser, where=where, before=first * bool(clash.before), one=one,
                two=two, does_one=_does(clash.one, who), does_two=_does(clash.two, who),
                informed=role if peer else g.receiver, told=who, channel=_CHANNEL * knows,
                example=", ".join(f"{label}=..." for label in labels),
            )
        )
    return merged


def _part(g: Global, role: str, peer: str | None, path: tuple[str, ...]) -> Global:
    """The steps of `g` that `role` takes part in (only those with `peer`, when given).

    Without `peer`, `role` is not told the branch of a choice it is not part of, so the
    branches are merged for `role`.  With `peer`, `g` holds only `role`'s steps, so `role`
    knows every branch taken; the branches are merged for the channel with `peer`, which
    must carry the labels it follows (whether `peer` knows them is checked for `peer`).
    """

    def kept(one: str, two: str) -> bool:
        return role in (one, two) and (peer is None or peer in (one, two))

    match g:
        case Message(sender=sender, receiver=receiver, message=sent, then=then):
            rest = _part(then, role, peer, (*path, _head(g)))
            return Message(sender, receiver, sent, rest) if kept(sender, receiver) else rest
        case Choice(chooser=chooser, receiver=receiver, branches=branches):
            parts = {
                label: _part(body, role, peer, (*path, f"{_head(g)}[{label!r}]"))
                for label, body in branches.items()
            }
            if kept(chooser, receiver):
                return Choice(chooser, receiver, parts)
            return _merge_branches(g, parts, role, peer, _at((*path, _head(g))))
        case GlobalRec(name=name, body=body):
            if (peer or role) not in roles(body) and not any(_free(body, frozenset({name}), ())):
                return GLOBAL_END  # the loop runs, and maybe ends, without the two talking
            inner = _part(body, role, peer, (*path, f"GlobalRec({name!r})"))
            if any(found == name for found, _ in _free(inner, frozenset(), ())):
                return GlobalRec(name, inner)
            return inner  # only an outer loop comes round again for the two
        case GlobalVar() | GlobalEnd():
            return g


def _binary(g: Global, role: str) -> Session:
    """`role`'s binary protocol from `g`, whose steps are all between `role` and one peer."""
    match g:
        case Message(sender=sender, message=sent, then=then):
            return (Send if sender == role else Recv)(sent, _binary(then, role))
        case Choice(chooser=chooser, branches=branches):
            local = {label: _binary(body, role) for label, body in branches.items()}
            return Select(local) if chooser == role else Offer(local)
        case GlobalRec(name=name, body=body):
            return Rec(name, _binary(body, role))
        case GlobalVar(name=name):
            return Var(name)
        case GlobalEnd():
            return END


def _own(g: Global, role: str) -> Global:
    """`role`'s steps in `g`, checking that `g` is whole and that `role` can tell its part."""
    _check_then(g, "the protocol")
    for name, where in _free(g, frozenset(), ()):
        raise ProtocolError(_FREE_VAR.format(name=name, where=where))
    if role not in (everyone := roles(g)):
        listed = ", ".join(map(repr, everyone)) or "none"
        raise ProtocolError(_UNKNOWN_ROLE.format(role=role, roles=listed))
    return _part(g, role, None, ())


def _channels(own: Global, role: str) -> dict[str, Session]:
    """`role`'s binary protocol with each peer, from `role`'s steps `own`."""
    peers = [peer for peer in roles(own) if peer != role]
    return {peer: _binary(_part(own, role, peer, ()), role) for peer in peers}


def project(g: Global, role: str) -> dict[str, Session]:
    """`role`'s binary protocol with each peer it talks to, keyed by peer in order of appearance.

    Each keeps the steps between `role` and that peer: a message becomes `Send` or `Recv`, a
    choice `Select` or `Offer`, loops stay loops, and a loop in which the two no longer talk
    ends.  Where `role` is not told which branch of a choice was taken, it must act alike in
    every branch until a peer that knows tells it; and each channel must carry the label of
    every choice that its protocol follows.  Only `role` is checked: `project_all` checks all.

    Raises:
        ProtocolError: `g` is not a whole global protocol, `role` takes no part in it, or a
            role cannot tell which branch was chosen (the message says where and why).

    >>> g = message("client", "server", int, choice("server", "db",
    ...     hit=message("db", "server", str, message("server", "client", str)),
    ...     miss=message("server", "client", str)))
    >>> for peer, local in project(g, "server").items():
    ...     print(peer, "|", local)
    client | ?int . !str . end
    db | +{hit: ?str . end, miss: end}
    >>> project(g, "client")
    {'server': Send(int, Recv(str))}
    """
    return _channels(_own(g, role), role)


def project_all(g: Global) -> dict[str, dict[str, Session]]:
    """Every role's binary protocols, as `project` gives them, keyed by role in order.

    This checks that the whole protocol can run over binary channels: each role can tell
    what it must of every choice, which is checked first for all roles.  Then
    ``project_all(g)[a][b] == dual(project_all(g)[b][a])`` for every two roles that talk.

    Raises:
        ProtocolError: as `project`, for the first role that cannot be projected.

    >>> g = choice("client", "server", ask=message("server", "db", int), stop=GLOBAL_END)
    >>> project_all(g)
    Traceback (most recent call last):
    ...
    effectus.ProtocolError: role 'db' cannot tell which branch 'client' chose at \
Choice(client->server), yet in branch 'ask' it would receive int from 'server', but in branch \
'stop' it would do nothing more.
    Fix: have 'server' tell 'db' the choice, e.g. choice('server', 'db', ask=..., stop=...) \
inside each branch, before 'db' acts differently.
    """
    own = {role: _own(g, role) for role in roles(g)}
    return {role: _channels(steps, role) for role, steps in own.items()}
