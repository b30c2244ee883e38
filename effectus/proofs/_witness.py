"""Satisfying assignments for a tool's preconditions: z3's share of argument generation.

`witnesses` asks z3 (in a fresh context, under the deterministic rlimit) for assignments of the
parameters that meet the preconditions it can translate: first the boundary values (each
numeric parameter and each sequence length minimised and maximised, within a box), then more by
blocking each assignment found, so the pool is varied.  ``effectus.specs.strategy_for`` draws
from the pool when construction alone does not reach the precondition.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import z3  # type: ignore[import-untyped]  # z3 ships no type information

from effectus.core._tool import Tool
from effectus.proofs._check import _Problem, _satisfiable_pre  # pyright: ignore[reportPrivateUsage]
from effectus.proofs._isolated import SEED, _copy  # pyright: ignore[reportPrivateUsage]
from effectus.proofs._solve import RLIMIT
from effectus.proofs._translate import Sym
from effectus.specs._spec import spec_of

__all__ = ["SeqLength", "witnesses"]

_z: Any = z3

#: Numbers in witnesses stay within this box (so "maximise" has an answer).
BOX = 10**6
#: Sequences in witnesses are at most this long.
MAX_LENGTH = 64


@dataclass(frozen=True)
class SeqLength:
    """A witness for a sequence whose items z3 does not model: only its length is known."""

    length: int


def witnesses(tool: Tool[..., Any], count: int) -> list[dict[str, Any]] | str:
    """Up to ``count`` assignments (parameter -> value) meeting ``tool``'s translatable
    preconditions, boundary values first; a string saying why when z3 proves there are none.

    Parameters z3 does not model are left out (the caller draws them); predicates that do not
    translate are left to the caller's check.
    """
    spec = spec_of(tool)
    if spec is None:
        return []
    problem = _Problem(spec, with_result=False)
    preds = [*(p for p in spec.refinements if "result" not in p.names), *spec.requires, *spec.invariants]
    formulas = [f for f in (problem.formula(p) for p in preds) if f is not None]
    ctx = _z.Context()
    opt = _z.Optimize(ctx=ctx)
    opt.set("rlimit", RLIMIT)
    opt.set("random_seed", SEED)
    for f in [*problem.facts, *formulas]:
        opt.add(_copy(f, ctx))
    terms: list[Any] = []
    for sym in problem.scope.values():
        for term in _measures(sym):
            t = _copy(term, ctx)
            terms.append(t)
            opt.add(t >= -BOX, t <= (MAX_LENGTH if sym.kind == "seq" and term is sym.length else BOX))
    first = opt.check()
    if first == _z.unsat:
        # Only a refutation of the preconditions themselves (no box) proves there are none.
        check = _satisfiable_pre(spec.name, spec)
        return check.detail if check.verdict == "refuted" else []
    if first != _z.sat:
        return []
    found: list[dict[str, Any]] = []
    seen: set[str] = set()

    def take() -> None:
        model = opt.model()
        values = {n: v for n, s in problem.scope.items() if (v := _value(model, s, ctx)) is not None}
        key = repr(sorted(values.items(), key=lambda kv: kv[0]))
        if key not in seen:
            seen.add(key)
            found.append(values)

    take()
    gave_up = False
    for term in terms:
        for goal in (opt.minimize, opt.maximize):
            if len(found) >= count or gave_up:
                break
            opt.push()
            goal(term)
            answer = opt.check()
            if answer == _z.sat:
                take()
            gave_up = answer == _z.unknown  # one exhausted rlimit: the others would be too
            opt.pop()
    while len(found) < count and terms and not gave_up:
        model = opt.model() if opt.check() == _z.sat else None
        if model is None:
            break
        opt.add(_z.Or([t != model.eval(t, model_completion=True) for t in terms]))
        if opt.check() != _z.sat:
            break
        take()
    return found


def _measures(sym: Sym) -> list[Any]:
    if sym.kind in ("int", "float"):
        return [sym.term]
    if sym.kind == "seq" and sym.length is not None:
        return [sym.length]
    return []


def _value(model: Any, sym: Sym, ctx: Any) -> Any:
    if sym.kind == "seq" and sym.length is not None:
        n = min(_number(model, _copy(sym.length, ctx)), MAX_LENGTH)
        if not sym.has_items():
            return SeqLength(int(n))
        return [_value(model, sym.item(_z.IntVal(i)), ctx) for i in range(int(n))]
    if sym.kind == "array":
        return None
    return _number(model, _copy(sym.term, ctx))


def _number(model: Any, term: Any) -> Any:
    value = model.eval(term, model_completion=True)
    if _z.is_true(value) or _z.is_false(value):
        return bool(_z.is_true(value))
    if isinstance(value, _z.RatNumRef):
        return float(Fraction(int(value.numerator_as_long()), int(value.denominator_as_long())))
    if isinstance(value, _z.IntNumRef):
        return int(value.as_long())
    return float(value.as_decimal(17).rstrip("?"))  # an algebraic number: its decimal expansion
