"""Session-typed endpoints are checked step by step by mypy and pyright, without plugins.

`GOOD` holds correct conversations written the way users write them: both checkers (strict)
must accept it and infer the endpoint types pinned in `REVEALS`, down to the end of the
protocol; it also runs.  After a `Select`, `Offer` or `Rec` the endpoint is
``Endpoint[Session]``, where every operation is allowed statically (checked at run time only).
`BAD` holds one wrong next step per function (receive where the protocol sends, a message of
the wrong type, close before the end, send after it, ...); `PINNED` is what each checker says
about each wrong line: the error code (mypy) or rule (pyright) and the part of the message a
user reads.  The snippets live here as text and are written to a temporary directory (this
module is the only file of the test); each checker runs once over both.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from _checkers import Diagnostic, Report

import effectus as fx

pytestmark = pytest.mark.slow

GOOD = '''\
"""Correct conversations over effectus channels; type-checked, and run by one test."""
# pyright: strict

from __future__ import annotations

from typing import reveal_type

import effectus as fx
from effectus.types import END, End, Endpoint, Recv, Send, Session, rec, recv, select, send


# -- a linear conversation: every endpoint has the type of the rest of its protocol ---------
async def client(ep: Endpoint[Send[int, Recv[str, End]]]) -> str:
    sending = ep.send(41)
    reveal_type(sending)
    ep2 = await sending
    reveal_type(ep2)
    answer, ep3 = await ep2.recv()
    reveal_type(answer)
    reveal_type(ep3)
    await ep3.close()
    return answer


async def server(ep: Endpoint[Recv[int, Send[str, End]]]) -> None:
    n, reply = await ep.recv()
    reveal_type(n)
    reveal_type(reply)
    done = await reply.send(f"got {n + 1}")
    reveal_type(done)
    await done.close()


async def typed() -> str:
    opened = fx.Open(send(int, recv(str)), recv(int, send(str)))
    reveal_type(opened)
    a, b = await opened
    reveal_type(a)
    reveal_type(b)
    serving = await fx.Spawn(server(b))
    answer = await client(a)
    await fx.Join(serving)
    return answer


# -- the dynamic case: after Rec or Select, Endpoint[Session] allows any operation ---------
async def looping() -> int:
    loop, peer = await fx.Open(rec("loop", lambda again: select(more=send(int, again), stop=END)))
    reveal_type(loop)
    reveal_type(peer)
    more = await loop.select("more")
    reveal_type(more)
    again = await more.send(1)
    stop = await again.select("stop")
    await stop.close()
    label, offered = await peer.offer()
    reveal_type(label)
    got, after = await offered.recv()
    reveal_type(got)
    _, last = await after.offer()
    await last.close()
    return 1 if got == 1 else 0


async def chosen() -> str:
    chooser, chosen_by = await fx.Open(select(ask=send(int, recv(str)), quit=END))
    reveal_type(chooser)
    asking = await chooser.select("ask")
    reveal_type(asking)
    asked = await asking.send(2)
    _, answering = await chosen_by.offer()
    n, answering = await answering.recv()
    answering = await answering.send(f"got {n}")
    await answering.close()
    text, asked = await asked.recv()
    await asked.close()
    return str(text)


async def anything(ep: Endpoint[Session]) -> None:
    ep = await ep.send("any message")
    _, ep = await ep.recv()
    ep = await ep.select("any label")
    _, ep = await ep.offer()
    await ep.close()
'''

BAD = '''\
"""Wrong next steps on typed endpoints, one per function; type-checked only, never run."""
# pyright: strict

from __future__ import annotations

import effectus as fx
from effectus.types import End, Endpoint, Recv, Select, Send, recv, send


async def receive_where_the_protocol_sends(ep: Endpoint[Send[int, Recv[str, End]]]) -> None:
    await ep.recv()


async def send_a_message_of_the_wrong_type(ep: Endpoint[Send[int, Recv[str, End]]]) -> None:
    await ep.send("text")


async def close_before_the_end(ep: Endpoint[Send[int, Recv[str, End]]]) -> None:
    await ep.close()


async def send_after_the_end(ended: Endpoint[End]) -> None:
    await ended.send(1)


async def receive_after_the_end(ended: Endpoint[End]) -> None:
    await ended.recv()


async def select_where_the_protocol_sends(ep: Endpoint[Send[int, End]]) -> None:
    await ep.select("ask")


async def send_where_the_protocol_selects(ep: Endpoint[Select]) -> None:
    await ep.send(3)


async def offer_where_the_protocol_receives(ep: Endpoint[Recv[int, End]]) -> None:
    await ep.offer()


# -- after a correct step, the next endpoint is checked against the rest of the protocol ----
async def close_after_one_step(ep: Endpoint[Send[int, Recv[str, End]]]) -> None:
    middle = await ep.send(1)
    await middle.close()


async def send_twice(ep: Endpoint[Send[int, Recv[str, End]]]) -> None:
    then = await ep.send(1)
    await then.send(2)


async def use_the_message_as_another_type(incoming: Endpoint[Recv[int, End]]) -> None:
    n, rest = await incoming.recv()
    await rest.close()
    text: str = n
    print(text)


# -- not wrong, but mypy types a variable by its first assignment ----------------------------
async def rebind_one_name() -> None:
    client, server = await fx.Open(send(int, recv(str)), recv(int, send(str)))
    client = await client.send(1)
    print(client, server)
'''

# How mypy prints the protocol types (module-qualified; builtins are shortened below).
_CHANNEL = "effectus.types._channel"
_SESSION = "effectus.types._session"
_END = f"{_SESSION}.End"
_MYPY_SESSION = (
    f"{_SESSION}.Send[object, ...] | {_SESSION}.Recv[object, ...] | {_SESSION}.Select | "
    f"{_SESSION}.Offer | {_SESSION}.Rec | {_SESSION}.Var | {_END}"
)
_PYRIGHT_SESSION = "Send[object, Session] | Recv[object, Session] | Select | Offer | Rec | Var | End"


def _mypy_endpoint(protocol: str) -> str:
    return f"{_CHANNEL}.Endpoint[{protocol}]"


@dataclass(frozen=True)
class Reveal:
    """A ``reveal_type`` in `GOOD` and the type each checker must show."""

    needle: str  # occurs on exactly one line of GOOD
    mypy: str
    pyright: str

    def __str__(self) -> str:
        return self.needle


REVEALS = [
    # Open(p, q) types both ends.
    Reveal(
        "reveal_type(opened)",
        f"{_CHANNEL}.Open[{_SESSION}.Send[int, {_SESSION}.Recv[str, {_END}]], "
        f"{_SESSION}.Recv[int, {_SESSION}.Send[str, {_END}]]]",
        "Open[Send[int, Recv[str, End]], Recv[int, Send[str, End]]]",
    ),
    Reveal(
        "reveal_type(a)",
        _mypy_endpoint(f"{_SESSION}.Send[int, {_SESSION}.Recv[str, {_END}]]"),
        "Endpoint[Send[int, Recv[str, End]]]",
    ),
    Reveal(
        "reveal_type(b)",
        _mypy_endpoint(f"{_SESSION}.Recv[int, {_SESSION}.Send[str, {_END}]]"),
        "Endpoint[Recv[int, Send[str, End]]]",
    ),
    # Each step answers the endpoint for the rest of the protocol, and messages keep their type.
    Reveal(
        "reveal_type(sending)",
        f"{_CHANNEL}.SendOn[{_SESSION}.Recv[str, {_END}]]",
        "SendOn[Recv[str, End]]",
    ),
    Reveal(
        "reveal_type(ep2)",
        _mypy_endpoint(f"{_SESSION}.Recv[str, {_END}]"),
        "Endpoint[Recv[str, End]]",
    ),
    Reveal("reveal_type(answer)", "str", "str"),
    Reveal("reveal_type(ep3)", _mypy_endpoint(_END), "Endpoint[End]"),
    Reveal("reveal_type(n)", "int", "int"),
    Reveal(
        "reveal_type(reply)",
        _mypy_endpoint(f"{_SESSION}.Send[str, {_END}]"),
        "Endpoint[Send[str, End]]",
    ),
    Reveal("reveal_type(done)", _mypy_endpoint(_END), "Endpoint[End]"),
    # Open(p) types the first end; the peer, and every endpoint after a Rec or a Select, is
    # Endpoint[Session], where messages are objects.
    Reveal("reveal_type(loop)", _mypy_endpoint(f"{_SESSION}.Rec"), "Endpoint[Rec]"),
    Reveal(
        "reveal_type(peer)", _mypy_endpoint(_MYPY_SESSION), f"Endpoint[{_PYRIGHT_SESSION}]"
    ),
    Reveal(
        "reveal_type(more)", _mypy_endpoint(_MYPY_SESSION), f"Endpoint[{_PYRIGHT_SESSION}]"
    ),
    Reveal("reveal_type(label)", "str", "str"),
    Reveal("reveal_type(got)", "object", "object"),
    Reveal("reveal_type(chooser)", _mypy_endpoint(f"{_SESSION}.Select"), "Endpoint[Select]"),
    Reveal(
        "reveal_type(asking)", _mypy_endpoint(_MYPY_SESSION), f"Endpoint[{_PYRIGHT_SESSION}]"
    ),
]


@dataclass(frozen=True)
class Pinned:
    """A line of `BAD` and what each checker says about it, in order.

    Each message is ``(code, fragment)``: the mypy error code or pyright rule exactly, and a
    fragment of the message's first line.
    """

    needle: str  # occurs on exactly one line of BAD
    mypy: tuple[tuple[str, str], ...]
    pyright: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        return self.needle


def _wrong_step(needle: str, method: str, endpoint: str) -> Pinned:
    """The errors for calling ``method`` on an endpoint whose protocol expects another step.

    mypy rejects the ``self`` type (for the overloaded ``send`` and ``recv`` its message shows
    only the first overload, the dynamic one); pyright finds no ``method`` on that endpoint
    type, so the method's type is also unknown.
    """
    return Pinned(
        needle,
        (("misc", f'Invalid self argument "{endpoint}" to attribute function "{method}"'),),
        (
            ("reportUnknownMemberType", f'Type of "{method}" is unknown'),
            ("reportAttributeAccessIssue", f'Cannot access attribute "{method}" for class "{endpoint}"'),
        ),
    )


PINNED = [
    _wrong_step("await ep.recv()", "recv", "Endpoint[Send[int, Recv[str, End]]]"),
    Pinned(
        'await ep.send("text")',
        (("arg-type", 'Argument 1 to "send" of "Endpoint" has incompatible type "str"; expected "int"'),),
        (
            (
                "reportArgumentType",
                """Argument of type "Literal['text']" cannot be assigned to parameter "message" of type "int\"""",
            ),
        ),
    ),
    _wrong_step("await ep.close()", "close", "Endpoint[Send[int, Recv[str, End]]]"),
    _wrong_step("await ended.send(1)", "send", "Endpoint[End]"),
    _wrong_step("await ended.recv()", "recv", "Endpoint[End]"),
    _wrong_step('await ep.select("ask")', "select", "Endpoint[Send[int, End]]"),
    _wrong_step("await ep.send(3)", "send", "Endpoint[Select]"),
    _wrong_step("await ep.offer()", "offer", "Endpoint[Recv[int, End]]"),
    _wrong_step("await middle.close()", "close", "Endpoint[Recv[str, End]]"),
    _wrong_step("await then.send(2)", "send", "Endpoint[Recv[str, End]]"),
    Pinned(
        "text: str = n",
        (("assignment", '(expression has type "int", variable has type "str")'),),
        (("reportAssignmentType", 'Type "int" is not assignable to declared type "str"'),),
    ),
    # The idiom of the run-time hints (`ep = await ep.send(x)`) on a local variable: pyright
    # gives each assignment its own type; mypy keeps the first, unless run with
    # --allow-redefinition-new.  (A parameter has a declared type: both reject rebinding it.)
    Pinned(
        "client = await client.send(1)",
        (
            (
                "assignment",
                'Incompatible types in assignment (expression has type "Endpoint[Recv[str, End]]", '
                'variable has type "Endpoint[Send[int, Recv[str, End]]]")',
            ),
        ),
        (),
    ),
]


def _line_of(text: str, needle: str) -> int:
    """The line of ``text`` where ``needle`` starts; it must occur exactly once."""
    starts = [m.start() for m in re.finditer(re.escape(needle), text)]
    assert len(starts) == 1, f"{needle!r} should occur exactly once in its snippet: {len(starts)} times"
    return text.count("\n", 0, starts[0]) + 1


@pytest.fixture(scope="module")
def snippets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """`GOOD` and `BAD` as files, in a directory of their own."""
    folder = tmp_path_factory.mktemp("endpoint-snippets")
    good, bad = folder / "good_endpoints.py", folder / "bad_endpoints.py"
    good.write_text(GOOD)
    bad.write_text(BAD)
    return good, bad


@pytest.fixture(scope="module")
def mypy_report(mypy: Callable[..., Report], snippets: tuple[Path, Path]) -> Report:
    return mypy(*snippets)


@pytest.fixture(scope="module")
def pyright_report(pyright: Callable[..., Report], snippets: tuple[Path, Path]) -> Report:
    return pyright(*snippets)


@pytest.fixture(params=["mypy", "pyright"])
def report(request: pytest.FixtureRequest) -> Report:
    """Each checker's report on the snippets, in turn."""
    name: str = request.param
    return request.getfixturevalue(f"{name}_report")  # type: ignore[no-any-return]  # pytest API


def _is_reveal(d: Diagnostic) -> bool:
    return d.message.startswith(("Revealed type is ", "Type of "))


def _revealed(report: Report, good: Path, line: int) -> str:
    found = [d for d in report.about(good) if d.line == line and _is_reveal(d)]
    assert len(found) == 1, report.dump(report.about(good))
    message = found[0].message
    if report.checker.startswith("mypy"):
        m = re.fullmatch(r'Revealed type is "(.*)"', message)
        assert m is not None, message
        # mypy before 2.0 writes builtins in full ("builtins.int").
        return re.sub(r"\bbuiltins\.", "", m[1])
    m = re.fullmatch(r'Type of ".*" is "(.*)"', message, flags=re.DOTALL)
    assert m is not None, message
    return m[1]


def test_correct_conversations_have_no_errors(report: Report, snippets: tuple[Path, Path]) -> None:
    """The good snippet passes the checker in strict mode: its only messages are reveals."""
    good, _ = snippets
    others = [d for d in report.about(good) if not _is_reveal(d)]
    assert others == [], report.dump(others)


def test_every_reveal_is_pinned(report: Report, snippets: tuple[Path, Path]) -> None:
    """Each ``reveal_type`` in the good snippet has its expected type in REVEALS."""
    good, _ = snippets
    revealed = sorted(d.line for d in report.about(good) if _is_reveal(d))
    assert revealed == sorted(_line_of(GOOD, r.needle) for r in REVEALS), report.dump()


@pytest.mark.parametrize("reveal", REVEALS, ids=str)
def test_mypy_infers(mypy_report: Report, snippets: tuple[Path, Path], reveal: Reveal) -> None:
    """mypy infers the pinned endpoint, step or message type, with no plugin."""
    good, _ = snippets
    assert _revealed(mypy_report, good, _line_of(GOOD, reveal.needle)) == reveal.mypy


@pytest.mark.parametrize("reveal", REVEALS, ids=str)
def test_pyright_infers(pyright_report: Report, snippets: tuple[Path, Path], reveal: Reveal) -> None:
    """pyright infers the pinned endpoint, step or message type."""
    good, _ = snippets
    assert _revealed(pyright_report, good, _line_of(GOOD, reveal.needle)) == reveal.pyright


def _check_pinned(report: Report, bad: Path, line: int, expected: tuple[tuple[str, str], ...]) -> None:
    said = [(d.code, d.message) for d in report.about(bad) if d.line == line]
    assert [code for code, _ in said] == [code for code, _ in expected], report.dump(report.about(bad))
    for (_, message), (_, fragment) in zip(said, expected):
        assert fragment in message, f"{report.checker} said {message!r}; expected {fragment!r} in it"


@pytest.mark.parametrize("pinned", PINNED, ids=str)
def test_mypy_rejects(mypy_report: Report, snippets: tuple[Path, Path], pinned: Pinned) -> None:
    """mypy reports the pinned error (code and message) on the wrong step's line."""
    _, bad = snippets
    _check_pinned(mypy_report, bad, _line_of(BAD, pinned.needle), pinned.mypy)


@pytest.mark.parametrize("pinned", PINNED, ids=str)
def test_pyright_rejects(pyright_report: Report, snippets: tuple[Path, Path], pinned: Pinned) -> None:
    """pyright reports the pinned error (rule and message) on the wrong step's line."""
    _, bad = snippets
    _check_pinned(pyright_report, bad, _line_of(BAD, pinned.needle), pinned.pyright)


def test_only_the_wrong_steps_are_reported(report: Report, snippets: tuple[Path, Path]) -> None:
    """The checker reports nothing on the bad snippet beyond the pinned lines: the correct
    steps before a wrong one (and the signatures) get no message."""
    _, bad = snippets
    pinned_lines = {_line_of(BAD, p.needle) for p in PINNED}
    others = [d for d in report.about(bad) if d.line not in pinned_lines]
    assert others == [], report.dump(others)


def test_the_good_snippet_also_runs(snippets: tuple[Path, Path]) -> None:
    """What the checkers accept here is also a correct conversation at run time: each
    program of the good snippet follows its protocol to the end under ``fx.testing()``."""
    good, _ = snippets
    spec = importlib.util.spec_from_file_location("good_endpoints", good)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert fx.run(module.typed(), fx.testing(seed=0)) == "got 42"
    assert fx.run(module.looping(), fx.testing(seed=0)) == 1
    assert fx.run(module.chosen(), fx.testing(seed=0)) == "got 2"
