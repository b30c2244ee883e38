"""z3 solving in a fresh context, so that a verdict depends on the formula and nothing else.

z3 numbers the terms of a context in the order they are made, and its search follows those
numbers: the same formula, solved after other work in the same context, can take another path
and — under a resource limit — another verdict.  `solve` copies the formula into a new context
(``ExprRef.translate``, which numbers it by its own structure), so ``fx.check`` gives the same
verdict whatever the process did before: the guarantee CI needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import z3  # type: ignore[import-untyped]  # z3 ships no type information

_z: Any = z3

__all__ = ["SEED", "Solved", "solve"]

#: z3's random seed: the same verdict on every run
SEED = 0


@dataclass(frozen=True)
class Solved:
    """What z3 answered: ``sat`` (with a model), ``unsat`` (with the labels of an unsatisfiable
    core among the tracked formulas) or ``unknown`` (with z3's reason)."""

    answer: Literal["sat", "unsat", "unknown"]
    core: tuple[str, ...]
    reason: str
    _model: Any
    _ctx: Any

    def eval(self, term: z3.ExprRef | None) -> Any:
        """``term``'s value in the model (any value where the model leaves it free)."""
        return self._model.eval(_copy(term, self._ctx), model_completion=True)


def solve(facts: Sequence[z3.BoolRef], tracked: Mapping[str, z3.BoolRef] = {}, *, rlimit: int) -> Solved:
    """Whether ``facts`` and ``tracked`` hold together, under z3's deterministic ``rlimit``."""
    ctx = _z.Context()
    s = _z.Solver(ctx=ctx)
    s.set("rlimit", rlimit)
    s.set("random_seed", SEED)
    for fact in facts:
        s.add(_copy(fact, ctx))
    labels: list[Any] = []
    for label, formula in tracked.items():
        flag = _z.Bool(label, ctx)
        s.add(_z.Implies(flag, _copy(formula, ctx)))
        labels.append(flag)
    answer = s.check(*labels)
    if answer == _z.sat:
        return Solved("sat", (), "", s.model(), ctx)
    if answer == _z.unsat:
        return Solved("unsat", tuple(str(c) for c in s.unsat_core()), "", None, ctx)
    return Solved("unknown", (), str(s.reason_unknown()), None, ctx)


def _copy(term: object, ctx: Any) -> Any:
    return cast(Any, term).translate(ctx)
