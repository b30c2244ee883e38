"""Smoke test of the exploration benchmark: it runs, every schedule passes, the row is sane."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import effectus as fx
from benchmarks.explore import pipeline

ROOT = Path(__file__).resolve().parents[2]


def test_the_pipeline_passes_a_seeded_run() -> None:
    """The benchmarked program is correct: the consumer gets every number plus one."""
    assert fx.run(pipeline(3), fx.testing(7)) == 6


def test_quick_mode_prints_a_positive_rate() -> None:
    """--quick prints the table with positive schedule counts and rate."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.explore", "--quick"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    row = [line for line in out.splitlines() if line.startswith("| ") and line[2].isdigit()][0]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert int(cells[0].replace(",", "")) > 0
    assert float(cells[3].replace(",", "")) > 0
