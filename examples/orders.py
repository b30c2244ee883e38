"""An order-fulfilment batch: tools that read an inbox, pick carriers, ship and report.

The program only performs effects (files, state, clock, random, logs, choice), so the same code
runs against the real filesystem and clock under `fx.production()` and deterministically in
memory under `fx.testing()`; `fx.outcomes` explores every carrier choice by re-execution.

The prices come from spec'd tools: `billable` rounds a weight up to the started 100 g, one tool
per carrier prices a billable weight, `rates` is their composite
(``fx.pipe(billable, fx.fan_out(postal, courier, freight))``) and `offers` the tool the batch
calls.  Their specs are checked on every call, and `fx.check` proves with z3 that each holds for
every input (``effectus check examples/orders.py``, part 6 of ``effectus demo``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated

from annotated_types import Ge, Gt

import effectus as fx

INBOX = "inbox"
REPORTS = "reports"

#: The carriers, in the order `pick_carrier` offers them.
CARRIERS: tuple[str, ...] = ("postal", "courier", "freight")

#: A parcel's weight in grams; carriers bill whole, started 100 g steps of it.
Grams = Annotated[int, Gt(0)]
Billable = Annotated[int, Ge(100)]
Cents = Annotated[int, Ge(0)]


@dataclass(frozen=True)
class Order:
    """One order read from the inbox."""

    id: str
    customer: str
    weight_kg: float


@dataclass(frozen=True)
class Shipment:
    """An order on its way: who carries it, for how much, under which tracking number."""

    order: Order
    carrier: str
    cost_cents: int
    tracking: str
    audited: bool


@fx.tool(ensures=[lambda result, grams: grams <= result < grams + 100, lambda result: result % 100 == 0])
async def billable(grams: Grams) -> Billable:
    """The weight a carrier bills: ``grams`` rounded up to a whole number of 100 g steps."""
    return (grams + 99) // 100 * 100


@fx.tool(requires=lambda grams: grams % 100 == 0, ensures=lambda result: result >= 300)
async def postal(grams: Billable) -> Cents:
    """Postal: a 300c fee and 9c per 100 g (90c per kg)."""
    return 300 + 9 * (grams // 100)


@fx.tool(requires=lambda grams: grams % 100 == 0, ensures=lambda result: result >= 100)
async def courier(grams: Billable) -> Cents:
    """Courier: a 100c fee and 15c per 100 g (1.50 per kg)."""
    return 100 + 15 * (grams // 100)


@fx.tool(requires=lambda grams: grams % 100 == 0, ensures=lambda result: result >= 2_000)
async def freight(grams: Billable) -> Cents:
    """Freight: a 2000c fee and 4c per 100 g (40c per kg)."""
    return 2_000 + 4 * (grams // 100)


rates = fx.pipe(billable, fx.fan_out(postal, courier, freight))
"""Every carrier's price for a parcel: each carrier gets the billable weight (the carriers run
as three tasks).  Proved: `billable` promises a multiple of 100 g of at least 100 g, which is
what each carrier requires."""


@fx.tool(ensures=lambda result: len(result) == 3 and all(cost >= 100 for cost in result))
async def offers(grams: Grams) -> tuple[int, int, int]:
    """The price of each carrier in `CARRIERS`, in cents, for a parcel of ``grams``."""
    by_post, by_courier, by_freight = await rates(grams)
    return by_post, by_courier, by_freight


def grams_of(order: Order) -> int:
    """The order's weight in whole grams (at least 1: `load_orders` refuses weights <= 0)."""
    return max(1, round(order.weight_kg * 1000))


def cheapest(options: tuple[tuple[str, int], ...]) -> int:
    """Production's choice policy: the index of the cheapest (carrier, cost) option."""
    costs = [cost for _, cost in options]
    return costs.index(min(costs))


@fx.tool
async def load_orders() -> list[Order]:
    """Read every ``inbox/*.json`` order; a malformed file is logged and skipped."""
    orders: list[Order] = []
    for path in await fx.ListFiles(INBOX, "*.json"):
        text = await fx.ReadFile(path)
        try:
            raw = json.loads(text)
            order = Order(str(raw["id"]), str(raw["customer"]), float(raw["weight_kg"]))
            if not order.weight_kg > 0:
                raise ValueError(f"weight_kg must be positive, not {order.weight_kg}")
            orders.append(order)
        except (ValueError, KeyError) as err:
            await fx.Log("skipping malformed order", level="warning", fields={"path": path, "error": str(err)})
    await fx.Log("loaded orders", fields={"count": len(orders)})
    return orders


@fx.tool
async def pick_carrier(order: Order) -> tuple[str, int]:
    """Choose a (carrier, cost) for ``order``: production's policy decides, tests try them all."""
    costs = await offers(grams_of(order))
    carrier, cost = await fx.Choose(tuple(zip(CARRIERS, costs)))
    if carrier == "postal" and order.weight_kg > 30:
        await fx.Fail(ValueError(f"postal refuses {order.id}: {order.weight_kg} kg is over 30 kg"))
    return carrier, cost


@fx.tool
async def ship(order: Order) -> Shipment:
    """Ship one order: pick a carrier, draw a tracking number, maybe flag it for audit."""
    carrier, cost = await pick_carrier(order)
    number = await fx.RandomInt(100_000, 999_999)
    audited = await fx.RandomFloat() < 0.25
    await fx.Sleep(0.01)  # the warehouse takes a moment per parcel
    await fx.Modify("shipped", lambda n: n + 1, 0)
    await fx.Modify("spent_cents", lambda n: n + cost, 0)
    await fx.Measure("parcels", 1)
    await fx.Measure("parcel_cost_cents", cost, kind="histogram")
    await fx.Log("shipped", fields={"order": order.id, "carrier": carrier, "cost": cost})
    return Shipment(order, carrier, cost, f"{carrier[:2].upper()}{number}", audited)


@fx.tool
async def write_report(shipments: list[Shipment]) -> str:
    """Write a summary report named after the current time; return its path."""
    now = await fx.Now()
    total = await fx.Get("spent_cents", 0)
    lines = [f"report at {now:.0f} (unix seconds)"]
    for s in shipments:
        flag = "  AUDIT" if s.audited else ""
        lines.append(f"{s.order.id:>6} {s.order.customer:<8} {s.carrier:<8} {s.cost_cents:>6}c {s.tracking}{flag}")
    lines.append(f"total {total} cents for {len(shipments)} parcels")
    path = f"{REPORTS}/summary-{int(now)}.txt"
    await fx.WriteFile(path, "\n".join(lines) + "\n")
    return path


@fx.tool
async def run_batch() -> str:
    """The whole job: load, ship each order, report."""
    orders = await load_orders()
    shipments = [await ship(o) for o in orders]
    return await write_report(shipments)


@fx.tool
async def run_batch_v2() -> str:
    """A changed version of the job (slower parcels): its replay of a v1 trace diverges."""
    orders = await load_orders()
    shipments = []
    for order in orders:
        carrier, cost = await pick_carrier(order)
        number = await fx.RandomInt(100_000, 999_999)
        audited = await fx.RandomFloat() < 0.25
        await fx.Sleep(0.02)  # v2: the warehouse got slower
        shipments.append(Shipment(order, carrier, cost, f"{carrier[:2].upper()}{number}", audited))
    return await write_report(shipments)


@fx.tool
async def quote_all(orders: tuple[Order, ...]) -> int:
    """The total cost of one carrier choice per order (explored by `fx.outcomes`)."""
    total = 0
    for order in orders:
        _, cost = await pick_carrier(order)
        total += cost
    return total


SAMPLE_INBOX: dict[str, str] = {
    "inbox/a-1001.json": json.dumps({"id": "A1001", "customer": "ada", "weight_kg": 2.5}),
    "inbox/a-1002.json": json.dumps({"id": "A1002", "customer": "grace", "weight_kg": 45.0}),
    "inbox/a-1003.json": json.dumps({"id": "A1003", "customer": "edsger", "weight_kg": 0.4}),
    "inbox/broken.json": "{not json",
    "inbox/notes.txt": "not an order",
}
