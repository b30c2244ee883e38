"""A three-role quote service whose roles stay in step: each channel follows a projection.

A ``client`` asks a pricing ``server`` for quotes; the server asks an inventory ``db`` for the
unit price and to hold one unit; the db keeps its stock in state (`fx.Get` / `fx.Modify`). The
whole conversation is one multiparty protocol, `SERVICE`; `project_all` turns it into one
binary protocol per pair of roles, and each pair talks over a channel (`fx.Open`) whose two ends
follow those projections, checked at every step. So the roles cannot fall out of step: the
client cannot wait for a quote the server never sends, nor the db wait for a lookup that will
not come. Each role runs as its own task (`fx.Spawn`) and the same code runs under
`fx.production()` (cooperative tasks, file writes on worker threads) and `fx.testing(seed)`
(tasks interleaved before every effect, in an order drawn from the seed).

Projection keeps the roles in step; it cannot make shared state safe. `run_rush` runs several
sessions at once against the one inventory. With ``racy=True`` the db checks the stock and then
takes a unit in two effects, so two sessions can both take the last lamp; `fx.explore` finds
the interleaving, and its trace replays to the same `Oversold` error. The atomic version
(one `fx.Modify`) passes every interleaving it tries.

>>> import effectus as fx
>>> fx.run(run_service(["lamp", "desk", "lamp"]), fx.testing(seed=1))
[Quote(item='lamp', cents=4800, held=True), Quote(item='desk', cents=30000, held=True), \
Quote(item='lamp', cents=4800, held=False)]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import cast

import effectus as fx
from effectus.types import (
    GLOBAL_END,
    Endpoint,
    Global,
    Session,
    choice,
    global_rec,
    message,
    project_all,
)

#: What the db sells: item -> (unit price in cents before VAT, units in stock).
CATALOG: dict[str, tuple[int, int]] = {
    "lamp": (4_000, 1),
    "desk": (25_000, 3),
    "chair": (7_500, 4),
}

#: The snapshot the db writes when it stops (a real file under production).
INVENTORY = "inventory.json"


@dataclass(frozen=True)
class Stock:
    """The db's answer to a lookup: the unit price, and whether one unit is now held."""

    item: str
    unit_cents: int
    held: bool


@dataclass(frozen=True)
class Quote:
    """The server's answer to the client: the price with VAT, and whether a unit is held."""

    item: str
    cents: int
    held: bool


class Oversold(RuntimeError):
    """The inventory does not balance: the units held plus those left are not the stock."""


class _OutOfStock(LookupError):
    """Raised by `_take_one` inside `fx.Modify`, which then stores nothing."""


#: The whole conversation: in a loop, the client chooses ``quote`` (it sends an item name, the
#: server tells the db to ``lookup`` that item, the db answers its `Stock`, and the server
#: answers a `Quote`) or ``done`` (the server tells the db to ``stop``, and all three end).
SERVICE: Global = global_rec("serve", lambda serve: choice(
    "client", "server",
    quote=message("client", "server", str,
        choice("server", "db",
            lookup=message("server", "db", str,
                message("db", "server", Stock,
                    message("server", "client", Quote, serve))))),
    done=choice("server", "db", stop=GLOBAL_END),
))  # fmt: skip

#: Each role's binary protocol with each of its peers: ``LOCAL["server"]["db"]`` is the
#: server's end of its channel with the db, the dual of ``LOCAL["db"]["server"]``. Projected
#: at import, so a protocol that cannot run over binary channels fails here, not mid-run.
LOCAL = project_all(SERVICE)


def with_vat(unit_cents: int) -> int:
    """The price the client pays: the unit price plus 20% VAT, in cents."""
    return unit_cents + unit_cents // 5


def _take_one(left: int) -> int:
    if left <= 0:
        raise _OutOfStock()
    return left - 1


def _stock_key(item: str) -> str:
    return f"stock/{item}"


@fx.tool
async def client(items: list[str], to_server: Endpoint[Session]) -> list[Quote]:
    """Ask the server for a quote on each item, in order, then say ``done``."""
    quotes: list[Quote] = []
    ep = to_server
    for item in items:
        asking = await ep.select("quote")
        waiting = await asking.send(item)
        answer, ep = await waiting.recv()
        quotes.append(cast(Quote, answer))  # the channel checked it against the protocol
    finishing = await ep.select("done")
    await finishing.close()
    return quotes


@fx.tool
async def server(from_client: Endpoint[Session], to_db: Endpoint[Session]) -> int:
    """Serve quotes until the client is done, then stop the db; answer how many were served."""
    served = 0
    while True:
        label, asked = await from_client.offer()
        if label == "done":
            stopping = await to_db.select("stop")
            await stopping.close()
            await asked.close()
            await fx.Log("server stopped", fields={"served": served})
            return served
        item, answering = await asked.recv()
        looking = await to_db.select("lookup")
        waiting = await looking.send(item)
        answer, to_db = await waiting.recv()
        stock = cast(Stock, answer)
        quote = Quote(stock.item, with_vat(stock.unit_cents), stock.held)
        fields = {"item": quote.item, "cents": quote.cents, "held": quote.held}
        await fx.Log("quoted", fields=fields)
        from_client = await answering.send(quote)
        served += 1


@fx.tool
async def hold_one(item: str, *, racy: bool = False) -> bool:
    """Take one unit of ``item`` out of stock if one is left; answer whether it was taken.

    The atomic version is one `fx.Modify`. With ``racy=True`` it reads the stock, then writes
    it back one less: two effects, between which another session can take the same unit.
    """
    units = CATALOG[item][1]
    if racy:
        left = await fx.Get(_stock_key(item), units)
        if left <= 0:
            return False
        await fx.Put(_stock_key(item), left - 1)  # another session may have read `left` too
        return True
    try:
        await fx.Modify(_stock_key(item), _take_one, units)
    except _OutOfStock:
        return False
    return True


@fx.tool
async def db(from_server: Endpoint[Session], *, racy: bool = False) -> int:
    """Answer lookups, holding one unit each, until told to stop; answer how many it served.

    On stopping it writes the stock left of the items it was asked about to `INVENTORY`.
    """
    seen: list[str] = []
    while True:
        label, ep = await from_server.offer()
        if label == "stop":
            await ep.close()
            left = {item: await fx.Get(_stock_key(item), CATALOG[item][1]) for item in sorted(seen)}
            await fx.WriteFile(INVENTORY, json.dumps(left, sort_keys=True))
            return len(seen)
        asked, answering = await ep.recv()
        item = cast(str, asked)  # the channel checked it against the protocol
        held = await hold_one(item, racy=racy)
        from_server = await answering.send(Stock(item, CATALOG[item][0], held))
        seen.append(item)


@fx.tool
async def session(items: list[str], *, racy: bool = False) -> list[Quote]:
    """One conversation: open a channel per pair of roles, spawn server and db, run the client.

    Each channel's two ends follow the projections of `SERVICE` for its two roles (`LOCAL`).

    Raises:
        ValueError: an item is not in `CATALOG` (checked before anything starts).
    """
    unknown = sorted(set(items) - CATALOG.keys())
    if unknown:
        raise ValueError(
            f"session(items={items!r}): {', '.join(map(repr, unknown))} not in the catalog.\n"
            f"Fix: ask for items among {sorted(CATALOG)}."
        )
    client_end, server_client = await fx.Open(LOCAL["client"]["server"], LOCAL["server"]["client"])
    server_db, db_end = await fx.Open(LOCAL["server"]["db"], LOCAL["db"]["server"])
    serving = await fx.Spawn(server(server_client, server_db), name="server")
    storing = await fx.Spawn(db(db_end, racy=racy), name="db")
    quotes = await client(items, client_end)
    await fx.Join(serving)
    await fx.Join(storing)
    return quotes


@fx.tool
async def audit(sessions: list[list[Quote]]) -> None:
    """Check that, for each item quoted, the units held plus those left make its stock.

    Raises:
        Oversold: an item's books do not balance (units held twice, or a lost update).
    """
    for item in sorted({q.item for quotes in sessions for q in quotes}):
        units = CATALOG[item][1]
        held = sum(q.held for quotes in sessions for q in quotes if q.item == item)
        left = await fx.Get(_stock_key(item), units)
        if held + left != units:
            raise Oversold(
                f"{item!r} does not balance: {held} held + {left} left, but {units} in stock"
            )


@fx.tool
async def run_service(items: list[str]) -> list[Quote]:
    """Run one session asking for ``items``; answer its quotes, after auditing the stock.

    Raises:
        ValueError: an item is not in `CATALOG`.
        Oversold: the inventory does not balance (it always does for one session).
    """
    quotes = await session(items)
    await audit([quotes])
    return quotes


@fx.tool
async def run_rush(baskets: list[list[str]], *, racy: bool = False) -> list[list[Quote]]:
    """Run one session per basket, all at once against the one inventory; audit the stock.

    Args:
        baskets: the items each client asks for.
        racy: hold units with a read and a separate write (the bug `fx.explore` finds).

    Raises:
        ValueError: an item is not in `CATALOG`.
        Oversold: two sessions held the same unit (only with ``racy=True``).
    """
    tasks = [
        await fx.Spawn(session(basket, racy=racy), name=f"session{i}")
        for i, basket in enumerate(baskets)
    ]
    results = [await fx.Join(t) for t in tasks]
    await audit(results)
    return results
