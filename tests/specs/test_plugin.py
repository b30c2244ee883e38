"""The pytest plugin: generated properties and recorded traces collected as test items."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import effectus as fx

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A temporary project that can import the repository's examples."""
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    return pytester


@pytest.mark.slow
def test_the_plugin_collects_one_item_per_tool_and_property_and_finds_the_seeded_bug(project: pytest.Pytester) -> None:
    """effectus_modules = examples.packing: 12 items; fill_boxes' contract fails with the shrunk
    arguments and a trace path; the other 11 pass.  --effectus-ci makes the run derandomized."""
    project.makeini("[pytest]\neffectus_modules = examples.packing\neffectus_examples = 40\n")
    result = project.runpytest_subprocess("--effectus-ci", "-q")
    result.assert_outcomes(passed=11, failed=1)
    result.stdout.fnmatch_lines([
        "*examples.packing::fill_boxes::contract*",
        "*falsifying arguments (shrunk): grams=*, boxes=*",
        "*reproduce: effectus replay *examples.packing.fill_boxes--contract.jsonl",
    ])
    trace = project.path / "effectus-failures" / "examples.packing.fill_boxes--contract.jsonl"
    assert trace.exists()
    assert fx.read_trace(trace).footer is not None and fx.read_trace(trace).footer.outcome == "raised"  # type: ignore[union-attr]


@pytest.mark.slow
def test_k_selects_among_the_generated_items(project: pytest.Pytester) -> None:
    """-k works on the generated items like on any other."""
    project.makeini("[pytest]\neffectus_modules = examples.packing\neffectus_examples = 20\n")
    result = project.runpytest_subprocess("-q", "-k", "heaviest")
    result.assert_outcomes(passed=3)


@pytest.mark.slow
def test_a_traces_folder_replays_as_regression_tests(project: pytest.Pytester, tmp_path: Path) -> None:
    """A failing run's trace fails its item while the failure still happens; a good run's
    trace passes while the program still does exactly what it recorded."""
    failures = tmp_path / "failures"
    prop = next(p for p in fx.specs.properties_of(_packing().fill_boxes) if p.name == "contract")
    found = prop.run(examples=40, failures=failures)
    assert found.trace is not None
    traces = project.path / "traces"
    traces.mkdir()
    shutil.copy(found.trace, traces / "fill_boxes.jsonl")
    fx.record(fx.testing(), traces / "split.jsonl").run(fx.specs._properties.exercise("examples.packing:split", [10, 3], {}))
    project.makeini("[pytest]\neffectus_traces = traces\n")
    result = project.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*the recorded failure still happens: PostconditionError*"])


def test_the_plugin_is_registered_through_its_entry_point() -> None:
    """pytest finds the plugin by the ``pytest11`` entry point the package declares."""
    from importlib.metadata import entry_points

    found = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert found.get("effectus") == "effectus.specs._plugin"


def test_a_missing_module_or_folder_is_a_failing_item(project: pytest.Pytester) -> None:
    """Configuration mistakes fail as items that say what is wrong, not as a crash."""
    project.makeini("[pytest]\neffectus_modules = no_such_module_xyz\neffectus_traces = nowhere\n")
    result = project.runpytest_subprocess("-q")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*cannot import no_such_module_xyz*", "*effectus_traces names nowhere, which is not a folder*"])


def test_without_configuration_the_plugin_adds_nothing(project: pytest.Pytester) -> None:
    """Installed but not configured, the plugin collects no items of its own."""
    project.makepyfile("def test_one():\n    assert 1 + 1 == 2\n")
    result = project.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1)


def _packing():  # type: ignore[no-untyped-def]
    import sys

    sys.path.insert(0, str(ROOT))
    try:
        from examples import packing
    finally:
        sys.path.remove(str(ROOT))
    return packing
