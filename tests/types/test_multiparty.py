"""Tests of `effectus.types._multiparty`: global protocols as values and their projections."""

from __future__ import annotations

import copy
import itertools
import pickle
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import effectus as fx
import effectus.types as fxt
from effectus.types import (
    END,
    GLOBAL_END,
    Choice,
    Global,
    GlobalEnd,
    GlobalRec,
    GlobalVar,
    Message,
    Session,
    well_formed,
    choice,
    dual,
    global_rec,
    message,
    offer,
    project,
    project_all,
    rec,
    recv,
    roles,
    select,
    send,
)

# -- strategies ---------------------------------------------------------------------------------

ROLES = ("a", "b", "c", "d")
MESSAGES = st.sampled_from([int, str, bytes, list[int], int | None])
NAMES = ("x", "y")
LABELS = st.sampled_from(["ask", "stop", "more"])


@st.composite
def protocols(
    draw: st.DrawFn, players: tuple[str, ...], depth: int = 4,
    bound: frozenset[str] = frozenset(), guarded: frozenset[str] = frozenset(),
    informed: bool = True,
) -> Global:
    """Global protocols among the roles of `players`, well formed by construction.

    With `informed`, they are projectable by construction: after every choice, the label is
    passed on before anything else happens in the branch — the chooser tells each other role,
    then each other pair of roles tell each other — unless the branches are a private talk
    between the chooser and the receiver that then ends.  Without it, choices are told to no
    one else, so some protocols cannot be projected.
    """
    kinds = ["end"] + (["var"] if guarded else []) + (
        ["message", "message", "choice", "private", "rec"] if depth > 0 else []
    )
    kind = draw(st.sampled_from(kinds))
    pairs = st.permutations(players).map(lambda roles: (roles[0], roles[1]))
    after_step = protocols(players, depth - 1, bound, bound, informed)
    if kind == "end":
        return GLOBAL_END
    if kind == "var":
        return GlobalVar(draw(st.sampled_from(sorted(guarded))))
    if kind == "message":
        sender, receiver = draw(pairs)
        return message(sender, receiver, draw(MESSAGES), draw(after_step))
    if kind == "rec":
        name = draw(st.sampled_from(NAMES))
        inside = protocols(players, depth - 1, bound | {name}, guarded - {name}, informed)
        return GlobalRec(name, draw(inside))
    chooser, receiver = draw(pairs)
    labels = draw(st.lists(LABELS, min_size=1, max_size=3, unique=True))
    if kind == "private":
        talk = protocols((chooser, receiver), depth - 1, informed=informed)
        return Choice(chooser, receiver, {label: draw(talk) for label in labels})
    tellers = [(chooser, role) for role in players if role not in (chooser, receiver)] + [
        (one, two) for one, two in itertools.combinations(players, 2) if chooser not in (one, two)
        and {one, two} != {chooser, receiver}
    ]
    branches: dict[str, Global] = {}
    for label in labels:
        body = draw(after_step)
        for teller, told in reversed(tellers if informed else []):
            body = Choice(teller, told, {label: body})
        branches[label] = body
    return Choice(chooser, receiver, branches)


@st.composite
def any_protocols(draw: st.DrawFn, informed: bool = True) -> Global:
    """A protocol among two to four roles (see `protocols`)."""
    return draw(protocols(ROLES[: draw(st.integers(2, 4))], informed=informed))


def raised_here(excinfo: pytest.ExceptionInfo[BaseException], test: Callable[..., None]) -> bool:
    """The traceback passes through the test's own frame (the user's line)."""
    return any(entry.name == test.__name__ for entry in excinfo.traceback)


def service(*, tell_db: bool = True) -> Global:
    """client asks server questions in a loop; server looks each up in db, then answers.

    With `tell_db`, server tells db whether client asked or stopped; without it, db is left
    guessing.
    """
    def ask(again: GlobalVar) -> Global:
        lookup = message("server", "db", str, message("db", "server", int,
                         message("server", "client", int, again)))
        return message("client", "server", str,
                       choice("server", "db", query=lookup) if tell_db else lookup)

    return global_rec("session", lambda again: choice(
        "client", "server",
        ask=ask(again),
        stop=choice("server", "db", stop=GLOBAL_END) if tell_db else GLOBAL_END,
    ))


# -- construction and notation ------------------------------------------------------------------


def test_builders_make_the_constructor_values() -> None:
    """message, choice and global_rec build the same values as the constructors."""
    assert message("a", "b", int) == Message("a", "b", int, GLOBAL_END)
    assert choice("a", "b", x=GLOBAL_END) == Choice("a", "b", {"x": GLOBAL_END})
    assert global_rec("t", lambda t: message("a", "b", int, t)) == GlobalRec(
        "t", Message("a", "b", int, GlobalVar("t"))
    )
    assert isinstance(GLOBAL_END, GlobalEnd)


def test_choice_labels_may_be_named_like_the_roles_arguments() -> None:
    """choice's roles are positional-only, so 'chooser' and 'receiver' are usable labels."""
    g = choice("a", "b", chooser=GLOBAL_END, receiver=GLOBAL_END)
    assert list(g.branches) == ["chooser", "receiver"]


def test_str_is_the_compact_notation() -> None:
    """str() writes messages as `a -> b: T`, choices as `a -> b {...}`, and loops as rec."""
    assert str(service()) == (
        "rec session . client -> server {ask: client -> server: str . server -> db {query: "
        "server -> db: str . db -> server: int . server -> client: int . session}, "
        "stop: server -> db {stop: end}}"
    )
    assert str(message("a", "b", int | None)) == "a -> b: int | None . end"


def test_repr_is_the_constructor_expression() -> None:
    """repr() evaluates back to an equal protocol."""
    g = service()
    assert repr(message("a", "b", int)) == "Message('a', 'b', int)"
    assert eval(repr(g), dict(vars(fxt))) == g  # our own repr, evaluated in a test


def test_protocols_are_immutable_hashable_and_picklable() -> None:
    """Global protocols are frozen values: hashable, copyable, picklable, branches read-only."""
    given_branches: dict[str, Global] = {"a": GLOBAL_END}
    g = Choice("p", "q", given_branches)
    given_branches["b"] = GLOBAL_END  # the caller's dict is copied, not kept
    assert list(g.branches) == ["a"]
    with pytest.raises(TypeError):
        g.branches["b"] = GLOBAL_END  # type: ignore[index]  # read-only, as the test shows
    with pytest.raises(AttributeError):
        g.chooser = "r"  # type: ignore[misc]  # frozen, as the test shows
    h = service()
    assert pickle.loads(pickle.dumps(h)) == h
    assert copy.deepcopy(h) == h
    assert len({h, service(), service(tell_db=False)}) == 2


def test_branch_order_is_kept_for_display_but_not_for_equality() -> None:
    """Two choices with the same branches in another order are equal and hash alike."""
    one = choice("p", "q", a=GLOBAL_END, b=message("p", "q", int))
    two = choice("p", "q", b=message("p", "q", int), a=GLOBAL_END)
    assert one == two and hash(one) == hash(two)
    assert str(one) != str(two)


def test_roles_are_listed_in_order_of_first_appearance() -> None:
    """roles() lists each role once, as it first appears, going into branches in order."""
    assert roles(service()) == ("client", "server", "db")
    assert roles(choice("b", "a", x=message("c", "a", int), y=message("d", "b", int))) == (
        "b", "a", "c", "d",
    )
    assert roles(GLOBAL_END) == ()


ILL_FORMED: list[tuple[str, Callable[[], object], str]] = [
    ("self message", lambda: message("a", "a", int),
     r"Message has role 'a' talk to itself; a role cannot message itself\.\n"
     r"Fix: name two different roles"),
    ("self choice", lambda: choice("b", "b", x=GLOBAL_END),
     r"Choice has role 'b' talk to itself"),
    ("role not an identifier", lambda: message("a", "the server", int),
     r"Message has receiver 'the server', which is not a Python identifier\.\n"
     r"Fix: name roles with identifiers"),
    ("role not a string", lambda: Choice(1, "b", {"x": GLOBAL_END}),  # type: ignore[arg-type]
     r"Choice has chooser 1, which is not a Python identifier"),
    ("empty role", lambda: message("", "b", int), r"Message has sender '', which is not"),
    ("label not an identifier", lambda: Choice("a", "b", {"no go": GLOBAL_END}),
     r"Choice\(a->b\) has label 'no go', which is not a Python identifier\.\n"
     r"Fix: name each branch with an identifier"),
    ("label not a string", lambda: Choice("a", "b", {3: GLOBAL_END}),  # type: ignore[dict-item]
     r"Choice\(a->b\) has label 3, which is not"),
    ("no branches", lambda: choice("a", "b"),
     r"Choice\(a->b\) has no branches, so it can never go on\.\n"
     r"Fix: give at least one labelled branch"),
    ("branches not a dict", lambda: Choice("a", "b", [("x", GLOBAL_END)]),  # type: ignore[arg-type]
     r"Choice takes a dict from labels to global protocols, not \[\('x', GLOBAL_END\)\] "
     r"\(type=list\)"),
    ("branch not a protocol", lambda: choice("a", "b", x=3),  # type: ignore[arg-type]
     r"Choice\(a->b\)\['x'\] continues with 3 \(type=int\), which is not a global protocol"),
    ("binary step inside", lambda: message("a", "b", int, send(int)),  # type: ignore[arg-type]
     r"Message\(a->b: int\) continues with Send\(int\) \(type=Send\).*\n"
     r"Fix: continue with Message, Choice, GlobalRec, GlobalVar or GLOBAL_END"),
    ("message type", lambda: message("a", "b", "int"),
     r"Message has message type 'int' \(type=str\), which is not a type"),
    ("unguarded", lambda: GlobalRec("x", GlobalVar("x")),
     r"recursion is unguarded at GlobalRec\('x'\): GlobalVar\('x'\) is reached without a "
     r"message or choice since GlobalRec\('x'\).*\nFix: put a step before the GlobalVar"),
    ("unguarded through an inner rec", lambda: GlobalRec("x", GlobalRec("y", GlobalVar("x"))),
     r"recursion is unguarded at GlobalRec\('x'\)\.GlobalRec\('y'\): GlobalVar\('x'\)"),
    ("unguarded by the builder", lambda: global_rec("x", lambda x: x),
     r"recursion is unguarded at GlobalRec\('x'\)"),
    ("rec name", lambda: global_rec("1x", lambda x: message("a", "b", int, x)),
     r"GlobalRec has name '1x', which is not a Python identifier\.\nFix: name loops"),
    ("var name", lambda: GlobalVar("a b"), r"GlobalVar has name 'a b', which is not"),
    ("free var at projection", lambda: project(message("a", "b", int, GlobalVar("x")), "a"),
     r"GlobalVar\('x'\) at Message\(a->b: int\) is not inside a GlobalRec\('x'\)\.\n"
     r"Fix: wrap the protocol in GlobalRec\('x', \.\.\.\), or build it with global_rec"),
    ("projecting a binary protocol", lambda: project(send(int), "a"),  # type: ignore[arg-type]
     r"the protocol continues with Send\(int\) \(type=Send\), which is not a global protocol"),
    ("project_all of a binary protocol", lambda: project_all(send(int)),  # type: ignore[arg-type]
     r"the protocol continues with Send\(int\) \(type=Send\), which is not a global protocol"),
    ("roles of a binary protocol", lambda: roles(recv(int)),  # type: ignore[arg-type]
     r"the protocol continues with Recv\(int\) \(type=Recv\)"),
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


# -- projection ---------------------------------------------------------------------------------


def test_a_three_role_service_projects_onto_each_pair() -> None:
    """The service gives client, server and db one binary protocol per peer, loop and all."""
    assert project_all(service()) == {
        "client": {
            "server": rec("session", lambda s: select(ask=send(str, recv(int, s)), stop=END)),
        },
        "server": {
            "client": rec("session", lambda s: offer(ask=recv(str, send(int, s)), stop=END)),
            "db": rec("session", lambda s: select(query=send(str, recv(int, s)), stop=END)),
        },
        "db": {
            "server": rec("session", lambda s: offer(query=recv(str, send(int, s)), stop=END)),
        },
    }


def test_projections_are_checked_protocols() -> None:
    """Every projection of the service is a whole binary protocol (well_formed() accepts it)."""
    for peers in project_all(service()).values():
        for local in peers.values():
            assert well_formed(local) == local


def test_a_role_told_late_by_a_peer_that_knows_merges_the_branches() -> None:
    """A role not told of a choice can wait to be told by a peer that knows, and pass it on."""
    query = choice("server", "db", query=choice("db", "log", query=message("db", "log", str)))
    g = choice(
        "client", "server",
        ask=message("client", "server", int, query),
        stop=choice("server", "db", stop=choice("db", "log", stop=GLOBAL_END)),
    )
    assert project_all(g) == {
        "client": {"server": select(ask=send(int), stop=END)},
        "server": {"client": offer(ask=recv(int), stop=END), "db": select(query=END, stop=END)},
        "db": {"server": offer(query=END, stop=END), "log": select(query=send(str), stop=END)},
        "log": {"db": offer(query=recv(str), stop=END)},
    }


def test_branches_told_alike_merge_their_continuations() -> None:
    """Offers of one label in two branches merge into one branch, continuations merged."""
    tell = choice("b", "c", go=message("b", "c", int, choice("b", "c", x=GLOBAL_END)))
    also = choice("b", "c", go=message("b", "c", int, choice("b", "c", y=GLOBAL_END)))
    g = choice("a", "b", one=tell, two=also)
    assert project(g, "c") == {"b": offer(go=recv(int, offer(x=END, y=END)))}
    assert project(g, "b")["c"] == dual(project(g, "c")["b"])


def test_a_loop_in_which_two_roles_do_not_talk_ends_for_them() -> None:
    """A loop that a pair takes no part in projects to end, never to an unguarded Rec."""
    g = message("a", "c", int, global_rec("x", lambda x: message("a", "b", int, x)))
    assert project(g, "a") == {"c": send(int), "b": rec("x", lambda x: send(int, x))}
    assert project(g, "c") == {"a": recv(int)}
    only_others = global_rec("x", lambda x: message("a", "b", int, choice("b", "c", go=x)))
    assert project(message("a", "d", str, only_others), "d") == {"a": recv(str)}


def test_a_jump_to_an_outer_loop_keeps_the_outer_loop() -> None:
    """An inner loop whose own variable a pair never reaches is dropped; the outer one stays."""
    g = global_rec("x", lambda x: message(
        "a", "b", int, global_rec("y", lambda y: message("c", "d", int, x))))
    assert project(g, "a") == {"b": rec("x", lambda x: send(int, x))}
    assert project(g, "d") == {"c": rec("x", lambda x: recv(int, x))}


def test_roles_with_no_part_after_a_private_choice_end() -> None:
    """A choice whose branches are a private talk of its two roles ends for everyone else."""
    g = message("c", "a", int, choice("a", "b", x=message("a", "b", str), y=GLOBAL_END))
    assert project(g, "c") == {"a": send(int)}


NOT_PROJECTABLE: list[tuple[str, Global, str, str]] = [
    ("db is not told", service(tell_db=False), "db",
     r"role 'db' cannot tell which branch 'client' chose at GlobalRec\('session'\)\."
     r"Choice\(client->server\), yet in branch 'ask' it would receive str from 'server', but in "
     r"branch 'stop' it would do nothing more\.\n"
     r"Fix: have 'server' tell 'db' the choice, e\.g\. choice\('server', 'db', ask=\.\.\., "
     r"stop=\.\.\.\) inside each branch, before 'db' acts differently\.$"),
    ("an untold role chooses differently",
     choice("a", "b", x=choice("c", "d", p=GLOBAL_END), y=choice("c", "d", q=GLOBAL_END)), "c",
     r"role 'c' cannot tell which branch 'a' chose at Choice\(a->b\), yet in branch 'x' it would "
     r"choose one of: p and tell 'd', but in branch 'y' it would choose one of: q and tell 'd'"),
    ("loop or stop",
     global_rec("x", lambda x: choice("a", "b", more=message("b", "c", int, x), stop=GLOBAL_END)),
     "c",
     r"role 'c' cannot tell which branch 'a' chose at GlobalRec\('x'\)\.Choice\(a->b\), yet in "
     r"branch 'more' it would receive int from 'b', but in branch 'stop' it would do nothing"),
    ("the first difference is named",
     choice("a", "b", x=message("b", "c", int, message("b", "c", int)),
            y=message("b", "c", int, message("b", "c", str))), "c",
     r"role 'c' cannot tell which branch 'a' chose at Choice\(a->b\), yet in both it would first "
     r"receive int from 'b'; then in branch 'x' it would receive int from 'b', but in branch 'y' "
     r"it would receive str from 'b'\."),
    ("the branch that differs is named",
     choice("a", "b", x=GLOBAL_END, y=GLOBAL_END, z=message("b", "c", int)), "c",
     r"role 'c' cannot tell which branch 'a' chose at Choice\(a->b\), yet in branch 'x' it would "
     r"do nothing more, but in branch 'z' it would receive int from 'b'\."),
    ("two roles that know still need the label on their channel", choice(
        "c", "b", ask=choice("c", "a", ask=GLOBAL_END),
        stop=choice("c", "a", stop=message("a", "b", int))), "a",
     r"role 'b', on its channel with 'a', cannot tell which branch 'c' chose at Choice\(c->a\), "
     r"yet in branch 'ask' it would do nothing more, but in branch 'stop' it would receive int "
     r"from 'a'\.\nFix: have 'a' tell 'b' the choice"),
    ("the channel with a peer does not carry the label", choice(
        "t", "r", a=message("r", "s", int), b=message("r", "s", str)), "r",
     r"role 's', on its channel with 'r', cannot tell which branch 't' chose at Choice\(t->r\), "
     r"yet in branch 'a' it would receive int from 'r', but in branch 'b' it would receive str "
     r"from 'r'\.\nFix: have 'r' tell 's' the choice, e\.g\. choice\('r', 's', a=\.\.\., "
     r"b=\.\.\.\) inside each branch, before 's' acts differently; each pair's channel must "
     r"carry the labels of the choices its protocol follows\.$"),
]


@pytest.mark.parametrize(
    ("g", "role", "message"), [case[1:] for case in NOT_PROJECTABLE],
    ids=[case[0] for case in NOT_PROJECTABLE],
)
def test_protocols_a_role_cannot_follow_are_refused_with_the_reason(
    g: Global, role: str, message: str
) -> None:
    """Projection is refused when a role cannot tell a branch it must act on, saying why."""
    with pytest.raises(fx.ProtocolError, match="^" + message) as excinfo:
        project(g, role)
    assert raised_here(excinfo, test_protocols_a_role_cannot_follow_are_refused_with_the_reason)
    with pytest.raises(fx.ProtocolError, match=r"^role '\w+'.* cannot tell which branch"):
        project_all(g)


def test_project_checks_only_the_role_asked_for() -> None:
    """The roles that can follow a protocol still project when another role cannot."""
    g = choice("a", "b", x=choice("c", "d", p=GLOBAL_END), y=choice("c", "d", q=GLOBAL_END))
    assert project(g, "d") == {"c": offer(p=END, q=END)}  # d is told; c is the one guessing
    assert project(service(tell_db=False), "client") == {
        "server": rec("session", lambda s: select(ask=send(str, recv(int, s)), stop=END)),
    }


def test_projecting_onto_an_unknown_role_lists_the_roles() -> None:
    """A role that takes no part is refused, and the message lists the protocol's roles."""
    with pytest.raises(fx.ProtocolError, match=(
        r"^cannot project onto 'cache': it takes no part in the protocol, whose roles are "
        r"'client', 'server', 'db'\.\nFix: project onto one of those roles"
    )) as excinfo:
        project(service(), "cache")
    assert raised_here(excinfo, test_projecting_onto_an_unknown_role_lists_the_roles)
    with pytest.raises(fx.ProtocolError, match=r"whose roles are none"):
        project(GLOBAL_END, "a")


def test_project_all_of_the_empty_protocol_is_empty() -> None:
    """A protocol with no roles has no projections."""
    assert project_all(GLOBAL_END) == {}


# -- laws ---------------------------------------------------------------------------------------


@settings(max_examples=300)
@given(any_protocols())
def test_projectable_protocols_give_each_pair_duals(g: Global) -> None:
    """Projections of a protocol that tells every role its choices are exact duals per pair."""
    locals_ = project_all(g)
    for role, peers in locals_.items():
        assert role not in peers
        for peer, local in peers.items():
            assert well_formed(local) == local
            assert role in locals_[peer]
            assert local == dual(locals_[peer][role])


@settings(max_examples=300)
@given(any_protocols(informed=False))
def test_any_protocol_projects_to_duals_or_is_refused(g: Global) -> None:
    """Any protocol either projects onto duals for every two roles, or is refused with a reason.

    The duality holds for two roles that each project, even when a third cannot.
    """
    locals_: dict[str, dict[str, Session]] = {}
    for role in roles(g):
        try:
            locals_[role] = project(g, role)
        except fx.ProtocolError as error:
            assert "cannot tell which branch" in str(error)
    for role, peers in locals_.items():
        for peer, local in peers.items():
            if peer in locals_:
                assert local == dual(locals_[peer][role])


@given(any_protocols(informed=False))
def test_repr_round_trips(g: Global) -> None:
    """Every generated protocol evaluates back from its repr."""
    assert eval(repr(g), dict(vars(fxt))) == g  # our own repr, evaluated in a test
