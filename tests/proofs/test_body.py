"""Body and composition checks: verdicts on a corpus, counterexamples that really fail at run
time, proofs that hold on generated runs, and a cache that follows what a body calls."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import effectus as fx
from effectus._cli_check import load_module
from effectus.proofs._body import _effect_result, fingerprint, paths_of  # pyright: ignore[reportPrivateUsage]

CORPUS = Path(__file__).with_name("corpus_bodies.py")
corpus = load_module(str(CORPUS))
SPEC_CHECKS = {"preconditions satisfiable", "postconditions consistent"}


class StockAt(fx.Handler):
    """Answers every Stock effect with one number."""

    def __init__(self, n: int) -> None:
        self.n = n

    @fx.handles(corpus.Stock)
    def stock(self, e: object) -> int:
        return self.n


def rows_by_tool(report: fx.proofs.Report) -> dict[str, dict[str, str]]:  # type: ignore[name-defined]
    out: dict[str, dict[str, str]] = {}
    for row in report.rows:
        if row.check not in SPEC_CHECKS:
            out.setdefault(row.tool, {})[row.check] = row.verdict
    return out


def test_the_body_corpus_gets_its_expected_verdicts() -> None:
    """Every body and composite: proved, refuted and unknown rows, exactly the expected ones;
    every tool in the corpus passes its own spec checks."""
    report = fx.check(corpus, cache=False)
    assert rows_by_tool(report) == corpus.EXPECTED_ROWS
    assert all(r.verdict == "proved" for r in report.rows if r.check in SPEC_CHECKS)


def test_refuted_bodies_fail_at_run_time_on_their_counterexamples() -> None:
    """A refutation is real: the arguments (and effect answers) it shows make the running
    tool raise PostconditionError or PreconditionError."""
    rows = {(r.tool, r.check): r for r in fx.check(corpus, cache=False).rows}
    careless = rows["careless_distance", "body meets postconditions"]
    with pytest.raises(fx.PostconditionError):
        fx.run(corpus.careless_distance(int(careless.model["a"]), int(careless.model["b"])))
    oversell = rows["oversell", "body meets postconditions"]
    assert "Stock('apple') (line " in oversell.detail
    with pytest.raises(fx.PostconditionError):
        fx.run(corpus.oversell(int(oversell.model["n"])), StockAt(0))
    unguarded = rows["unguarded", "call of positive (line 130)"]
    with pytest.raises(fx.PreconditionError, match="v > 0"):
        fx.run(corpus.unguarded(int(unguarded.model["x"])))
    does_not_fit = rows["does_not_fit", "call of needs_six after double"]
    with pytest.raises(fx.PreconditionError, match="y > 5"):
        fx.run(corpus.does_not_fit(int(does_not_fit.model["x"])))


@settings(max_examples=200, deadline=None)
@given(x=st.integers(-50, 50), lo=st.integers(-50, 50), span=st.integers(0, 50), stock=st.integers(0, 100), n=st.integers(0, 100))
def test_proved_bodies_hold_on_generated_runs(x: int, lo: int, span: int, stock: int, n: int) -> None:
    """What is proved for every input holds on every generated one (the spec is checked at
    run time, so a wrong proof would raise)."""
    assert lo <= fx.run(corpus.clamp(x, lo, lo + span)) <= lo + span
    assert fx.run(corpus.sell(n), StockAt(stock)) >= 0
    if x > 0:
        assert fx.run(corpus.scaled(x)) == 2 * x
        assert fx.run(corpus.fits(x)) == 2 * x - 1
    if n >= 0:
        assert fx.run(corpus.guarded(n)) > 0
    assert fx.run(corpus.ordered(x, lo))[0] <= fx.run(corpus.ordered(x, lo))[1]


def test_an_effect_answers_its_declared_refinement_type() -> None:
    """Stock is fx.Effect[Annotated[int, Ge(0)]]: its answer is modelled as some int >= 0,
    which is what makes `sell` provable and `oversell` refutable with a stock of 0."""
    from typing import Annotated, get_args, get_origin

    hint = _effect_result(corpus.Stock)
    assert get_origin(hint) is Annotated and get_args(hint)[0] is int


def test_paths_of_a_body_end_where_python_would() -> None:
    """clamp has three returning paths; first has one return and one raising path (the empty
    list), which the check does not count against it."""
    _, ends, _ = paths_of(corpus.clamp)
    assert [e.kind for e in ends] == ["return", "return", "return"]
    _, ends, _ = paths_of(corpus.first)
    assert sorted(e.kind for e in ends) == ["raise", "return"]


def test_body_rows_are_cached_and_the_key_follows_the_callees_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second check reads every body and composite row from the cache, the same rows; the
    cache key of a body changes when the spec of a tool it calls changes."""
    monkeypatch.setenv("EFFECTUS_PROOF_CACHE", str(tmp_path))
    first = fx.check(corpus)
    second = fx.check(corpus)
    assert all(r.cached for r in second.rows)
    assert [(r.tool, r.check, r.verdict, r.detail) for r in first.rows] == [(r.tool, r.check, r.verdict, r.detail) for r in second.rows]
    before = fingerprint(corpus.scaled)
    assert "v > 0" in before

    @fx.tool(requires=lambda v: v > 10, ensures=lambda result, v: result == v)
    async def positive(v: int) -> int:
        return v

    monkeypatch.setitem(corpus.__dict__, "positive", positive)
    assert fingerprint(corpus.scaled) != before
    calls = [r for r in fx.check(corpus.scaled).rows if r.check.startswith("call of")]
    assert [(r.check.endswith("positive (line 124)"), r.verdict, r.cached) for r in calls] == [(True, "refuted", False)]
