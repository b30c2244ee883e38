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
def test_demo_runs_all_three_parts() -> None:
    """`python -m effectus demo` exits 0 and prints production, testing and exploration results."""
    done = _effectus("demo")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "1. production" in out and "2. testing" in out and "3. every carrier choice" in out
    assert out.count("total 4435 cents for 3 parcels") == 3  # production + two test runs
    assert "9 branches, 6 feasible; cheapest total 4275 cents, dearest 8950 cents" in out


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
