"""effectus.proofs: specs as z3 formulas, so that what can be proved is proved for all inputs.

`translate` turns a predicate (a spec's ``requires``/``ensures`` lambda, a def, or an
expression) into a z3 formula over symbolic values made by `symbol` from the parameters'
annotations; `refinement` gives the formula of one annotated-types constraint.  The formula
holds exactly when the predicate returns a truthy value (an ``IndexError`` or
``ZeroDivisionError`` counts as not holding).  A predicate outside the translatable subset
(listed in ``effectus/proofs/_translate.py``) raises `RuntimeOnly`, naming the construct and its
``file:line:col``: it is checked at run time only, never silently "proved".

`equivalent` (``fx.equivalent``) says whether a new tool may replace an old one: proved with
z3 where both bodies are in the subset and pure, otherwise tested differentially under
``fx.testing`` (the first disagreement, shrunk).

`check` (``fx.check``) runs the static checks of tools' specs and returns a `Report` of
`Check` rows, each proved, refuted with a counterexample, or unknown; ``effectus check MODULE``
prints it.

`place` solves a placement problem — `Request`s (a tool's placement string, its work and
whom it talks to) over a `Cluster` — with z3, minimising the weighted cost in `WEIGHTS`;
`replan` re-places after nodes fail, moving only what must move; an infeasible problem raises
`Unplaceable` with an `Explanation` in the user's own constraint strings; `contradictions`
finds the clauses of one placement that can never hold together.

This package imports z3; ``import effectus`` does not import it (``fx.check`` loads it).
"""

from effectus.proofs._check import Check, Report, check, check_spec, proof_cache_dir
from effectus.proofs._equivalent import Equivalence, equivalent
from effectus.proofs._placement import (
    WEIGHTS,
    Explanation,
    Instance,
    Plan,
    Request,
    Unplaceable,
    contradictions,
    explain,
    place,
    placement_instance,
    replan,
)
from effectus.proofs._translate import RuntimeOnly, Sym, refinement, symbol, translate

__all__ = [
    "Check", "Equivalence", "Explanation", "Instance", "Plan", "Report", "Request", "RuntimeOnly",
    "Sym", "Unplaceable", "WEIGHTS", "check", "check_spec", "contradictions", "equivalent",
    "explain", "place", "placement_instance", "proof_cache_dir", "refinement", "replan", "symbol",
    "translate",
]
