"""Generated property tests: each property finds its kind of bug, and each failure replays."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import spec_tools as t

import effectus as fx
from effectus.cli import main
from effectus.core import read_trace
from effectus.specs import PropertyResult, properties_of, run_properties

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def _run(tool: Any, name: str, tmp_path: Path, examples: int = 100) -> PropertyResult:
    prop = next(p for p in properties_of(tool) if p.name == name)
    return prop.run(examples=examples, failures=tmp_path)


def _replay(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(["replay", str(path)])
    return status, capsys.readouterr().out


def test_the_properties_of_a_tool_follow_its_spec() -> None:
    """contract and linearity always; effects only when declared; one per relation; a
    protocol-serving tool gets its protocol property alone."""
    assert [p.name for p in properties_of(t.top)] == ["contract", "linearity"]
    assert [p.name for p in properties_of(t.sensor)] == ["contract", "effects", "linearity"]
    assert [p.name for p in properties_of(t.first_max)] == ["contract", "linearity", "relation:order does not matter"]


def test_a_correct_tool_passes_every_property(tmp_path: Path) -> None:
    """top meets its spec: all its properties pass, every example ran, no trace is saved."""
    for prop in properties_of(t.top):
        result = prop.run(examples=60, failures=tmp_path)
        assert (result.outcome, result.examples, result.trace) == ("passed", 60, None)
    assert list(tmp_path.iterdir()) == []


def test_a_broken_postcondition_is_found_and_its_trace_replays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """examples/packing.py's seeded bug: shrunk to the smallest failing call, saved as a trace
    whose replay raises the same PostconditionError."""
    sys.path.insert(0, str(ROOT))
    try:
        from examples import packing
    finally:
        sys.path.remove(str(ROOT))
    result = _run(packing.fill_boxes, "contract", tmp_path)
    assert result.outcome == "failed"
    assert result.trace is not None and result.trace.parent == tmp_path
    trace = read_trace(result.trace)
    assert trace.header.program == "effectus.specs._properties:exercise"
    assert trace.header.args is not None and trace.header.args["tool"] == "examples.packing:fill_boxes"
    grams, boxes = trace.header.args["args"]  # type: ignore[index,misc]
    assert f"falsifying arguments (shrunk): grams={grams}, boxes={boxes}" in result.message
    assert grams % boxes >= 2 and grams < 50  # a failing case (the remainder is 2 or more), shrunk small
    status, out = _replay(result.trace, capsys)
    assert status == 0
    q, r = divmod(grams, boxes)
    assert "raised PostconditionError" in out and f"result = {[q] * (boxes - 1) + [q + r]}" in out


def test_effect_answers_are_generated_from_the_declared_result_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """sensor fails only when the environment reads 7: the generated answers find it, the
    message shows the answer, and the replay gives the tool that same answer."""
    result = _run(t.sensor, "contract", tmp_path)
    assert result.outcome == "failed"
    assert "the environment answered: Reading() -> 7" in result.message
    assert result.trace is not None
    records = read_trace(result.trace).records
    assert [(r.effect.rpartition(":")[2], r.value) for r in records] == [("Reading", 7)]
    status, out = _replay(result.trace, capsys)
    assert status == 0 and "result = 7" in out


def test_an_undeclared_effect_fails_the_effects_property_only(tmp_path: Path) -> None:
    """chatty reads the clock for n > 40 without declaring it: effects fails (shrunk to n=41),
    contract leaves that failure to it and passes."""
    effects = _run(t.chatty, "effects", tmp_path)
    assert effects.outcome == "failed"
    assert "UndeclaredEffect" in effects.message and "n=41" in effects.message
    assert _run(t.chatty, "contract", tmp_path).outcome == "passed"


def test_a_leaked_linear_value_fails_the_linearity_property(tmp_path: Path) -> None:
    """leaky forgets to release its resource for n >= 13: shrunk to n=13."""
    result = _run(t.leaky, "linearity", tmp_path)
    assert result.outcome == "failed"
    assert "LinearityError" in result.message and "n=13" in result.message


def test_a_broken_metamorphic_relation_is_found_and_replays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """first_max is not order-free for three items or more: the relation fails on the
    smallest such list, and the replayed trace raises the same PropertyFailure."""
    result = _run(t.first_max, "relation:order does not matter", tmp_path)
    assert result.outcome == "failed"
    assert "xs=[0, 0, 1]" in result.message
    assert result.trace is not None
    assert read_trace(result.trace).header.program == "effectus.specs._properties:relate"
    status, out = _replay(result.trace, capsys)
    assert status == 0 and "raised PropertyFailure" in out and "order does not matter" in out


def test_an_effect_nothing_answers_is_an_error_with_a_fix(tmp_path: Path) -> None:
    """An undeclared effect no handler handles cannot be generated: an error that says to
    declare it, not a failure of the tool."""
    result = _run(t.asks_unknown, "contract", tmp_path)
    assert result.outcome == "error"
    assert "no handler for Unknown()" in result.message and "declare the effect" in result.message


def test_unsatisfiable_and_ungeneratable_tools_are_errors_that_say_why(tmp_path: Path) -> None:
    """A contradiction is reported with the predicates; a type with no strategy names the
    parameter."""
    never = _run(t.never, "contract", tmp_path)
    assert never.outcome == "error" and "x > 5 and x < 3" in never.message
    opaque = _run(t.takes_opaque, "contract", tmp_path)
    assert opaque.outcome == "error" and "argument o of takes_opaque" in opaque.message


def test_the_same_seed_finds_the_same_failure(tmp_path: Path) -> None:
    """Seeded runs are deterministic: same shrunk example, same message, same trace content
    (apart from when it was recorded)."""
    a = _run(t.sensor, "contract", tmp_path / "a")
    b = _run(t.sensor, "contract", tmp_path / "b")
    assert a.message.replace("/a/", "/b/").replace(str(tmp_path / "a"), str(tmp_path / "b")) == b.message
    assert a.trace is not None and b.trace is not None
    assert read_trace(a.trace).records == read_trace(b.trace).records


def test_run_properties_reports_every_tool_of_a_module(tmp_path: Path) -> None:
    """A module's spec'd tools, each property once; the report renders a row each and the
    failures with their trace paths."""
    report = run_properties([t.top, t.sensor], examples=40, failures=tmp_path)
    assert [(r.tool.rpartition(":")[2], r.name, r.outcome) for r in report] == [
        ("top", "contract", "passed"), ("top", "linearity", "passed"),
        ("sensor", "contract", "failed"), ("sensor", "effects", "passed"), ("sensor", "linearity", "passed"),
    ]
    assert not report.ok
    text = report.render()
    assert "4 of 5 properties hold; 1 did not" in text
    assert str(tmp_path / "spec_tools.sensor--contract.jsonl") in text


def test_metamorphic_refuses_what_is_not_a_tool() -> None:
    """@metamorphic goes above @fx.tool; on a plain function it says so."""
    with pytest.raises(fx.SpecError, match="decorates a tool"):
        fx.metamorphic(lambda x: (x,), lambda a, b: a == b)(len)  # type: ignore[arg-type]
    with pytest.raises(fx.SpecError, match="not callable"):
        fx.metamorphic(1, lambda a, b: True)  # type: ignore[arg-type]


# --- the command line -------------------------------------------------------------------------


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{HERE}"}
    return subprocess.run([sys.executable, "-m", "effectus", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.slow
def test_effectus_test_finds_the_seeded_bug_and_prints_a_replayable_trace(tmp_path: Path) -> None:
    """`effectus test examples/packing.py` exits 1, prints the failing property and a trace
    path; `effectus replay` on that path reproduces the failure."""
    done = _cli("test", "examples/packing.py", "--examples", "60", "--failures", str(tmp_path))
    assert done.returncode == 1, done.stderr
    assert "FAILED examples.packing:fill_boxes contract" in done.stdout
    assert "11 of 12 properties hold; 1 did not" in done.stdout
    trace = tmp_path / "examples.packing.fill_boxes--contract.jsonl"
    assert f"reproduce: effectus replay {trace}" in done.stdout
    replayed = _cli("replay", str(trace))
    assert replayed.returncode == 0
    assert "raised PostconditionError" in replayed.stdout and "grams = 5" in replayed.stdout


@pytest.mark.slow
def test_effectus_test_passes_on_correct_tools_and_refuses_bad_input(tmp_path: Path) -> None:
    """examples/orders.py's tools all hold (exit 0); a module that does not import exits 2."""
    done = _cli("test", "examples/orders.py", "--examples", "30", "--failures", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "properties hold" in done.stdout and "did not" not in done.stdout
    missing = _cli("test", "no_such_module_here")
    assert missing.returncode == 2 and "cannot import no_such_module_here" in missing.stderr


@pytest.mark.slow
def test_the_written_test_file_runs_and_finds_the_seeded_bug(tmp_path: Path) -> None:
    """`effectus test MODULE --write FILE` writes a pytest file: one test per tool and relation,
    and the protocol tool's state machine; pytest runs it and only fill_boxes' test fails."""
    path = tmp_path / "test_packing_generated.py"
    done = _cli("test", "examples.packing", "--write", str(path))
    assert done.returncode == 0 and path.exists()
    source = path.read_text()
    assert source.count("\ndef test_") == 6
    assert "TestPackingDeskProtocol = fx.specs.protocol_machine(target.packing_desk).TestCase" in source
    assert "assert len(result) == boxes and sum(result) == grams" in source
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:effectus", "--hypothesis-seed=0", str(path)],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300,
    )
    assert "1 failed, 6 passed" in ran.stdout, ran.stdout[-3000:]
    assert "test_fill_boxes_contract" in ran.stdout


def test_the_report_is_json_encodable_row_by_row(tmp_path: Path) -> None:
    """Results carry plain values (for tools that read them): tool, name, outcome, examples."""
    report = run_properties(t.top, examples=10, failures=tmp_path)
    rows = [{"tool": r.tool, "property": r.name, "outcome": r.outcome, "examples": r.examples} for r in report]
    assert json.loads(json.dumps(rows))[0] == {"tool": "spec_tools:top", "property": "contract", "outcome": "passed", "examples": 10}
