"""The concurrency benchmark computes the right thing (correctness only: no timing is asserted)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `benchmarks` lives at the repository root, next to `effectus`
    sys.path.insert(0, str(ROOT))

import effectus as fx  # noqa: E402
from benchmarks import concurrency  # noqa: E402

_NUMBER = r"[0-9][0-9,]*(?:\.[0-9]+)?"


def _numbers(row: str, skip: int = 2) -> list[float]:
    """The numbers in a table row's cells after the first ``skip`` (separators dropped)."""
    cells = [c.strip() for c in row.strip().strip("|").split("|")][skip:]
    return [float(m.replace(",", "")) for c in cells for m in re.findall(_NUMBER, c)]


@pytest.mark.parametrize("program", [concurrency.linear_ping_pong, concurrency.select_ping_pong])
@pytest.mark.parametrize("interp", [fx.Interpreter(scheduler=fx.Cooperative()), fx.testing(3)],
                         ids=["cooperative", "seeded"])
def test_effectus_ping_pong_echoes_every_message(program: object, interp: fx.Interpreter) -> None:
    """Both protocols, under both schedulers, bring back every int sent, in a clean run."""
    assert callable(program)
    assert interp.run(program(50)) == concurrency.expected_sum(50)


def test_every_ping_pong_variant_is_timed_once_per_round() -> None:
    """measure_ping_pong checks each variant's sum and reports a positive rate per round."""
    rates = concurrency.measure_ping_pong(20, repeats=2)
    assert set(rates) == {v.key for v in concurrency.PING_PONG}
    assert all(len(r) == 2 and all(x > 0 for x in r) for r in rates.values())


@pytest.mark.parametrize("key", [key for key, _ in concurrency.SPAWN])
def test_spawning_joins_every_task(key: str) -> None:
    """spawn_once checks the tasks' results add up and reports positive time and memory."""
    figures = concurrency.spawn_once(key, 200)
    assert figures.seconds > 0 and figures.traced_peak > 0 and figures.rss > 0
    assert figures.rss_delta >= 0


@pytest.mark.slow
def test_quick_mode_prints_every_row_with_positive_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m benchmarks.concurrency --quick` (spawn rows in subprocesses) reports all rows."""
    assert concurrency.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## Concurrency")
    rows = out.splitlines()
    for label in [v.label for v in concurrency.PING_PONG] + [label for _, label in concurrency.SPAWN]:
        [row] = [r for r in rows if r.startswith("| ") and f"| {label} |" in r]
        numbers = _numbers(row)
        assert len(numbers) >= 5 and all(x > 0 for x in numbers[:4]), row
    ratios = [r for r in rows if r.startswith("| `")]
    assert len(ratios) == 9 and all(_numbers(r, skip=1)[0] > 0 for r in ratios)
    assert "`fx_linear` / `asyncio`" in out and "`fx_select` / `fx_linear`" in out
    assert "effectus tasks in under 1 GiB" in out
