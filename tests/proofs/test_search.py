"""The placement search: exact move costs, feasible plans only, ``near`` groups placed together,
budgets kept, and infeasibility that counting proves explained at once."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from benchmarks.placement import greedy, instance
from effectus.proofs import Request, Unplaceable, explain, place, placement_instance, replan
from effectus.proofs._search import Search
from effectus.types import Cluster, Node

GB = 1024**3


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(0, 2**32 - 1))
def test_move_deltas_equal_the_change_in_objective(seed: int, pick: int) -> None:
    """For random relocations and swaps of a feasible plan, ``delta`` is exactly the difference
    of ``inst.objective`` before and after (the search's running cost never drifts)."""
    cluster, requests = instance(12, 6, seed)
    inst = placement_instance(requests, cluster)
    search = Search(inst)
    where = search.first_fit()
    assert where is not None
    rng = random.Random(pick)
    for _ in range(30):
        s = rng.randrange(len(where))
        m = rng.choice(inst.allowed[s])
        n = where[s]
        moved = list(where)
        moved[s] = m
        assert search.delta(where, s, n, m) == inst.objective(moved) - inst.objective(where)
        t = rng.randrange(len(where))
        k = where[t]
        if k != n and k in inst.allowed[s] and n in inst.allowed[t]:
            swapped = list(where)
            swapped[s], swapped[t] = k, n
            d = search.delta(where, s, n, k, t) + search.delta(where, t, k, n, s)
            assert d == inst.objective(swapped) - inst.objective(where)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.sampled_from([(10, 4), (20, 6), (40, 12)]))
def test_annealing_keeps_plans_feasible_and_never_worse(seed: int, size: tuple[int, int]) -> None:
    """From a feasible start, the annealed plan is feasible and no dearer than the start."""
    cluster, requests = instance(*size, seed)
    inst = placement_instance(requests, cluster)
    search = Search(inst)
    start = search.construct() or search.first_fit()
    assert start is not None
    best = search.anneal(start, deadline=time.perf_counter() + 0.1, seed=seed)
    assert inst.feasible(best)
    assert inst.objective(best) <= inst.objective(start)
    assert search.best_cost == inst.objective(best)  # its running cost, kept by deltas, is exact
    assert search.iterations > 0


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 3), st.lists(st.sampled_from([1, 2, 3]), min_size=3, max_size=8), st.integers(0, 1000))
def test_annealing_a_tight_hub_keeps_capacity(nodes: int, cpus: list[int], seed: int) -> None:
    """A hub talking to every other request on a few tight nodes: moves that gather the hub's
    peers take several demands from one node at once, and must still respect its capacity."""
    cluster = Cluster([Node(f"n{k}", cpu=5 + k, rack=f"r{k}") for k in range(nodes)])
    names = [f"r{i}" for i in range(len(cpus))]
    requests = [Request("hub", "on(cpu>=1)", talks={name: 5.0 for name in names})]
    requests += [Request(name, f"on(cpu>={c})") for name, c in zip(names, cpus)]
    inst = placement_instance(requests, cluster)
    search = Search(inst)
    start = search.construct() or search.first_fit()
    assume(start is not None)  # some draws do not fit at all: nothing to anneal
    assert start is not None
    best = search.anneal(start, deadline=time.perf_counter() + 0.05, seed=seed)
    assert inst.feasible(best) and search.best_cost == inst.objective(best)


def test_a_near_group_is_placed_in_a_rack_that_holds_all_of_it() -> None:
    """The cheap node's rack cannot hold both ``near`` peers; first fit puts the first there and
    is stuck, the construction tries each rack for the pair as a whole."""
    cluster = Cluster([
        Node("cheap", cpu=5, rack="r1", cost=1.0),
        Node("b", cpu=5, rack="r2", cost=3.0),
        Node("c", cpu=5, rack="r2", cost=3.0),
    ])
    requests = [Request("small", "on(cpu>=2)"), Request("big", "on(cpu>=4).near(small)")]
    search = Search(placement_instance(requests, cluster))
    assert search.first_fit() is None
    where = search.construct()
    assert where is not None and sorted(where) == [1, 2]
    plan = place(requests, cluster, timeout=2)
    assert {plan.assignments["small"][0], plan.assignments["big"][0]} == {"b", "c"}


def test_place_finds_a_plan_where_its_old_greedy_start_was_stuck() -> None:
    """The 200 x 32 benchmark instance (whose cost-first greedy start used to fail on ``near``)
    gets a feasible plan better than first fit's, within about its budget."""
    cluster, requests = instance(200, 32)
    inst = placement_instance(requests, cluster)
    first = greedy(inst)
    assert first is not None
    started = time.perf_counter()
    plan = place(requests, cluster, timeout=1.0)
    elapsed = time.perf_counter() - started
    where = [cluster.nodes.index(n) for i, r in enumerate(requests) for n in plan.nodes(r.name)]
    assert inst.feasible(where)
    assert plan.cost == inst.objective(where) < inst.objective(first)
    assert elapsed < 6.0  # the budget is 1 s; before, model building alone overran 10 s budgets


def test_replicas_beyond_the_qualifying_nodes_are_explained_by_counting() -> None:
    """replicas(3) on the 2 nodes its label allows: the replicas clause and the label, and the
    count in words."""
    cluster = Cluster([
        Node("a1", cpu=8, labels={"zone": "a"}), Node("a2", cpu=8, labels={"zone": "a"}),
        Node("b1", cpu=8, labels={"zone": "b"}), Node("b2", cpu=8, labels={"zone": "b"}),
    ])
    with pytest.raises(Unplaceable) as err:
        place([Request("api", "on(cpu>=1).label(zone=a).replicas(3)")], cluster)
    ex = err.value.explanation
    assert sorted(c.text for _, c in ex.conflicts) == ["replicas(3)", "zone=a"]
    assert ex.reasons == ("api: replicas(3) needs 3 distinct nodes; 2 of the 4 qualify",)
    assert "needs 3 distinct nodes" in str(err.value)


def test_a_pigeonhole_of_replicas_is_explained_without_search() -> None:
    """replicas(17) on 16 nodes, each able to host one: the replicas clause alone (this used to
    send z3's core search into a pigeonhole problem it did not finish in minutes)."""
    cluster, requests = instance(50, 16)
    requests[0] = Request(requests[0].name, "on(cpu>=1).replicas(17)")
    with pytest.raises(Unplaceable) as err:
        place(requests, cluster, timeout=5)
    assert [c.text for _, c in err.value.explanation.conflicts] == ["replicas(17)"]
    assert "17 distinct nodes; 16 of the 16 qualify" in str(err.value)


def test_a_resource_short_over_the_cluster_names_the_resource_and_the_asks() -> None:
    """Four 3-cpu requests on three 4-cpu nodes (3.6 usable each): cpu is short in all."""
    cluster = Cluster([Node(f"n{k}", cpu=4) for k in range(3)])
    requests = [Request(f"r{k}", "on(cpu>=3)") for k in range(4)] + [Request("tiny", "on(memory>=1MB)")]
    with pytest.raises(Unplaceable) as err:
        place(requests, cluster)
    ex = err.value.explanation
    assert sorted(name for name, _ in ex.conflicts) == ["r0", "r1", "r2", "r3"]
    assert {c.text for _, c in ex.conflicts} == {"cpu>=3"}
    assert ex.reasons == ("cpu: these requests need 12 in all; the cluster offers 10.8 after the 10% headroom",)


def test_an_explanation_out_of_time_says_so_instead_of_hanging() -> None:
    """With no time for z3's core, the explanation names no clause and says why."""
    cluster = Cluster([Node("x", cpu=4)])  # one node: counting sees room for both, apart does not
    inst = placement_instance([Request("a", "on(cpu>=1)"), Request("b", "on(cpu>=1).apart(a)")], cluster)
    ex = explain(inst, timeout=0.0)
    assert ex.conflicts == ()
    assert "found no smaller set of constraints to blame in time" in str(ex)
    full = explain(inst)
    assert [(name, c.text) for name, c in full.conflicts] == [("b", "apart(a)")]


def test_replan_on_a_large_cluster_moves_only_the_displaced() -> None:
    """200 x 32, the busiest node fails: only requests that had a replica there move, the new
    plan is feasible on the remaining nodes, and every other replica stays where it was."""
    cluster, requests = instance(200, 32)
    plan = place(requests, cluster, timeout=1.0)
    load: dict[str, int] = {}
    for nodes in plan.assignments.values():
        for name in nodes:
            load[name] = load.get(name, 0) + 1
    failed = max(load, key=lambda name: load[name])
    new = replan(plan, [failed], timeout=5.0)
    hit = {name for name, nodes in plan.assignments.items() if failed in nodes}
    inst = placement_instance(requests, cluster.without(failed))
    names = [n.name for n in inst.nodes]
    kept = [names.index(n) if n != failed else -1 for r in requests for n in plan.assignments[r.name]]
    if Search(inst).construct(partial=kept) is not None:  # the displaced fit around the rest
        assert set(new.moved) == hit
    assert hit <= set(new.moved)
    for name, nodes in plan.assignments.items():
        assert failed not in new.assignments[name]
        if name not in new.moved:
            assert new.assignments[name] == nodes
    where = [names.index(n.name) for r in requests for n in new.nodes(r.name)]
    assert inst.feasible(where) and new.cost == inst.objective(where)
