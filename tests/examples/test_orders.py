"""The order-batch example behaves the same under production and testing, and explores fully."""

from __future__ import annotations

from pathlib import Path

from returns.pipeline import is_successful

import effectus as fx
from effectus.effects import MemoryFiles, MemoryLog, MemoryState, PolicyChoice
from effectus.examples.orders import SAMPLE_INBOX, Order, cheapest, quote_all, run_batch

# Costs worked out by hand from the carrier table: fee + per_kg * weight, in cents.
ADA_COURIER = 100 + 150 * 2.5  # 475: cheaper than postal (525) and freight (2100)
GRACE_FREIGHT = 2_000 + 40 * 45  # 3800: cheaper than postal (4350) and courier (6850)
EDSGER_COURIER = 100 + round(150 * 0.4)  # 160


def _testing() -> fx.Interpreter:
    return fx.testing(seed=3, files=SAMPLE_INBOX).with_handlers(PolicyChoice(cheapest))


def test_batch_under_testing_writes_the_expected_report() -> None:
    """Three valid orders ship with the cheapest carriers; the broken one is logged, not shipped."""
    test = _testing()
    path = test.run(run_batch())
    report = test.handler(MemoryFiles).snapshot()[path].decode()
    rows = report.splitlines()[1:-1]
    assert [r.split()[:3] for r in rows] == [
        ["A1001", "ada", "courier"],
        ["A1002", "grace", "freight"],
        ["A1003", "edsger", "courier"],
    ]
    total = int(ADA_COURIER + GRACE_FREIGHT + EDSGER_COURIER)
    assert report.splitlines()[-1] == f"total {total} cents for 3 parcels"
    assert test.handler(MemoryState).snapshot() == {"shipped": 3, "spent_cents": total}
    warnings = [r for r in test.handler(MemoryLog).records if r.level == "warning"]
    assert [w.fields["path"] for w in warnings if w.fields] == ["inbox/broken.json"]
    # Three parcels at 0.01 s each on the virtual clock, starting 2026-01-01T00:00:00Z.
    assert path == f"reports/summary-{int(1_767_225_600 + 0.03)}.txt"


def test_batch_is_deterministic_under_testing() -> None:
    """The same seed gives byte-identical reports, tracking numbers and audit flags included."""
    first, second = _testing(), _testing()
    p1, p2 = first.run(run_batch()), second.run(run_batch())
    assert first.handler(MemoryFiles).snapshot()[p1] == second.handler(MemoryFiles).snapshot()[p2]


def test_batch_under_production_uses_real_files(tmp_path: Path) -> None:
    """Under production the same program reads and writes real files under the root."""
    for name, text in SAMPLE_INBOX.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    path = fx.production(root=tmp_path, choice=cheapest).run(run_batch())
    report = (tmp_path / path).read_text(encoding="utf-8")
    assert [r.split()[2] for r in report.splitlines()[1:-1]] == ["courier", "freight", "courier"]
    assert report.splitlines()[-1].startswith("total 4435 cents")


def test_outcomes_explore_every_carrier_pair() -> None:
    """3 carriers x 2 orders = 9 branches; postal refuses the 45 kg parcel in 3 of them."""
    orders = (Order("A1001", "ada", 2.5), Order("A1002", "grace", 45.0))
    results = fx.outcomes(lambda: quote_all(orders))
    assert [o.choices for o in results] == [(i, j) for i in range(3) for j in range(3)]
    failed = [o.choices for o in results if not is_successful(o.result)]
    assert failed == [(0, 0), (1, 0), (2, 0)]  # postal is option 0
    totals = sorted(o.result.unwrap() for o in results if is_successful(o.result))
    assert totals[0] == ADA_COURIER + GRACE_FREIGHT
    assert totals[-1] == (2_000 + 40 * 2.5) + (100 + 150 * 45)
