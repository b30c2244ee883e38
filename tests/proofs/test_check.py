"""Static checks of specs with z3 (fx.check, effectus check): verdicts, cores, cache, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import z3  # type: ignore[import-untyped]

import effectus as fx
from effectus._cli_check import load_module
from effectus.cli import main
from effectus.proofs import Report, check_spec
from effectus.specs import spec_of

CORPUS = Path(__file__).with_name("corpus.py")
corpus = load_module(str(CORPUS))


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own proof cache."""
    folder = tmp_path / "proofs"
    monkeypatch.setenv("EFFECTUS_PROOF_CACHE", str(folder))
    return folder


def verdicts(report: Report) -> dict[str, tuple[str, ...]]:
    """tool -> its verdicts, in check order."""
    out: dict[str, tuple[str, ...]] = {}
    for row in report.rows:
        out[row.tool] = (*out.get(row.tool, ()), row.verdict)
    return out


def test_the_corpus_gets_its_expected_verdicts() -> None:
    """Every tool of the corpus: satisfiable, vacuous, refutable and runtime-only specs."""
    report = fx.check(corpus, cache=False)
    assert verdicts(report) == corpus.EXPECTED
    assert not report.ok  # the corpus has refutations


def test_a_vacuous_tool_names_the_predicates_that_contradict() -> None:
    """The unsatisfiable core is reported in the user's own predicate text."""
    spec = spec_of(corpus.below_limit)
    assert spec is not None
    pre = check_spec(spec, cache=False)[0]
    assert pre.verdict == "refuted"
    assert "x >= 100" in pre.detail and "x < LIMIT" in pre.detail


def test_a_proved_satisfiability_comes_with_a_witness_that_really_satisfies_the_spec() -> None:
    """The model z3 found is a call the runtime checks accept."""
    spec = spec_of(corpus.top_k)
    assert spec is not None
    pre = check_spec(spec, cache=False)[0]
    assert pre.verdict == "proved"
    xs = json.loads(pre.model["xs"])
    k = int(pre.model["k"])
    assert fx.run(corpus.top_k(xs, k)) == sorted(xs, reverse=True)[:k]


def test_a_runtime_only_predicate_is_never_taken_as_proved() -> None:
    """The str method is outside the subset: the check is unknown and names the construct."""
    spec = spec_of(corpus.runtime_only_method)
    assert spec is not None
    pre = check_spec(spec, cache=False)[0]
    assert pre.verdict == "unknown"
    assert any("call of str.startswith" in item and "corpus.py:" in item for item in pre.runtime_only)


def test_verdicts_are_cached_on_disk_and_the_same_on_a_second_run(_cache: Path) -> None:
    """A second run reads every verdict back from the cache, unchanged."""
    first = fx.check(corpus)
    second = fx.check(corpus)
    assert not any(r.cached for r in first.rows) and all(r.cached for r in second.rows)
    assert verdicts(first) == verdicts(second)
    assert [r.detail for r in first.rows] == [r.detail for r in second.rows]
    # one entry per spec check, and one for the body rows of each tool (none for most)
    assert len(list(_cache.glob("*.json"))) == 3 * len(corpus.EXPECTED)


def test_a_corrupt_cache_entry_is_recomputed(_cache: Path) -> None:
    """A cache file that does not parse is ignored and rewritten."""
    fx.check(corpus.top_k)
    for path in _cache.glob("*.json"):
        path.write_text("{not json")
    again = fx.check(corpus.top_k)
    assert not any(r.cached for r in again.rows) and verdicts(again)["top_k"] == corpus.EXPECTED["top_k"]


def test_the_command_line_prints_a_table_and_exits_1_on_a_refutation(capsys: pytest.CaptureFixture[str]) -> None:
    """`effectus check FILE`: one row per tool and check; exit 1 because something is refuted."""
    assert main(["check", str(CORPUS)]) == 1
    out = capsys.readouterr().out
    assert "vacuous_pair" in out and "refuted" in out
    unknown = sum(v.count("unknown") for v in corpus.EXPECTED.values())
    assert out.strip().endswith(f"refuted, {unknown} unknown")


def test_the_command_line_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    """--json gives the rows, the counts and ok for CI."""
    assert main(["check", str(CORPUS), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert sum(data["counts"].values()) == sum(len(v) for v in corpus.EXPECTED.values())
    assert {row["tool"] for row in data["rows"]} == set(corpus.EXPECTED)


def test_the_command_line_exits_0_when_nothing_is_refuted_and_2_on_a_bad_module(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A module whose specs all hold exits 0; one that does not import exits 2 with the reason."""
    good = tmp_path / "good_tools.py"
    good.write_text(
        "import effectus as fx\n\n"
        "@fx.tool(requires=lambda n: n > 0, ensures=lambda result, n: result > n)\n"
        "async def bump(n: int) -> int:\n"
        "    return n + 1\n"
    )
    assert main(["check", str(good)]) == 0
    assert "bump" in capsys.readouterr().out
    broken = tmp_path / "broken_tools.py"
    broken.write_text("import not_a_module_anywhere\n")
    assert main(["check", str(broken)]) == 2
    assert "cannot import" in capsys.readouterr().err


def test_python_dash_m_effectus_check_runs_in_a_fresh_process(tmp_path: Path) -> None:
    """The installed command works from a clean interpreter (exit status decides)."""
    done = subprocess.run(
        [sys.executable, "-m", "effectus", "check", str(CORPUS), "--json"],
        capture_output=True, text=True, env={"EFFECTUS_PROOF_CACHE": str(tmp_path), "PATH": ""},
        cwd=Path(__file__).resolve().parents[2], check=False,
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["counts"]["refuted"] == sum(v.count("refuted") for v in corpus.EXPECTED.values())


def test_a_verdict_does_not_depend_on_what_the_process_solved_before() -> None:
    """z3's search follows the order terms were made in its context; each check solves in a
    fresh context, so a tool checked after the whole corpus (and unrelated z3 work) gets the
    verdicts, details and witnesses it gets alone in a new process."""
    probe = (
        "import json, sys; from effectus._cli_check import load_module; import effectus as fx; "
        f"m = load_module({str(CORPUS)!r}); "
        "print(json.dumps([[r.verdict, r.detail, r.model] for r in "
        "fx.check([m.last_of_sorted, m.isqrt, m.sorted_yet_descending], cache=False).rows]))"
    )
    alone = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    for n in range(300):  # unrelated terms, made before the checks below
        z3.simplify(z3.Int(f"junk{n}") * 3 + z3.Int(f"junk{n + 1}") > n)
    fx.check(corpus, cache=False)
    after = fx.check([corpus.last_of_sorted, corpus.isqrt, corpus.sorted_yet_descending], cache=False)
    assert [[r.verdict, r.detail, r.model] for r in after.rows] == json.loads(alone.stdout)


def test_a_parameter_without_a_model_matters_only_to_the_predicates_that_read_it() -> None:
    """A dict parameter has no z3 model: a precondition on another parameter is still proved;
    one that reads the dict is runtime-only, and the row names why."""

    @fx.tool(requires=lambda k: k >= 0)
    async def with_table(table: dict[str, int], k: int) -> int:
        return table.get("x", k)

    @fx.tool(requires=[lambda k: k >= 0, lambda table: len(table) > 0])
    async def reads_table(table: dict[str, int], k: int) -> int:
        return k

    assert fx.run(with_table({}, 0)) == 0
    pre = check_spec(spec_of(with_table), cache=False)[0]  # type: ignore[arg-type]
    assert pre.verdict == "proved" and pre.model == {"k": "0"}
    pre = check_spec(spec_of(reads_table), cache=False)[0]  # type: ignore[arg-type]
    assert pre.verdict == "unknown" and "table: only int, float, bool" in pre.runtime_only[0]
