"""effectus.specs: checking programs against their specs, and against what they were.

Specs: ``@fx.tool(requires=..., ensures=..., effects=..., placement=..., invariants=...)``
(`tool`) checks refinements, types, pre/postconditions and declared effects on every call.

Golden traces: `golden_traces` collects recorded runs for ``pytest.mark.parametrize`` and
`check_golden` replays one, failing the test where the program diverged.
"""

from effectus.specs._golden import check_golden, golden_traces
from effectus.specs._spec import Length, Predicate, Spec, SpecError, SpecTool, spec_of, tool

__all__ = ["Length", "Predicate", "Spec", "SpecError", "SpecTool", "check_golden", "golden_traces", "spec_of", "tool"]
