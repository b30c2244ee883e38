"""effectus.specs: checking programs against their specs, and against what they were.

Specs: ``@fx.tool(requires=..., ensures=..., effects=..., placement=..., invariants=...)``
(`tool`) checks refinements, types, pre/postconditions and declared effects on every call.

Generated tests: `strategy_for` draws arguments that meet a tool's preconditions (by
construction); `properties_of` / `run_properties` run a tool's property tests (its contract,
declared effects, linearity, `metamorphic` relations, protocols) and save each failure as a
trace; `protocol_machine` is the Hypothesis state machine that plays a channel's other side;
`ghostwrite` writes the tests out as a pytest file.  The pytest plugin (``effectus_modules`` in
the pytest configuration) collects them.

Golden traces: `golden_traces` collects recorded runs for ``pytest.mark.parametrize`` and
`check_golden` replays one, failing the test where the program diverged.

`strategy_for`, `strategy_for_type`, `protocol_machine` and `ghostwrite` import Hypothesis when
first used; ``import effectus`` does not.
"""

from typing import TYPE_CHECKING

from effectus.specs._golden import check_golden, golden_traces, recorded_program
from effectus.specs._properties import (
    Property,
    PropertyFailure,
    PropertyReport,
    PropertyResult,
    Relation,
    Unsatisfiable,
    environment,
    metamorphic,
    properties_of,
    relations_of,
    run_properties,
)
from effectus.specs._spec import Length, Predicate, Shape, Spec, SpecError, SpecTool, spec_of, tool

if TYPE_CHECKING:
    from effectus.specs._ghostwriter import ghostwrite
    from effectus.specs._protocols import protocol_machine
    from effectus.specs._strategies import strategy_for, strategy_for_type

__all__ = [
    "Length", "Predicate", "Property", "PropertyFailure", "PropertyReport", "PropertyResult",
    "Relation", "Shape", "Spec", "SpecError", "SpecTool", "Unsatisfiable", "check_golden", "environment", "ghostwrite",
    "golden_traces", "metamorphic", "properties_of", "protocol_machine", "recorded_program", "relations_of",
    "run_properties", "spec_of", "strategy_for", "strategy_for_type", "tool",
]

_LAZY = {
    "ghostwrite": "effectus.specs._ghostwriter",
    "protocol_machine": "effectus.specs._protocols",
    "strategy_for": "effectus.specs._strategies",
    "strategy_for_type": "effectus.specs._strategies",
}


def __getattr__(name: str) -> object:
    # These import Hypothesis: loaded on first use only.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'effectus.specs' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
