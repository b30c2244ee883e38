"""Generated tool bodies: the body check never crashes, what it proves holds when the tool
runs, and what it refutes fails at run time on the counterexample it shows.

Each example writes a real module with one ``@fx.tool`` whose body is drawn from the body
subset (assignments, nested if/else, returns, floor division and modulo that may raise) and
whose postcondition relates the result to the arguments, imports it as ``effectus check``
does, checks it, and runs it.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import effectus as fx
from effectus._cli_check import load_module

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
counter = itertools.count()


@st.composite
def expressions(draw: st.DrawFn, names: list[str], depth: int = 2) -> str:
    leaf = st.one_of(st.sampled_from(names), st.integers(-3, 3).map(str))
    if depth == 0:
        return draw(leaf)
    a, b = draw(expressions(names, depth - 1)), draw(expressions(names, depth - 1))
    return draw(st.sampled_from([draw(leaf), f"({a} + {b})", f"({a} - {b})", f"({a} * {b})", f"({a} // {b})", f"({a} % {b})", f"max({a}, {b})", f"min({a}, {b})", f"abs({a})"]))


@st.composite
def blocks(draw: st.DrawFn, names: list[str], indent: int, depth: int) -> list[str]:
    lines: list[str] = []
    pad = "    " * indent
    names = list(names)
    for _ in range(draw(st.integers(0, 2))):
        target = f"v{len(names)}"
        lines.append(f"{pad}{target} = {draw(expressions(names))}")
        names.append(target)
    if depth > 0 and draw(st.booleans()):
        op = draw(st.sampled_from(["<", "<=", "==", "!=", ">"]))
        lines.append(f"{pad}if {draw(expressions(names, 1))} {op} {draw(expressions(names, 1))}:")
        lines += draw(blocks(names, indent + 1, depth - 1))
        lines.append(f"{pad}else:")
        lines += draw(blocks(names, indent + 1, depth - 1))
        return lines
    lines.append(f"{pad}return {draw(expressions(names))}")
    return lines


@st.composite
def tools(draw: st.DrawFn) -> str:
    body = draw(blocks(["a", "b"], 1, 2))
    op = draw(st.sampled_from([">=", "<=", "!=", ">"]))
    ensures = f"lambda result, a, b: result {op} {draw(expressions(['a', 'b'], 1))}"
    requires = draw(st.sampled_from(["", "requires=lambda a, b: a >= 0 and b > 0, "]))
    return "import effectus as fx\n\n\n" f"@fx.tool({requires}ensures={ensures})\nasync def fuzzed(a: int, b: int) -> int:\n" + "\n".join(body) + "\n"


def outcome(tool: fx.Tool[[int, int], int], a: int, b: int) -> str:
    try:
        fx.run(tool(a, b))
    except fx.PostconditionError:
        return "violated"
    except fx.PreconditionError:
        return "refused"
    except ArithmeticError:
        return "raised"
    return "held"


@FUZZ
@given(source=tools())
def test_generated_bodies_get_sound_verdicts(source: str, tmp_path: Path) -> None:
    """Proved: no input in a grid violates the postcondition.  Refuted: the counterexample
    violates it when the tool runs.  Unknown is allowed (z3 may give up) but never a crash."""
    path = tmp_path / f"fuzzed_{next(counter)}.py"
    path.write_text(source)
    tool = load_module(str(path)).fuzzed
    rows = [r for r in fx.check(tool, cache=False).rows if r.check == "body meets postconditions"]
    assert len(rows) == 1, source
    row = rows[0]
    if row.verdict == "proved":
        grid = [outcome(tool, a, b) for a in range(-4, 5) for b in range(-4, 5)]
        assert "violated" not in grid, source
    elif row.verdict == "refuted":
        assert outcome(tool, int(row.model["a"]), int(row.model["b"])) == "violated", (source, row.detail)
    else:
        assert row.verdict == "unknown" and row.detail, source


def test_the_generator_makes_every_verdict(tmp_path: Path) -> None:
    """The fuzzer is not vacuous: a handful of fixed bodies of its shape get proved and refuted."""
    for body, expected in [("    return max(a, b)", "proved"), ("    return a - b", "refuted")]:
        source = "import effectus as fx\n\n\n@fx.tool(ensures=lambda result, a, b: result >= a)\nasync def fuzzed(a: int, b: int) -> int:\n" + body + "\n"
        tmp = tmp_path / f"fixed_{next(counter)}.py"
        tmp.write_text(source)
        rows = fx.check(load_module(str(tmp)).fuzzed, cache=False).rows
        assert [r.verdict for r in rows if r.check == "body meets postconditions"] == [expected]
