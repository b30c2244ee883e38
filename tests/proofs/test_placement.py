"""The placement solver: plans meet every constraint, are optimal where claimed, infeasible
problems are explained in the user's own clauses, and re-planning moves only what must move."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from effectus import PlacementError
from effectus.proofs import Request, Unplaceable, contradictions, place, placement_instance, replan
from effectus.types import Cluster, Node

GB = 1024**3


def _cluster() -> Cluster:
    return Cluster([
        Node("a", cpu=16, memory=64 * GB, rack="r1", datacenter="eu"),
        Node("b", cpu=16, gpu=2, memory=64 * GB, rack="r1", datacenter="eu", cost=2.0),
        Node("c", cpu=8, gpu=1, memory=32 * GB, rack="r2", datacenter="eu", labels={"zone": "z2"}),
        Node("d", cpu=32, memory=128 * GB, rack="r9", datacenter="us", latency=150.0),
    ])


def _brute_force(requests: list[Request], cluster: Cluster) -> int | None:
    """The optimum by enumerating every assignment (an oracle independent of z3)."""
    inst = placement_instance(requests, cluster)
    best = None
    for where in itertools.product(range(len(cluster)), repeat=len(inst.slots)):
        if inst.feasible(where):
            cost = inst.objective(where)
            best = cost if best is None else min(best, cost)
    return best


def test_a_plan_meets_each_request_s_constraints() -> None:
    """Replicas land on distinct nodes that pass every filter: gpu, labels, QoS latency."""
    plan = place([
        Request("api", "on(cpu>=2).qos(interactive).replicas(3)"),
        Request("model", "on(gpu>=1, memory>=8GB)"),
        Request("edge", "label(zone=z2)"),
    ], _cluster())
    api = plan.assignments["api"]
    assert len(set(api)) == 3 and "d" not in api  # d's 150 ms latency fails interactive (100 ms)
    assert plan.assignments["model"][0] in ("b", "c")
    assert plan.assignments["edge"] == ("c",)
    assert plan.optimal


def test_headroom_keeps_ten_percent_of_each_node_free() -> None:
    """Two 8-CPU replicas cannot share a 16-CPU node (90% usable: 14.4 CPUs)."""
    cluster = Cluster([Node("x", cpu=16), Node("y", cpu=16, cost=5.0)])
    plan = place([Request("one", "on(cpu>=8)"), Request("two", "on(cpu>=8)")], cluster)
    assert sorted(plan.assignments["one"] + plan.assignments["two"]) == ["x", "y"]
    with pytest.raises(Unplaceable):
        place([Request("big", "on(cpu>=15)")], cluster)


def test_communication_pulls_talking_requests_together() -> None:
    """Requests that talk share a node when capacity allows, though another is as cheap."""
    cluster = Cluster([Node("a", cpu=8, rack="r1"), Node("b", cpu=8, rack="r2")])
    plan = place([Request("left", "on(cpu>=1)", talks={"right": 5.0}), Request("right", "on(cpu>=1)")], cluster)
    assert plan.assignments["left"] == plan.assignments["right"]
    assert plan.breakdown["communication"] == 0


def test_near_and_apart_are_kept() -> None:
    """near(x): within one rack of x; apart(x): never on x's node."""
    plan = place([
        Request("db", "on(cpu>=1).label(zone=z2)"),
        Request("cache", "on(cpu>=1).near(db)"),
        Request("backup", "on(cpu>=1).apart(db)"),
    ], _cluster())
    assert plan.assignments["db"] == ("c",)
    assert plan.assignments["cache"][0] == "c"  # c is alone in rack r2: near means c itself
    assert plan.assignments["backup"][0] != "c"


def test_the_cost_breakdown_adds_up_to_the_objective() -> None:
    """The four weighted terms sum to the plan's cost."""
    plan = place([Request("a", "on(cpu>=2, memory>=4GB)", talks={"b": 2.0}), Request("b", "on(gpu>=1)")], _cluster())
    assert sum(plan.breakdown.values()) == plan.cost
    assert set(plan.breakdown) == {"computation", "communication", "memory", "network"}


_NODES = st.lists(
    st.builds(
        dict,
        cpu=st.sampled_from([2, 4, 8]),
        gpu=st.sampled_from([0, 0, 1]),
        memory=st.sampled_from([4, 8, 16]),
        rack=st.sampled_from(["r1", "r2", ""]),
        datacenter=st.sampled_from(["eu", "us"]),
        cost=st.sampled_from([1.0, 2.0, 3.0]),
    ),
    min_size=2, max_size=4,
)
_REQUESTS = st.lists(
    st.tuples(st.sampled_from([1, 2, 4]), st.sampled_from([0, 1, 2, 4]), st.booleans(), st.sampled_from([1, 1, 2]), st.sampled_from([0.0, 1.0, 3.0])),
    min_size=1, max_size=3,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_NODES, _REQUESTS)
def test_plans_are_feasible_and_as_cheap_as_brute_force(nodes: list[dict[str, object]], specs: list[tuple[int, int, bool, int, float]]) -> None:
    """On small problems z3's plan is feasible and costs exactly the enumerated optimum; a
    problem with no plan raises Unplaceable exactly when enumeration finds none."""
    cluster = Cluster([Node(f"n{i}", cpu=float(n["cpu"]), gpu=float(n["gpu"]), memory=float(n["memory"]) * GB,  # type: ignore[arg-type]
                            rack=str(n["rack"]), datacenter=str(n["datacenter"]), cost=float(n["cost"])) for i, n in enumerate(nodes)])  # type: ignore[arg-type]
    requests = []
    for i, (cpu, mem, gpu, replicas, talk) in enumerate(specs):
        text = f"on(cpu>={cpu}{f', memory>={mem}GB' if mem else ''}{', gpu>=1' if gpu else ''}).replicas({replicas})"
        requests.append(Request(f"r{i}", text, talks={f"r{i - 1}": talk} if i and talk else {}))
    best = _brute_force(requests, cluster)
    if best is None:
        with pytest.raises(Unplaceable):
            place(requests, cluster, timeout=20)
        return
    plan = place(requests, cluster, timeout=20)
    inst = placement_instance(requests, cluster)
    index = {n.name: i for i, n in enumerate(cluster)}
    where = [index[plan.assignments[r.name][k]] for i, r in enumerate(requests) for k in range(r.placement.replicas)]
    assert inst.feasible(where)
    assert plan.cost == inst.objective(where) == best
    assert plan.optimal


def test_an_infeasible_request_is_explained_in_its_own_clauses() -> None:
    """The explanation names the clause that cannot be met, with its column, and the nodes that
    came closest with what each lacks."""
    with pytest.raises(Unplaceable) as caught:
        place([Request("trainer", "on(cpu>=2, gpu>=4).replicas(2)"), Request("api", "on(cpu>=1)")], _cluster())
    explanation = caught.value.explanation
    assert [(name, c.text) for name, c in explanation.conflicts] == [("trainer", "gpu>=4")]
    closest = dict(explanation.closest["trainer"])
    assert closest["b"] == "gpu>=4: has gpu 2, needs 4"
    message = str(caught.value)
    assert "trainer: gpu>=4  (column 12 of 'on(cpu>=2, gpu>=4).replicas(2)')" in message


def test_a_conflict_between_requests_names_a_minimal_set() -> None:
    """Three one-GPU requests and replicas compete for three GPUs: the core names the clauses
    that together cannot hold, and dropping any one of them makes the problem feasible."""
    requests = [
        Request("a", "on(gpu>=2)"),
        Request("b", "on(gpu>=1).replicas(2)"),
        Request("c", "on(cpu>=1)"),
    ]
    with pytest.raises(Unplaceable) as caught:
        place(requests, _cluster())
    conflicts = {(name, c.text) for name, c in caught.value.explanation.conflicts}
    assert conflicts == {("a", "gpu>=2"), ("b", "gpu>=1"), ("b", "replicas(2)")}
    for drop in [Request("a", "on(cpu>=1)"), Request("b", "on(gpu>=1)"), Request("b", "on(cpu>=1).replicas(2)")]:
        relaxed = [drop if r.name == drop.name else r for r in requests]
        assert place(relaxed, _cluster()).assignments  # feasible once one clause goes


def test_replan_moves_only_what_was_on_the_failed_node() -> None:
    """When a node fails, replicas elsewhere stay put; only the displaced move."""
    cluster = Cluster([Node(f"n{i}", cpu=8, memory=32 * GB, rack=f"r{i % 2}") for i in range(4)])
    requests = [Request(f"t{i}", "on(cpu>=3, memory>=4GB)") for i in range(6)]
    plan = place(requests, cluster)
    victim = plan.assignments["t0"][0]
    after = replan(plan, [victim])
    for name, nodes in plan.assignments.items():
        if victim not in nodes:
            assert after.assignments[name] == nodes
        else:
            assert victim not in after.assignments[name]
    assert set(after.moved) == {n for n, nodes in plan.assignments.items() if victim in nodes}


def test_replan_moves_others_only_when_it_must() -> None:
    """A displaced request that fits nowhere free makes z3 move the fewest others to make room."""
    cluster = Cluster([Node("big", cpu=16), Node("small", cpu=4, cost=3.0), Node("spare", cpu=16, cost=5.0)])
    plan = place([Request("large", "on(cpu>=12)"), Request("tiny", "on(cpu>=2)")], cluster)
    assert plan.assignments == {"large": ("big",), "tiny": ("big",)} or plan.assignments["large"] == ("big",)
    after = replan(plan, ["big"])
    assert after.assignments["large"] == ("spare",)
    with pytest.raises(Unplaceable):
        replan(after, ["spare"])


def test_contradictions_are_found_statically() -> None:
    """Clauses no node could meet together are reported, minimal and in source order."""
    assert [c.text for c in contradictions("on(gpu>=2, memory>=1GB, gpu<2)")] == ["gpu>=2", "gpu<2"]
    assert [c.text for c in contradictions("on(cpu>=95%)")] == ["cpu>=95%"]  # past the headroom
    assert [c.text for c in contradictions("near(db).apart(db)")] == ["near(db)", "apart(db)"]
    assert [c.text for c in contradictions("label(zone=a).label(zone=b)")] == ["zone=a", "zone=b"]
    assert [c.text for c in contradictions("qos(interactive, latency>200ms)")] == ["qos(interactive, latency>200ms)", "latency>200ms"]
    assert contradictions("on(gpu>=1, memory>=8GB).qos(interactive, latency<10ms).replicas(3)") == ()


def test_malformed_problems_name_what_is_wrong() -> None:
    """Unknown peers, repeated names and bad figures are PlacementErrors that say which."""
    with pytest.raises(PlacementError, match="talks names 'ghost'"):
        place([Request("a", "on(cpu>=1)", talks={"ghost": 1.0})], _cluster())
    with pytest.raises(PlacementError, match="two requests are named 'a'"):
        place([Request("a"), Request("a")], _cluster())
    with pytest.raises(PlacementError, match="work=-1"):
        Request("a", work=-1)
    with pytest.raises(PlacementError, match="column 4"):
        Request("a", "on(gpx>=1)")


def test_effectus_check_refutes_a_contradictory_tool_placement() -> None:
    """fx.check adds a 'placement satisfiable' row: refuted with the clauses that clash."""
    import effectus as fx

    @fx.tool(placement="on(gpu>=2, memory>=8GB, gpu<2)")
    async def greedy(x: int) -> int:
        return x

    @fx.tool(placement="on(gpu>=1).qos(interactive).replicas(2)")
    async def fine(x: int) -> int:
        return x

    rows = {(r.tool, r.check): r for r in fx.check([greedy, fine], cache=False).rows}
    bad = rows[("test_effectus_check_refutes_a_contradictory_tool_placement.<locals>.greedy", "placement satisfiable")]
    assert bad.verdict == "refuted" and "gpu>=2 and gpu<2" in bad.detail
    assert rows[("test_effectus_check_refutes_a_contradictory_tool_placement.<locals>.fine", "placement satisfiable")].verdict == "proved"


def test_a_malformed_tool_placement_fails_where_the_tool_is_defined() -> None:
    """@fx.tool(placement=...) parses the string at once: the error names this file and line."""
    import effectus as fx

    with pytest.raises(PlacementError) as caught:
        @fx.tool(placement="on(gpu>=1).qos(fast)")
        async def tool_with_typo(x: int) -> int:
            return x

    message = str(caught.value)
    assert "test_placement.py:" in message and "(placement of " in message
    assert "column 16: unknown QoS level 'fast'" in message
