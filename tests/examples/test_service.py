"""The quote service keeps its three roles in step under every scheduler, and its race is found."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import effectus as fx
from effectus.effects import MemoryFiles, MemoryLog
from effectus.examples.service import (
    CATALOG,
    SERVICE,
    Oversold,
    Quote,
    db,
    run_rush,
    run_service,
    server,
    session,
)
from effectus.types import Endpoint, Session, dual, project, project_all

# Prices with 20% VAT, worked out by hand from the catalog: 4000, 25000 and 7500 cents.
LAMP, DESK, CHAIR = 4_800, 30_000, 9_000
PRICES = {"lamp": LAMP, "desk": DESK, "chair": CHAIR}

BASKET = ["lamp", "desk", "lamp", "chair"]
BASKET_QUOTES = [
    Quote("lamp", LAMP, True),
    Quote("desk", DESK, True),
    Quote("lamp", LAMP, False),  # one lamp in stock, held by the first quote
    Quote("chair", CHAIR, True),
]


def expected_quotes(items: list[str]) -> list[Quote]:
    """The quotes a single session must give: in order, each holding a unit while any is left."""
    left = {item: units for item, (_, units) in CATALOG.items()}
    quotes = []
    for item in items:
        held = left[item] > 0
        left[item] -= held
        quotes.append(Quote(item, PRICES[item], held))
    return quotes


def test_the_reference_model_agrees_with_the_hand_worked_basket() -> None:
    """The model the property tests compare against gives the quotes worked out by hand."""
    assert expected_quotes(BASKET) == BASKET_QUOTES


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    items=st.lists(st.sampled_from(sorted(CATALOG)), max_size=7),
)
def test_quotes_are_the_same_under_every_seeded_interleaving(seed: int, items: list[str]) -> None:
    """Under fx.testing(seed) the tasks interleave by the seed, and the quotes never change."""
    test = fx.testing(seed=seed)
    assert test.run(run_service(items)) == expected_quotes(items)
    stopped = [r for r in test.handler(MemoryLog).records if r.message == "server stopped"]
    assert [r.fields for r in stopped] == [{"served": len(items)}]


def test_the_db_writes_the_stock_it_has_left() -> None:
    """On stopping, the db writes the stock left of each item it was asked about."""
    test = fx.testing(seed=2)
    test.run(run_service(BASKET))
    written = test.handler(MemoryFiles).snapshot()["inventory.json"]
    assert json.loads(written) == {"chair": 3, "desk": 2, "lamp": 0}


def test_quotes_under_production_with_real_threads(tmp_path: Path) -> None:
    """Under fx.production the same program runs cooperatively, its file write on a thread."""
    assert fx.production(root=tmp_path).run(run_service(BASKET)) == BASKET_QUOTES
    written = json.loads((tmp_path / "inventory.json").read_text(encoding="utf-8"))
    assert written == {"chair": 3, "desk": 2, "lamp": 0}


def test_a_rush_under_production_holds_each_unit_once(tmp_path: Path) -> None:
    """Three sessions at once under production share one stock: the one lamp is held once."""
    baskets = [["lamp", "chair"], ["lamp"], ["chair", "lamp"]]
    results = fx.production(root=tmp_path).run(run_rush(baskets))
    assert [[q.item for q in quotes] for quotes in results] == baskets
    assert sum(q.held for quotes in results for q in quotes if q.item == "lamp") == 1
    assert all(q.held for quotes in results for q in quotes if q.item == "chair")


def test_record_then_replay_gives_the_same_quotes(tmp_path: Path) -> None:
    """A recorded run replays with no handlers to the same quotes, tasks and channels included."""
    path = tmp_path / "service.jsonl"
    recorded = fx.record(fx.testing(seed=5), path).run(run_service(BASKET))
    assert recorded == BASKET_QUOTES
    assert fx.replay(run_service(BASKET), path) == recorded
    tasks = {r.task for r in fx.read_trace(path).records}
    assert tasks == {0, 1, 2}  # the client (main), the server and the db


def test_projections_are_pairwise_duals() -> None:
    """Each pair of roles that talk gets dual protocols; the client and the db never talk."""
    local = project_all(SERVICE)
    assert {role: sorted(peers) for role, peers in local.items()} == {
        "client": ["server"],
        "server": ["client", "db"],
        "db": ["server"],
    }
    for role, peers in local.items():
        for peer, protocol in peers.items():
            assert protocol == dual(local[peer][role])
            assert project(SERVICE, role)[peer] == protocol
    client_side, db_side = str(local["client"]["server"]), str(local["db"]["server"])
    assert client_side == "rec serve . +{quote: !str . ?Quote . serve, done: end}"
    assert db_side == "rec serve . &{lookup: ?str . !Stock . serve, stop: end}"


async def impatient_client(to_server: Endpoint[Session]) -> None:
    asking = await to_server.select("quote")
    await asking.recv()  # waits for a quote before naming the item


async def session_with_impatient_client() -> None:
    local = project_all(SERVICE)
    client_end, server_client = await fx.Open(local["client"]["server"], local["server"]["client"])
    server_db, db_end = await fx.Open(local["server"]["db"], local["db"]["server"])
    await fx.Spawn(server(server_client, server_db))
    await fx.Spawn(db(db_end))
    await impatient_client(client_end)


def test_a_role_that_leaves_its_projection_fails_on_its_own_line() -> None:
    """A client that receives where its projection says send gets a ProtocolError at that line."""
    expected = r"tried to receive, but the protocol expects to send str"
    with pytest.raises(fx.ProtocolError, match=expected) as err:
        fx.run(session_with_impatient_client(), fx.testing(seed=0))
    assert any(frame.name == "impatient_client" for frame in err.traceback)


def test_an_item_not_in_the_catalog_is_refused_up_front() -> None:
    """Asking for an unknown item raises ValueError naming it and the items on sale."""
    with pytest.raises(ValueError, match=r"'sofa' not in the catalog.\nFix: ask for items among"):
        fx.run(session(["lamp", "sofa"]), fx.testing())


RUSH = [["lamp"], ["lamp"]]  # two clients, and one lamp in stock


def test_explore_finds_the_racy_hold_and_its_trace_replays_to_it(tmp_path: Path) -> None:
    """Holding with a read then a write oversells; the explorer finds it and its trace replays."""
    path = tmp_path / "rush.jsonl"
    report = fx.explore(lambda: run_rush(RUSH, racy=True), mode="random", budget=300, trace=path)
    assert isinstance(report.failure, Oversold)
    message = "'lamp' does not balance: 2 held + 0 left, but 1 in stock"
    assert str(report.failure) == message
    assert report.trace == path
    assert f"fails with Oversold: {message}" in str(report)
    with pytest.raises(Oversold, match=re.escape(message)):
        fx.replay(run_rush(RUSH, racy=True), path)


@pytest.mark.parametrize("mode", ["exhaustive", "random"])
def test_the_atomic_hold_passes_exploration(mode: Literal["exhaustive", "random"]) -> None:
    """With one fx.Modify per hold, no interleaving within the budget oversells."""
    report = fx.explore(lambda: run_rush(RUSH), mode=mode, budget=300)
    assert report.ok, str(report)
    assert report.exhausted or report.schedules + report.pruned == 300
