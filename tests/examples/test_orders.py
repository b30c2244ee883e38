"""The order-batch example behaves the same under production and testing, and explores fully;
its pricing tools run under their specs, and z3 proves every one of those specs."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import pytest
from returns.pipeline import is_successful

import effectus as fx
from effectus.effects import MemoryFiles, MemoryLog, MemoryState, PolicyChoice
from effectus.examples import orders
from effectus.examples.orders import (
    SAMPLE_INBOX,
    Order,
    billable,
    cheapest,
    courier,
    freight,
    offers,
    postal,
    quote_all,
    rates,
    run_batch,
)
from effectus.specs import spec_of

SPEC_TOOLS = (billable, postal, courier, freight, offers)

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


def test_offers_bill_started_100_g_steps() -> None:
    """Each carrier prices the weight rounded up to 100 g: 2401-2500 g all cost the same."""
    test = fx.testing()
    assert test.run(offers(2_500)) == (300 + 9 * 25, 100 + 15 * 25, 2_000 + 4 * 25)
    assert test.run(offers(2_401)) == test.run(offers(2_500))
    assert test.run(offers(2_501)) == (300 + 9 * 26, 100 + 15 * 26, 2_000 + 4 * 26)
    assert test.run(offers(1)) == (309, 115, 2_004)  # the lightest parcel is billed as 100 g
    assert test.run(rates(2_450)) == test.run(offers(2_500))


def test_pricing_specs_are_checked_on_every_call() -> None:
    """A call outside a pricing tool's spec raises on the caller's line, before its body runs."""
    with pytest.raises(fx.PreconditionError, match=r"refinement of tool offers failed: grams > 0"):
        offers(0)
    with pytest.raises(fx.PreconditionError, match=r"precondition of tool postal failed: grams % 100 == 0"):
        postal(150)
    with pytest.raises(fx.PreconditionError, match=r"refinement of tool freight failed: grams >= 100"):
        freight(0)
    with pytest.raises(fx.PreconditionError, match=r"refinement of tool billable failed: grams > 0"):
        fx.run(rates(-5), fx.testing())


def _codes_run(program: Callable[[], object]) -> set[CodeType]:
    """The code objects of every function called (or resumed) while ``program()`` runs."""
    seen: set[CodeType] = set()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            seen.add(frame.f_code)

    sys.setprofile(profile)
    try:
        program()
    finally:
        sys.setprofile(None)
    return seen


def test_each_spec_tool_runs_under_its_spec_in_the_batch() -> None:
    """The batch calls every pricing tool, and each call runs its spec's checks: the generated
    precondition check, the body, then the postcondition check."""
    ran = _codes_run(lambda: _testing().run(run_batch()))
    for tool in SPEC_TOOLS:
        assert spec_of(tool) is not None, tool
        checks: dict[str, Callable[..., object] | None] = {
            "precondition check": getattr(tool, "_pre"),
            "body": tool.__wrapped__,
            "postcondition check": getattr(tool, "_post"),
        }
        for what, fn in checks.items():
            assert fn is not None and fn.__code__ in ran, f"{tool.__qualname__}: its {what} did not run"


def test_load_orders_skips_weights_that_are_not_positive() -> None:
    """An order of 0 kg would break offers' refinement (grams > 0): it is logged and skipped."""
    inbox = {**SAMPLE_INBOX, "inbox/a-1004.json": json.dumps({"id": "A1004", "customer": "alan", "weight_kg": 0})}
    test = fx.testing(seed=3, files=inbox).with_handlers(PolicyChoice(cheapest))
    path = test.run(run_batch())
    assert test.handler(MemoryFiles).snapshot()[path].decode().splitlines()[-1] == (
        f"total {int(ADA_COURIER + GRACE_FREIGHT + EDSGER_COURIER)} cents for 3 parcels"
    )
    skipped = [r.fields["path"] for r in test.handler(MemoryLog).records if r.level == "warning" and r.fields]
    assert skipped == ["inbox/a-1004.json", "inbox/broken.json"]


def test_every_check_of_the_pricing_tools_is_proved() -> None:
    """`fx.check(orders)` (what `effectus check examples/orders.py` and part 6 of the demo run)
    proves every spec, the composite and every body; nothing is refuted, nothing unknown."""
    report = fx.check(orders, cache=False)
    assert report.ok
    assert [r for r in report.rows if r.verdict == "refuted"] == []
    assert report.counts() == {"proved": len(report.rows), "refuted": 0, "unknown": 0}
    checked = {r.tool: [c.check for c in report.rows if c.tool == r.tool] for r in report.rows}
    assert list(checked) == ["billable", "postal", "courier", "freight", "rates", "offers"]
    assert checked["rates"] == [f"call of {c} after billable" for c in ("postal", "courier", "freight")]
    assert "body meets postconditions" in checked["offers"]
    assert any(c.startswith("call of billable (line ") for c in checked["offers"])
    table = report.table().splitlines()
    assert table[-1] == f"{len(report.rows)} proved, 0 refuted, 0 unknown"
    assert not [line for line in table if line.split()[-1:] == ["refuted"]]


def test_a_carrier_that_wants_more_than_billable_promises_is_refuted() -> None:
    """The composite check is not vacuous: a carrier needing 500 g steps after `billable`
    (which promises 100 g steps) is refuted with a counterexample."""

    @fx.tool(requires=lambda grams: grams % 500 == 0)
    async def pallet(grams: int) -> int:
        return grams // 500

    report = fx.check(fx.pipe(billable, pallet), cache=False)
    [row] = report.rows
    assert row.check.startswith("call of ") and row.check.endswith(".pallet after billable")
    assert row.verdict == "refuted" and not report.ok
    assert "grams % 500 == 0 fails" in row.detail and "counterexample" in row.detail
