"""Placement: effectus's solver (`place`) against a greedy first-fit and OR-tools CP-SAT, on the same instances.

**Instances.**  ``instance(tasks, nodes, seed)`` draws a cluster and its requests from
``random.Random`` seeded by a string (the same on every machine and Python):

- *nodes* in racks of 4 (``r0``, ``r1``...), the first half of the racks in datacenter ``dc0``,
  the rest in ``dc1``; each node's ``cost`` is one of 1, 1.5, 2, 3 and its ``latency`` one of 1,
  5, 50, 200 ms; its size is small, medium or large (weights 1, 2, 4), and the cluster's cpu
  and memory are set so that the requests' total demand is a drawn share (65% to 75%) of them
  (nodes hold at least 6 cpus and 10 GB, so the largest request fits; on small clusters the
  share comes out lower).  One node in 8 (at least one) has 2 or 4 GPUs.
- *requests* ``t000``, ``t001``... each ``on(cpu>=c, memory>=mGB)``, ``c`` in 1, 2, 4 and ``m``
  in 1, 2, 4, 8; about 3% (at least one, at most 60% of the GPUs) also ``gpu>=1``; a quarter
  ``qos(interactive)`` (latency at most 100 ms: not the 200 ms nodes); 15% ``replicas(2)``;
  ``work`` 0.5 to 2.  Requests form chains: each talks to the one before it (volume 1 to 5)
  unless it starts a new chain (one in four does).  About 4% of the requests are also
  ``near`` the one before them in their chain, and 4% ``apart`` from an earlier one.

An instance must be feasible: the greedy below must place it.  If it cannot, the instance is
drawn again (another sub-seed, a little more slack), up to 20 times.

**Solvers**, all on the same `Instance` (``placement_instance(requests, cluster)``: the dense
problem effectus solves), so objectives are comparable:

- *greedy*: first fit: slots in order, each on the first allowed node that has room and keeps
  the replicas-on-distinct-nodes, ``apart`` and ``near`` constraints with the slots already
  placed.  It ignores cost: it is the floor every solver must beat.
- *CP-SAT* (OR-tools): a Boolean ``x[s, n]`` per allowed slot-node pair, exactly one per slot;
  per node and resource (unbounded ones skipped) the demands at most the capacity; at most one
  replica of a request per node; ``apart``: at most one of ``x[a, n]``, ``x[b, n]``; ``near``:
  ``x[a, n]`` implies some ``x[b, m]`` with ``m`` within distance 1.  The communication terms
  are linearised exactly: per edge and level (node, rack, datacenter) a Boolean ``same``
  that may be true only when both ends sit in the same node / rack / datacenter (for each
  group ``G`` of that level, ``same`` implies ``sum x[a, G] <= sum x[b, G]``: as each slot has
  exactly one node, ``a`` in ``G`` forces ``b`` into ``G``).  The objective is
  ``sum cost * x + edge_base - sum gain * same``; ``max_time_in_seconds`` is the budget,
  ``num_workers=2``, ``random_seed=0``.  Its time includes building the model.
- *CP-SAT, hinted*: the same, with greedy's plan given as a solution hint (``AddHint``; its
  time includes the greedy's).  Plain CP-SAT at a short budget can end above first fit.
- *effectus*: ``place(requests, cluster, timeout=T)``; its time includes building the instance.
  An effectus error (``PlacementError``: no plan found in time) is reported as a run without
  an answer, with its message; it does not stop the benchmark.

Every answer is checked with ``inst.feasible`` and costed with ``inst.objective``; the run stops
if one breaks a constraint, if a solver's own figure differs from ``inst.objective`` of its
assignment (``Plan.cost`` must equal it; CP-SAT's objective value may exceed it when CP-SAT
stops short of optimal, since a ``same`` may be left false, never fall below it), or if an
answer is cheaper than one a solver proved optimal.

**Cases.**  *optimum*: 50 tasks x 16 nodes, effectus with 1 s, CP-SAT with 10 s (it proves the
optimum: the reference).  *large*: 500 x 64, both with 10 s.  *scaling*: 10x4, 25x8, 50x16,
100x16, 200x32 with 2 s for both, and the large case.  *explanation*: the 50 x 16 instance
with one request turned into ``on(gpu>=8)`` (no node has 8 GPUs) and another into
``on(memory>=4TB)`` (none has 4 TB): the time for ``place`` to raise `Unplaceable`, and its
explanation; likewise with one request made ``replicas(17)`` on the 16 nodes (no single
node rules it out: the whole problem must be proved infeasible).  Each explanation run is a
fresh interpreter killed after 60 s (``place`` may not return); once one is killed, the
kind's remaining runs are skipped.

**Method.**  Each instance is built once.  Each case runs ``--reps`` times (the four solvers
in a rotating order); figures are medians over the repetitions (objectives too: the solvers'
answers depend on timing).  The gap is ``(effectus - CP-SAT) / CP-SAT`` of the medians, the
ratios are of the medians.

    python -m benchmarks.placement             # 3 repetitions (about 6 min)
    python -m benchmarks.placement --quick     # small instances, short budgets, 1 repetition
    python -m benchmarks.placement --reps 5
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

if __package__ in (None, ""):  # `python benchmarks/placement.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import effectus as fx  # noqa: E402
from effectus.proofs import Instance, Request, Unplaceable, place, placement_instance  # noqa: E402
from effectus.types import Cluster, Node  # noqa: E402
from benchmarks._machine import machine, progress  # noqa: E402

__all__ = [
    "FULL", "QUICK", "SOLVERS", "Case", "Config", "Explained", "Problem", "Solved", "check", "consistent", "cpsat",
    "effectus", "explain_once", "explained", "greedy", "infeasible", "instance", "load", "main", "measure", "report",
    "solve_greedy", "targets",
]

ROOT = Path(__file__).resolve().parent.parent
GB = 1024**3
#: the solvers, in the order of the tables
SOLVERS = ("greedy", "cpsat", "cpsat_hint", "effectus")
_LABELS = {"greedy": "greedy first fit", "cpsat": "CP-SAT (OR-tools)", "cpsat_hint": "CP-SAT, greedy's plan as hint",
           "effectus": "effectus `place`"}
_NODE_COSTS = (1.0, 1.5, 2.0, 3.0)
_LATENCIES = (1.0, 5.0, 50.0, 200.0)
_UNBOUNDED = 2**62  # what `Instance.capacity` holds for a resource a node does not limit


class Case(NamedTuple):
    tasks: int
    nodes: int
    #: time budgets in seconds: effectus's `place(timeout=...)`, CP-SAT's max_time_in_seconds
    effectus_s: float
    cpsat_s: float

    @property
    def title(self) -> str:
        return f"{self.tasks} x {self.nodes}"


class Config(NamedTuple):
    optimum: Case  # effectus should find (and prove) CP-SAT's optimum
    large: Case  # effectus should come within 2% of CP-SAT
    scaling: tuple[Case, ...]
    explain: tuple[int, int]  # tasks x nodes of the infeasible instances
    explain_limit_s: float  # a `place` still running after this long is killed
    reps: int


FULL = Config(
    optimum=Case(50, 16, 1.0, 10.0),
    large=Case(500, 64, 10.0, 10.0),
    scaling=(Case(10, 4, 2.0, 2.0), Case(25, 8, 2.0, 2.0), Case(50, 16, 2.0, 2.0), Case(100, 16, 2.0, 2.0),
             Case(200, 32, 2.0, 2.0), Case(500, 64, 10.0, 10.0)),
    explain=(50, 16),
    explain_limit_s=60.0,
    reps=3,
)
QUICK = Config(
    optimum=Case(10, 4, 1.0, 2.0),
    large=Case(25, 8, 0.5, 0.5),
    scaling=(Case(10, 4, 0.5, 0.5), Case(25, 8, 0.5, 0.5)),
    explain=(10, 4),
    explain_limit_s=30.0,
    reps=1,
)

#: what the issue asks
TARGET_OPTIMUM_S = 1.0
TARGET_GAP_PCT = 2.0
TARGET_LARGE_S = 10.0
TARGET_EXPLAIN_S = 1.0


# --- instances ----------------------------------------------------------------------------


def _draw(tasks: int, nodes: int, rng: random.Random, share: float) -> tuple[Cluster, list[Request]]:
    """One draw of a cluster and its requests (see the module docstring)."""
    racks = math.ceil(nodes / 4)
    gpu_nodes = set(rng.sample(range(nodes), max(1, nodes // 8)))
    gpus = {k: rng.choice((2, 4)) for k in gpu_nodes}
    n_gpu_tasks = max(1, min(round(tasks * 0.03), int(0.6 * sum(gpus.values()))))
    gpu_tasks = set(rng.sample(range(tasks), n_gpu_tasks))
    specs: list[tuple[int, int, int]] = []  # (cpu, memory GB, replicas)
    clauses: list[str] = []
    talks: list[dict[str, float]] = []
    chain_start = 0
    for i in range(tasks):
        cpu, mem = rng.choice((1, 1, 2, 2, 2, 4)), rng.choice((1, 2, 2, 4, 4, 8))
        gpu = i in gpu_tasks
        replicas = 2 if not gpu and rng.random() < 0.15 else 1
        text = f"on(cpu>={cpu}, memory>={mem}GB{', gpu>=1' if gpu else ''})"
        if rng.random() < 0.25:
            text += ".qos(interactive)"
        if replicas > 1:
            text += ".replicas(2)"
        peers: dict[str, float] = {}
        if i > 0 and rng.random() < 0.25:
            chain_start = i
        elif i > 0:
            peers[f"t{i - 1:03d}"] = float(rng.randint(1, 5))
            if rng.random() < 0.04:
                text += f".near(t{i - 1:03d})"
        if i > chain_start + 1 and rng.random() < 0.04:
            text += f".apart(t{rng.randrange(chain_start, i - 1):03d})"  # not its near peer
        specs.append((cpu, mem, replicas))
        clauses.append(text)
        talks.append(peers)
    need_cpu = sum(c * r for c, _, r in specs)
    need_mem = sum(m * r for _, m, r in specs)
    weights = [rng.choice((1, 2, 2, 4)) for _ in range(nodes)]
    total = sum(weights)
    cluster = Cluster(
        Node(
            f"n{k:03d}",
            cpu=max(6, round(w / total * need_cpu / share)),
            memory=max(10, round(w / total * need_mem / share)) * GB,
            gpu=gpus.get(k, 0),
            rack=f"r{k // 4}",
            datacenter=f"dc{(k // 4) * 2 // racks}" if racks > 1 else "dc0",
            latency=rng.choice(_LATENCIES),
            cost=rng.choice(_NODE_COSTS),
        )
        for k, w in enumerate(weights)
    )
    requests = [
        Request(f"t{i:03d}", clauses[i], work=rng.choice((0.5, 1.0, 1.5, 2.0)), talks=talks[i])
        for i in range(tasks)
    ]
    return cluster, requests


def instance(tasks: int, nodes: int, seed: int = 0) -> tuple[Cluster, list[Request]]:
    """A feasible random problem of ``tasks`` requests on ``nodes`` nodes (see the module docstring).

    Raises:
        RuntimeError: 20 draws in a row had no greedy placement (it never happens for the sizes here).
    """
    for attempt in range(20):
        rng = random.Random(f"effectus-placement:{tasks}:{nodes}:{seed}:{attempt}")
        share = max(0.5, rng.uniform(0.65, 0.75) - 0.02 * attempt)
        cluster, requests = _draw(tasks, nodes, rng, share)
        if greedy(placement_instance(requests, cluster)) is not None:
            return cluster, requests
    raise RuntimeError(f"no feasible instance of {tasks} x {nodes} (seed {seed}) in 20 draws")


def load(cluster: Cluster, requests: Sequence[Request]) -> tuple[float, float]:
    """The requests' total cpu and memory demand as a share of the cluster's (raw, before headroom)."""
    demand = {"cpu": 0.0, "memory": 0.0}
    for req in requests:
        for term in req.placement.requirements:
            if term.resource in demand and term.op == ">=":
                demand[term.resource] += term.value * req.placement.replicas
    return (demand["cpu"] / sum(n.cpu for n in cluster), demand["memory"] / sum(n.memory for n in cluster))


def infeasible(tasks: int, nodes: int, seed: int = 0, *, kind: str = "filters") -> tuple[Cluster, list[Request]]:
    """The feasible instance made infeasible.

    ``kind="filters"``: request 0 asks ``on(gpu>=8)`` (the largest node has 4 GPUs) and request 1
    ``on(memory>=4TB)``: each is ruled out of every node on its own.  ``kind="replicas"``: request
    0 asks ``replicas(nodes + 1)``: every node can host a replica, but no two may share one.
    """
    cluster, requests = instance(tasks, nodes, seed)
    if kind == "filters":
        changed = {0: "on(gpu>=8)", 1: "on(memory>=4TB)"}
    elif kind == "replicas":
        changed = {0: f"on(cpu>=1).replicas({nodes + 1})"}
    else:
        raise ValueError(f"kind={kind!r}: expected 'filters' or 'replicas'")
    out = list(requests)
    for i, text in changed.items():
        out[i] = Request(requests[i].name, text, work=requests[i].work, talks=requests[i].talks)
    return cluster, out


# --- solvers ------------------------------------------------------------------------------


class Solved(NamedTuple):
    where: list[int] | None  # slot -> node index; None: no answer
    objective: int | None  # `inst.objective(where)`
    optimal: bool  # the solver proved it minimal
    seconds: float
    #: the solver's own figure for the objective: equal to ``objective``, or (``upper``) at least it
    reported: int | None = None
    upper: bool = False
    bound: float | None = None  # CP-SAT's lower bound
    error: str = ""  # why there is no answer


def _partners(pairs: Sequence[tuple[int, int]], slots: int) -> list[list[int]]:
    out: list[list[int]] = [[] for _ in range(slots)]
    for a, b in pairs:
        out[a].append(b)
        out[b].append(a)
    return out


def greedy(inst: Instance) -> list[int] | None:
    """First fit: each slot in order on the first allowed node with room that keeps the
    constraints with the slots placed so far; None when some slot finds no node."""
    n_slots = len(inst.slots)
    where = [-1] * n_slots
    load = [[0] * len(inst.resources) for _ in inst.nodes]
    mates: list[list[int]] = [[] for _ in range(n_slots)]
    for g in inst.groups:
        for s in g:
            mates[s] = [t for t in g if t != s]
    apart, near = _partners(inst.apart, n_slots), _partners(inst.near, n_slots)
    for s in range(n_slots):
        for n in inst.allowed[s]:
            if any(where[t] == n for t in mates[s]) or any(where[t] == n for t in apart[s]):
                continue
            if any(where[t] >= 0 and inst.distance(n, where[t]) > 1 for t in near[s]):
                continue
            demand = inst.demand[s][n]
            if any(load[n][r] + d > inst.capacity[n][r] for r, d in enumerate(demand)):
                continue
            where[s] = n
            for r, d in enumerate(demand):
                load[n][r] += d
            break
        else:
            return None
    return where


def solve_greedy(inst: Instance) -> Solved:
    start = time.perf_counter()
    where = greedy(inst)
    seconds = time.perf_counter() - start
    if where is None:
        return Solved(None, None, False, seconds, error="first fit found no node for some slot")
    return Solved(where, inst.objective(where), False, seconds)


def cpsat(inst: Instance, timeout: float, *, hint: Sequence[int] | None = None, workers: int = 2, seed: int = 0) -> Solved:
    """Solve ``inst`` with OR-tools CP-SAT (the model of the module docstring) in ``timeout`` seconds.

    ``hint`` (slot -> node) is given to CP-SAT as a solution hint.
    """
    from ortools.sat.python import cp_model

    start = time.perf_counter()
    model = cp_model.CpModel()
    slots = range(len(inst.slots))
    x = {(s, n): model.new_bool_var(f"x{s}_{n}") for s in slots for n in inst.allowed[s]}
    for s in slots:
        model.add_exactly_one(x[s, n] for n in inst.allowed[s])
    for n in range(len(inst.nodes)):
        here = [s for s in slots if (s, n) in x]
        for r in range(len(inst.resources)):
            cap = inst.capacity[n][r]
            terms = [(inst.demand[s][n][r], x[s, n]) for s in here if inst.demand[s][n][r]]
            if cap < _UNBOUNDED and sum(d for d, _ in terms) > cap:
                model.add(sum(d * v for d, v in terms) <= cap)
    for g in inst.groups:
        if len(g) > 1:
            for n in range(len(inst.nodes)):
                column = [x[s, n] for s in g if (s, n) in x]
                if len(column) > 1:
                    model.add_at_most_one(column)
    for a, b in inst.apart:
        for n in inst.allowed[a]:
            if (b, n) in x:
                model.add_at_most_one([x[a, n], x[b, n]])
    for a, b in inst.near:
        for n in inst.allowed[a]:
            close = [x[b, m] for m in inst.allowed[b] if inst.distance(n, m) <= 1]
            if close:
                model.add_bool_or(close).only_enforce_if(x[a, n])
            else:
                model.add(x[a, n] == 0)
    levels: tuple[Callable[[int], int], ...] = (lambda n: inst.dc_of[n], lambda n: inst.rack_of[n], lambda n: n)
    gains = []
    for k, (a, b, gain) in enumerate(inst.edges):
        for level, (group_of, amount) in enumerate(zip(levels, gain)):
            if amount <= 0:
                continue
            same = model.new_bool_var(f"same{k}_{level}")
            groups: dict[int, tuple[list[int], list[int]]] = {}
            for n in inst.allowed[a]:
                groups.setdefault(group_of(n), ([], []))[0].append(n)
            for m in inst.allowed[b]:
                if group_of(m) in groups:
                    groups[group_of(m)][1].append(m)
            for here_a, here_b in groups.values():  # same: b is in a's group
                model.add(sum(x[a, n] for n in here_a) <= sum(x[b, m] for m in here_b)).only_enforce_if(same)
            gains.append(amount * same)
    model.minimize(sum(inst.cost[s][n] * v for (s, n), v in x.items()) + inst.edge_base - sum(gains))
    if hint is not None:
        for (s, n), v in x.items():
            model.add_hint(v, hint[s] == n)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = timeout
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    status = solver.solve(model)
    seconds = time.perf_counter() - start
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Solved(None, None, status == cp_model.INFEASIBLE, seconds, error=f"CP-SAT: {solver.status_name(status)}")
    where = [next(n for n in inst.allowed[s] if solver.boolean_value(x[s, n])) for s in slots]
    optimal = status == cp_model.OPTIMAL
    # A solution short of optimal may leave a `same` false where its ends do share a group:
    # the model's objective is then above the cost of the assignment (an upper bound of it).
    return Solved(where, inst.objective(where), optimal, seconds, round(solver.objective_value), not optimal,
                  solver.best_objective_bound)


def effectus(inst: Instance, cluster: Cluster, requests: Sequence[Request], timeout: float, *, seed: int = 0) -> Solved:
    """``place(requests, cluster, timeout=timeout)``, its plan as an assignment of ``inst``'s slots
    (an effectus error, such as no plan found in time, is an answer without an assignment)."""
    start = time.perf_counter()
    try:
        plan = place(requests, cluster, timeout=timeout, seed=seed)
    except fx.EffectusError as err:
        return Solved(None, None, False, time.perf_counter() - start, error=f"{type(err).__name__}: {str(err).splitlines()[0].rstrip('.')}")
    seconds = time.perf_counter() - start
    index = {node.name: n for n, node in enumerate(inst.nodes)}
    where = [-1] * len(inst.slots)
    for i, req in enumerate(inst.requests):
        for s, name in zip(inst.groups[i], plan.assignments[req.name], strict=True):
            where[s] = index[name]
    return Solved(where, inst.objective(where), plan.optimal, seconds, plan.cost)


def check(inst: Instance, solved: Solved, who: str) -> None:
    """Stop the run on an answer that breaks a constraint or misstates its own cost (an answer
    without an assignment, and its ``error``, are reported instead).

    Raises:
        AssertionError: an infeasible assignment, or a ``reported`` objective other than
            ``inst.objective`` of the assignment (below it, if ``upper``).
    """
    if solved.where is None:
        if not solved.error:
            raise AssertionError(f"{who}: neither an assignment nor an error")
        return
    if not inst.feasible(solved.where):
        raise AssertionError(f"{who}: the assignment breaks a constraint: {solved.where}")
    assert solved.objective is not None
    exact = solved.reported == solved.objective or (solved.upper and solved.reported is not None and solved.reported > solved.objective)
    if solved.reported is not None and not exact:
        raise AssertionError(f"{who}: reports objective {solved.reported}, inst.objective gives {solved.objective}")


def consistent(case: str, runs: dict[str, list[Solved]]) -> None:
    """No feasible answer is cheaper than one a solver proved optimal.

    Raises:
        AssertionError: a proof of optimality is contradicted (a bug in that solver or the model).
    """
    answers = [(solver, s) for solver, got in runs.items() for s in got if s.objective is not None]
    for solver, proved in answers:
        if proved.optimal:
            for other, s in answers:
                assert s.objective is not None and proved.objective is not None
                if s.objective < proved.objective:
                    raise AssertionError(f"{case}: {solver} proved {proved.objective:,} optimal, {other} found {s.objective:,}")


# --- measuring ----------------------------------------------------------------------------


class Problem(NamedTuple):
    cluster: Cluster
    requests: list[Request]
    inst: Instance


def _solve(solver: str, case: Case, problem: Problem, seed: int) -> Solved:
    cluster, requests, inst = problem
    if solver == "greedy":
        return solve_greedy(inst)
    if solver == "cpsat":
        return cpsat(inst, case.cpsat_s, seed=seed)
    if solver == "cpsat_hint":
        start = time.perf_counter()
        hint = greedy(inst)
        hinted = cpsat(inst, case.cpsat_s, hint=hint, seed=seed)
        return hinted._replace(seconds=time.perf_counter() - start)
    return effectus(inst, cluster, requests, case.effectus_s, seed=seed)


def measure(cases: Sequence[Case], reps: int, seed: int = 0,
            log: Callable[[str], None] = lambda _: None) -> tuple[dict[Case, Problem], dict[Case, dict[str, list[Solved]]]]:
    """Each case's problem, and per solver its answers over ``reps`` repetitions (checked)."""
    problems: dict[Case, Problem] = {}
    for case in dict.fromkeys(cases):
        cluster, requests = instance(case.tasks, case.nodes, seed)
        problems[case] = Problem(cluster, requests, placement_instance(requests, cluster))
    runs: dict[Case, dict[str, list[Solved]]] = {c: {s: [] for s in SOLVERS} for c in problems}
    for r in range(reps):
        order = SOLVERS[r % len(SOLVERS):] + SOLVERS[:r % len(SOLVERS)]
        for case, problem in problems.items():
            for solver in order:
                solved = _solve(solver, case, problem, seed)
                check(problem.inst, solved, f"{case.title} / {solver}")
                runs[case][solver].append(solved)
            consistent(case.title, runs[case])
            log(f"{case.title}: repetition {r + 1}/{reps} done")
    return problems, runs


class Explained(NamedTuple):
    kind: str
    seconds: list[float]  # the runs that raised `Unplaceable`
    timed_out: int  # runs killed at ``limit_s``
    limit_s: float
    explanation: str
    conflicts: list[tuple[str, str]]  # (request, constraint text)


def explain_once(tasks: int, nodes: int, seed: int, kind: str) -> dict[str, object]:
    """Time one ``place(..., timeout=10)`` of ``infeasible(...)``: seconds, the explanation, its conflicts."""
    cluster, requests = infeasible(tasks, nodes, seed, kind=kind)
    start = time.perf_counter()
    try:
        place(requests, cluster, timeout=10.0, seed=seed)
    except Unplaceable as err:
        return {"seconds": time.perf_counter() - start, "explanation": str(err.explanation),
                "conflicts": [[name, c.text] for name, c in err.explanation.conflicts]}
    except fx.PlacementError as err:
        return {"seconds": time.perf_counter() - start, "error": f"{type(err).__name__}: {err}"}
    return {"seconds": time.perf_counter() - start, "error": "place() returned a plan"}


def explained(tasks: int, nodes: int, reps: int, seed: int = 0, kind: str = "filters", limit_s: float = 60.0) -> Explained:
    """``explain_once`` ``reps`` times, each in a fresh interpreter killed after ``limit_s``
    seconds (``place`` may not return); after a run is killed, the rest are skipped.

    Raises:
        AssertionError: ``place`` returned a plan or another error, or the explanations differ.
    """
    code = ("import json, sys; from benchmarks.placement import explain_once; "
            f"print(json.dumps(explain_once({tasks}, {nodes}, {seed}, {kind!r})))")
    seconds: list[float] = []
    texts: set[str] = set()
    conflicts: list[tuple[str, str]] = []
    timed_out = 0
    for _ in range(reps):
        try:
            done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                  timeout=limit_s + 30)  # 30 s for the imports
        except subprocess.TimeoutExpired:
            timed_out += 1
            break
        if done.returncode != 0:
            raise AssertionError(f"explain_once({kind}) failed:\n{done.stderr}")
        got = json.loads(done.stdout.strip().splitlines()[-1])
        if "error" in got:
            raise AssertionError(f"{tasks} x {nodes} ({kind}): {got['error']}")
        seconds.append(float(got["seconds"]))
        texts.add(str(got["explanation"]))
        conflicts = [(str(r), str(c)) for r, c in got["conflicts"]]
    if len(texts) > 1:
        raise AssertionError(f"the explanation changed between runs: {sorted(texts)}")
    return Explained(kind, seconds, timed_out, limit_s, texts.pop() if texts else "", conflicts)


# --- reporting ----------------------------------------------------------------------------


def _objectives(runs: Sequence[Solved]) -> list[int]:
    return [s.objective for s in runs if s.objective is not None]


def _median_objective(runs: Sequence[Solved]) -> float | None:
    objs = _objectives(runs)
    return statistics.median(objs) if objs else None


def _seconds(runs: Sequence[Solved]) -> float:
    return statistics.median(s.seconds for s in runs)


def _gap(a: float, b: float) -> float:
    return (a - b) / b * 100


def _failures(runs: Sequence[Solved]) -> str:
    errors = sorted({s.error for s in runs if s.objective is None})
    n = sum(s.objective is None for s in runs)
    return f"no answer in {n}/{len(runs)} runs: {'; '.join(errors)}"


def _explain_seconds(ex: Explained) -> str:
    if ex.timed_out:
        return f"> {ex.limit_s:g} s (killed, no answer)"
    return f"{statistics.median(ex.seconds):.3f} s"


def targets(config: Config, runs: dict[Case, dict[str, list[Solved]]],
            explains: Sequence[Explained]) -> list[tuple[str, str, bool]]:
    """(target, figure, met) for each bar of the issue."""
    opt = runs[config.optimum]
    cp_answers = [s for solver in ("cpsat", "cpsat_hint") for s in opt[solver] if s.objective is not None]
    reference = min(s.objective for s in cp_answers if s.objective is not None)
    proved = any(s.optimal and s.objective == reference for s in cp_answers)
    bound = max(s.bound for s in cp_answers if s.bound is not None)
    eff = opt["effectus"]
    seconds = _seconds(eff)
    hits = sum(s.objective is not None and s.objective <= reference for s in eff)
    if proved:
        figure = f"{hits}/{len(eff)} runs at CP-SAT's proven optimum {reference:,}"
    else:
        figure = (f"{hits}/{len(eff)} runs at or below CP-SAT's best {reference:,} (not proven; its bound {bound:,.0f})")
    e_obj = _median_objective(eff)
    if e_obj is not None:
        figure += f"; effectus median {e_obj:,.0f} ({_gap(e_obj, reference):+.2f}%)"
    else:
        figure += f"; effectus {_failures(eff)}"
    all_proved = all(s.optimal for s in eff)
    found = seconds <= TARGET_OPTIMUM_S and (all_proved or (proved and hits == len(eff)))
    out = [
        (f"{config.optimum.title}: effectus finds the optimum within {TARGET_OPTIMUM_S:g} s", f"{figure}; {seconds:.2f} s",
         found),
        (f"{config.optimum.title}: ... and proves it (`Plan.optimal`)", f"{sum(s.optimal for s in eff)}/{len(eff)} runs",
         found and all_proved),
    ]
    large = runs[config.large]
    e_large = _median_objective(large["effectus"])
    c_large = _median_objective(large["cpsat"])
    e_s = _seconds(large["effectus"])
    text = f"{config.large.title}: effectus within {TARGET_GAP_PCT:g}% of CP-SAT, within {TARGET_LARGE_S:g} s"
    if e_large is None or c_large is None:
        who = large["effectus"] if e_large is None else large["cpsat"]
        out.append((text, f"{'effectus' if e_large is None else 'CP-SAT'}: {_failures(who)}; {e_s:.2f} s", False))
    else:
        gap = _gap(e_large, c_large)
        out.append((text, f"gap {gap:+.2f}%, {e_s:.2f} s", gap <= TARGET_GAP_PCT and e_s <= TARGET_LARGE_S))
    for ex in explains:
        ok = not ex.timed_out and statistics.median(ex.seconds) <= TARGET_EXPLAIN_S
        out.append((f"explanation ({ex.kind}): `Unplaceable` within {TARGET_EXPLAIN_S:g} s", _explain_seconds(ex), ok))
    return out


def report(config: Config, problems: dict[Case, Problem], runs: dict[Case, dict[str, list[Solved]]],
           explains: Sequence[Explained]) -> list[str]:
    """The results as markdown lines."""
    reps = len(next(iter(runs.values()))["effectus"])
    lines = [
        f"{reps} repetition(s) per case; figures are medians over them (objectives too; min – max beside).  "
        "Objectives are `inst.objective` of each answer, in cost units (lower is better); every answer was "
        "checked feasible with `inst.feasible`.",
        "",
        "| instance | slots | allowed pairs | edges | cpu / memory load | solver | budget s | objective (median) "
        "| min – max | seconds (median) | proved optimal |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    cases = list(dict.fromkeys((config.optimum, *config.scaling, config.large)))
    for case in cases:
        cluster, requests, inst = problems[case]
        cpu, mem = load(cluster, requests)
        for solver in SOLVERS:
            got = runs[case][solver]
            objs = _objectives(got)
            budget = {"greedy": "-", "cpsat": f"{case.cpsat_s:g}", "cpsat_hint": f"{case.cpsat_s:g}",
                      "effectus": f"{case.effectus_s:g}"}[solver]
            proved = "-" if solver == "greedy" else f"{sum(s.optimal for s in got)}/{len(got)}"
            if objs:
                median = f"{statistics.median(objs):,.0f}" + ("" if len(objs) == len(got) else f" ({len(objs)}/{len(got)} runs)")
                spread = f"{min(objs):,} – {max(objs):,}"
            else:
                median, spread = _failures(got), "-"
            lines.append(
                f"| {case.title} | {len(inst.slots)} | {sum(map(len, inst.allowed)):,} | {len(inst.edges)} | "
                f"{cpu:.0%} / {mem:.0%} | {_LABELS[solver]} | {budget} | {median} | {spread} | "
                f"{_seconds(got):.3f} | {proved} |"
            )
    lines += [
        "",
        "Ratios of the median objectives (below 1: the left-hand solver is cheaper).  Gap: (effectus - CP-SAT) / "
        "CP-SAT, against the plain CP-SAT row and against the better CP-SAT row; bound gap: effectus above the best "
        "lower bound CP-SAT proved (0% would be proven optimal).  `-`: effectus gave no plan.",
        "",
        "| instance | effectus budget s | effectus / CP-SAT | gap to CP-SAT | gap to the better CP-SAT "
        "| gap to CP-SAT's bound | effectus / greedy | CP-SAT / greedy | CP-SAT hinted / greedy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in cases:
        by_solver = runs[case]
        e, c, h, g = (_median_objective(by_solver[s]) for s in ("effectus", "cpsat", "cpsat_hint", "greedy"))
        bounds = [s.bound for solver in ("cpsat", "cpsat_hint") for s in by_solver[solver] if s.bound is not None]
        best = min(v for v in (c, h) if v is not None) if c is not None or h is not None else None
        cells = [
            f"{e / c:.3f}" if e is not None and c is not None else "-",
            f"{_gap(e, c):+.2f}%" if e is not None and c is not None else "-",
            f"{_gap(e, best):+.2f}%" if e is not None and best is not None else "-",
            f"{_gap(e, max(bounds)):+.2f}%" if e is not None and bounds else "-",
            f"{e / g:.3f}" if e is not None and g is not None else "-",
            f"{c / g:.3f}" if c is not None and g is not None else "-",
            f"{h / g:.3f}" if h is not None and g is not None else "-",
        ]
        lines.append(f"| {case.title} | {case.effectus_s:g} | {' | '.join(cells)} |")
    if explains:
        t, n = config.explain
        lines += [
            "",
            f"Explanations: one `place(..., timeout=10)` of the {t} x {n} instance made infeasible, in a fresh "
            "interpreter, until it raises `Unplaceable` (a run still going after the limit is killed; the rest "
            "are then skipped).",
            "",
            "| infeasible by | runs | seconds (median) | min – max | conflicts named |",
            "|---|---:|---:|---:|---|",
        ]
        for ex in explains:
            named = "; ".join(f"{r}: `{c}`" for r, c in ex.conflicts) or "-"
            spread = f"{min(ex.seconds):.3f} – {max(ex.seconds):.3f}" if ex.seconds else "-"
            lines.append(f"| {ex.kind} | {len(ex.seconds) + ex.timed_out} | {_explain_seconds(ex)} | {spread} | {named} |")
        for ex in explains:
            if ex.explanation:
                lines += ["", f"The explanation ({ex.kind}):", "", "```text", ex.explanation, "```"]
    lines += [
        "",
        "| target (the issue's) | figure | met |",
        "|---|---|---|",
    ]
    for text, figure, ok in targets(config, runs, explains):
        lines.append(f"| {text} | {figure} | {'yes' if ok else '**no**'} |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.placement", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: small instances, short budgets, 1 repetition")
    parser.add_argument("--reps", type=int, default=None, help="repetitions per case (default 3; --quick 1)")
    parser.add_argument("--seed", type=int, default=0, help="instance seed (default 0)")
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    reps = args.reps or config.reps
    if reps < 1:
        parser.error(f"--reps must be at least 1 (got {reps})")

    from importlib.metadata import version

    import z3  # type: ignore[import-untyped]  # z3 ships no type information

    print("## Placement\n")
    print(f"- {machine()}; effectus {fx.__version__}, z3 {z3.get_version_string()}, OR-tools {version('ortools')}\n")
    start = time.perf_counter()
    problems, runs = measure((config.optimum, *config.scaling, config.large), reps, args.seed, progress)
    t, n = config.explain
    explains = [explained(t, n, reps, args.seed, kind, config.explain_limit_s) for kind in ("filters", "replicas")]
    progress("explanations done")
    print("\n".join(report(config, problems, runs, explains)))
    progress(f"took {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
