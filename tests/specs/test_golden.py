"""Golden traces: recorded runs kept as tests pass while the program behaves the same, and fail
with the divergence report once it changes."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Awaitable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

import effectus as fx
import effectus.specs
from effectus.core._record import record, site_text

PROGRAMS = '''\
import effectus as fx


async def reads(first: str, second: str) -> int:
    a = await fx.Get(first, 0)
    b = await fx.Get(second, 0)
    return a + b


async def logs(n: int, *, prefix: str = "line") -> list[str]:
    lines = [f"{prefix} {i}" for i in range(n)]
    for line in lines:
        await fx.Log(line)
    return lines


async def fails(key: str) -> int:
    await fx.Get(key, 0)
    raise KeyError(key)
'''


@pytest.fixture
def programs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A programs module, its name unique to the test, importable from ``tmp_path``."""
    name = "fxgolden_" + "".join(c if c.isalnum() else "_" for c in tmp_path.name)
    (tmp_path / f"{name}.py").write_text(PROGRAMS, encoding="utf-8")
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # an edited module is never read stale
    monkeypatch.syspath_prepend(str(tmp_path))
    # Equal code objects compare equal across files, and the recorder caches sites by code
    # object: without this, one test's sites could name another test's module file.
    getattr(site_text, "cache_clear", lambda: None)()
    yield importlib.import_module(name)
    sys.modules.pop(name, None)


def _save(path: Path, program: Awaitable[object]) -> Path:
    path.parent.mkdir(exist_ok=True)
    try:
        record(fx.testing(state={"x": 1, "y": 2}), path).run(program)
    except KeyError:
        pass  # recorded with its footer: the run raised
    return path


def _change(module: ModuleType, old: str, new: str) -> None:
    """Edit the module's source and forget the imported module, as a later session would."""
    file = Path(module.__file__ or "")
    file.write_text(file.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    del sys.modules[module.__name__]


def test_golden_traces_are_sorted_params_named_by_file(programs: ModuleType, tmp_path: Path) -> None:
    """One pytest.param per *.jsonl file, sorted by name, with the file name as id."""
    folder = tmp_path / "traces"
    _save(folder / "b_logs.jsonl", programs.logs(2))
    _save(folder / "a_reads.jsonl", programs.reads("x", "y"))
    (folder / "notes.txt").write_text("not a trace")
    params = effectus.specs.golden_traces(folder)
    assert [p.id for p in params] == ["a_reads.jsonl", "b_logs.jsonl"]
    assert [p.values for p in params] == [(folder / "a_reads.jsonl",), (folder / "b_logs.jsonl",)]


def test_golden_traces_of_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    """A folder that does not exist is an error naming it, never an empty set of tests."""
    with pytest.raises(NotADirectoryError, match=r"golden_traces\('.*nothing'\): no such folder"):
        effectus.specs.golden_traces(tmp_path / "nothing")


def test_good_traces_pass(programs: ModuleType, tmp_path: Path) -> None:
    """Unchanged programs replay: returning as recorded, or raising the recorded error."""
    folder = tmp_path / "traces"
    _save(folder / "reads.jsonl", programs.reads("x", "y"))
    _save(folder / "logs.jsonl", programs.logs(3, prefix="row"))
    _save(folder / "fails.jsonl", programs.fails("x"))
    del sys.modules[programs.__name__]  # imported afresh, as in a later test session
    for param in effectus.specs.golden_traces(folder):
        effectus.specs.check_golden(*param.values)  # returns, raising nothing


def test_changed_program_fails_with_the_divergence_report(programs: ModuleType, tmp_path: Path) -> None:
    """Once the program performs other effects, its golden trace fails the test with the report."""
    folder = tmp_path / "traces"
    good = _save(folder / "logs.jsonl", programs.logs(2))
    bad = _save(folder / "reads.jsonl", programs.reads("x", "y"))
    _change(programs, "await fx.Get(second, 0)", "await fx.Get(second.upper(), 0)")
    effectus.specs.check_golden(good)
    with pytest.raises(pytest.fail.Exception) as info:
        effectus.specs.check_golden(bad)
    lines = str(info.value).splitlines()
    assert lines[0] == f"golden trace {bad}: the program diverged"
    assert lines[1] == "the program diverged from its trace at record 1 (of 2)"
    assert lines[4:6] == ["  differences:", "    key: recorded 'y', performed 'Y'"]
    assert not info.value.pytrace  # the report alone, not effectus's traceback


def test_unimportable_program_fails_saying_why(programs: ModuleType, tmp_path: Path) -> None:
    """A trace whose program's module cannot be imported fails with the module and a fix."""
    path = _save(tmp_path / "traces" / "reads.jsonl", programs.reads("x", "y"))
    Path(programs.__file__ or "").unlink()
    del sys.modules[programs.__name__]
    with pytest.raises(pytest.fail.Exception) as info:
        effectus.specs.check_golden(path)
    message = str(info.value)
    assert message.startswith(f"golden trace {path} cannot be replayed:\n")
    assert f"cannot import module {programs.__name__!r}" in message
    assert "PYTHONPATH" in message


def test_damaged_trace_fails_naming_the_line(programs: ModuleType, tmp_path: Path) -> None:
    """A damaged golden trace fails the test with the reader's message, naming the line."""
    path = _save(tmp_path / "traces" / "reads.jsonl", programs.reads("x", "y"))
    path.write_bytes(path.read_bytes().replace(b'"key":"y"', b'"key":"z"'))
    with pytest.raises(pytest.fail.Exception, match=r"reads\.jsonl, line 3: checksum mismatch"):
        effectus.specs.check_golden(path)
