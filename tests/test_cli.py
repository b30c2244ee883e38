"""The command line: `effectus demo` runs end to end; bad usage exits 2."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _effectus(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "effectus", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_demo_runs_all_five_parts() -> None:
    """`python -m effectus demo` exits 0 and prints production, testing and exploration results.

    Part 5's trace path, timings and oversold seeds vary with the machine and the scheduler,
    so only its stable lines are checked.
    """
    done = _effectus("demo")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "1. production" in out and "2. testing" in out and "3. every carrier choice" in out
    assert out.count("total 4435 cents for 3 parcels") == 3  # production + two test runs
    assert "9 branches, 6 feasible; cheapest total 4275 cents, dearest 8950 cents" in out
    assert "4. record a run, replay it" in out
    assert "run_batch_v2 replayed against the same trace:" in out
    part5 = out[out.index("== 5. a three-role service over session-typed channels, explored") :]
    assert "  with client: rec serve . &{quote: ?str . !Quote . serve, done: end}\n" in part5
    assert "  with db: rec serve . +{lookup: !str . ?Stock . serve, stop: end}\n" in part5
    assert (
        "production: lamp 4800c held, desk 30000c held, lamp 4800c (none left); "
        'db wrote inventory.json {"desk": 2, "lamp": 0}\n'
    ) in part5
    assert "the same quotes under each: True\n" in part5
    found = "fails with Oversold: 'lamp' does not balance: 2 held + 0 left, but 1 in stock\n"
    assert found in part5 and "  trace: " in part5 and "rush.jsonl" in part5
    assert "replayed with no handlers: Oversold: 'lamp' does not balance" in part5
    assert "holding with one fx.Modify instead: explored 200 schedules" in part5
    assert part5.rstrip().endswith("no failure within the budget")


def test_no_command_is_usage_error() -> None:
    """Running `effectus` without a command exits 2 and says a command is required."""
    done = _effectus()
    assert done.returncode == 2
    assert "a command is required" in done.stderr


def test_unknown_command_is_usage_error() -> None:
    """An unknown command exits 2 with argparse's message naming the bad choice."""
    done = _effectus("frobnicate")
    assert done.returncode == 2
    assert "invalid choice: 'frobnicate'" in done.stderr


def test_version() -> None:
    """`effectus --version` prints the package version."""
    import effectus

    done = _effectus("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"effectus {effectus.__version__}"
