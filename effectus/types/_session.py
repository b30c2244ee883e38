"""Session types as values: every protocol that can be built is well formed, and `dual` is exact.

A protocol says, step by step, what one end of a channel does: `Send` a message of a type,
`Recv` one, `Select` a labelled branch (we choose), `Offer` labelled branches (the peer
chooses), loop with `Rec` / `Var`, and `End`.  Protocols are immutable, hashable values;
`dual(p)` is the protocol of the other end.

Constructors check what they can see (message types, labels, branches, guarded recursion), so
an ill-formed protocol fails on the line that builds it with a `ProtocolError`; `well_formed(p)` adds
the one check that needs the whole protocol (no free `Var`).  Paths in messages read from the
outside in, e.g. ``Send(int).Offer['quit']``.

Notation: ``str(p)`` is compact — ``!int`` send, ``?int`` receive, ``+{a: ..., b: ...}`` select,
``&{a: ..., b: ...}`` offer, ``rec x . ...`` and ``x`` recursion, ``end``, steps joined by
`` . `` — and ``repr(p)`` is the constructor expression.

>>> p = rec("loop", lambda loop: offer(add=recv(int, loop), quit=send(str)))
>>> print(p)
rec loop . &{add: ?int . loop, quit: !str . end}
>>> print(dual(p))
rec loop . +{add: !int . loop, quit: ?str . end}
>>> expects(p)
'wait for the peer to choose one of: add, quit'
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar, cast, overload

from effectus.core import ProtocolError

__all__ = [
    "END",
    "End",
    "Offer",
    "Rec",
    "Recv",
    "Select",
    "Send",
    "Session",
    "Var",
    "dual",
    "expects",
    "offer",
    "rec",
    "recv",
    "select",
    "send",
    "unfold",
    "well_formed",
]

M = TypeVar("M", covariant=True)
P = TypeVar("P", bound="Session", covariant=True)
M2 = TypeVar("M2")
P2 = TypeVar("P2", bound="Session")

_BAD_MESSAGE = """\
ill-formed protocol: {where} has message type {message!r} (type={kind}), which is not a type.
Fix: give a class or a typing construct that beartype can check, e.g. send(int), \
recv(list[str]), send(int | None)."""

_BAD_THEN = """\
ill-formed protocol: {where} continues with {then!r} (type={kind}), which is not a protocol.
Fix: continue with a protocol — Send, Recv, Select, Offer, Rec, Var or END (the default)."""

_BAD_LABEL = """\
ill-formed protocol: {where} has label {label!r}, which is not a Python identifier.
Fix: name each branch with an identifier, e.g. {kind}(add=..., quit=...)."""

_BAD_BRANCHES = """\
ill-formed protocol: {where} takes a dict from labels to protocols, not {branches!r} \
(type={given}).
Fix: pass a dict, e.g. {where}({{'add': Send(int, END), 'quit': END}}), or use the builder \
{where_lower}(add=..., quit=...)."""

_NO_BRANCHES = """\
ill-formed protocol: {where} has no branches, so it can never go on.
Fix: give at least one labelled branch, e.g. {kind}(quit=END), or use END to stop."""

_BAD_NAME = """\
ill-formed protocol: {where} has name {name!r}, which is not a Python identifier.
Fix: name recursion variables with identifiers, e.g. Rec('loop', ...) and Var('loop')."""

_UNGUARDED = """\
ill-formed protocol: recursion is unguarded at {where}: Var({name!r}) is reached without a \
send, receive, select or offer since Rec({name!r}), so unfolding it never makes progress.
Fix: put a step before the Var, e.g. Rec({name!r}, Send(int, Var({name!r})))."""

_FREE_VAR = """\
ill-formed protocol: Var({name!r}) at {where} is not inside a Rec({name!r}).
Fix: wrap the protocol in Rec({name!r}, ...), or build it with rec({name!r}, lambda {name}: ...)."""


def _type_name(message: object) -> str:
    """How a message type reads in notation and messages: ``int``, ``list[str]``, ``Point``."""
    if isinstance(message, type) and not isinstance(message, types.GenericAlias):
        return message.__qualname__
    return repr(message).replace("typing.", "")


def _at(path: tuple[str, ...]) -> str:
    return ".".join(path) if path else "the top"


def _check_message(message: object, where: str) -> None:
    if isinstance(message, type) and not isinstance(message, types.GenericAlias):
        return  # the common case stays off beartype
    bad = isinstance(message, (str, TypeVar))
    if not bad:
        from beartype.door import TypeHint  # lazy: `import effectus` stays light
        from beartype.roar import BeartypeException

        try:
            TypeHint(cast(Any, message))  # any object may be tried; beartype says no
        except BeartypeException:
            bad = True
    if bad:
        kind = type(message).__name__
        raise ProtocolError(_BAD_MESSAGE.format(where=where, message=message, kind=kind))


def _check_name(name: object, where: str) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ProtocolError(_BAD_NAME.format(where=where, name=name))


def _check_then(then: object, where: str) -> None:
    if not isinstance(then, _SESSIONS):
        kind = type(then).__name__
        raise ProtocolError(_BAD_THEN.format(where=where, then=then, kind=kind))


def _freeze_branches(owner: _Branching) -> None:
    kind = type(owner).__name__
    branches = cast(object, owner.branches)  # as the user gave it, unchecked
    if not isinstance(branches, Mapping):
        kind_given = type(branches).__name__
        raise ProtocolError(
            _BAD_BRANCHES.format(
                where=kind, where_lower=kind.lower(), branches=branches, given=kind_given
            )
        )
    if not branches:
        raise ProtocolError(_NO_BRANCHES.format(where=kind, kind=kind.lower()))
    given = cast("Mapping[object, object]", branches)
    for label, body in given.items():
        if not isinstance(label, str) or not label.isidentifier():
            raise ProtocolError(_BAD_LABEL.format(where=kind, label=label, kind=kind.lower()))
        _check_then(body, f"{kind}[{label!r}]")
    object.__setattr__(owner, "branches", types.MappingProxyType(dict(given)))


def _show_branches(branches: Mapping[str, Session]) -> str:
    return ", ".join(f"{label}: {body}" for label, body in branches.items())


@dataclass(frozen=True, slots=True)
class Send(Generic[M, P]):
    """Send a message of type `message`, then follow `then`.  Written ``!T . then``.

    Build it with `send`, which also accepts typing constructs (``int | None``) and defaults
    `then` to `END`.

    >>> Send(int, Recv(str, END))
    Send(int, Recv(str))
    """

    message: type[M]
    then: P

    def __post_init__(self) -> None:
        _check_message(self.message, "Send")
        _check_then(self.then, f"Send({_type_name(self.message)})")

    def __str__(self) -> str:
        return f"!{_type_name(self.message)} . {self.then}"

    def __repr__(self) -> str:
        rest = "" if self.then == END else f", {self.then!r}"
        return f"Send({_type_name(self.message)}{rest})"


@dataclass(frozen=True, slots=True)
class Recv(Generic[M, P]):
    """Receive a message of type `message`, then follow `then`.  Written ``?T . then``.

    >>> print(Recv(int, Send(bool, END)))
    ?int . !bool . end
    """

    message: type[M]
    then: P

    def __post_init__(self) -> None:
        _check_message(self.message, "Recv")
        _check_then(self.then, f"Recv({_type_name(self.message)})")

    def __str__(self) -> str:
        return f"?{_type_name(self.message)} . {self.then}"

    def __repr__(self) -> str:
        rest = "" if self.then == END else f", {self.then!r}"
        return f"Recv({_type_name(self.message)}{rest})"


@dataclass(frozen=True, slots=True)
class _Branching:
    """What `Select` and `Offer` share: labelled branches in a read-only mapping.

    `branches` maps each label (a Python identifier) to its protocol; it is copied into a
    read-only mapping.  Branch order is kept for display but does not affect equality.
    """

    branches: Mapping[str, Session]
    _MARK: ClassVar[str] = ""

    def __post_init__(self) -> None:
        _freeze_branches(self)

    def __hash__(self) -> int:
        return hash((type(self), frozenset(self.branches.items())))

    def __reduce__(self) -> tuple[type[_Branching], tuple[dict[str, Session]]]:
        return (type(self), (dict(self.branches),))  # a mappingproxy cannot be pickled

    def __str__(self) -> str:
        return f"{self._MARK}{{{_show_branches(self.branches)}}}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.branches)!r})"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Select(_Branching):
    """We choose one labelled branch and follow it.  Written ``+{label: ..., ...}``.

    >>> print(Select({"add": Send(int, END), "quit": END}))
    +{add: !int . end, quit: end}
    """

    _MARK: ClassVar[str] = "+"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Offer(_Branching):
    """The peer chooses one labelled branch; we follow it.  Written ``&{label: ..., ...}``.

    >>> print(Offer({"add": Recv(int, END), "quit": END}))
    &{add: ?int . end, quit: end}
    """

    _MARK: ClassVar[str] = "&"


@dataclass(frozen=True, slots=True)
class Rec:
    """A recursive protocol: `body`, where each ``Var(name)`` stands for the whole `Rec` again.

    Every ``Var(name)`` in `body` must come after at least one step (send, receive, select or
    offer), so that unfolding makes progress.  Written ``rec name . body``.

    >>> print(Rec("loop", Send(int, Var("loop"))))
    rec loop . !int . loop
    """

    name: str
    body: Session

    def __post_init__(self) -> None:
        _check_name(self.name, "Rec")
        head = f"Rec({self.name!r})"
        _check_then(self.body, head)
        for path in _unguarded(self.body, self.name, (head,)):
            raise ProtocolError(_UNGUARDED.format(where=_at(path), name=self.name))

    def __str__(self) -> str:
        return f"rec {self.name} . {self.body}"

    def __repr__(self) -> str:
        return f"Rec({self.name!r}, {self.body!r})"


@dataclass(frozen=True, slots=True)
class Var:
    """A jump back to the enclosing ``Rec(name, ...)``.  Written ``name``.

    >>> Var("loop")
    Var('loop')
    """

    name: str

    def __post_init__(self) -> None:
        _check_name(self.name, "Var")

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Var({self.name!r})"


@dataclass(frozen=True, slots=True)
class End:
    """The conversation is over; the channel is closed.  Written ``end``; use the constant `END`.

    >>> END
    END
    """

    def __str__(self) -> str:
        return "end"

    def __repr__(self) -> str:
        return "END"


END = End()

#: Any protocol.  Steps are `Send`, `Recv`, `Select` and `Offer`; `Rec`/`Var` loop; `End` stops.
Session: TypeAlias = (
    "Send[object, Session] | Recv[object, Session] | Select | Offer | Rec | Var | End"
)
_SESSIONS = (Send, Recv, Select, Offer, Rec, Var, End)


def _unguarded(p: Session, name: str, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """Paths to each ``Var(name)`` reachable from `p` without passing a step."""
    match p:
        case Var(name=found) if found == name:
            yield path
        case Rec(name=inner, body=body) if inner != name:
            yield from _unguarded(body, name, (*path, f"Rec({inner!r})"))
        case _:
            return


@overload
def send(message: type[M2]) -> Send[M2, End]: ...
@overload
def send(message: type[M2], then: P2) -> Send[M2, P2]: ...
@overload
def send(message: object, then: P2) -> Send[object, P2]: ...
@overload
def send(message: object) -> Send[object, End]: ...
def send(message: object, then: Session = END) -> Send[object, Session]:
    """Send a message of type `message`, then follow `then` (by default, end).

    `message` is a class or a typing construct that beartype can check (``int | None``,
    ``list[str]``, ``Annotated[int, Ge(0)]``).

    Raises:
        ProtocolError: `message` is not a type, or `then` is not a protocol.

    >>> print(send(int, recv(str)))
    !int . ?str . end
    """
    return Send(cast("type[object]", message), then)


@overload
def recv(message: type[M2]) -> Recv[M2, End]: ...
@overload
def recv(message: type[M2], then: P2) -> Recv[M2, P2]: ...
@overload
def recv(message: object, then: P2) -> Recv[object, P2]: ...
@overload
def recv(message: object) -> Recv[object, End]: ...
def recv(message: object, then: Session = END) -> Recv[object, Session]:
    """Receive a message of type `message`, then follow `then` (by default, end).

    Raises:
        ProtocolError: `message` is not a type, or `then` is not a protocol.

    >>> print(recv(int | None))
    ?int | None . end
    """
    return Recv(cast("type[object]", message), then)


def select(**branches: Session) -> Select:
    """We choose one of the labelled `branches` (labels are the keyword names).

    Raises:
        ProtocolError: no branches, or a branch is not a protocol.

    >>> print(select(add=send(int), quit=END))
    +{add: !int . end, quit: end}
    """
    return Select(branches)


def offer(**branches: Session) -> Offer:
    """The peer chooses one of the labelled `branches` (labels are the keyword names).

    Raises:
        ProtocolError: no branches, or a branch is not a protocol.

    >>> print(offer(add=recv(int), quit=END))
    &{add: ?int . end, quit: end}
    """
    return Offer(branches)


def rec(name: str, body: Callable[[Var], Session]) -> Rec:
    """A loop: ``body(Var(name))``, where the `Var` jumps back to the start of the loop.

    Passing the variable to a function means it cannot be misspelt or escape its loop.

    Raises:
        ProtocolError: `name` is not an identifier, or the loop reaches its variable without
            a step (unguarded recursion).

    >>> print(rec("ping", lambda again: send(str, recv(str, again))))
    rec ping . !str . ?str . ping
    """
    _check_name(name, "Rec")  # before Var(name), so the message names the Rec
    return Rec(name, body(Var(name)))


def dual(p: Session) -> Session:
    """The protocol of the other end: sends become receives, selects become offers.

    `Rec`, `Var` and `End` are kept, so ``dual(dual(p)) == p``.

    >>> print(dual(send(int, offer(more=END))))
    ?int . +{more: end}
    """
    match p:
        case Send(message=message, then=then):
            return Recv(message, dual(then))
        case Recv(message=message, then=then):
            return Send(message, dual(then))
        case Select(branches=branches):
            return Offer({label: dual(body) for label, body in branches.items()})
        case Offer(branches=branches):
            return Select({label: dual(body) for label, body in branches.items()})
        case Rec(name=name, body=body):
            return Rec(name, dual(body))
        case Var() | End():
            return p


def _free(p: Session, bound: frozenset[str], path: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """``(name, path)`` for each `Var` of `p` not bound by a `Rec` around it."""
    match p:
        case Send(message=message, then=then):
            yield from _free(then, bound, (*path, f"Send({_type_name(message)})"))
        case Recv(message=message, then=then):
            yield from _free(then, bound, (*path, f"Recv({_type_name(message)})"))
        case Select(branches=branches) | Offer(branches=branches):
            kind = type(p).__name__
            for label, body in branches.items():
                yield from _free(body, bound, (*path, f"{kind}[{label!r}]"))
        case Rec(name=name, body=body):
            yield from _free(body, bound | {name}, (*path, f"Rec({name!r})"))
        case Var(name=name) if name not in bound:
            yield name, _at(path)
        case _:
            return


def well_formed(p: Session) -> Session:
    """Check that `p` is a whole protocol (no `Var` outside its `Rec`) and return it.

    Everything else is checked when each piece is built; opening a channel calls this.

    Raises:
        ProtocolError: `p` is not a protocol, or has a free `Var` (the message gives its path).

    >>> well_formed(Send(int, Var("x")))
    Traceback (most recent call last):
    ...
    effectus.ProtocolError: ill-formed protocol: Var('x') at Send(int) is not inside a Rec('x').
    Fix: wrap the protocol in Rec('x', ...), or build it with rec('x', lambda x: ...).
    """
    _check_then(p, "the protocol")
    for name, where in _free(p, frozenset(), ()):
        raise ProtocolError(_FREE_VAR.format(name=name, where=where))
    return p


def _substitute(p: Session, name: str, by: Session) -> Session:
    match p:
        case Send(message=message, then=then):
            return Send(message, _substitute(then, name, by))
        case Recv(message=message, then=then):
            return Recv(message, _substitute(then, name, by))
        case Select(branches=branches):
            return Select({k: _substitute(v, name, by) for k, v in branches.items()})
        case Offer(branches=branches):
            return Offer({k: _substitute(v, name, by) for k, v in branches.items()})
        case Rec(name=inner, body=body) if inner != name:
            return Rec(inner, _substitute(body, name, by))
        case Var(name=found) if found == name:
            return by
        case _:
            return p  # End, another Var, or a Rec that shadows `name`


Step: TypeAlias = "Send[object, Session] | Recv[object, Session] | Select | Offer | End"


def unfold(p: Session) -> Step:
    """`p` with its leading `Rec`s unfolded, so that it starts with a step or `End`.

    ``Rec(x, body)`` becomes `body` with each ``Var(x)`` replaced by the `Rec` itself; guarded
    recursion makes this terminate.  A protocol that starts with a step is returned unchanged.

    Raises:
        ProtocolError: `p` is a free `Var`.

    >>> print(unfold(rec("x", lambda x: send(int, x))))
    !int . rec x . !int . x
    """
    if p.__class__ is not Rec:
        if p.__class__ is Var:
            return _unfold(p)
        plain: Any = p  # a step or End: the common case, kept to two class tests
        return plain  # type: ignore[no-any-return]
    # Endpoints unfold at every step of a loop: cached by identity (hashing a protocol walks
    # all of it), holding the Rec so that its id is not reused.
    hit = _UNFOLDED.get(id(p))
    if hit is not None and hit[0] is p:
        return hit[1]
    step = _unfold(p)
    if len(_UNFOLDED) > 4096:
        _UNFOLDED.clear()
    _UNFOLDED[id(p)] = (p, step)
    return step


_UNFOLDED: dict[int, tuple[Session, Step]] = {}


def _unfold(p: Session) -> Step:
    while True:
        match p:
            case Rec(name=name, body=body):
                p = _substitute(body, name, p)
            case Var(name=name):
                raise ProtocolError(_FREE_VAR.format(name=name, where="the top"))
            case _:
                return p


def expects(p: Session) -> str:
    """What `p` expects next, in words, for error messages: ``'send int'``, ``'end'``, ...

    >>> expects(select(add=send(int), quit=END))
    'choose one of: add, quit'
    """
    match unfold(p):
        case Send(message=message):
            return f"send {_type_name(message)}"
        case Recv(message=message):
            return f"receive {_type_name(message)}"
        case Select(branches=branches):
            return f"choose one of: {', '.join(branches)}"
        case Offer(branches=branches):
            return f"wait for the peer to choose one of: {', '.join(branches)}"
        case End():
            return "end"
