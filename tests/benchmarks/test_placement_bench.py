"""The placement and Ray benchmarks measure what they claim to (correctness only: no timing bar).

The instance generator must make feasible problems of the stated shape; the greedy and CP-SAT
baselines must give feasible answers whose objectives are ``inst.objective`` of their
assignments; effectus must match CP-SAT's proven optimum on a tiny problem and beat first fit
on a small one; the checks must refuse a wrong answer; ``--quick`` must print every table.
The Ray benchmark's code path runs with 3 calls, starting and stopping Ray itself.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `benchmarks` lives at the repository root, next to `effectus`
    sys.path.insert(0, str(ROOT))

from benchmarks import placement as pb  # noqa: E402
from effectus.proofs import Unplaceable, place, placement_instance  # noqa: E402


@pytest.fixture(scope="module")
def small() -> pb.Problem:
    """The 25 x 8 instance of seed 0."""
    cluster, requests = pb.instance(25, 8, 0)
    return pb.Problem(cluster, requests, placement_instance(requests, cluster))


@pytest.fixture(scope="module")
def tiny() -> pb.Problem:
    """An 8 x 4 instance (seed 0)."""
    cluster, requests = pb.instance(8, 4, 0)
    return pb.Problem(cluster, requests, placement_instance(requests, cluster))


@pytest.mark.parametrize(("tasks", "nodes"), [(8, 4), (25, 8), (50, 16)])
def test_instances_are_feasible_and_shaped_as_documented(tasks: int, nodes: int) -> None:
    """First fit places every instance; racks hold 4 nodes, node costs and latencies come from
    the documented sets, some request needs a GPU and a GPU node exists, and the requests use
    60% to 75% of the cluster's cpu (at most 75% of its memory)."""
    cluster, requests = pb.instance(tasks, nodes, 0)
    inst = placement_instance(requests, cluster)
    where = pb.greedy(inst)
    assert where is not None and inst.feasible(where)
    assert len(requests) == tasks and len(cluster) == nodes
    assert all(n.rack == f"r{k // 4}" for k, n in enumerate(cluster.nodes))
    assert {n.cost for n in cluster} <= {1.0, 1.5, 2.0, 3.0}
    assert {n.latency for n in cluster} <= {1.0, 5.0, 50.0, 200.0}
    assert any(n.gpu > 0 for n in cluster)
    assert any("gpu>=1" in str(r.placement) for r in requests)
    cpu, mem = pb.load(cluster, requests)
    assert 0.5 <= cpu <= 0.75 and mem <= 0.75, (cpu, mem)
    assert sum(bool(r.talks) for r in requests) >= tasks // 2  # chains of talks


def test_instances_are_deterministic_and_seeded() -> None:
    """The same seed gives the same problem; another seed another one."""
    a, b, c = pb.instance(25, 8, 0), pb.instance(25, 8, 0), pb.instance(25, 8, 1)
    assert [str(r.placement) for r in a[1]] == [str(r.placement) for r in b[1]]
    assert [n for n in a[0]] == [n for n in b[0]]
    assert [str(r.placement) for r in a[1]] != [str(r.placement) for r in c[1]]


def test_large_instance_has_two_datacenters_and_every_constraint_kind() -> None:
    """At 200 x 32 the problem has both datacenters, replicas, near, apart and interactive QoS."""
    cluster, requests = pb.instance(200, 32, 0)
    inst = placement_instance(requests, cluster)
    assert {n.datacenter for n in cluster} == {"dc0", "dc1"}
    assert len(inst.slots) > len(requests)
    assert inst.near and inst.apart
    assert any(".qos(interactive)" in str(r.placement) for r in requests)
    assert pb.greedy(inst) is not None


def test_greedy_is_first_fit(small: pb.Problem) -> None:
    """Greedy's answer is feasible, and each slot sits on the first node it could have taken
    given the slots before it (slot 0 on its first allowed node)."""
    inst = small.inst
    solved = pb.solve_greedy(inst)
    pb.check(inst, solved, "greedy")
    assert solved.where is not None and solved.objective == inst.objective(solved.where)
    assert solved.where[0] == inst.allowed[0][0]


def test_cpsat_answer_is_feasible_and_its_objective_is_the_instances(tiny: pb.Problem) -> None:
    """CP-SAT proves an optimum on the tiny problem; its own objective equals ``inst.objective``
    of its assignment, which is feasible and no dearer than first fit's."""
    inst = tiny.inst
    solved = pb.cpsat(inst, 10.0)
    assert solved.optimal and solved.where is not None
    assert inst.feasible(solved.where)
    assert solved.reported == solved.objective == inst.objective(solved.where)
    assert solved.bound == pytest.approx(solved.objective)
    greedy = pb.solve_greedy(inst)
    assert greedy.objective is not None and solved.objective is not None
    assert solved.objective <= greedy.objective


def test_cpsat_hint_and_short_budget_stay_feasible(small: pb.Problem) -> None:
    """With a hint and a short budget CP-SAT still answers feasibly, and its own objective is
    never below the cost of its assignment (it may be above while not optimal)."""
    inst = small.inst
    solved = pb.cpsat(inst, 0.5, hint=pb.greedy(inst))
    pb.check(inst, solved, "cpsat_hint")
    assert solved.reported is not None and solved.objective is not None
    assert solved.reported >= solved.objective
    assert solved.bound is not None and solved.bound <= solved.objective


def test_effectus_matches_the_proven_optimum_on_a_tiny_problem(tiny: pb.Problem) -> None:
    """``place`` on 8 tasks x 4 nodes returns CP-SAT's proven optimum, proves it, and its
    ``Plan.cost`` is ``inst.objective`` of its assignment."""
    cluster, requests, inst = tiny
    optimum = pb.cpsat(inst, 10.0)
    assert optimum.optimal
    solved = pb.effectus(inst, cluster, requests, 5.0)
    pb.check(inst, solved, "effectus")
    assert solved.objective == solved.reported == optimum.objective
    assert solved.optimal


def test_effectus_is_no_dearer_than_first_fit(small: pb.Problem) -> None:
    """On 25 x 8 with 1 s, effectus's plan is feasible and costs at most first fit's."""
    cluster, requests, inst = small
    solved = pb.effectus(inst, cluster, requests, 1.0)
    pb.check(inst, solved, "effectus")
    greedy = pb.solve_greedy(inst)
    assert solved.objective is not None and greedy.objective is not None
    assert solved.objective <= greedy.objective


def test_check_refuses_a_wrong_answer(small: pb.Problem) -> None:
    """An assignment that breaks a constraint, or a misstated objective, stops the run."""
    inst = small.inst
    good = pb.solve_greedy(inst)
    assert good.where is not None and good.objective is not None
    crowded = [inst.allowed[0][0]] * len(inst.slots)  # every slot on one node: over capacity
    with pytest.raises(AssertionError, match=r"breaks a constraint"):
        pb.check(inst, pb.Solved(crowded, None, False, 0.0), "crowded")
    with pytest.raises(AssertionError, match=r"reports objective"):
        pb.check(inst, good._replace(reported=good.objective - 1), "misreported")
    with pytest.raises(AssertionError, match=r"reports objective"):  # an upper bound may not be below
        pb.check(inst, good._replace(reported=good.objective - 1, upper=True), "below")
    pb.check(inst, good._replace(reported=good.objective + 5, upper=True), "upper")
    pb.check(inst, pb.Solved(None, None, False, 1.0, error="no plan in time"), "failed")  # reported, not raised


def test_consistent_refuses_a_beaten_proof() -> None:
    """A solver that "proves" an optimum another solver beats is a bug the run stops on."""
    proved = pb.Solved([0], 100, True, 0.1)
    with pytest.raises(AssertionError, match=r"cpsat proved 100 optimal, effectus found 90"):
        pb.consistent("x", {"cpsat": [proved], "effectus": [pb.Solved([1], 90, False, 0.1)]})
    pb.consistent("x", {"cpsat": [proved], "effectus": [pb.Solved([1], 100, True, 0.1)]})


def test_infeasible_instances_raise_unplaceable_naming_a_cause() -> None:
    """Both infeasible variants raise `Unplaceable`; the filters one names gpu>=8 or memory>=4TB."""
    cluster, requests = pb.infeasible(10, 4, 0, kind="filters")
    with pytest.raises(Unplaceable) as info:
        place(requests, cluster, timeout=5.0)
    named = {c.text for _, c in info.value.explanation.conflicts}
    assert named and named <= {"gpu>=8", "memory>=4TB"}
    cluster, requests = pb.infeasible(10, 4, 0, kind="replicas")
    with pytest.raises(Unplaceable):
        place(requests, cluster, timeout=5.0)
    with pytest.raises(ValueError, match=r"kind='other'"):
        pb.infeasible(10, 4, 0, kind="other")


def test_quick_report_has_every_table_and_target() -> None:
    """``--quick``: a row per case and solver with a figure or a stated failure, a ratio row per
    case, both explanation rows with their explanations, and the five target rows."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert pb.main(["--quick"]) == 0
    out = buffer.getvalue()
    assert out.startswith("## Placement\n")
    assert re.search(r"effectus \d.*, z3 \d.*, OR-tools 9\.", out)
    cases = list(dict.fromkeys((pb.QUICK.optimum, *pb.QUICK.scaling, pb.QUICK.large)))
    by_case = [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines()
               if re.match(r"\| \d+ x \d+ \|", line)]
    rows = [cells for cells in by_case if len(cells) == 11]
    assert [(r[0], r[5]) for r in rows] == [(c.title, pb._LABELS[s]) for c in cases for s in pb.SOLVERS]
    for row in rows:
        assert re.fullmatch(r"[0-9,]+( \(\d+/\d+ runs\))?|no answer in \d+/\d+ runs: .+", row[7]), row
        assert float(row[9]) >= 0, row
    ratios = [cells for cells in by_case if len(cells) == 9]
    assert [r[0] for r in ratios] == [c.title for c in cases]
    assert all(re.fullmatch(r"[0-9.]+|-", r[2]) for r in ratios), ratios
    assert re.search(r"\| filters \| 1 \| [0-9.]+ s \|", out) and re.search(r"\| replicas \| 1 \| [0-9.]+ s \|", out)
    assert out.count("no placement satisfies these constraints together:") == 2
    targets = [line for line in out.splitlines() if line.startswith(("| 10 x 4: ", "| 25 x 8: ", "| explanation ("))]
    assert len(targets) == 5 and all(t.endswith(("| yes |", "| **no** |")) for t in targets), targets


def test_ray_overhead_code_path() -> None:
    """With ray installed: 3 calls, 1 round; Ray is started and shut down by the benchmark, every
    variant gets a positive figure and the four ratios are printed.  Without ray: it says so."""
    buffer = io.StringIO()
    if importlib.util.find_spec("ray") is None:
        from benchmarks import ray_overhead

        with contextlib.redirect_stdout(buffer):
            assert ray_overhead.main(["--quick"]) == 0
        assert "ray is not installed" in buffer.getvalue()
        return
    import ray

    from benchmarks import ray_overhead

    if ray.is_initialized():  # another test module's cluster: the benchmark must start its own
        ray.shutdown()
    with contextlib.redirect_stdout(buffer):
        assert ray_overhead.main(["--quick"]) == 0
    assert not ray.is_initialized()
    out = buffer.getvalue()
    assert out.startswith("## Ray\n") and re.search(r"ray 2\.", out)
    figures = [line for line in out.splitlines() if line.startswith(("| local", "| Ray", "| bare Ray"))]
    assert len(figures) == 6
    for row in figures:
        assert float(row.split("|")[2].replace(",", "")) > 0, row
    ratios = re.findall(r"\| (?:per call|concurrent sleeps): .* \| ([0-9,.]+)x \|", out)
    assert len(ratios) == 4 and all(float(r.replace(",", "")) > 0 for r in ratios)
