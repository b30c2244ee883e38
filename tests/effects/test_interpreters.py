"""Tests of `effectus.effects._interpreters` and of the effects package's public surface."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import effectus as fx
import effectus.effects as fxe
from effectus.kernels import Jit, Reference  # (importing it adds them to the ready interpreters)
from effectus.effects import (
    MemoryFiles,
    MemoryLog,
    MemoryState,
    PolicyChoice,
    Raise,
    RealClock,
    RealFiles,
    SeededChoice,
    SeededRandom,
    StdlibLog,
    SystemRandom,
    VirtualClock,
)

ROOT = Path(__file__).resolve().parents[2]


def test_production_installs_the_real_handlers_in_order(tmp_path: Path) -> None:
    """production() holds MemoryState, RealClock, SystemRandom, StdlibLog, RealFiles(root),
    the kernels' Jit (added by importing effectus.kernels), Raise and PolicyChoice, innermost
    first, and is named production()."""
    interp = fx.production(root=tmp_path)
    assert [type(h) for h in interp.handlers] == [
        MemoryState, RealClock, SystemRandom, StdlibLog, RealFiles, Jit, Raise, PolicyChoice,
    ]
    assert interp.handler(RealFiles).root == str(tmp_path)
    assert repr(interp) == "Interpreter(production())"


def test_testing_installs_the_deterministic_handlers_in_order() -> None:
    """testing(seed) holds MemoryState, VirtualClock, SeededRandom, MemoryLog, MemoryFiles, the
    kernels' Reference, Raise and SeededChoice, innermost first, and is named testing(seed=...)."""
    interp = fx.testing(seed=3)
    assert [type(h) for h in interp.handlers] == [
        MemoryState, VirtualClock, SeededRandom, MemoryLog, MemoryFiles, Reference, Raise, SeededChoice,
    ]
    assert repr(interp) == "Interpreter(testing(seed=3))"


def test_each_call_builds_fresh_handlers() -> None:
    """Two testing() interpreters share no state: a Put in one is invisible in the other."""
    a, b = fx.testing(), fx.testing()
    a.run(fx.Put("k", 1))
    assert b.run(fx.Get("k", 0)) == 0
    assert all(x is not y for x, y in zip(a.handlers, b.handlers))


def test_testing_options_set_files_state_and_start() -> None:
    """testing(files=, state=, start=) preload the memory files, state and virtual time."""

    async def main() -> tuple[str, int, float]:
        return await fx.ReadFile("cfg"), await fx.Get("n", 0), await fx.Now()

    interp = fx.testing(files={"cfg": "on"}, state={"n": 4}, start=100.0)
    assert interp.run(main()) == ("on", 4, 100.0)


def test_production_reads_and_writes_real_files_under_root(tmp_path: Path) -> None:
    """production(root=...) resolves file effects against that directory."""
    (tmp_path / "in.txt").write_text("42")

    async def main() -> None:
        n = int(await fx.ReadFile("in.txt"))
        await fx.WriteFile("out/answer.txt", str(n + 1))

    fx.production(root=tmp_path).run(main())
    assert (tmp_path / "out" / "answer.txt").read_text() == "43"


def test_production_refuses_a_missing_root(tmp_path: Path) -> None:
    """production(root=missing) fails when built, not at the first file effect."""
    with pytest.raises(FileNotFoundError, match="root must be an existing directory"):
        fx.production(root=tmp_path / "missing")


def test_production_refuses_a_bad_choice_policy() -> None:
    """production(choice='best') is a ValueError from PolicyChoice."""
    with pytest.raises(ValueError, match="policy must be one of"):
        fx.production(choice="best")  # type: ignore[arg-type]  # the wrong call under test


def test_testing_refuses_a_non_int_seed() -> None:
    """testing(seed='a') is a TypeError naming testing, with a fix."""
    with pytest.raises(TypeError, match=r"(?s)testing\(seed='a'\): seed must be an int.*Fix"):
        fx.testing(seed="a")  # type: ignore[arg-type]  # the wrong call under test


def test_user_handlers_go_in_front_of_a_ready_interpreter() -> None:
    """A user handler added with with_handlers overrides the standard one for its effects."""

    class Frozen(fx.Handler):
        @fx.handles(fx.Now)
        def now(self, e: fx.Now) -> float:
            return 0.0

    async def main() -> tuple[float, int]:
        return await fx.Now(), await fx.Get("n", 1)

    assert fx.testing().with_handlers(Frozen()).run(main()) == (0.0, 1)


@fx.effect
class Launch(fx.Effect[None]):
    pass


def test_unhandled_effect_message_names_the_testing_interpreter() -> None:
    """An effect outside the standard set is an UnhandledEffect that lists testing(seed=0)."""

    async def main() -> None:
        await Launch()

    with pytest.raises(fx.UnhandledEffect, match=r"(?s)no handler for Launch\(\).*testing\(seed="):
        fx.testing().run(main())


def test_a_realistic_program_under_testing() -> None:
    """A small tool using every family runs deterministically and leaves inspectable state."""

    async def backup() -> int:
        names = await fx.ListFiles("docs", "*.md")
        stamp = int(await fx.Now())
        for name in names:
            await fx.WriteFile(f"backup/{stamp}/{name}", await fx.ReadFile(name))
            await fx.Measure("copied")
        await fx.Sleep(await fx.RandomInt(1, 5))
        await fx.Log("backup done", fields={"count": len(names)})
        return await fx.Modify("backups", lambda n: n + 1, 0)

    def run() -> fx.Interpreter:
        interp = fx.testing(seed=1, files={"docs/a.md": "A", "docs/b.md": "B", "x.txt": ""})
        assert interp.run(backup()) == 1
        return interp

    first, second = run(), run()
    snapshot = first.handler(MemoryFiles).snapshot()
    assert snapshot == second.handler(MemoryFiles).snapshot()
    assert snapshot["backup/1767225600/docs/a.md"] == b"A"
    assert first.handler(MemoryLog).metrics.snapshot() == {"copied": 2.0}
    assert first.handler(VirtualClock).now == second.handler(VirtualClock).now


def test_effects_package_exports_a_sorted_all_that_resolves() -> None:
    """effectus.effects.__all__ is sorted and every name in it is defined."""
    assert fxe.__all__ == sorted(fxe.__all__)
    for name in fxe.__all__:
        assert getattr(fxe, name) is not None


def test_top_level_reexports_the_effects_and_interpreters() -> None:
    """effectus re-exports the effects, production, testing, outcomes and Outcome (the same
    objects), but not the handler classes."""
    for name in ["Get", "Sleep", "ReadFile", "Choose", "Fail", "outcomes", "Outcome", "testing"]:
        assert name in fx.__all__ and getattr(fx, name) is getattr(fxe, name)
    for name in ["MemoryFiles", "RealClock", "PolicyChoice"]:
        assert name not in fx.__all__
    assert fx.__all__ == sorted(fx.__all__)


def test_import_effectus_does_not_import_returns_or_logging() -> None:
    """`import effectus` stays light: returns and logging load only when used."""
    code = "import sys, effectus; print(sorted({'returns', 'logging'} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
