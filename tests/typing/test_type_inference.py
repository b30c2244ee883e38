"""Effect results, tool calls and runs are typed under mypy and pyright, without plugins.

``snippets/good_effects.py`` uses the public API the way users do; both checkers (strict) must
accept it and infer the types pinned in `REVEALS`.  ``snippets/bad_effects.py`` holds one
mistake per line; `PINNED` is what each checker says about each line: the error code (mypy) or
rule (pyright) and the part of the message a user reads to fix it.  Each checker runs once
over both snippets.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from _checkers import Diagnostic, Report

pytestmark = pytest.mark.slow

SNIPPETS = Path(__file__).resolve().parent / "snippets"
GOOD = SNIPPETS / "good_effects.py"
BAD = SNIPPETS / "bad_effects.py"


@dataclass(frozen=True)
class Reveal:
    """A ``reveal_type`` in the good snippet and the type each checker must show."""

    needle: str  # occurs on exactly one line of the good snippet
    mypy: str
    pyright: str

    def __str__(self) -> str:
        return self.needle


REVEALS = [
    # The DESIGN.md example: awaiting an Effect[R] gives R.
    Reveal("reveal_type(v)", "int", "int"),
    Reveal("reveal_type(await Put(key, v + 1))", "None", "None"),
    # @fx.effect classes, with and without arguments.
    Reveal("reveal_type(greeting)", "str", "str"),
    Reveal("reveal_type(await Ticks(3))", "list[float]", "list[float]"),
    # Tools: calling one gives Call[R]; awaiting that gives R (also for tools that are methods).
    Reveal("reveal_type(call)", "effectus.core._tool.Call[int]", "Call[int]"),
    Reveal("reveal_type(await double(1))", "int", "int"),
    Reveal('reveal_type(await describe(2, unit="boxes"))', "str", "str"),
    Reveal("reveal_type(await service.scaled(3))", "float", "float"),
    # Scoped handlers: fx.handle(...) is a program of the same result type.
    Reveal("reveal_type(scoped)", "effectus.core._stack.Handle[int]", "Handle[int]"),
    Reveal("reveal_type(await scoped)", "int", "int"),
    # Running.
    Reveal('reveal_type(fx.run(bump("x"), Memory()))', "int", "int"),
    Reveal(
        'reveal_type(fx.run_result(bump("x"), Memory()))',
        "returns.result.Result[int, Exception]",
        "Result[int, Exception]",
    ),
    Reveal("reveal_type(fx.run(double(2)))", "int", "int"),
    Reveal('reveal_type(interpreter.run(bump("x")))', "int", "int"),
    Reveal(
        'reveal_type(interpreter.run_result(bump("x")))',
        "returns.result.Result[int, Exception]",
        "Result[int, Exception]",
    ),
    Reveal(
        "reveal_type(interpreter.with_handlers(Memory()))",
        "effectus.core._run.Interpreter",
        "Interpreter",
    ),
    Reveal("reveal_type(interpreter.handler(Memory))", "good_effects.Memory", "Memory"),
    # The standard effects: fx.Get's answer has its default's type.
    Reveal("reveal_type(n)", "int", "int"),
    Reveal("reveal_type(name)", "str", "str"),
    Reveal("reveal_type(bumped)", "int", "int"),
    Reveal("reveal_type(fx.testing().run(counter()))", "int", "int"),
    Reveal(
        "reveal_type(fx.run(counter(), Memory(), fx.testing(seed=1)))", "int", "int"
    ),
]


@dataclass(frozen=True)
class Pinned:
    """A wrong line of the bad snippet and what each checker says about it, in order.

    Each message is ``(code, fragment)``: the mypy error code or pyright rule exactly, and a
    fragment of the message's first line.
    """

    needle: str  # occurs on exactly one line of the bad snippet
    mypy: tuple[tuple[str, str], ...]
    pyright: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        return self.needle


def _assignment(needle: str, got: str, declared: str) -> Pinned:
    """The error for assigning a value of type ``got`` to a variable declared ``declared``."""
    return Pinned(
        needle,
        (("assignment", f'(expression has type "{got}", variable has type "{declared}")'),),
        (("reportAssignmentType", f'Type "{got}" is not assignable to declared type "{declared}"'),),
    )


PINNED = [
    _assignment('x: str = await Get("x")', "int", "str"),
    Pinned(
        'y: int = Get("y")',
        (
            ("assignment", '(expression has type "Get", variable has type "int")'),
            ("", 'Maybe you forgot to use "await"?'),
        ),
        (("reportAssignmentType", 'Type "Get" is not assignable to declared type "int"'),),
    ),
    _assignment("z: str = await double(1)", "int", "str"),
    # mypy solves Get's type variable from the declared type, so it blames the default.
    Pinned(
        'w: str = await fx.Get("n", 0)',
        (("arg-type", 'Argument 2 to "Get" has incompatible type "int"; expected "str"'),),
        (("reportAssignmentType", 'Type "int" is not assignable to declared type "str"'),),
    ),
    Pinned(
        'await double("one")',
        (("arg-type", 'Argument 1 to "__call__" of "Tool" has incompatible type "str"; expected "int"'),),
        (
            (
                "reportArgumentType",
                """Argument of type "Literal['one']" cannot be assigned to parameter "n" of type "int\"""",
            ),
        ),
    ),
    Pinned(
        "await double(1, 2)",
        (("call-arg", 'Too many arguments for "__call__" of "Tool"'),),
        (("reportCallIssue", "Expected 1 positional argument"),),
    ),
    Pinned(
        "await Get(42)",
        (("arg-type", 'Argument 1 to "Get" has incompatible type "int"; expected "str"'),),
        (
            (
                "reportArgumentType",
                'Argument of type "Literal[42]" cannot be assigned to parameter "key" of type "str"',
            ),
        ),
    ),
    Pinned(
        "await Greet(name=3)",
        (("arg-type", 'Argument "name" to "Greet" has incompatible type "int"; expected "str"'),),
        (
            (
                "reportArgumentType",
                'Argument of type "Literal[3]" cannot be assigned to parameter "name" of type "str"',
            ),
        ),
    ),
    _assignment('s: str = fx.run(bump("x"), Memory())', "int", "str"),
    Pinned(
        "fx.run(bump, Memory())",
        (
            (
                "arg-type",
                'Argument 1 to "run" has incompatible type "Callable[[str], Coroutine[Any, Any, int]]"',
            ),
        ),
        (
            (
                "reportArgumentType",
                'cannot be assigned to parameter "program" of type "Awaitable[R@run]"',
            ),
        ),
    ),
    Pinned(
        'fx.run(bump("x"), Memory)',
        (
            (
                "arg-type",
                'Argument 2 to "run" has incompatible type "type[Memory]"; '
                'expected "Handler | Interpreter"',
            ),
        ),
        (
            (
                "reportArgumentType",
                'Argument of type "type[Memory]" cannot be assigned to parameter "handlers" of '
                'type "Handler | Interpreter"',
            ),
        ),
    ),
    Pinned(
        'e.key = "y"',
        (("misc", 'Property "key" defined in "Get" is read-only'),),
        (("reportAttributeAccessIssue", 'Cannot assign to attribute "key" for class "Get"'),),
    ),
    Pinned(
        'g.name = "bob"',
        (("misc", 'Property "name" defined in "Greet" is read-only'),),
        (("reportAttributeAccessIssue", 'Cannot assign to attribute "name" for class "Greet"'),),
    ),
    Pinned(
        "@fx.handles(int)",
        (
            (
                "arg-type",
                'Argument 1 to "handles" has incompatible type "type[int]"; '
                'expected "type[Effect[Any]]"',
            ),
        ),
        (
            (
                "reportArgumentType",
                'Argument of type "type[int]" cannot be assigned to parameter "effect_types" of '
                'type "type[Effect[Any]]"',
            ),
        ),
    ),
    Pinned(
        "tools are async def programs",
        (("arg-type", 'Argument 1 to "tool" has incompatible type "Callable[[int], int]"'),),
        (("reportArgumentType", 'Argument of type "(n: int) -> int" cannot be assigned to parameter "fn"'),),
    ),
]


def _line_of(path: Path, needle: str) -> int:
    lines = [i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text]
    assert len(lines) == 1, f"{needle!r} should occur on exactly one line of {path.name}: {lines}"
    return lines[0]


@pytest.fixture(scope="module")
def mypy_report(mypy: Callable[..., Report]) -> Report:
    return mypy(GOOD, BAD)


@pytest.fixture(scope="module")
def pyright_report(pyright: Callable[..., Report]) -> Report:
    return pyright(GOOD, BAD)


@pytest.fixture(params=["mypy", "pyright"])
def report(request: pytest.FixtureRequest) -> Report:
    """Each checker's report on the snippets, in turn."""
    name: str = request.param
    return request.getfixturevalue(f"{name}_report")  # type: ignore[no-any-return]  # pytest API


def _is_reveal(d: Diagnostic) -> bool:
    return d.message.startswith(("Revealed type is ", "Type of "))


def _revealed(report: Report, line: int) -> str:
    found = [d for d in report.about(GOOD) if d.line == line and _is_reveal(d)]
    assert len(found) == 1, report.dump(report.about(GOOD))
    message = found[0].message
    if report.checker.startswith("mypy"):
        m = re.fullmatch(r'Revealed type is "(.*)"', message)
        assert m is not None, message
        # mypy before 2.0 writes builtins in full ("builtins.int").
        return re.sub(r"\bbuiltins\.", "", m[1])
    m = re.fullmatch(r'Type of ".*" is "(.*)"', message, flags=re.DOTALL)
    assert m is not None, message
    return m[1]


def test_good_snippet_has_no_errors(report: Report) -> None:
    """The good snippet passes the checker in strict mode: its only messages are reveals."""
    others = [d for d in report.about(GOOD) if not _is_reveal(d)]
    assert others == [], report.dump(others)


def test_every_reveal_is_pinned(report: Report) -> None:
    """Each ``reveal_type`` in the good snippet has its expected type in REVEALS."""
    revealed = sorted(d.line for d in report.about(GOOD) if _is_reveal(d))
    assert revealed == sorted(_line_of(GOOD, r.needle) for r in REVEALS), report.dump()


@pytest.mark.parametrize("reveal", REVEALS, ids=str)
def test_mypy_infers(mypy_report: Report, reveal: Reveal) -> None:
    """mypy infers the pinned type for the expression, with no plugin."""
    assert _revealed(mypy_report, _line_of(GOOD, reveal.needle)) == reveal.mypy


@pytest.mark.parametrize("reveal", REVEALS, ids=str)
def test_pyright_infers(pyright_report: Report, reveal: Reveal) -> None:
    """pyright infers the pinned type for the expression."""
    assert _revealed(pyright_report, _line_of(GOOD, reveal.needle)) == reveal.pyright


def _said(report: Report, line: int) -> list[tuple[str, str]]:
    return [(d.code, d.message) for d in report.about(BAD) if d.line == line]


def _check_pinned(report: Report, line: int, expected: tuple[tuple[str, str], ...]) -> None:
    said = _said(report, line)
    assert [code for code, _ in said] == [code for code, _ in expected], report.dump(report.about(BAD))
    for (_, message), (_, fragment) in zip(said, expected):
        assert fragment in message, f"{report.checker} said {message!r}; expected {fragment!r} in it"


@pytest.mark.parametrize("pinned", PINNED, ids=str)
def test_mypy_rejects(mypy_report: Report, pinned: Pinned) -> None:
    """mypy reports the pinned error (code and message) on the wrong line."""
    _check_pinned(mypy_report, _line_of(BAD, pinned.needle), pinned.mypy)


@pytest.mark.parametrize("pinned", PINNED, ids=str)
def test_pyright_rejects(pyright_report: Report, pinned: Pinned) -> None:
    """pyright reports the pinned error (rule and message) on the wrong line."""
    _check_pinned(pyright_report, _line_of(BAD, pinned.needle), pinned.pyright)


def test_bad_snippet_has_no_other_errors(report: Report) -> None:
    """The checker reports nothing on the bad snippet beyond the pinned lines."""
    pinned_lines = {_line_of(BAD, p.needle) for p in PINNED}
    others = [d for d in report.about(BAD) if d.line not in pinned_lines]
    assert others == [], report.dump(others)
