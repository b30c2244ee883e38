"""The recording benchmark runs each variant correctly (correctness only, no timing)."""

from __future__ import annotations

from benchmarks.recording import measure


def test_every_variant_counts_down_to_zero() -> None:
    """measure() checks each variant returns 0 and reports one positive time per round."""
    times = measure(steps=50, repeats=2)
    assert set(times) == {"live", "buffered", "durable", "replay"}
    assert all(len(v) == 2 and all(t > 0 for t in v) for v in times.values())
