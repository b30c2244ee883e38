"""The trace benchmark computes the right thing (correctness only: no timing is asserted here)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `benchmarks` lives at the repository root, next to `effectus`
    sys.path.insert(0, str(ROOT))

from benchmarks import traces  # noqa: E402


def test_the_benchmark_records_alternate_get_and_put_with_consecutive_seq() -> None:
    """make_records yields n records numbered 0..n-1, Get and Put in turn."""
    records = list(traces.make_records(6))
    assert [r.seq for r in records] == list(range(6))
    assert [r.effect.rsplit(":", 1)[1] for r in records] == ["Get", "Put"] * 3


def test_one_small_round_measures_every_row_and_reports_them() -> None:
    """measure runs every row once (its readers check what they read); report prints them all."""
    figures = traces.measure(300, 1)
    assert figures.records == 300 and 100 < figures.bytes_per_record < 300
    assert set(figures.rates) == {key for key, _ in traces.MEASUREMENTS}
    assert all(len(v) == 1 and v[0] > 0 for v in figures.rates.values())
    text = "\n".join(traces.report(figures))
    assert all(label in text for _, label in traces.MEASUREMENTS)
