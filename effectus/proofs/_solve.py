"""What the static checks share: the verdict rows, the solver settings, and how models read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import z3  # type: ignore[import-untyped]  # z3 ships no type information

from effectus.proofs._isolated import SEED, Solved
from effectus.proofs._translate import Sym

_z: Any = z3

__all__ = ["RLIMIT", "SEED", "Check", "Verdict", "show"]

#: z3's deterministic resource limit per check (about a few seconds of solving at most)
RLIMIT = 5_000_000
Verdict = Literal["proved", "refuted", "unknown"]


@dataclass(frozen=True)
class Check:
    """One row of a report: a check of one tool, and what z3 made of it."""

    tool: str
    check: str
    verdict: Verdict
    #: a sentence: the witness, the counterexample or core, or why it is unknown
    detail: str
    #: a satisfying assignment (proved) or a counterexample (refuted), by parameter name
    model: dict[str, str] = field(default_factory=dict[str, str])
    #: predicates that could not be translated, with the construct that stopped each
    runtime_only: tuple[str, ...] = ()
    cached: bool = False


def show(model: Solved, scope: Mapping[str, Sym]) -> dict[str, str]:
    """Each parameter's value in ``model``, written as Python would (lists cut at 8 items)."""
    return {name: _value(model, sym) for name, sym in scope.items()}


def _value(model: Solved, sym: Sym) -> str:
    if sym.kind in ("seq", "array"):
        seq = sym.shape if sym.kind == "array" else sym
        n = _number(model, seq.length)
        if not seq.has_items() and sym.kind == "seq":
            return f"<{sym.type} of length {n}>"
        items = [_value(model, seq.item(_z.IntVal(i))) for i in range(min(int(n), 8))]
        text = ", ".join(items) + (", ..." if int(n) > 8 else "")
        return f"<array of shape ({text}{',' if n == '1' else ''})>" if sym.kind == "array" else f"[{text}]"
    return _number(model, sym.term)


def _number(model: Solved, term: z3.ExprRef | None) -> str:
    value: Any = model.eval(term)
    if _z.is_true(value) or _z.is_false(value):
        return str(_z.is_true(value))
    if isinstance(value, _z.RatNumRef):
        num, den = int(value.numerator_as_long()), int(value.denominator_as_long())
        return repr(num / den)
    return str(value)
