"""Recording and replaying runs: traces written and read back, divergence reports, resume, branch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

import effectus as fx
from effectus.core._codec import CodecError
from effectus.core._replay import ReplayStopped
from effectus.core._trace import read_trace
from effectus.effects import MemoryFiles, MemoryState

HERE = os.path.relpath(__file__)


def _line(text: str) -> int:
    lines = Path(__file__).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


async def counter(keys: tuple[str, ...]) -> int:
    total = 0
    for key in keys:
        total += await fx.Modify(key, lambda v: v + 1, 0)  # counter-modify
    await fx.WriteFile("total.txt", str(total))
    return total


def test_record_then_replay_gives_the_same_result(tmp_path: Path) -> None:
    """A recorded run replays to the same result, with no handlers at all."""
    path = tmp_path / "run.jsonl"
    recorded = fx.record(fx.testing(), path).run(counter(("a", "b", "a")))
    assert recorded == 1 + 1 + 2
    assert fx.replay(counter(("a", "b", "a")), path) == recorded


def test_trace_holds_header_records_and_footer(tmp_path: Path) -> None:
    """The trace names the program and arguments, each effect with its site, and the outcome."""
    path = tmp_path / "run.jsonl"
    fx.record(fx.testing(seed=4), path).run(counter(("a",)))
    trace = read_trace(path)
    assert trace.header.program == f"{__name__}:counter"
    assert trace.header.seed == 4
    assert [r.effect for r in trace.records] == ["effectus.effects._state:Modify", "effectus.effects._files:WriteFile"]
    assert trace.records[0].site == f"{HERE}:{_line('# counter-modify')} in counter"
    assert trace.records[1].fields == {"path": "total.txt", "text": "1"}
    assert trace.footer is not None and trace.footer.outcome == "returned" and trace.footer.value == 1


async def reads(first: str, second: str) -> int:
    a = await fx.Get(first, 0)  # reads-first
    b = await fx.Get(second, 0)  # reads-second
    return a + b


def test_divergence_report_line_by_line(tmp_path: Path) -> None:
    """The first mismatch names the record, recorded vs performed effect, the field diff and lines."""
    path = tmp_path / "run.jsonl"
    fx.record(fx.testing(state={"x": 1, "y": 2}), path).run(reads("x", "y"))
    with pytest.raises(fx.ReplayDivergence) as info:
        fx.replay(reads("x", "z"), path)
    lines = str(info.value).splitlines()
    assert lines[0] == "the program diverged from its trace at record 1 (of 2)"
    assert lines[1] == f"  recorded:  Get(key='y', default=0)  at {HERE}:{_line('# reads-second')} in reads"
    assert lines[2] == f"  performed: Get(key='z', default=0)  at {HERE}:{_line('# reads-second')} in reads"
    assert lines[3] == "  differences:"
    assert lines[4] == "    key: recorded 'y', performed 'z'"
    assert lines[5] == f"  trace: {path}"
    assert lines[6].startswith("Fix: if the program changed on purpose, record a new trace")
    frames = [f.name for f in __import__("traceback").extract_tb(info.value.__traceback__)]
    assert "reads" in frames  # raised inside the program, at its await


def test_divergence_cannot_be_swallowed(tmp_path: Path) -> None:
    """A program that catches the divergence still fails the replay."""
    path = tmp_path / "run.jsonl"
    fx.record(fx.testing(), path).run(reads("x", "y"))

    async def catches() -> int:
        try:
            return await reads("other", "y")
        except AssertionError:
            return -1

    with pytest.raises(fx.ReplayDivergence, match="at record 0"):
        fx.replay(catches(), path)


def test_program_that_stops_early_or_runs_long_diverges(tmp_path: Path) -> None:
    """Fewer effects than recorded, or more, are divergences that say which."""
    path = tmp_path / "run.jsonl"
    fx.record(fx.testing(), path).run(reads("x", "y"))

    async def one() -> int:
        return await fx.Get("x", 0)

    with pytest.raises(fx.ReplayDivergence, match=r"finished after 1 of 2 recorded effects; record 1 \(Get\(key='y'"):
        fx.replay(one(), path)

    async def three() -> int:
        return await reads("x", "y") + await fx.Get("x", 0)

    with pytest.raises(fx.ReplayDivergence, match=r"more effects than its trace holds \(2\)"):
        fx.replay(three(), path)


def test_changed_result_with_identical_effects_diverges(tmp_path: Path) -> None:
    """Same effects, different pure computation: the outcome check catches it."""
    path = tmp_path / "run.jsonl"
    fx.record(fx.testing(), path).run(reads("x", "y"))

    async def doubled() -> int:
        return 2 * await reads("x", "y") + 1

    with pytest.raises(fx.ReplayDivergence, match="outcome differs"):
        fx.replay(doubled(), path)


def test_repeated_identical_effects_match_in_order(tmp_path: Path) -> None:
    """Identical effects with different answers replay in recorded order."""

    async def ticks() -> list[float]:
        out = []
        for _ in range(3):
            await fx.Sleep(1.5)
            out.append(await fx.Now())
        return out

    path = tmp_path / "run.jsonl"
    live = fx.record(fx.testing(), path).run(ticks())
    assert fx.replay(ticks(), path) == live == [1767225601.5, 1767225603.0, 1767225604.5]


def test_errors_are_recorded_and_raised_again(tmp_path: Path) -> None:
    """A handler's error is recorded (type, message, attributes) and raised at the same await."""

    async def read_missing() -> str:
        try:
            return await fx.ReadFile("missing.txt")
        except FileNotFoundError as err:
            return f"caught {type(err).__name__}: {err.filename}"

    path = tmp_path / "run.jsonl"
    live = fx.record(fx.testing(), path).run(read_missing())
    assert live == "caught FileNotFoundError: missing.txt"
    assert fx.replay(read_missing(), path) == live
    assert read_trace(path).records[0].ok is False


def test_unhandled_effects_are_recorded(tmp_path: Path) -> None:
    """An UnhandledEffect the program catches replays the same way."""

    @dataclass(frozen=True)
    class Ping(fx.Effect[int]):
        n: int

    async def pings() -> str:
        try:
            await Ping(1)
        except fx.UnhandledEffect:
            return "no ping handler"
        return "pinged"

    path = tmp_path / "run.jsonl"
    assert fx.record(fx.testing(), path).run(pings()) == "no ping handler"
    assert fx.replay(pings(), path) == "no ping handler"


class Cached(fx.Handler):
    """An async handler in front of state: records see its answers, not its own effects."""

    def __init__(self) -> None:
        self.hits = 0

    @fx.handles(fx.Get)
    async def get(self, e: fx.Get[object]) -> object:
        self.hits += 1
        return await e


def test_async_handler_answers_are_recorded(tmp_path: Path) -> None:
    """A forwarding handler's answers are recorded once each, and replay without the handler."""
    path = tmp_path / "run.jsonl"
    handler = Cached()
    result = fx.record(fx.testing(state={"x": 3, "y": 4}).with_handlers(handler), path).run(reads("x", "y"))
    assert (result, handler.hits) == (7, 2)
    assert [r.value for r in read_trace(path).records] == [3, 4]
    assert fx.replay(reads("x", "y"), path) == 7


@fx.tool
async def leaf(n: int) -> int:
    return await fx.RandomInt(0, n)  # leaf-random


@fx.tool
async def tree(depth: int) -> int:
    return 0 if depth == 0 else await leaf(10) + await tree(depth - 1)


def test_tools_record_their_own_sites(tmp_path: Path) -> None:
    """Effects performed in nested tools are recorded with the tool's line."""
    path = tmp_path / "run.jsonl"
    result = fx.record(fx.testing(seed=9), path).run(tree(3))
    trace = read_trace(path)
    assert trace.header.program == f"{__name__}:tree" and trace.header.args == {"depth": 3}
    assert {r.site for r in trace.records} == {f"{HERE}:{_line('# leaf-random')} in leaf"}
    assert fx.replay(tree(3), path) == result


def test_unrecordable_answer_fails_at_its_await(tmp_path: Path) -> None:
    """An answer with no codec is a CodecError naming the effect and telling how to register."""

    class Opaque:
        pass

    @dataclass(frozen=True)
    class Make(fx.Effect[object]):
        pass

    class Maker(fx.Handler):
        @fx.handles(Make)
        def make(self, e: Make) -> object:
            return Opaque()

    async def main() -> object:
        return await Make()  # make-await

    with pytest.raises(CodecError, match=r"(?s)cannot record the answer of .*Make: no codec for type .*Opaque.*register_codec") as info:
        fx.record(fx.Interpreter(Maker()), tmp_path / "run.jsonl").run(main())
    assert any(f.lineno == _line("# make-await") for f in __import__("traceback").extract_tb(info.value.__traceback__))


def test_live_types_are_re_executed_and_compared(tmp_path: Path) -> None:
    """live=(Sleep, Now) runs them for real again; a different clock is reported as a divergence."""

    async def when() -> float:
        await fx.Sleep(2)
        return await fx.Now()

    path = tmp_path / "run.jsonl"
    fx.record(fx.testing(), path).run(when())
    assert fx.replay(when(), path, interpreter=fx.testing(), live=(fx.Sleep, fx.Now)) == 1767225602.0
    with pytest.raises(fx.ReplayDivergence, match="re-executed live"):
        fx.replay(when(), path, interpreter=fx.testing(start=0.0), live=(fx.Sleep, fx.Now))


def test_stop_at_raises_into_the_program(tmp_path: Path) -> None:
    """stop_at=k stops the replay when the program reaches record k."""
    path = tmp_path / "run.jsonl"
    fx.record(fx.testing(), path).run(reads("x", "y"))
    with pytest.raises(ReplayStopped, match=r"record 1, before Get\(key='y'"):
        fx.replay(reads("x", "y"), path, stop_at=1)


def test_branch_substitutes_one_answer_then_goes_live(tmp_path: Path) -> None:
    """What if a recorded effect had answered differently, or failed?"""

    async def pick() -> str:
        n = await fx.RandomInt(1, 6)
        try:
            text = await fx.ReadFile(f"{n}.txt")
        except FileNotFoundError:
            return f"no file for {n}"
        return text

    files = {f"{i}.txt": f"file {i}" for i in range(1, 7)}
    path = tmp_path / "run.jsonl"
    original = fx.record(fx.testing(seed=1, files=files), path).run(pick())
    live = fx.testing(files=files)
    assert fx.branch(pick(), path, 0, live, value=4) == "file 4"
    assert fx.branch(pick(), path, 1, live, error=FileNotFoundError("gone")) == f"no file for {original[-1]}"


def test_recording_interpreter_refuses_to_be_spliced(tmp_path: Path) -> None:
    """Putting a recording interpreter among other handlers is an error, not a silent drop."""
    rec = fx.record(fx.testing(), tmp_path / "run.jsonl")
    with pytest.raises(TypeError, match="records or replays runs"):
        fx.run(reads("x", "y"), MemoryState(), rec)
    assert fx.run(reads("x", "y"), rec) == 0  # alone, it is used as it is
    assert read_trace(tmp_path / "run.jsonl").footer is not None


def test_with_handlers_keeps_recording(tmp_path: Path) -> None:
    """rec.with_handlers(...) still records, with the new handlers innermost."""
    path = tmp_path / "run.jsonl"
    rec = fx.record(fx.testing(), path).with_handlers(MemoryState({"x": 10}))
    assert rec.run(reads("x", "y")) == 10
    assert len(read_trace(path).records) == 2


SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import effectus as fx
    from effectus.effects import MemoryFiles

    class Crash(fx.Handler):
        # Kills the process, for real, while the 4th WriteFile is in flight.
        def __init__(self):
            self.writes = 0
        @fx.handles(fx.WriteFile)
        async def write(self, e):
            self.writes += 1
            if self.writes == 4 and os.environ.get("CRASH") == "1":
                os.kill(os.getpid(), signal.SIGKILL)
            return await e

    async def job(n):
        for i in range(n):
            stamp = await fx.Now()
            await fx.WriteFile(f"out/{i}.txt", f"{i} at {stamp}")
        return n

    if __name__ == "__main__":
        interp = fx.testing(seed=0).with_handlers(Crash())
        fx.record(interp, sys.argv[1], durable=True).run(job(6))
    """
)


@pytest.mark.slow
def test_resume_after_sigkill_redoes_only_the_in_flight_effect(tmp_path: Path) -> None:
    """A durable run killed with SIGKILL resumes: written records are not performed again."""
    script = tmp_path / "job.py"
    script.write_text(SCRIPT, encoding="utf-8")
    path = tmp_path / "job.jsonl"
    done = subprocess.run(
        [sys.executable, str(script), str(path)], env={**os.environ, "CRASH": "1"}, capture_output=True, timeout=120
    )
    assert done.returncode == -signal.SIGKILL
    crashed = read_trace(path)
    assert crashed.footer is None
    # Now, WriteFile x3, then Now: the 4th WriteFile was in flight when the process died.
    assert len(crashed.records) == 7

    sys.path.insert(0, str(tmp_path))
    try:
        import job  # type: ignore[import-not-found]  # the script above, as a module
    finally:
        sys.path.remove(str(tmp_path))
    files = MemoryFiles()
    calls: list[str] = []

    class Spy(fx.Handler):
        @fx.handles(fx.WriteFile, fx.Now)
        async def spy(self, e: fx.Effect[object]) -> object:
            calls.append(type(e).__name__)
            return await e

    live = fx.Interpreter(Spy(), files, fx.testing(seed=0))
    assert fx.resume(job.job(6), path, live) == 6
    # Only the in-flight WriteFile and what followed it ran: 3 more writes and 2 more clocks.
    assert calls == ["WriteFile", "Now", "WriteFile", "Now", "WriteFile"]
    assert sorted(files.snapshot()) == ["out/3.txt", "out/4.txt", "out/5.txt"]
    full = read_trace(path)
    assert [r.seq for r in full.records] == list(range(12)) and full.footer is not None
    assert fx.replay(job.job(6), path) == 6


def test_a_tool_with_declared_effects_replays_its_user_effects(tmp_path: Path) -> None:
    """Regression: inside a tool with effects=[...], the replayer's catch-all entry answers the
    declared user effects (it was filtered out with the undeclared ones: a KeyError)."""
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Ask(fx.Effect[int]):
        pass

    class Answers(fx.Handler):
        @fx.handles(Ask)
        def ask(self, e: Ask) -> int:
            return 41

    @fx.tool(effects=[Ask])
    async def asks() -> int:
        return await Ask() + 1

    path = tmp_path / "run.jsonl"
    assert fx.record(fx.testing().with_handlers(Answers()), path).run(asks()) == 42
    assert fx.replay(asks(), path) == 42
