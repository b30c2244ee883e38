"""The argument-generation benchmark measures what it claims to (correctness only: no timing bar).

Run with tiny sizes, it must time every variant of every case, count only valid examples as
valid, never see construction draw an invalid one or fail a health check, report
icontract-hypothesis as n/a with the reason when it cannot be imported, and print a row per
case and variant and the ratios table.
"""

from __future__ import annotations

import contextlib
import io
import random
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `benchmarks` lives at the repository root, next to `effectus`
    sys.path.insert(0, str(ROOT))

from benchmarks import strategies  # noqa: E402

RATIO = r"(∞ \(none valid\)|[0-9,]+\.[0-9]x)"


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


@pytest.fixture(scope="module")
def out() -> str:
    """``python -m benchmarks.strategies --examples 5 --rounds 1``, its report (run once)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert strategies.main(["--examples", "5", "--rounds", "1"]) == 0
    return buffer.getvalue()


def test_holds_is_the_tools_own_check_and_keeps_the_random_state() -> None:
    """`holds` answers the tool's precondition (a window of width 8 at most, x inside it) and
    leaves the global random state as it found it."""
    state = random.getstate()
    assert strategies.holds(strategies.in_window, (0, 3, 8))
    assert not strategies.holds(strategies.in_window, (0, 8, 8))  # x < hi fails
    assert not strategies.holds(strategies.in_window, (0, 3, 9))  # wider than 8
    assert strategies.holds(strategies.top_k, ([5, 1], 2, -4))
    assert not strategies.holds(strategies.top_k, ([5, 1], 3, 0))
    assert random.getstate() == state


def test_the_cases_have_1_3_and_6_arguments_and_relational_preconditions() -> None:
    """The cases' arities are 1, 3, 3, 3 and 6, and their preconditions are the ones documented."""
    assert [(c.name, c.arity, c.requires) for c in strategies.CASES] == [
        ("in_range", 1, "1000 <= x <= 1999"),
        ("in_span", 3, "lo <= x <= hi and hi - lo <= 1000"),
        ("in_window", 3, "lo <= x < hi and hi - lo <= 8"),
        ("top_k", 3, "0 < k <= len(xs) and lo <= k"),
        ("ordered", 6, "a <= b <= c <= d <= e <= f and f - a <= 10"),
    ]


def test_run_once_counts_valid_examples_and_catches_hypothesis_errors() -> None:
    """Construction gives exactly max_examples valid examples; the filter, with the default
    health checks on, ends in FailedHealthCheck, and the assume variant counts every tuple the
    test body got as drawn."""
    case = next(c for c in strategies.CASES if c.name == "in_window")
    made = strategies.strategies(case)
    built = strategies.run_once(case, "construction", made, 10, health_checks=True)
    assert (built.valid, built.examples, built.drawn, built.error) == (10, 10, 10, None)
    assert built.rate("construction") == 10 / built.seconds
    filtered = strategies.run_once(case, "filter", made, 10, health_checks=True)
    assert filtered.error == "FailedHealthCheck"
    assumed = strategies.run_once(case, "assume", made, 10, health_checks=False)
    assert assumed.drawn == assumed.examples >= assumed.valid
    with pytest.raises(ValueError, match="unknown method 'sample'"):
        strategies.run_once(case, "sample", made, 10, health_checks=True)


def test_icontract_hypothesis_that_does_not_import_is_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """When ``import icontract_hypothesis`` fails, the variant's strategy is the reason, not an
    exception."""
    monkeypatch.setitem(sys.modules, "icontract_hypothesis", None)  # makes the import fail
    why = strategies.icontract_strategy("in_range")
    assert isinstance(why, str) and why.startswith("`import icontract_hypothesis`: ModuleNotFoundError"), why


def test_the_report_has_every_case_and_variant_and_the_ratios(out: str) -> None:
    """Heading and machine line; a row per case and variant, in order; construction valid in every
    example with no error; n/a rows carry a reason; the ratio table has a row per case and checks
    the 5x bar at 3 arguments."""
    assert out.startswith("## Argument generation (valid examples/s)\n")
    assert re.search(r"- Python 3\.\d+.*, \d+ CPUs; effectus \d.*, Hypothesis \d+\.\d+", out)
    rows = [_cells(r) for r in out.splitlines() if re.match(r"\| \d+ \|", r)]
    expected = [(f"`{c.name}`", str(c.arity), f"`{c.requires}`") for c in strategies.CASES
                for _ in strategies.METHODS]
    assert [(r[1], r[2], r[3]) for r in rows] == expected
    labels = [strategies._LABELS.get(m, m) for m in strategies.METHODS]
    assert [r[4] for r in rows] == labels * len(strategies.CASES)
    for row in rows:
        if row[5] == "n/a":
            assert row[4] == "icontract-hypothesis" and re.match(r"n/a: `.+`: \w+", row[10]), row
            continue
        valid, drawn = (int(c.replace(",", "")) for c in row[5].split(" / "))
        assert 0 <= valid <= drawn and re.fullmatch(r"[0-9,]+", row[6]), row
        assert re.fullmatch(r"[0-9,]+ – [0-9,]+", row[7]), row
        assert re.fullmatch(r"\d+/1( \((FailedHealthCheck|Unsatisfiable)(, \w+)?\))?", row[8]), row
        assert re.fullmatch(RATIO, row[10]), row
        if row[4] == "construction":
            assert (valid, drawn, row[8], row[10]) == (5, 5, "0/1", "1.0x"), row
    # the rejection variants give up on the 3-argument windows with the default health checks on
    window = [r for r in rows if r[1] == "`in_window`" and r[4] in ("filter", "assume")]
    assert all(r[9].startswith("1/1 (") for r in window), window

    ratios = [_cells(r) for r in out.splitlines() if re.match(r"\| `\w+` \| \d \|", r)]
    assert [r[0] for r in ratios] == [f"`{c.name}`" for c in strategies.CASES]
    for case, row in zip(strategies.CASES, ratios, strict=True):
        assert all(re.fullmatch(RATIO, c) for c in row[2:5]), row
        assert (row[5], row[6] in ("yes", "**no**")) == (("5x", True) if case.arity == 3 else ("", False)), row
