"""The z3 static-check benchmark times the tools it claims to (correctness only: no timing bar).

It must find every spec'd tool of every ``tests/proofs/corpus*.py`` file (the ones
``fx.check(module)`` checks), give each the verdicts z3 gives, read every cached row back from
the cache, leave ``EFFECTUS_PROOF_CACHE`` as it found it, and print a row per tool and the
summary over the corpus.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `benchmarks` lives at the repository root, next to `effectus`
    sys.path.insert(0, str(ROOT))

from effectus._cli_check import load_module  # noqa: E402
from effectus.proofs import Check, Report, check  # noqa: E402
from benchmarks import proofs  # noqa: E402

CORPUS = ROOT / "tests" / "proofs" / "corpus.py"


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test starts with its own (unused) proof cache, which the benchmark must not touch."""
    folder = tmp_path / "user-cache"
    monkeypatch.setenv("EFFECTUS_PROOF_CACHE", str(folder))
    return folder


@pytest.fixture(scope="module")
def corpus_tools() -> list[proofs.CorpusTool]:
    """corpus.py's tools, loaded once (loading runs fx.check over the module)."""
    return proofs.load_tools([CORPUS])


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def _us(cell: str) -> float:
    return float(cell.split(" ")[0].replace(",", ""))


def test_every_corpus_file_and_every_spec_d_tool_is_found() -> None:
    """corpus.py is among the files, and its tools are EXPECTED's, in definition order."""
    paths = proofs.corpus_files()
    assert CORPUS in paths
    assert paths == sorted((ROOT / "tests" / "proofs").glob("corpus*.py"))
    tools = proofs.load_tools(paths)
    corpus = [t for t in tools if t.corpus == "corpus"]
    expected = load_module(str(CORPUS)).EXPECTED
    assert [t.name for t in corpus] == list(expected)
    assert all(t.expected == expected[t.name] for t in corpus)
    assert len({(t.corpus, t.name) for t in tools}) == len(tools)


def test_a_new_corpus_file_joins_by_its_name(tmp_path: Path) -> None:
    """A ``corpus_*.py`` file is picked up by the glob; only the tools with a spec defined in it
    count (not an imported one, not a bare tool), and those without EXPECTED are ungraded."""
    folder = tmp_path / "tests" / "proofs"
    folder.mkdir(parents=True)
    (folder / "helper_zz_bench_probe.py").write_text(
        "import effectus as fx\n"
        "@fx.tool(requires=lambda x: x > 1)\n"
        "async def imported(x: int) -> int:\n    return x\n"
    )
    (folder / "corpus_zz_bench_probe.py").write_text(
        "import effectus as fx\n"
        "from helper_zz_bench_probe import imported\n"
        "@fx.tool(requires=lambda x: x > 0)\n"
        "async def positive(x: int) -> int:\n    return x\n"
        "@fx.tool\n"
        "async def bare(x: int) -> int:\n    return x\n"
        "@fx.tool(requires=lambda x: x > 0 and x < 0)\n"
        "async def vacuous(x: int) -> int:\n    return x\n"
    )
    (folder / "other_corpus.py").write_text("raise AssertionError('not a corpus file')\n")
    paths = proofs.corpus_files(tmp_path)
    assert [p.name for p in paths] == ["corpus_zz_bench_probe.py"]
    try:
        tools = proofs.load_tools(paths)
    finally:
        sys.modules.pop("corpus_zz_bench_probe", None)
        sys.modules.pop("helper_zz_bench_probe", None)
    assert [(t.corpus, t.attr, t.name, t.expected) for t in tools] == [
        ("corpus_zz_bench_probe", "positive", "positive", None),
        ("corpus_zz_bench_probe", "vacuous", "vacuous", None),
    ]
    times = proofs.measure(tools, repeats=1)
    assert times["corpus_zz_bench_probe.vacuous"].verdicts == ("refuted", "proved")


def test_measure_times_cold_and_cached_and_puts_the_cache_setting_back(
    _cache: Path, corpus_tools: list[proofs.CorpusTool]
) -> None:
    """Two rounds give two timings per tool, the same verdicts both ways, as EXPECTED; the
    cache used is a temporary folder, and ``EFFECTUS_PROOF_CACHE`` is as before afterwards."""

    tools = [t for t in corpus_tools if t.name in {"top_k", "below_limit", "runtime_only_method"}]
    times = proofs.measure(tools, repeats=2)
    assert os.environ["EFFECTUS_PROOF_CACHE"] == str(_cache)
    assert not _cache.exists()
    for tool in tools:
        t = times[f"corpus.{tool.name}"]
        assert len(t.cold) == len(t.cached) == len(t.after_cold) == 2
        assert min(t.cold + t.cached + t.after_cold) > 0
        assert t.verdicts == t.cached_verdicts == tool.expected


def test_a_cached_call_that_answers_another_verdict_stops_the_run(
    monkeypatch: pytest.MonkeyPatch, corpus_tools: list[proofs.CorpusTool]
) -> None:
    """If the cached path gave other verdicts than z3 (or computed instead of reading), measure
    raises rather than time it."""
    tools = [t for t in corpus_tools if t.name == "top_k"]
    def lying(target: Any, *, cache: bool = True) -> Report:
        report = check(target, cache=cache)
        if not cache:
            return report
        return Report(tuple(Check(r.tool, r.check, "refuted", r.detail, cached=r.cached) for r in report.rows))

    monkeypatch.setattr(proofs, "check", lying)
    with pytest.raises(AssertionError, match=r"top_k: cache=True gave \('refuted', 'refuted', 'refuted'\)"):
        proofs.measure(tools, repeats=1)

    def computing(target: Any, *, cache: bool = True) -> Report:
        return check(target, cache=False)

    monkeypatch.setattr(proofs, "check", computing)
    with pytest.raises(AssertionError, match=r"top_k: rows with cached=\[False, False, False\], expected all True"):
        proofs.measure(tools, repeats=1)


def test_percentile_interpolates_between_order_statistics() -> None:
    """The 90th percentile of 1..11 is 10; of one value, that value; halfway values interpolate."""
    assert proofs.percentile([float(v) for v in range(11, 0, -1)], 0.9) == pytest.approx(10.0)
    assert proofs.percentile([3.0], 0.9) == 3.0
    assert proofs.percentile([0.0, 10.0], 0.9) == pytest.approx(9.0)
    assert proofs.percentile([0.0, 10.0], 0.5) == pytest.approx(5.0)
    with pytest.raises(ValueError):
        proofs.percentile([], 0.5)


def test_quick_mode_reports_every_tool_cold_and_cached(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m benchmarks.proofs --quick``: machine and z3 lines, a row per corpus tool with the
    same verdicts cold and cached, cached faster than cold over the corpus, the summary table and
    the first-call line."""
    assert proofs.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## z3 static checks\n")
    assert re.search(r"Python 3\.\d+.*effectus \d.*z3 \d+\.\d+.*rlimit 5,000,000 per check", out)
    tools = proofs.load_tools(proofs.corpus_files())
    rows = [_cells(r) for r in out.splitlines() if re.match(r"\| \d+ \|", r)]
    assert [(r[1], r[2]) for r in rows] == [(t.corpus, f"`{t.name}`") for t in tools]
    for tool, row in zip(tools, rows, strict=True):
        assert row[3] == row[4], row  # verdicts cold == cached
        if tool.expected is not None:
            assert row[3] == " / ".join(tool.expected), row
        assert _us(row[5]) > 0 and _us(row[7]) > 0, row
    assert sum(_us(r[7]) for r in rows) < sum(_us(r[5]) for r in rows)

    summary = {r[0]: r for r in (_cells(line) for line in out.splitlines() if line.startswith("| c"))}
    cold, cached, ratio = summary["cold (z3 solves)"], summary["cached (read from disk)"], summary["cold / cached"]
    assert _us(cold[4]) == pytest.approx(sum(_us(r[5]) for r in rows), abs=len(rows))
    assert _us(cached[4]) < _us(cold[4])
    slowest = r"[0-9,]+ \(`\w+`( \(\w+\))?\)"  # the tool, and its corpus file where two files have tools
    assert re.fullmatch(slowest, cold[3]) and re.fullmatch(slowest, cached[3])
    assert all(re.fullmatch(r"[0-9,]+\.[0-9]x", c) for c in (ratio[1], ratio[2], ratio[4])), ratio
    after = summary["cached, right after the tool's cold call"]
    assert all(re.fullmatch(r"[0-9,]+", c) for c in (after[1], after[2], after[4])), after
    assert "- verdicts, cold and cached: the same for every tool" in out
    assert re.search(r"- verdicts as the corpus's `EXPECTED`: yes \(\d+ of \d+ tools listed\)", out)
    assert re.search(r"- first check in a fresh process \(`\w+`, measured once\): `import effectus.proofs` "
                     r"[0-9.,]+ ms \(z3 included\), then the first `check` [0-9.,]+ ms", out)
