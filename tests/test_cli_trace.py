"""The trace commands: `effectus replay` and `effectus trace show|verify|diff`, on real traces.

Programs live in a module written into the test's folder; traces are recorded in this process
and read by the command line in a fresh one (``python -m effectus``), which imports the module
through ``PYTHONPATH`` as a user's shell would.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import subprocess
import sys
from collections.abc import Awaitable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

import effectus as fx
from effectus.core._record import record, site_text
from effectus.core._trace import TraceWriter, read_trace

PROGRAMS = '''\
import effectus as fx


async def reads(first: str, second: str) -> int:
    a = await fx.Get(first, 0)
    b = await fx.Get(second, 0)
    await fx.Log(f"sum {a + b}")
    return a + b


async def mixed(n: int) -> str:
    total = 0
    for i in range(n):
        total += await fx.Get(f"k{i}", i)
    try:
        await fx.ReadFile("missing.txt")
    except FileNotFoundError:
        await fx.Log("no file")
    return f"total {total}"


async def fails(n: int) -> int:
    await fx.Get("x", 0)
    raise ValueError(f"boom {n}")


async def takes(thing: object) -> int:
    return await fx.Get("x", 0)
'''


@dataclasses.dataclass
class Programs:
    """The programs module written for one test, and how to run the command line beside it."""

    folder: Path
    module: ModuleType

    @property
    def file(self) -> Path:
        return self.folder / f"{self.module.__name__}.py"

    def record(self, name: str, program: Awaitable[object], **state: int) -> Path:
        """Record ``coro`` under fx.testing (with ``state``) into ``<name>.jsonl``."""
        path = self.folder / f"{name}.jsonl"
        try:
            record(fx.testing(state=dict(state)), path).run(program)
        except ValueError:
            pass  # a program that raises is recorded too
        return path

    def cli(self, *args: str, pythonpath: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """``python -m effectus *args`` in the test's folder, with the folder on PYTHONPATH."""
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("PYTHONPATH", None)
        if pythonpath:
            env["PYTHONPATH"] = str(self.folder)
        return subprocess.run(
            [sys.executable, "-m", "effectus", *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=cwd or self.folder,
            env=env,
        )


@pytest.fixture
def programs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Programs]:
    """A fresh programs module (its name unique to the test) importable from ``tmp_path``."""
    name = "fxprog_" + "".join(c if c.isalnum() else "_" for c in tmp_path.name)
    (tmp_path / f"{name}.py").write_text(PROGRAMS, encoding="utf-8")
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # an edited module is never read stale
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)  # sites are recorded relative to the current folder
    module = importlib.import_module(name)
    # Equal code objects compare equal across files, and the recorder caches sites by code
    # object: without this, one test's sites would name another test's module file.
    getattr(site_text, "cache_clear", lambda: None)()
    yield Programs(tmp_path, module)
    sys.modules.pop(name, None)


def _flip_byte(path: Path, line: int) -> None:
    """Damage one byte inside line ``line`` (1-based) of ``path``, keeping its length."""
    lines = path.read_bytes().split(b"\n")
    target = bytearray(lines[line - 1])
    target[len(target) // 2] ^= 0x01
    lines[line - 1] = bytes(target)
    path.write_bytes(b"\n".join(lines))


def _rows(stdout: str) -> list[int]:
    """The seq numbers of the table rows ``trace show`` printed."""
    lines = stdout.splitlines()
    if not any(line.startswith("seq ") for line in lines):
        return []
    start = next(i for i, line in enumerate(lines) if line.startswith("seq ")) + 1
    rows = []
    for line in lines[start:]:
        if not line.strip():
            break
        rows.append(int(line.split()[0]))
    return rows


# -- effectus replay ---------------------------------------------------------------------------


def test_replay_prints_the_recorded_result(programs: Programs) -> None:
    """Replaying an unchanged program exits 0 and prints how many records and the result."""
    path = programs.record("run", programs.module.reads("x", "y"), x=1, y=2)
    done = programs.cli("replay", path.name)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "replayed 3 records: returned 3\n"


def test_replay_of_a_run_that_raised(programs: Programs) -> None:
    """A recorded run that raised replays to the same error, which is printed; exit 0."""
    path = programs.record("run", programs.module.fails(3))
    assert read_trace(path).footer is not None
    done = programs.cli("replay", path.name)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "replayed 1 record: raised ValueError: boom 3\n"


def test_replay_of_a_changed_program_prints_the_divergence(programs: Programs) -> None:
    """Editing the program between record and replay: exit 1, the report on stdout."""
    path = programs.record("run", programs.module.reads("x", "y"), x=1, y=2)
    source = programs.file.read_text(encoding="utf-8")
    programs.file.write_text(source.replace("fx.Get(second, 0)", "fx.Get(second + '!', 0)"), encoding="utf-8")
    done = programs.cli("replay", path.name)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    module_file = programs.file.name
    assert lines[0] == "the program diverged from its trace at record 1 (of 3)"
    assert lines[1] == f"  recorded:  Get(key='y', default=0)  at {module_file}:6 in reads"
    assert lines[2] == f"  performed: Get(key='y!', default=0)  at {module_file}:6 in reads"
    assert lines[3:5] == ["  differences:", "    key: recorded 'y', performed 'y!'"]
    assert lines[-1].startswith("Fix: if the program changed on purpose, record a new trace")


def test_replay_stop_at_stops_at_the_record(programs: Programs) -> None:
    """--stop-at N stops when the program reaches record N and says where it is; exit 0."""
    path = programs.record("run", programs.module.reads("x", "y"), x=1, y=2)
    done = programs.cli("replay", path.name, "--stop-at", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "replay stopped at record 1, before Get(key='y', default=0)",
        f"  at {programs.file.name}:6 in reads",
    ]


def test_replay_of_an_unknown_module_is_bad_input(programs: Programs, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Without the program's folder on PYTHONPATH: exit 2, naming the module and PYTHONPATH."""
    path = programs.record("run", programs.module.reads("x", "y"))
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    done = programs.cli("replay", str(path), pythonpath=False, cwd=elsewhere)
    assert done.returncode == 2
    assert done.stdout == ""
    name = programs.module.__name__
    assert f"cannot import module {name!r}, which holds the trace's program {name}:reads" in done.stderr
    assert "PYTHONPATH" in done.stderr


def test_replay_of_a_renamed_program_is_bad_input(programs: Programs) -> None:
    """The module no longer has the program: exit 2, naming the module's file and the name."""
    path = programs.record("run", programs.module.reads("x", "y"))
    source = programs.file.read_text(encoding="utf-8")
    programs.file.write_text(source.replace("def reads(", "def read_both("), encoding="utf-8")
    done = programs.cli("replay", path.name)
    assert done.returncode == 2
    assert f"({programs.file}) has no 'reads', the trace's program" in done.stderr


def test_replay_without_recorded_arguments_is_bad_input(programs: Programs) -> None:
    """Arguments that could not be recorded cannot be rebuilt: exit 2, saying so."""
    path = programs.record("run", programs.module.takes(object()))
    assert read_trace(path).header.args is None
    done = programs.cli("replay", path.name)
    assert done.returncode == 2
    assert "holds no arguments: they could not be recorded" in done.stderr


def test_replay_of_a_corrupt_trace_names_the_line(programs: Programs) -> None:
    """A damaged record line: exit 2, the reader's message naming the line on stderr."""
    path = programs.record("run", programs.module.reads("x", "y"), x=1, y=2)
    _flip_byte(path, 3)
    done = programs.cli("replay", path.name)
    assert done.returncode == 2
    assert done.stdout == ""
    assert f"effectus: error: {path.name}, line 3: checksum mismatch" in done.stderr


def test_replay_of_a_missing_file_is_bad_input(programs: Programs) -> None:
    """A path that does not exist: exit 2, saying it cannot be read."""
    done = programs.cli("replay", "nowhere.jsonl")
    assert done.returncode == 2
    assert "cannot read trace nowhere.jsonl: No such file or directory" in done.stderr


# -- effectus trace show -----------------------------------------------------------------------


def test_show_prints_header_table_and_outcome(programs: Programs) -> None:
    """The header summary, one aligned row per record (errors as !Type: message), the outcome."""
    path = programs.record("run", programs.module.mixed(3), k1=10)
    done = programs.cli("trace", "show", path.name)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    name = programs.module.__name__
    assert lines[0] == f"trace:    {path.name}"
    assert lines[1] == f"program:  {name}:mixed(n=3)"
    assert lines[2].startswith("recorded: ") and "; seed 0" in lines[2]
    assert lines[3] == "records:  5"
    table = lines[5:11]
    assert table[0].split() == ["seq", "task", "effect", "fields", "answer", "site"]
    assert table[1].split() == ["0", "0", "Get", "key='k0',", "default=0", "0", f"{name}.py:14", "in", "mixed"]
    assert table[2].split()[:6] == ["1", "0", "Get", "key='k1',", "default=1", "10"]
    assert table[4].split()[:6] == ["3", "0", "ReadFile", "path='missing.txt'", "!FileNotFoundError:", "[Errno"]
    assert "!FileNotFoundError: [Errno 2] No such...  " in table[4]  # cut to the column's width
    assert table[5].split()[:4] == ["4", "0", "Log", "message='no"]
    # aligned: every row's site starts in the same column
    assert len({row.index(f"{name}.py") for row in table[1:]}) == 1
    assert lines[-1] == "outcome:  returned 'total 12'"


def test_show_filters(programs: Programs) -> None:
    """--effect, --task, --errors, --from and --limit choose the rows, and say so."""
    path = programs.record("run", programs.module.mixed(3))
    log = f"{fx.Log.__module__}:{fx.Log.__qualname__}"  # the full name, as the trace has it
    cases: list[tuple[list[str], list[int], str]] = [
        (["--effect", "Get"], [0, 1, 2], "3 shown of 5 (--effect Get)"),
        (["--effect", log], [4], f"1 shown of 5 (--effect {log})"),
        (["--task", "0"], [0, 1, 2, 3, 4], "5 shown of 5 (--task 0)"),
        (["--task", "1"], [], "0 shown of 5 (--task 1)"),
        (["--errors"], [3], "1 shown of 5 (--errors)"),
        (["--from", "2"], [2, 3, 4], "3 shown of 5 (--from 2)"),
        (["--limit", "2"], [0, 1], "2 shown of 5 (--limit 2)"),
        (["--effect", "Get", "--from", "1", "--limit", "1"], [1], "1 shown of 5 (--effect Get, --from 1, --limit 1)"),
    ]
    for options, seqs, summary in cases:
        done = programs.cli("trace", "show", path.name, *options)
        assert done.returncode == 0, (options, done.stderr)
        assert _rows(done.stdout) == seqs, options
        assert f"records:  {summary}" in done.stdout, options
    limited = programs.cli("trace", "show", path.name, "--limit", "2")
    assert "... 3 more matching records (raise --limit to see them)" in limited.stdout


def test_show_of_a_truncated_trace_says_the_run_did_not_finish(programs: Programs) -> None:
    """A trace cut mid-line shows its intact records, no outcome, and the dropped line."""
    path = programs.record("run", programs.module.reads("x", "y"))
    path.write_bytes(path.read_bytes()[:-10])  # the footer loses its end
    done = programs.cli("trace", "show", path.name)
    assert done.returncode == 0, done.stderr
    assert _rows(done.stdout) == [0, 1, 2]
    assert "outcome:  none: the run did not finish (no footer)" in done.stdout
    assert "note: an incomplete final line was dropped" in done.stdout


def test_show_bad_usage_exits_2(programs: Programs) -> None:
    """A negative --limit, or a damaged trace, exits 2 with the reason on stderr."""
    path = programs.record("run", programs.module.reads("x", "y"))
    done = programs.cli("trace", "show", path.name, "--limit", "-1")
    assert done.returncode == 2
    assert "expected a number >= 0, got -1" in done.stderr
    _flip_byte(path, 2)
    done = programs.cli("trace", "show", path.name)
    assert done.returncode == 2
    assert f"{path.name}, line 2: checksum mismatch" in done.stderr


# -- effectus trace verify ---------------------------------------------------------------------


def test_verify_ok_and_truncated(programs: Programs) -> None:
    """An intact trace verifies (exit 0); one cut mid-line is reported but still ok."""
    path = programs.record("run", programs.module.reads("x", "y"))
    done = programs.cli("trace", "verify", path.name)
    assert (done.returncode, done.stdout) == (0, "trace OK: 3 records, footer present\n")
    path.write_bytes(path.read_bytes()[:-10])
    done = programs.cli("trace", "verify", path.name)
    assert done.returncode == 0
    assert done.stdout == (
        "trace OK: 3 records, no footer (the run did not finish), an incomplete final line was dropped\n"
    )


def test_verify_of_a_damaged_trace_lists_the_problem(programs: Programs) -> None:
    """A flipped byte: exit 1, and the report names the line and the checksum mismatch."""
    path = programs.record("run", programs.module.reads("x", "y"))
    _flip_byte(path, 3)
    done = programs.cli("trace", "verify", path.name)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith("trace DAMAGED: 1 problem;")
    assert lines[1].startswith("  line 3: checksum mismatch")


# -- effectus trace diff -----------------------------------------------------------------------


def _copy(source: Path, target: Path, *, records: int | None = None, **header: str) -> Path:
    """Rewrite ``source`` to ``target``: ``header`` fields replaced, cut to ``records`` records."""
    trace = read_trace(source)
    with TraceWriter(target, dataclasses.replace(trace.header, **header)) as writer:
        for r in trace.records[:records]:
            writer.write(r)
        if records is None:
            writer.close(trace.footer)
    return target


def test_diff_of_identical_runs(programs: Programs) -> None:
    """Two recordings of the same run, made at different times, are identical: exit 0."""
    a = programs.record("a", programs.module.reads("x", "y"), x=1, y=2)
    b = _copy(a, programs.folder / "b.jsonl", created="2001-01-01T00:00:00+00:00")
    assert read_trace(a).header.created != read_trace(b).header.created
    done = programs.cli("trace", "diff", a.name, b.name)
    assert (done.returncode, done.stdout) == (0, "traces are identical: 3 records, returned 3\n")


def test_diff_shows_the_first_divergence_and_a_summary(programs: Programs) -> None:
    """Different runs: exit 1, the first differing record field by field, then the counts."""
    a = programs.record("a", programs.module.reads("x", "y"), x=1, y=2)
    b = programs.record("b", programs.module.reads("x", "z"), x=1, y=2)
    done = programs.cli("trace", "diff", a.name, b.name)
    assert done.returncode == 1, done.stderr
    name = programs.module.__name__
    assert done.stdout.splitlines() == [
        "traces differ at record 1 (A has 3 records, B has 3)",
        f"  A: Get(key='y', default=0) -> 2  at {name}.py:6 in reads",
        f"  B: Get(key='z', default=0) -> 0  at {name}.py:6 in reads",
        "  differences:",
        "    key: A 'y', B 'z'",
        "    answer: A 2, B 0",
        "summary:",
        f"  A: a.jsonl: {name}:reads(first='x', second='y')",
        f"  B: b.jsonl: {name}:reads(first='x', second='z')",
        "  records: A 3, B 3; 2 differ",
        "  outcome: A returned 3; B returned 1",
    ]


def test_diff_of_a_shorter_trace(programs: Programs) -> None:
    """A trace that stops early differs where it ends, and has no outcome."""
    a = programs.record("a", programs.module.reads("x", "y"))
    b = _copy(a, programs.folder / "b.jsonl", records=2)
    done = programs.cli("trace", "diff", a.name, b.name)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0] == "traces differ at record 2: B ends after 2 records, A goes on"
    assert lines[1].startswith("  A: Log(message='sum 0', ")
    assert "  records: A 3, B 2; 1 differ" in lines
    assert "  outcome: A returned 0; B none: the run did not finish (no footer)" in lines


def test_diff_of_a_missing_trace_is_bad_input(programs: Programs) -> None:
    """A path that cannot be read: exit 2."""
    a = programs.record("a", programs.module.reads("x", "y"))
    done = programs.cli("trace", "diff", a.name, "nowhere.jsonl")
    assert done.returncode == 2
    assert "cannot read trace nowhere.jsonl" in done.stderr

