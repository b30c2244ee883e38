"""Static checks of tool specs with z3: each proved, refuted with a counterexample, or unknown.

Checks of one tool:

- ``preconditions satisfiable``: some arguments satisfy the parameters' refinements and the
  ``requires`` predicates together.  Refuted means the tool is vacuous — no call can succeed —
  and the report names the predicates that contradict each other (an unsatisfiable core);
- ``postconditions consistent``: for some valid arguments, some result satisfies the result's
  refinements and the ``ensures`` predicates.  Refuted means no body could ever satisfy them;
- ``placement satisfiable`` (tools with ``placement=``): some node could meet every clause of
  the placement string; refuted names the contradicting clauses, or the parse error.

A predicate outside the translatable subset (see `effectus.proofs.translate`) is never taken as
proved: a check that needs it answers *unknown*, naming the construct; a contradiction found
among the other predicates is still a refutation (dropping constraints cannot remove one).

Determinism: z3 runs with a resource limit (``rlimit``), not a wall-clock timeout, and a fixed
random seed, so CI gets the same verdict every time.  Verdicts are cached on disk under a hash
of the check, the predicates' sources, the parameter types and the z3 version.
"""

from __future__ import annotations

import hashlib
import json
import os
import types
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

import z3  # type: ignore[import-untyped]  # z3 ships no type information

from effectus.core._compose import Composite
from effectus.core._tool import Tool
from effectus.proofs._body import Opaque, body_checks, composite_checks, fingerprint, formulas
from effectus.proofs._isolated import SEED, solve
from effectus.proofs._solve import RLIMIT, Check, show
from effectus.proofs._translate import RuntimeOnly, Sym, symbol
from effectus.specs import Predicate, Spec, spec_of

_z: Any = z3  # z3 is untyped: calls go through Any, results are typed where they are kept

__all__ = ["RLIMIT", "SEED", "Check", "Report", "check", "check_spec", "proof_cache_dir"]

@dataclass(frozen=True)
class Report:
    """What `check` found: one row per tool and check."""

    rows: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """Nothing was refuted (unknown rows do not fail a report)."""
        return all(r.verdict != "refuted" for r in self.rows)

    def counts(self) -> dict[str, int]:
        out = {"proved": 0, "refuted": 0, "unknown": 0}
        for r in self.rows:
            out[r.verdict] += 1
        return out

    def to_json(self) -> str:
        """The report as JSON (for CI): ``{"ok": ..., "counts": ..., "rows": [...]}``."""
        return json.dumps({"ok": self.ok, "counts": self.counts(), "rows": [asdict(r) for r in self.rows]}, indent=2)

    def table(self) -> str:
        """The report as a text table, with details under each row that needs one."""
        if not self.rows:
            return "no spec'd tools found"
        width = max(len("tool"), *(len(r.tool) for r in self.rows))
        check_width = max(len("check"), *(len(r.check) for r in self.rows))
        lines = [f"{'tool'.ljust(width)}  {'check'.ljust(check_width)}  verdict"]
        for r in self.rows:
            lines.append(f"{r.tool.ljust(width)}  {r.check.ljust(check_width)}  {r.verdict}{' (cached)' if r.cached else ''}")
            if r.verdict != "proved" or r.runtime_only:
                lines.append(f"{''.ljust(width)}    {r.detail}")
            for item in r.runtime_only:
                lines.append(f"{''.ljust(width)}    runtime-only: {item}")
        c = self.counts()
        lines.append(f"{c['proved']} proved, {c['refuted']} refuted, {c['unknown']} unknown")
        return "\n".join(lines)


def proof_cache_dir() -> Path:
    """Where verdicts are cached: ``$EFFECTUS_PROOF_CACHE``, else ``~/.cache/effectus/proofs``."""
    configured = os.environ.get("EFFECTUS_PROOF_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "effectus" / "proofs"


def check(target: object, *, cache: bool = True, progress: Callable[[int, int, str], None] | None = None) -> Report:
    """Run the static checks on a tool, a module (every spec'd tool in it) or an iterable of tools.

    ``progress(done, total, tool)`` is called before each tool (the command line draws a bar).
    """
    tools = _tools_in(target)
    rows: list[Check] = []
    for i, (name, tool) in enumerate(tools):
        if progress is not None:
            progress(i, len(tools), name)
        spec = spec_of(tool)
        if spec is not None:
            rows.extend(check_spec(spec, name=name, cache=cache))
            rows.extend(_cached(name, _key("body", fingerprint(tool)), partial(body_checks, name, tool), cache))
        elif isinstance(tool, Composite):
            rows.extend(_cached(name, _key("composite", fingerprint(tool)), partial(composite_checks, name, tool), cache))
    if progress is not None:
        progress(len(tools), len(tools), "")
    return Report(tuple(rows))


def _tools_in(target: object) -> list[tuple[str, Tool[..., Any]]]:
    """The spec'd tools and composites of ``target``, with the names a report gives them."""
    tool = cast(Tool[..., Any], target) if isinstance(target, Tool) else None
    if tool is not None and (spec_of(tool) is not None or isinstance(tool, Composite)):
        spec = spec_of(tool)
        return [(spec.name if spec is not None else tool.__qualname__, tool)]
    if isinstance(target, types.ModuleType):
        found: list[tuple[str, Tool[..., Any]]] = []
        for var, value in vars(target).items():
            if isinstance(value, Composite) and value.__module__ == target.__name__ and not var.startswith("_"):
                found.append((var, value))
            s = spec_of(value)
            if s is not None and getattr(value, "__module__", None) == target.__name__:
                found.append((s.name, cast(Tool[..., Any], value)))
        return found
    if isinstance(target, Iterable) and not isinstance(target, (str, bytes)):
        return [pair for item in cast(Iterable[object], target) for pair in _tools_in(item)]
    raise TypeError(
        f"fx.check() takes a tool made by @fx.tool(...), a composite (fx.pipe, fx.fan_out, "
        f"fx.parallel), a module, or a list of them; got {target!r}"
    )


# --- the checks -------------------------------------------------------------------------------


def check_spec(spec: Spec, *, name: str | None = None, cache: bool = True) -> list[Check]:
    """The checks of one spec."""
    tool = name or spec.name
    rows = [
        *_cached(tool, _key("preconditions satisfiable", *_spec_parts(spec)), lambda: [_satisfiable_pre(tool, spec)], cache),
        *_cached(tool, _key("postconditions consistent", *_spec_parts(spec)), lambda: [_consistent_post(tool, spec)], cache),
    ]
    if spec.placement is not None:
        rows.append(placement_check(tool, spec.placement))
    return rows


def placement_check(tool: str, placement: str) -> Check:
    """``placement satisfiable``: some node could meet every clause of the tool's placement.

    Refuted names the clauses that contradict each other (``gpu>=2`` with ``gpu<2``); a
    malformed placement string is refuted with the parser's message (column and what was
    expected).
    """
    from effectus.core._errors import PlacementError
    from effectus.proofs._placement import contradictions

    what = "placement satisfiable"
    try:
        clash = contradictions(placement)
    except PlacementError as err:
        return Check(tool, what, "refuted", f"malformed placement: {err}")
    if clash:
        return Check(tool, what, "refuted", f"{placement!r}: no node can meet {' and '.join(c.text for c in clash)} together")
    return Check(tool, what, "proved", f"{placement!r} is consistent")


def _cached(tool: str, key: str, compute: Callable[[], list[Check]], use_cache: bool) -> list[Check]:
    """``compute()``'s rows, read from the cache under ``key`` when they are there."""
    if not use_cache:
        return compute()
    path = proof_cache_dir() / f"{key}.json"
    try:
        data = json.loads(path.read_text())
        return [
            Check(
                tool, str(d["check"]), d["verdict"], str(d["detail"]),
                {str(k): str(v) for k, v in d["model"].items()},
                tuple(str(item) for item in d["runtime_only"]), cached=True,
            )
            for d in data
        ]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass
    rows = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps([asdict(r) for r in rows]))
        os.replace(tmp, path)  # never a half-written entry
    except OSError:
        pass  # a read-only home: the check still ran
    return rows


def _spec_parts(spec: Spec) -> list[str]:
    return [
        repr(sorted((k, repr(v)) for k, v in spec.types.items())),
        repr(spec.result_type),
        *[f"{p.kind}:{p.names}:{p.source}" for p in spec.predicates()],
    ]


def _key(what: str, *parts: str) -> str:
    """The cache key of a check: what it checks, the z3 version and budget, and ``parts``."""
    text = "\n".join([what, _z.get_version_string(), str(RLIMIT), str(SEED), *parts])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class _Problem:
    """Symbols for a spec's parameters and the formulas of its predicates."""

    def __init__(self, spec: Spec, *, with_result: bool) -> None:
        self.scope: dict[str, Sym] = {}
        self.facts: list[z3.BoolRef] = []
        self.runtime_only: list[str] = []
        #: parameters with no model, and why: only a predicate that reads one is runtime-only
        self.unmodelled: dict[str, str] = {}
        names = list(spec.types)
        if with_result:
            names.append("result")
        for n in names:
            hint = spec.result_type if n == "result" else spec.types[n]
            try:
                sym = symbol(n, hint)
            except RuntimeOnly as err:
                self.unmodelled[n] = err.reason
                continue
            self.scope[n] = sym
            self.facts.extend(sym.facts())

    def formula(self, pred: Predicate) -> z3.BoolRef | None:
        """``pred``'s formula; None (and a runtime-only note) when it does not translate."""
        scope: dict[str, Sym | Opaque] = {**self.scope, **{n: Opaque(why) for n, why in self.unmodelled.items()}}
        found, missing = formulas([pred], scope)
        self.runtime_only.extend(missing)
        return found[0][1] if found else None


def _satisfiable_pre(tool: str, spec: Spec) -> Check:
    problem = _Problem(spec, with_result=False)
    preds = [p for p in spec.refinements if "result" not in p.names] + list(spec.requires) + list(spec.invariants)
    return _solve(tool, "preconditions satisfiable", problem, preds, vacuous=(
        "no arguments satisfy the preconditions together: the tool can never be called"
    ))


def _consistent_post(tool: str, spec: Spec) -> Check:
    problem = _Problem(spec, with_result=True)
    preds = [*spec.refinements, *spec.requires, *spec.invariants, *spec.ensures]
    if not any(p.kind == "ensures" or "result" in p.names for p in preds):
        return Check(tool, "postconditions consistent", "proved", "no postconditions: nothing to satisfy")
    return _solve(tool, "postconditions consistent", problem, preds, vacuous=(
        "no result satisfies the postconditions for any valid arguments: no body can meet them"
    ))


def _solve(tool: str, what: str, problem: _Problem, preds: list[Predicate], *, vacuous: str) -> Check:
    tracked: dict[str, z3.BoolRef] = {}
    by_label: dict[str, Predicate] = {}
    for i, pred in enumerate(preds):
        formula = problem.formula(pred)
        if formula is None:
            continue
        tracked[f"p{i}"], by_label[f"p{i}"] = formula, pred
    solved = solve(problem.facts, tracked, rlimit=RLIMIT)
    runtime_only = tuple(problem.runtime_only)
    if solved.answer == "unsat":
        core = [by_label[label] for label in solved.core if label in by_label]
        names = "; ".join(p.source for p in core) or "the parameters' own types"
        return Check(tool, what, "refuted", f"{vacuous} (contradiction: {names})", runtime_only=runtime_only)
    if solved.answer == "unknown":
        return Check(tool, what, "unknown", f"z3 gave up: {solved.reason} (rlimit {RLIMIT})", runtime_only=runtime_only)
    model = show(solved, problem.scope)
    if runtime_only:
        return Check(
            tool, what, "unknown",
            "satisfiable without the runtime-only predicates, which may still contradict the others",
            model, runtime_only,
        )
    shown = ", ".join(f"{k}={v}" for k, v in model.items())
    return Check(tool, what, "proved", f"e.g. {shown}" if shown else "no constraints", model)


