"""The contracts benchmark compares checks that really run (correctness only: no timing is asserted).

Every variant must answer its case's result, every checked variant -- the anchors included --
must reject every violating call with its own library's error, and the quick run must print a
row for every variant and a line of overheads for every case.
"""

from __future__ import annotations

import gc
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `benchmarks` lives at the repository root, next to `effectus`
    sys.path.insert(0, str(ROOT))

deal = pytest.importorskip("deal")  # the anchors: in the `test` extra, so CI runs this file
pytest.importorskip("icontract")

import effectus as fx  # noqa: E402
from benchmarks import contracts  # noqa: E402

CASES = {case.key: case for case in contracts.CASES}

#: what each library raises for a violated contract, as `verify` names it
ERRORS = {
    "inline_if": "`ValueError`",
    "icontract": "`ViolationError`",
    "deal": "`PreContractError`",
    "fx_call": "`PreconditionError`",
    "fx": "`PreconditionError`",
    "fx_typed": "`PreconditionError`",
}


@pytest.fixture(autouse=True)
def _deal_enabled() -> Iterator[None]:
    """deal's switch is global: every test starts and ends with contracts on."""
    deal.enable(warn=False)
    yield
    deal.enable(warn=False)


@pytest.mark.parametrize("key", sorted(CASES))
def test_every_variant_answers_and_every_check_rejects_violations(key: str) -> None:
    """verify passes, and names the error each library raised for the violating calls."""
    case = CASES[key]
    raised = contracts.verify(case)
    assert set(raised) == {v.key for v in case.variants}
    for v in case.variants:
        if v.baseline is None:
            assert v.rejects is None and raised[v.key] == "", v.key
        else:
            assert raised[v.key].split(", ")[0] == ERRORS[v.key], v.key


def test_the_postcondition_case_is_caught_by_every_postcondition() -> None:
    """In (e) a call that passes the precondition breaks the postcondition, and each library's
    postcondition (not only its precondition) rejects it."""
    raised = contracts.verify(CASES["e"])
    assert raised["deal"] == "`PreContractError`, `PostContractError`"
    assert raised["fx"] == "`PreconditionError`, `PostconditionError`"
    case = CASES["e"]
    with pytest.raises(fx.PostconditionError, match=r"result >= 0"):
        fx.run(case.variant("fx").fn(0.5))
    with pytest.raises(ValueError, match="result >= 0"):
        case.variant("inline_if").fn(0.5)


def test_verify_refuses_an_anchor_whose_contracts_are_off() -> None:
    """With deal switched off its anchor lets a violating call through, and verify says so."""
    deal.disable(warn=False)
    with pytest.raises(AssertionError, match=r"deal `@pre`: the call with \(-1,\) was not rejected"):
        contracts.verify(CASES["a"])


def test_verify_refuses_a_wrong_answer() -> None:
    """A variant whose body answers something else fails verify before anything is timed."""
    case = CASES["b"]
    assert case.expected == 2
    wrong = case._replace(expected=3)
    with pytest.raises(AssertionError, match=r"\(b\) plain function \(baseline\): answered 2, expected 3"):
        contracts.verify(wrong)


def test_effectus_inlines_every_predicate_but_the_helper_call() -> None:
    """The cases test what they claim: (d) is the only one effectus has to call a lambda for."""
    assert {key: contracts.inlined(case) for key, case in CASES.items()} == {
        "a": True, "b": True, "c": True, "d": False, "e": True,
    }


@pytest.mark.parametrize("key", sorted(CASES))
def test_driving_a_call_by_hand_answers_what_the_interpreter_answers(key: str) -> None:
    """`drive` (the whole-call figure's path, without fx.run) gives fx.run's result."""
    case = CASES[key]
    for v in case.variants:
        if v.kind != "sync":
            assert contracts.drive(v.fn(*case.args)) == fx.run(v.fn(*case.args)) == case.expected


def test_timing_leaves_no_coroutine_unawaited() -> None:
    """The timed statements close or finish every coroutine they make: no 'never awaited'."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        times = contracts.measure(contracts.CASES, calls=5, repeats=1)
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []
    assert set(times) == {(c.key, v.key) for c in contracts.CASES for v in c.variants}
    assert all(len(t) == 1 and t[0] > 0 for t in times.values())


_NUMBER = r"-?[0-9][0-9,]*(?:\.[0-9]+)?"


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def test_quick_mode_prints_every_variant_and_every_case(capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m benchmarks.contracts --quick`: machine line, a row per variant with positive
    timings and its errors, a line of overheads per case, and the target's verdict."""
    assert contracts.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## Contracts")
    assert re.search(r"Python 3\.\d+.*icontract \d.*deal \d", out)
    rows = [_cells(r) for r in out.splitlines() if r.startswith("| ") and not r.startswith("| case")]
    for case in contracts.CASES:
        for i, v in enumerate(case.variants, 1):
            [row] = [r for r in rows if r[:3] == [case.key, str(i), v.label]]
            assert float(row[3].replace(",", "")) > 0, row
            if v.baseline is None:
                assert row[5:] == ["—", "—", "— (unchecked)"], row
            else:
                assert re.fullmatch(_NUMBER, row[5]) and ERRORS[v.key] in row[7], row
        [summary] = [r for r in rows if r[0] == case.label]
        assert summary[1] == ("yes" if contracts.inlined(case) else "no")
        call = [] if case.key == "e" else summary[5:6]  # (e) has no call-only figure
        assert all(re.fullmatch(_NUMBER, c) for c in summary[2:5] + call + summary[6:7]), summary
        assert case.key != "e" or summary[5] == "—"
        for ratio in summary[7:]:
            assert re.fullmatch(r"[0-9][0-9,]*\.[0-9]x|n/a \(below resolution\)", ratio), summary
    assert re.search(r"- target: icontract / effectus at least 5x in every case .*: (yes|\*\*no\*\*)$",
                     out, re.MULTILINE)
