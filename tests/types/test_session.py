"""Tests of `effectus.types._session`: protocols as values, their duals, and well-formedness."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Annotated, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

import effectus as fx
from effectus.types import (
    END,
    End,
    Offer,
    Rec,
    Recv,
    Select,
    Send,
    Session,
    Var,
    well_formed,
    dual,
    expects,
    offer,
    rec,
    recv,
    select,
    send,
    unfold,
)

# -- strategies ---------------------------------------------------------------------------------

MESSAGES = st.sampled_from([int, str, bytes, list[int], int | None, None, Annotated[int, "n"]])
NAMES = ("x", "y", "loop")
LABELS = st.sampled_from(["add", "quit", "more", "stop", "a1"])


@st.composite
def protocols(
    draw: st.DrawFn, depth: int = 4, bound: frozenset[str] = frozenset(),
    guarded: frozenset[str] = frozenset(),
) -> Session:
    """Well-formed protocols by construction: a Var only where its Rec is bound and guarded.

    `guarded` holds the bound names whose Rec is behind at least one step from here.
    """
    kinds = ["end"] + (["var"] if guarded else []) + (
        ["send", "recv", "select", "offer", "rec"] if depth > 0 else []
    )
    kind = draw(st.sampled_from(kinds))
    after_step = protocols(depth - 1, bound, bound)
    if kind == "end":
        return END
    if kind == "var":
        return Var(draw(st.sampled_from(sorted(guarded))))
    if kind == "send":
        return Send(draw(MESSAGES), draw(after_step))
    if kind == "recv":
        return Recv(draw(MESSAGES), draw(after_step))
    if kind in ("select", "offer"):
        branches = draw(st.dictionaries(LABELS, after_step, min_size=1, max_size=3))
        return Select(branches) if kind == "select" else Offer(branches)
    name = draw(st.sampled_from(NAMES))
    body = draw(protocols(depth - 1, bound | {name}, guarded - {name}))
    return Rec(name, body)


def raised_here(excinfo: pytest.ExceptionInfo[BaseException], test: Callable[..., None]) -> bool:
    """The traceback passes through the test's own frame (the user's line)."""
    return any(entry.name == test.__name__ for entry in excinfo.traceback)


# -- construction and notation ------------------------------------------------------------------


def test_builders_make_the_constructor_values() -> None:
    """send/recv/select/offer/rec build the same values as the constructors."""
    assert send(int, recv(str)) == Send(int, Recv(str, END))
    assert send(int) == Send(int, END)
    assert select(add=send(int), quit=END) == Select({"add": Send(int, END), "quit": END})
    assert offer(quit=END) == Offer({"quit": END})
    built = rec("loop", lambda loop: offer(more=recv(int, loop), stop=END))
    assert built == Rec("loop", Offer({"more": Recv(int, Var("loop")), "stop": END}))
    assert End() == END


def test_str_is_the_compact_notation() -> None:
    """str() writes !T, ?T, +{...}, &{...}, rec x . ..., and end, joined by ' . '."""
    p = rec("x", lambda x: select(go=send(int, recv(list[str], x)), stop=END))
    assert str(p) == "rec x . +{go: !int . ?list[str] . x, stop: end}"
    assert str(offer(a=recv(int | None))) == "&{a: ?int | None . end}"
    assert str(send(Optional[int])) == "!Optional[int] . end"
    assert str(END) == "end"


def test_repr_is_the_constructor_expression() -> None:
    """repr() reads as the constructor call (END defaults left out), and evaluates back."""
    p = rec("x", lambda x: select(go=send(int, recv(str, x)), stop=END))
    text = repr(p)
    assert text == "Rec('x', Select({'go': Send(int, Recv(str, Var('x'))), 'stop': END}))"
    names = {"Rec": Rec, "Select": Select, "Send": Send, "Recv": Recv, "Var": Var, "END": END}
    assert eval(text, {**names, "int": int, "str": str}) == p


def test_protocols_are_immutable_hashable_and_picklable() -> None:
    """Fields cannot be set, branches cannot be changed, equal values hash alike and pickle."""
    given_branches = {"a": END}
    p = Select(given_branches)
    given_branches["b"] = END  # the caller's dict is copied, not kept
    assert list(p.branches) == ["a"]
    with pytest.raises(TypeError):
        p.branches["b"] = END  # type: ignore[index]  # read-only mapping, checked at run time
    with pytest.raises(AttributeError):
        p.branches = {}  # type: ignore[misc]  # frozen dataclass, checked at run time
    q = rec("x", lambda x: offer(a=send(int, x), b=END))
    assert hash(q) == hash(rec("x", lambda x: offer(b=END, a=send(int, x))))
    assert pickle.loads(pickle.dumps(q)) == q
    assert copy.deepcopy(q) == q


def test_branch_order_is_kept_for_display_but_not_for_equality() -> None:
    """Two choices with the same branches in another order are equal; each prints its order."""
    assert select(a=END, b=END) == select(b=END, a=END)
    assert str(select(b=END, a=END)) == "+{b: end, a: end}"


def test_typing_constructs_are_accepted_as_message_types() -> None:
    """Unions, generics, Annotated, None and Literal-free forms are message types."""
    for message in (int | None, list[int], Annotated[int, "n"], None, dict[str, list[int]]):
        assert send(message).message == message


# -- dual ---------------------------------------------------------------------------------------


def test_dual_swaps_each_constructor() -> None:
    """Send<->Recv and Select<->Offer, keeping messages and labels; Rec, Var and End are kept."""
    assert dual(send(int)) == recv(int)
    assert dual(recv(str)) == send(str)
    assert dual(select(a=send(int), b=END)) == offer(a=recv(int), b=END)
    assert dual(offer(a=recv(int))) == select(a=send(int))
    assert dual(rec("x", lambda x: send(int, x))) == rec("x", lambda x: recv(int, x))
    assert dual(Var("x")) == Var("x")
    assert dual(END) == END


@given(protocols())
def test_dual_is_an_involution(p: Session) -> None:
    """dual(dual(p)) == p for every well-formed protocol, and the dual is well formed too."""
    assert well_formed(dual(p)) == dual(p)
    assert dual(dual(p)) == p


@given(protocols())
def test_generated_protocols_are_well_formed_and_unfold_to_a_step(p: Session) -> None:
    """Every generated protocol passes well_formed(), and unfold() gives a step or end, not a Rec."""
    assert well_formed(p) is p
    assert not isinstance(unfold(p), (Rec, Var))
    assert expects(p) == expects(unfold(p))


# -- unfold -------------------------------------------------------------------------------------


def test_unfold_substitutes_the_rec_for_its_var() -> None:
    """unfold(Rec(x, body)) is body with Var(x) replaced by the Rec itself."""
    p = rec("x", lambda x: offer(more=recv(int, x), stop=END))
    assert unfold(p) == offer(more=recv(int, p), stop=END)


def test_unfold_goes_through_nested_recs_and_respects_shadowing() -> None:
    """Leading Recs are all unfolded; an inner Rec of the same name keeps its own Var."""
    inner = Rec("x", Recv(str, Var("x")))
    p = Rec("x", Send(int, inner))
    assert unfold(p) == Send(int, inner)
    two = Rec("x", Rec("y", Send(int, Select({"a": Var("x"), "b": Var("y")}))))
    inner_y = Rec("y", Send(int, Select({"a": two, "b": Var("y")})))
    assert unfold(two) == Send(int, Select({"a": two, "b": inner_y}))


def test_unfold_leaves_a_step_unchanged() -> None:
    """A protocol that starts with a step or end is returned as it is."""
    p = send(int, recv(str))
    assert unfold(p) is p
    assert unfold(END) is END


# -- expects ------------------------------------------------------------------------------------


def test_expects_describes_the_next_step() -> None:
    """expects() names the next step in words, unfolding recursion first."""
    assert expects(send(int)) == "send int"
    assert expects(recv(list[str])) == "receive list[str]"
    assert expects(select(add=END, quit=END)) == "choose one of: add, quit"
    assert expects(offer(add=END, quit=END)) == (
        "wait for the peer to choose one of: add, quit"
    )
    assert expects(END) == "end"
    assert expects(rec("x", lambda x: recv(bytes, x))) == "receive bytes"


# -- ill-formed protocols -----------------------------------------------------------------------


def test_protocol_error_is_a_type_error() -> None:
    """ProtocolError is effectus's and also a TypeError, so `except TypeError` catches it."""
    with pytest.raises(TypeError):
        send("int")
    assert issubclass(fx.ProtocolError, TypeError)


ILL_FORMED: list[tuple[str, Callable[[], object], str]] = [
    ("unguarded", lambda: Rec("x", Var("x")),
     r"recursion is unguarded at Rec\('x'\): Var\('x'\) is reached without a send, receive, "
     r"select or offer since Rec\('x'\).*\nFix: put a step before the Var"),
    ("unguarded through an inner rec", lambda: Rec("x", Rec("y", Var("x"))),
     r"recursion is unguarded at Rec\('x'\)\.Rec\('y'\): Var\('x'\)"),
    ("unguarded by the builder", lambda: rec("x", lambda x: x),
     r"recursion is unguarded at Rec\('x'\)"),
    ("free var", lambda: well_formed(send(int, offer(quit=recv(str, Var("y"))))),
     r"Var\('y'\) at Send\(int\)\.Offer\['quit'\]\.Recv\(str\) is not inside a Rec\('y'\)\.\n"
     r"Fix: wrap the protocol in Rec\('y', \.\.\.\), or build it with rec\('y', lambda y"),
    ("free var under a rec of another name", lambda: well_formed(Rec("x", Send(int, Var("y")))),
     r"Var\('y'\) at Rec\('x'\)\.Send\(int\) is not inside a Rec\('y'\)"),
    ("bare var", lambda: well_formed(Var("x")), r"Var\('x'\) at the top is not inside"),
    ("string message type", lambda: send("int"),
     r"Send has message type 'int' \(type=str\), which is not a type\.\n"
     r"Fix: give a class or a typing construct"),
    ("number message type", lambda: recv(3), r"Recv has message type 3 \(type=int\)"),
    ("typevar message type", lambda: send(__import__("typing").TypeVar("T")),
     r"Send has message type ~T \(type=TypeVar\), which is not a type"),
    ("then not a protocol", lambda: send(int, int),
     r"Send\(int\) continues with <class 'int'> \(type=type\), which is not a protocol\.\n"
     r"Fix: continue with a protocol"),
    ("branch not a protocol", lambda: offer(a=send(int), b=3),
     r"Offer\['b'\] continues with 3 \(type=int\), which is not a protocol"),
    ("rec body not a protocol", lambda: Rec("x", "end"),
     r"Rec\('x'\) continues with 'end' \(type=str\)"),
    ("no branches", lambda: select(),
     r"Select has no branches, so it can never go on\.\nFix: give at least one labelled "
     r"branch, e.g. select\(quit=END\)"),
    ("empty offer", lambda: Offer({}), r"Offer has no branches"),
    ("branches not a dict", lambda: Select([("a", END)]),
     r"Select takes a dict from labels to protocols, not \[\('a', END\)\] \(type=list\)"),
    ("label not an identifier", lambda: Select({"1x": END}),
     r"Select has label '1x', which is not a Python identifier\.\n"
     r"Fix: name each branch with an identifier"),
    ("empty label", lambda: Offer({"": END}), r"Offer has label '', which is not a Python"),
    ("label not a string", lambda: Offer({1: END}), r"Offer has label 1, which is not a"),
    ("var name", lambda: Var("a b"), r"Var has name 'a b', which is not a Python identifier"),
    ("rec name", lambda: rec("", lambda x: send(int, x)), r"Rec has name '', which is not"),
    ("check of a non-protocol", lambda: well_formed(int),
     r"the protocol continues with <class 'int'> \(type=type\), which is not a protocol"),
    ("unfold of a free var", lambda: unfold(Var("x")), r"Var\('x'\) at the top is not inside"),
]


@pytest.mark.parametrize(
    ("build", "message"), [case[1:] for case in ILL_FORMED], ids=[case[0] for case in ILL_FORMED]
)
def test_ill_formed_protocols_are_rejected_where_built(
    build: Callable[[], object], message: str
) -> None:
    """Each ill-formed protocol raises ProtocolError naming the position and the fix."""
    with pytest.raises(fx.ProtocolError, match=r"^ill-formed protocol: " + message) as excinfo:
        build()
    assert raised_here(excinfo, test_ill_formed_protocols_are_rejected_where_built)


def test_a_var_is_guarded_by_any_step() -> None:
    """A Var after a send, receive, select or offer is guarded; shadowing is respected."""
    for step in (
        lambda v: send(int, v), lambda v: recv(int, v), lambda v: select(a=v),
        lambda v: offer(a=v, b=END),
    ):
        assert well_formed(rec("x", step)).name == "x"
    assert well_formed(Rec("x", Rec("x", Send(int, Var("x"))))) == Rec("x", Rec("x", Send(int, Var("x"))))
