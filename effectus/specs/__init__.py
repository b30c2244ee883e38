"""effectus.specs: checking programs against what they were, and (later) against their specs.

Golden traces: `golden_traces` collects recorded runs for ``pytest.mark.parametrize`` and
`check_golden` replays one, failing the test where the program diverged.
"""

from effectus.specs._golden import check_golden, golden_traces

__all__ = ["check_golden", "golden_traces"]
