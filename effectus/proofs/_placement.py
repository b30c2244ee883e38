"""The placement solver: z3 assigns each request's replicas to nodes, minimising a weighted cost.

Guarantees: a `Plan` satisfies every constraint — each replica on a node that passes its
request's filters (resource bounds, QoS, labels), replicas of one request on distinct nodes,
``near``/``apart`` kept, and no node loaded past 90% of any capacity (a 10% headroom reserve);
``Plan.optimal`` is true only when z3 proved no cheaper plan exists.  An infeasible problem
raises `Unplaceable`, whose `Explanation` names a minimal set of the user's own constraint
strings that cannot hold together and, for each request in it, the nodes that came closest.
`replan` moves only replicas that must move (those on failed nodes, or displaced to make room).

The cost of a plan, in cost units (1000 = one unit of weighted cost), is

    0.4 computation   work x the node's cost (the relative price of a unit of work there)
  + 0.3 communication volume x topology distance / 10 for each pair of requests that talk
                      (same node 0, rack 1, datacenter 5, across datacenters 10)
  + 0.2 memory        the fraction of the node's memory the replica reserves
  + 0.1 network       the fraction of the node's bandwidth it reserves

Every problem starts from a greedy plan (``near`` groups placed rack by rack), improved by
simulated annealing over feasible moves (`effectus.proofs._search`).  Small problems are then
handed to z3 whole (MaxSAT over one Boolean per replica and node, the annealed plan as its
starting point), which proves the optimum when the budget allows.  A problem no construction
can place goes to z3 whole, which finds a plan or proves there is none; `explain` then asks z3
for a minimal set of the user's constraints that conflict.  Everything, building models
included, counts against the ``timeout``.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from effectus.core._errors import PlacementError
from effectus.proofs._search import Search
from effectus.types._cluster import Cluster, Node
from effectus.types._placement import (
    Constraint,
    LabelMatch,
    Placement,
    Qos,
    QosBound,
    Requirement,
    parse_placement,
)

__all__ = [
    "Explanation",
    "Instance",
    "Plan",
    "Request",
    "Unplaceable",
    "WEIGHTS",
    "contradictions",
    "explain",
    "place",
    "placement_instance",
    "replan",
]

#: the weights of the four cost terms
WEIGHTS: Mapping[str, float] = {"computation": 0.4, "communication": 0.3, "memory": 0.2, "network": 0.1}
HEADROOM = 0.10
_UNIT = 1000  # cost units per unit of weighted cost
#: resources a replica reserves, and the integer grain each is counted in
_GRAIN: Mapping[str, float] = {
    "cpu": 0.01, "gpu": 0.01, "npu": 0.01, "memory": 1024.0**2, "disk": 1024.0**2,
    "network": 1024.0, "throughput": 0.01,
}
_COUNTS = frozenset({"cpu", "gpu", "npu"})
_EXACT_LIMIT = 400  # problems up to this many replica-node pairs are handed to z3 whole, to prove optimal
_MODEL_LIMIT = 5000  # the most pairs a whole-problem z3 model is built for (to find a plan or prove none)


@dataclass(frozen=True, init=False)
class Request:
    """Something to place: a tool or kernel, where it may run, how much work, whom it talks to.

    Args:
        name: the tool's name (plans and ``near``/``apart`` refer to it).
        placement: a placement string (or one parsed already).
        work: units of computation per unit time (scales the computation cost).
        talks: other requests' names -> the volume exchanged with each (scales communication).

    >>> Request("api", "on(cpu>=2).replicas(2)").placement.replicas
    2
    """

    name: str
    placement: Placement = field(default_factory=lambda: parse_placement("replicas(1)"))
    work: float = 1.0
    talks: Mapping[str, float] = field(default_factory=lambda: {}, hash=False)

    def __init__(self, name: str, placement: Placement | str = "replicas(1)", *, work: float = 1.0, talks: Mapping[str, float] | None = None, where: str | None = None) -> None:
        if not isinstance(name, str) or not name:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise PlacementError(f"Request(name={name!r}): a request needs a non-empty name")
        parsed = placement if isinstance(placement, Placement) else parse_placement(placement, where=where or name)
        if isinstance(work, bool) or not isinstance(work, (int, float)) or not math.isfinite(work) or work < 0:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise PlacementError(f"request {name!r}: work={work!r}; expected a number >= 0")
        volumes = dict(talks or {})
        for peer, volume in volumes.items():
            if isinstance(volume, bool) or not isinstance(volume, (int, float)) or not math.isfinite(volume) or volume < 0:  # pyright: ignore[reportUnnecessaryIsInstance]
                raise PlacementError(f"request {name!r}: talks[{peer!r}]={volume!r}; expected a volume >= 0")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "placement", parsed)
        object.__setattr__(self, "work", float(work))
        object.__setattr__(self, "talks", volumes)


@dataclass(frozen=True)
class Plan:
    """Where each request's replicas run, and what that costs.

    ``assignments`` maps each request to its nodes' names (one per replica); ``cost`` is the
    objective in cost units and ``breakdown`` its four terms; ``optimal`` says whether z3
    proved it minimal; ``moved`` lists, after `replan`, the requests whose nodes changed.
    """

    cluster: Cluster
    assignments: Mapping[str, tuple[str, ...]]
    cost: int
    breakdown: Mapping[str, int]
    optimal: bool
    seconds: float
    requests: tuple[Request, ...] = ()
    moved: tuple[str, ...] = ()

    def nodes(self, name: str) -> tuple[Node, ...]:
        """The nodes ``name``'s replicas run on."""
        try:
            names = self.assignments[name]
        except KeyError:
            raise KeyError(f"the plan places no request named {name!r}; it has {', '.join(self.assignments)}") from None
        return tuple(self.cluster[n] for n in names)

    def device(self, name: str) -> str:
        """The jax device ``name``'s first replica runs on (``"gpu:0"``), or ``""``."""
        return self.nodes(name)[0].device

    def table(self) -> str:
        """The plan as a text table: request, replicas' nodes, and the cost."""
        rows = [("request", "nodes", "devices")]
        for name, nodes in self.assignments.items():
            devices = ", ".join(self.cluster[n].device for n in nodes if self.cluster[n].device)
            rows.append((name, ", ".join(nodes), devices or "-"))
        width = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, width)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * w for w in width))
        terms = ", ".join(f"{k} {v}" for k, v in self.breakdown.items())
        status = "optimal" if self.optimal else "best found"
        lines.append(f"cost {self.cost} ({status}, {self.seconds:.2f} s): {terms}")
        if self.moved:
            lines.append(f"moved: {', '.join(self.moved)}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Explanation:
    """Why a problem has no plan: constraints that cannot all hold, and the nearest misses.

    ``conflicts`` are ``(request, constraint)`` pairs — a minimal set: drop any one and the
    rest can be met; ``closest`` maps each request in them to up to three nodes with what
    each lacks.
    """

    conflicts: tuple[tuple[str, Constraint], ...]
    closest: Mapping[str, tuple[tuple[str, str], ...]]
    #: each request in the conflicts -> its placement string, as the user wrote it
    sources: Mapping[str, str] = field(default_factory=lambda: {})
    #: why, in words, when counting shows it ("t1: replicas(17) needs 17 distinct nodes; 16 qualify")
    reasons: tuple[str, ...] = ()

    def __str__(self) -> str:
        lines = ["no placement satisfies these constraints together:"]
        lines += [f"  {why}" for why in self.reasons]
        if not self.conflicts:
            lines.append("  (z3 proved that no plan exists, but found no smaller set of constraints to blame in time)")
        for name, c in self.conflicts:
            source = self.sources.get(name, "")
            lines.append(f"  {name}: {c.text}  (column {c.column} of {source!r})" if source else f"  {name}: {c.text}")
        for name, near in self.closest.items():
            if near:
                lines.append(f"closest nodes for {name}:")
                lines += [f"  {node}: {why}" for node, why in near]
        lines.append("Fix: relax one of the constraints above, or add capacity that meets them.")
        return "\n".join(lines)


class Unplaceable(PlacementError):
    """No plan meets every constraint; `explanation` says which constraints conflict."""

    def __init__(self, explanation: Explanation) -> None:
        super().__init__(str(explanation))
        self.explanation = explanation


Unplaceable.__module__ = "effectus.proofs"


# --- the dense instance -------------------------------------------------------------------


@dataclass
class Instance:
    """A problem in numbers: what the solvers (z3 here; greedy and CP-SAT in benchmarks) see.

    Slot ``s`` is one replica of request ``slots[s][0]``; ``allowed[s]`` are the nodes it may
    use; ``demand[s][n]`` what it reserves there (per resource in ``resources``, integers);
    ``capacity[n]`` what node ``n`` offers after headroom; ``cost[s][n]`` its separable cost;
    each edge ``(a, b, (dc, rack, node))`` saves those amounts when slots ``a`` and ``b``
    share a datacenter, rack, node (the base cost ``edge_base`` is paid regardless).
    """

    requests: tuple[Request, ...]
    nodes: tuple[Node, ...]
    slots: list[tuple[int, int]]
    resources: tuple[str, ...]
    allowed: list[list[int]]
    demand: list[dict[int, tuple[int, ...]]]
    capacity: list[tuple[int, ...]]
    cost: list[dict[int, int]]
    edges: list[tuple[int, int, tuple[int, int, int]]]
    edge_base: int
    rack_of: list[int]  # node -> rack group (a node without a rack is a group of its own)
    dc_of: list[int]
    groups: list[list[int]]  # request -> its slots (on distinct nodes)
    apart: list[tuple[int, int]]
    near: list[tuple[int, int]]
    rejected: dict[tuple[int, int], list[tuple[Constraint, str]]]  # (request, node) -> reasons

    def distance(self, n: int, m: int) -> int:
        if n == m:
            return 0
        if self.dc_of[n] != self.dc_of[m]:
            return 10
        return 1 if self.rack_of[n] == self.rack_of[m] else 5

    def edge_cost(self, e: tuple[int, int, tuple[int, int, int]], n: int, m: int) -> int:
        """What edge ``e`` costs above its base when its ends sit on nodes ``n`` and ``m``."""
        gain_dc, gain_rack, gain_node = e[2]
        d = self.distance(n, m)
        return -(gain_dc if d <= 5 else 0) - (gain_rack if d <= 1 else 0) - (gain_node if d == 0 else 0)

    def objective(self, where: Sequence[int]) -> int:
        """The cost of giving slot ``s`` node ``where[s]``."""
        total = self.edge_base + sum(self.cost[s][n] for s, n in enumerate(where))
        return total + sum(self.edge_cost(e, where[e[0]], where[e[1]]) for e in self.edges)

    def feasible(self, where: Sequence[int]) -> bool:
        """Whether ``where`` meets every constraint (checked independently of any solver)."""
        if len(where) != len(self.slots) or any(n not in self.allowed[s] for s, n in enumerate(where)):
            return False
        load = [[0] * len(self.resources) for _ in self.nodes]
        for s, n in enumerate(where):
            for r, amount in enumerate(self.demand[s][n]):
                load[n][r] += amount
        if any(load[n][r] > self.capacity[n][r] for n in range(len(self.nodes)) for r in range(len(self.resources))):
            return False
        if any(len({where[s] for s in g}) != len(g) for g in self.groups):
            return False
        if any(where[a] == where[b] for a, b in self.apart):
            return False
        return all(self.distance(where[a], where[b]) <= 1 for a, b in self.near)


def _usable(resource: str) -> float:
    """The share of a node's ``resource`` placements may reserve: all but the headroom, except
    for whole devices (a GPU, an NPU), which cannot be reserved in part."""
    return 1.0 if resource in ("gpu", "npu") else 1 - HEADROOM


def _demands(req: Request, node: Node) -> tuple[dict[str, float], dict[str, Constraint]]:
    """What one replica of ``req`` reserves on ``node`` (base units), and which term asked."""
    amounts: dict[str, float] = {}
    source: dict[str, Constraint] = {}
    for term in req.placement.requirements:
        if term.op not in (">=", ">", "=="):
            continue
        value = term.value * node.capacity(term.resource) if term.percent else term.value
        if term.op == ">":
            value = math.floor(value) + 1 if term.resource in _COUNTS else value + _GRAIN[term.resource]
        if value > amounts.get(term.resource, 0.0):
            amounts[term.resource], source[term.resource] = value, term
    qos = req.placement.qos
    if qos is not None and qos.throughput:
        amounts["throughput"] = qos.throughput
        source["throughput"] = _qos_source(qos, "throughput")
    return amounts, source


def _qos_source(qos: Qos, metric: str) -> Constraint:
    """The clause of ``qos`` that sets ``metric``: an explicit bound, else the level."""
    for bound in qos.bounds:
        if bound.metric == metric:
            return bound
    return qos


def _rejections(req: Request, node: Node) -> list[tuple[Constraint, str]]:
    """Why ``node`` cannot host a replica of ``req`` on its own (empty: it can)."""
    out: list[tuple[Constraint, str]] = []
    amounts, source = _demands(req, node)
    for resource, amount in amounts.items():
        cap = node.capacity(resource)
        if amount > cap * _usable(resource) + 1e-9:
            usable = "" if _usable(resource) == 1 else f" ({_show(resource, cap * _usable(resource))} usable)"
            out.append((source[resource], f"has {resource} {_show(resource, cap)}{usable}, needs {_show(resource, amount)}"))
    for term in req.placement.requirements:
        cap = node.capacity(term.resource)
        if term.percent and term.op in (">=", ">", "==") and term.value > 0 and cap == 0:
            out.append((term, f"has no {term.resource}"))
        limit = term.value * cap if term.percent else term.value
        bad = {"<=": cap > limit, "<": cap >= limit, "!=": cap == limit, "==": term.value == 0 and cap != 0}.get(term.op, False)
        if bad:
            out.append((term, f"has {term.resource} {_show(term.resource, cap)}"))
    qos = req.placement.qos
    if qos is not None:
        out += _qos_rejections(qos, node)
    for label in req.placement.labels:
        have = node.labels.get(label.key)
        if (have == label.value) != (label.op == "="):
            out.append((label, f"label {label.key}={have}" if have is not None else f"no label {label.key}"))
    return out


def _qos_rejections(qos: Qos, node: Node) -> list[tuple[Constraint, str]]:
    out: list[tuple[Constraint, str]] = []
    if qos.level is not None:
        from effectus.types._placement import QOS_LEVELS

        latency, response, _ = QOS_LEVELS[qos.level]
        if node.latency > min(latency, response):
            out.append((qos, f"latency {node.latency:g} ms, {qos.level} needs at most {latency:g} ms"))
    for bound in qos.bounds:
        if bound.metric in ("latency", "response"):
            ok = node.latency < bound.value if bound.op == "<" else node.latency <= bound.value
            if bound.op in ("<", "<=") and not ok:
                out.append((bound, f"latency {node.latency:g} ms"))
        elif bound.metric == "availability" and bound.op in (">=", ">"):
            ok = node.availability > bound.value if bound.op == ">" else node.availability >= bound.value
            if not ok:
                out.append((bound, f"availability {node.availability:.4%}"))
    return out


def _show(resource: str, amount: float) -> str:
    if resource in ("memory", "disk", "network"):
        for unit, size in (("TB", 1024.0**4), ("GB", 1024.0**3), ("MB", 1024.0**2), ("KB", 1024.0)):
            if amount >= size:
                return f"{amount / size:.3g}{unit}{'/s' if resource == 'network' else ''}"
        return f"{amount:.0f}B"
    return f"{amount:g}"


def placement_instance(requests: Sequence[Request], cluster: Cluster) -> Instance:
    """The dense instance of placing ``requests`` on ``cluster``.

    Raises:
        PlacementError: two requests share a name, or ``near``/``apart``/``talks`` names one
            that is not in the problem.
    """
    requests = tuple(requests)
    index: dict[str, int] = {}
    for i, req in enumerate(requests):
        if not isinstance(req, Request):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"place() takes Request values; got {req!r}")
        if req.name in index:
            raise PlacementError(f"two requests are named {req.name!r}; names must be unique")
        index[req.name] = i
    nodes = cluster.nodes
    resources = tuple(_GRAIN)
    slots: list[tuple[int, int]] = []
    groups: list[list[int]] = []
    for i, req in enumerate(requests):
        groups.append([])
        for k in range(req.placement.replicas):
            groups[i].append(len(slots))
            slots.append((i, k))
    capacity = [
        tuple(math.inf if n.capacity(r) == math.inf else math.floor(n.capacity(r) * _usable(r) / _GRAIN[r] + 1e-9) for r in resources)
        for n in nodes
    ]
    allowed: list[list[int]] = []
    demand: list[dict[int, tuple[int, ...]]] = []
    cost: list[dict[int, int]] = []
    rejected: dict[tuple[int, int], list[tuple[Constraint, str]]] = {}
    per_request: list[tuple[list[int], dict[int, tuple[int, ...]], dict[int, int]]] = []
    for i, req in enumerate(requests):
        ok: list[int] = []
        dem: dict[int, tuple[int, ...]] = {}
        cst: dict[int, int] = {}
        for n, node in enumerate(nodes):
            why = _rejections(req, node)
            if why:
                rejected[(i, n)] = why
                continue
            amounts, _ = _demands(req, node)
            ok.append(n)
            dem[n] = tuple(math.ceil(amounts.get(r, 0.0) / _GRAIN[r] - 1e-9) for r in resources)
            mem = amounts.get("memory", 0.0) / node.memory if node.memory else 0.0
            net = amounts.get("network", 0.0) / node.network if node.network else 0.0
            comp = req.work * node.cost
            cst[n] = round(_UNIT * (WEIGHTS["computation"] * comp + WEIGHTS["memory"] * mem + WEIGHTS["network"] * net))
        per_request.append((ok, dem, cst))
    for i, _ in slots:
        ok, dem, cst = per_request[i]
        allowed.append(ok)
        demand.append(dem)
        cost.append(cst)
    # communication: between the first replicas of requests that talk (or are near)
    volumes: dict[tuple[int, int], float] = {}
    apart: list[tuple[int, int]] = []
    near: list[tuple[int, int]] = []

    def peer(req: Request, name: str, what: str) -> int:
        if name not in index:
            raise PlacementError(f"request {req.name!r}: {what} names {name!r}, which is not in the problem (it has {', '.join(index)})")
        if name == req.name:
            raise PlacementError(f"request {req.name!r}: {what} names the request itself")
        return index[name]

    for i, req in enumerate(requests):
        for name, volume in req.talks.items():
            j = peer(req, name, "talks")
            key = (min(i, j), max(i, j))
            volumes[key] = volumes.get(key, 0.0) + volume
        for aff in req.placement.affinities:
            j = peer(req, aff.tool, aff.text)
            if aff.kind == "near":
                near.append((groups[i][0], groups[j][0]))
                key = (min(i, j), max(i, j))
                volumes[key] = volumes.get(key, 0.0) + 1.0
            else:
                apart += [(a, b) for a in groups[i] for b in groups[j]]
    edges: list[tuple[int, int, tuple[int, int, int]]] = []
    edge_base = 0
    for (i, j), volume in sorted(volumes.items()):
        at = [round(_UNIT * WEIGHTS["communication"] * volume * d / 10) for d in (0, 1, 5, 10)]
        edge_base += at[3]
        edges.append((groups[i][0], groups[j][0], (at[3] - at[2], at[2] - at[1], at[1] - at[0])))
    # Count each resource in the largest grain that divides every demand: the same constraints,
    # with small coefficients (z3's pseudo-Boolean reasoning is far faster on those).
    caps = [list(c) for c in capacity]
    for r in range(len(resources)):
        g = 0
        for dem in demand:
            for vec in dem.values():
                g = math.gcd(g, vec[r])
        if g > 1:
            for dem in {id(d): d for d in demand}.values():  # replicas share their request's
                for n, vec in list(dem.items()):
                    dem[n] = vec[:r] + (vec[r] // g,) + vec[r + 1:]
            for cap in caps:
                cap[r] = cap[r] if cap[r] == math.inf else cap[r] // g
    racks: dict[tuple[str, str], int] = {}
    dcs: dict[str, int] = {}
    rack_of = [racks.setdefault((n.datacenter, n.rack), len(racks)) if n.rack else racks.setdefault(("", "\0" + n.name), len(racks)) for n in nodes]
    dc_of = [dcs.setdefault(n.datacenter, len(dcs)) for n in nodes]
    return Instance(
        requests, nodes, slots, resources, allowed, demand, [tuple(int(c) if c != math.inf else 2**62 for c in cap) for cap in caps],
        cost, edges, edge_base, rack_of, dc_of, groups, apart, near, rejected,
    )


# --- solving ------------------------------------------------------------------------------


def _z3() -> Any:
    import z3  # type: ignore[import-untyped]  # z3 ships no type information

    return z3


def _subproblem(inst: Instance, free: Sequence[int], where: Sequence[int], *, deadline: float, stay: Mapping[int, int] | None = None, hint: Sequence[int] | None = None) -> tuple[dict[int, int] | None, bool]:
    """Place the ``free`` slots optimally, the others staying where ``where`` puts them.

    Returns the free slots' nodes (None: no placement, or none found in time) and whether the
    answer is proved optimal.  ``stay`` (slot -> node) makes moving a slot cost more than any
    placement saves: z3 then moves as few slots as it can.
    """
    z3 = _z3()
    ctx = z3.Context()
    opt = z3.Optimize(ctx=ctx)
    free_set = set(free)
    # what the fixed slots leave: capacity, nodes their group-mates / apart peers hold
    residual = _residual(inst, [-1 if s in free_set else n for s, n in enumerate(where)])
    options: dict[int, list[int]] = {}
    unary: dict[int, dict[int, int]] = {}
    group_of = {s: g for g in inst.groups for s in g}
    for s in free:
        taken = {where[t] for t in group_of[s] if t not in free_set}
        taken |= {where[b] for a, b in inst.apart if a == s and b not in free_set}
        taken |= {where[a] for a, b in inst.apart if b == s and a not in free_set}
        near_of = [where[b] for a, b in inst.near if a == s and b not in free_set]
        near_of += [where[a] for a, b in inst.near if b == s and a not in free_set]
        options[s] = [
            n for n in inst.allowed[s]
            if n not in taken
            and all(0 <= residual[n][r] - d or d == 0 for r, d in enumerate(inst.demand[s][n]))
            and all(inst.distance(n, m) <= 1 for m in near_of)
        ]
        if not options[s]:
            return None, True
        unary[s] = dict(inst.cost[s])
    for e in inst.edges:
        a, b = e[0], e[1]
        if a in free_set and b not in free_set:
            for n in options[a]:
                unary[a][n] += inst.edge_cost(e, n, where[b])
        elif b in free_set and a not in free_set:
            for n in options[b]:
                unary[b][n] += inst.edge_cost(e, where[a], n)
    y = {(s, n): z3.Bool(f"y{s}_{n}", ctx) for s in free for n in options[s]}
    for s in free:
        column = [y[s, n] for n in options[s]]
        opt.add(z3.Or(column) if len(column) > 1 else column[0])
        if len(column) > 1:
            opt.add(z3.AtMost(*column, 1))
        low = min(unary[s][n] for n in options[s])
        for n in options[s]:
            if unary[s][n] > low:
                opt.add_soft(z3.Not(y[s, n]), unary[s][n] - low)
        if hint is not None and hint[s] in options[s]:
            opt.set_initial_value(y[s, hint[s]], True)
    for n in range(len(inst.nodes)):
        here = [s for s in free if (s, n) in y]
        if len(here) < 2:
            continue
        for r in range(len(inst.resources)):
            terms = [(y[s, n], inst.demand[s][n][r]) for s in here if inst.demand[s][n][r]]
            if sum(w for _, w in terms) > residual[n][r]:
                opt.add(z3.PbLe(terms, residual[n][r]))
    for g in inst.groups:
        mates = [s for s in g if s in free_set]
        if len(mates) > 1:
            for n in {n for s in mates for n in options[s]}:
                col = [y[s, n] for s in mates if (s, n) in y]
                if len(col) > 1:
                    opt.add(z3.AtMost(*col, 1))
    for a, b in inst.apart:
        if a in free_set and b in free_set:
            for n in options[a]:
                if (b, n) in y:
                    opt.add(z3.Or(z3.Not(y[a, n]), z3.Not(y[b, n])))
    for a, b in inst.near:
        if a in free_set and b in free_set:
            for n in options[a]:
                opt.add(z3.Implies(y[a, n], z3.Or([y[b, m] for m in options[b] if inst.distance(n, m) <= 1] or [z3.BoolVal(False, ctx)])))
    for k, e in enumerate(inst.edges):
        a, b = e[0], e[1]
        if a not in free_set or b not in free_set:
            continue
        for level, gain, close in ((0, e[2][2], 0), (1, e[2][1], 1), (2, e[2][0], 5)):
            if gain <= 0:
                continue
            same = z3.Bool(f"e{k}_{level}", ctx)
            for n in options[a]:
                partners = [y[b, m] for m in options[b] if inst.distance(n, m) <= close]
                opt.add(z3.Implies(z3.And(same, y[a, n]), z3.Or(partners) if partners else z3.BoolVal(False, ctx)))
            opt.add_soft(same, gain)
    if stay:
        heavy = 1 + sum(max(unary[s].values()) - min(unary[s].values()) for s in free) + sum(sum(e[2]) for e in inst.edges)
        for s, n in stay.items():
            if s in free_set and (s, n) in y:
                opt.add_soft(y[s, n], heavy)
    left = deadline - time.perf_counter()  # building the model counts against the deadline
    if left <= 0:
        return None, False
    opt.set("timeout", max(1, int(left * 1000)))
    answer = opt.check()
    if answer == z3.unsat:
        return None, True
    try:  # on a timeout, z3 still holds the best model it found (if any)
        model = opt.model()
    except z3.Z3Exception:
        return None, False
    chosen: dict[int, int] = {}
    for s in free:
        picked = [n for n in options[s] if z3.is_true(model.eval(y[s, n], model_completion=True))]
        if len(picked) != 1:
            return None, False  # no complete model yet
        chosen[s] = picked[0]
    return chosen, answer == z3.sat


def _short(inst: Instance) -> bool:
    """Whether counting proves the problem infeasible, before any search: some resource is
    short over the whole cluster (fewer units than the slots need, even where each needs
    least), or some request has fewer allowed nodes than replicas."""
    for r in range(len(inst.resources)):
        need = sum(min(inst.demand[s][n][r] for n in inst.allowed[s]) for s in range(len(inst.slots)) if inst.allowed[s])
        if need > sum(c[r] for c in inst.capacity):
            return True
    return any(not a for a in inst.allowed) or any(len(inst.allowed[g[0]]) < len(g) for g in inst.groups if g)


def _solve(inst: Instance, *, deadline: float, seed: int) -> tuple[list[int] | None, bool]:
    """The best plan found by ``deadline`` and whether it is proved optimal; (None, True) when
    the problem is proved infeasible, (None, False) when no plan was found in time."""
    if _short(inst):
        return None, True
    n_slots = len(inst.slots)
    everything, none = list(range(n_slots)), [-1] * n_slots
    pairs = sum(len(a) for a in inst.allowed)
    search = Search(inst)
    start = search.construct() or search.first_fit()
    rng = random.Random(seed)
    tries_until = time.perf_counter() + 0.3 * max(0.0, deadline - time.perf_counter())
    while start is None and time.perf_counter() < tries_until and pairs > _EXACT_LIMIT:
        start = search.construct(rng)  # another order: the capacity may fit another way
    if start is None:
        if pairs > _MODEL_LIMIT:  # too large to hand to z3 whole: building the model alone would overrun
            return None, False
        found, proved = _subproblem(inst, everything, none, deadline=deadline)
        if found is None:
            return None, proved
        start = [found[s] for s in everything]
        if proved:
            return start, True
    if pairs <= _EXACT_LIMIT:  # small: polish, then let z3 prove (or improve) it
        now = time.perf_counter()
        budget = max(0.0, deadline - now)
        start = search.anneal(start, deadline=now + min(0.1, 0.2 * budget), seed=seed)
        found, proved = _subproblem(inst, everything, none, deadline=now + 0.7 * budget, hint=start)
        if found is not None:
            exact = [found[s] for s in everything]
            if proved:
                return exact, True
            if inst.feasible(exact) and inst.objective(exact) < inst.objective(start):
                start = exact
    return search.anneal(start, deadline=deadline, seed=seed), False


def _breakdown(inst: Instance, where: Sequence[int]) -> dict[str, int]:
    terms = {"computation": 0.0, "communication": 0.0, "memory": 0.0, "network": 0.0}
    for s, n in enumerate(where):
        req, node = inst.requests[inst.slots[s][0]], inst.nodes[n]
        amounts, _ = _demands(req, node)
        terms["computation"] += WEIGHTS["computation"] * req.work * node.cost
        terms["memory"] += WEIGHTS["memory"] * (amounts.get("memory", 0.0) / node.memory if node.memory else 0.0)
        terms["network"] += WEIGHTS["network"] * (amounts.get("network", 0.0) / node.network if node.network else 0.0)
    out = {k: round(_UNIT * v) for k, v in terms.items()}
    out["communication"] = inst.edge_base + sum(inst.edge_cost(e, where[e[0]], where[e[1]]) for e in inst.edges)
    return out


def _plan(inst: Instance, cluster: Cluster, where: Sequence[int], optimal: bool, started: float, moved: tuple[str, ...] = ()) -> Plan:
    if not inst.feasible(where):
        from effectus.core._errors import InternalError

        raise InternalError(f"the placement solver produced a plan that breaks a constraint: {list(where)}")
    assignments: dict[str, tuple[str, ...]] = {}
    for i, req in enumerate(inst.requests):
        assignments[req.name] = tuple(inst.nodes[where[s]].name for s in inst.groups[i])
    return Plan(cluster, assignments, inst.objective(where), _breakdown(inst, where), optimal, time.perf_counter() - started, inst.requests, moved)


def place(requests: Iterable[Request], cluster: Cluster | None = None, *, timeout: float = 10.0, seed: int = 0) -> Plan:
    """Place ``requests`` on ``cluster`` (default: this machine) at the least weighted cost.

    The answer is the best plan found within ``timeout`` seconds (everything included); the
    search uses the whole budget unless z3 proves the plan minimal first (``Plan.optimal``),
    which small problems (up to 400 replica-node pairs) often get in milliseconds.

    >>> from effectus.types import Cluster, Node
    >>> cluster = Cluster([Node("small", cpu=4, memory=8 * 2**30), Node("big", cpu=32, memory=64 * 2**30, cost=2)])
    >>> plan = place([Request("api", "on(cpu>=2).replicas(2)"), Request("db", "on(memory>=16GB)")], cluster)
    >>> plan.assignments["api"], plan.assignments["db"], plan.optimal
    (('small', 'big'), ('big',), True)

    Raises:
        Unplaceable: no plan meets every constraint; its ``explanation`` says why.
        PlacementError: the problem is malformed (an unknown peer, a repeated name).
    """
    started = time.perf_counter()
    cluster = Cluster.local() if cluster is None else cluster
    inst = placement_instance(tuple(requests), cluster)
    reserve = min(0.02 * timeout, 0.05)  # for building the Plan once the search stops
    where, optimal = _solve(inst, deadline=started + timeout - reserve, seed=seed)
    if where is None:
        if not optimal:
            raise PlacementError(f"no plan found within timeout={timeout} s, and none proved impossible.\nFix: give place() more time.")
        raise Unplaceable(explain(inst, timeout=timeout))
    return _plan(inst, cluster, where, optimal, started)


def replan(previous: Plan, failed: Iterable[str], *, timeout: float = 10.0, seed: int = 0) -> Plan:
    """``previous`` without the ``failed`` nodes, moving as few replicas as possible.

    Replicas on live nodes stay put when the displaced ones fit elsewhere; otherwise z3 moves
    the fewest it can, then minimises cost, as long as the replicas it must weigh are few
    (a few hundred replica-node pairs).  Beyond that, the replicas of the roomiest nodes are
    re-placed greedily, and on a full, tight cluster that can move most of the plan.
    ``moved`` lists the requests whose nodes changed.

    Raises:
        Unplaceable: the remaining nodes cannot hold the requests.
    """
    started = time.perf_counter()
    failed = tuple(failed)
    cluster = previous.cluster.without(*failed)
    inst = placement_instance(previous.requests, cluster)
    index = {n.name: i for i, n in enumerate(inst.nodes)}
    old: dict[int, int] = {}
    for i, req in enumerate(inst.requests):
        for s, name in zip(inst.groups[i], previous.assignments[req.name]):
            if name in index:
                old[s] = index[name]
    displaced = [s for s in range(len(inst.slots)) if s not in old]
    deadline = started + timeout
    where = [old.get(s, -1) for s in range(len(inst.slots))]
    search = Search(inst)
    around = search.construct(partial=where) if displaced else where
    found: dict[int, int] | None = None
    if around is not None:  # the displaced fit around the rest: place them well, the rest stays
        polish = min(deadline, time.perf_counter() + min(1.0, 0.25 * timeout))
        around = search.anneal(around, deadline=polish, seed=seed, movable=displaced)
        found = {s: around[s] for s in displaced}
    elif len(displaced) * len(inst.nodes) <= _EXACT_LIMIT:
        found, _ = _subproblem(inst, displaced, where, deadline=deadline)
    if found is None:  # the displaced do not fit around the rest: move the fewest others too
        found, proved = _widening(inst, search, displaced, where, old, deadline=deadline)
        if found is None:
            if not proved:
                raise PlacementError(f"no new plan found within timeout={timeout} s.\nFix: give replan() more time.")
            raise Unplaceable(explain(inst, timeout=timeout))
    for s, n in found.items():
        where[s] = n
    moved = tuple(req.name for i, req in enumerate(inst.requests) if any(old.get(s) != where[s] for s in inst.groups[i]))
    return _plan(inst, cluster, where, False, started, moved)  # the others were held fixed: not a global optimum


def _widening(inst: Instance, search: Search, displaced: Sequence[int], where: Sequence[int], old: Mapping[int, int], *, deadline: float) -> tuple[dict[int, int] | None, bool]:
    """Place ``displaced`` by moving few others: free the replicas on the nodes with the most
    room (2, 4, 8... of them) until they are placed again, the whole problem last (when its
    model is small enough to build).  z3 places them, moving the fewest, while the freed set
    is small; a larger one is re-placed by ``search``'s construction.  Only the whole
    problem's ``unsat`` proves there is no plan."""
    pairs = sum(len(a) for a in inst.allowed)
    left = _residual(inst, where)
    room = [sum(c / max(1, cap) for c, cap in zip(left[n], inst.capacity[n]) if cap < 2**62) for n in range(len(inst.nodes))]
    ranked = sorted(range(len(inst.nodes)), key=lambda n: -room[n])
    k = 2
    while True:
        chosen = set(ranked[:k])
        free = sorted(set(displaced) | {s for s, n in enumerate(where) if n in chosen})
        whole = len(chosen) == len(ranked)
        if len(free) * len(inst.nodes) > _EXACT_LIMIT and (not whole or pairs > _MODEL_LIMIT):
            freed = set(free)  # too many for z3 in time: re-place them greedily, in a few orders
            partial = [-1 if s in freed else n for s, n in enumerate(where)]
            rng = random.Random(k)
            for attempt in range(4):
                placed = search.construct(rng if attempt else None, partial=partial)
                if placed is not None:
                    return {s: placed[s] for s in free}, False
            if whole:
                placed = search.first_fit()
                return ({s: placed[s] for s in free} if placed is not None else None), False
            k *= 2
            continue
        found, proved = _subproblem(inst, free, where, deadline=deadline, stay=old)
        if found is not None or whole or (not proved and time.perf_counter() >= deadline):
            return found, proved and whole
        k *= 2


def _residual(inst: Instance, where: Sequence[int]) -> list[list[int]]:
    """What each node has left when the placed slots of ``where`` (node >= 0) take their share."""
    left = [list(c) for c in inst.capacity]
    for s, n in enumerate(where):
        if n >= 0:
            for r, amount in enumerate(inst.demand[s][n]):
                left[n][r] -= amount
    return left


# --- explaining ---------------------------------------------------------------------------


def _tracked(req: Request) -> list[Constraint]:
    """The clauses of ``req`` an explanation may name."""
    out: list[Constraint] = [c for c in req.placement.constraints() if not isinstance(c, Qos) or c.level is not None]
    qos = req.placement.qos
    if qos is not None and qos not in out:
        out.append(qos)
    return out


def _counted(inst: Instance) -> tuple[list[tuple[str, Constraint]], str] | None:
    """A conflict that counting proves, minimised by counting, with its reason in words; or None.

    Two kinds: a request whose replicas outnumber the nodes its filters leave (replicas need
    distinct nodes), and a resource the requests need more of, in all, than the cluster offers
    after headroom.  Both are pigeonhole arguments, which SAT solvers find very hard to refute.
    """
    n_nodes = len(inst.nodes)
    for i, req in enumerate(inst.requests):
        k, clause = len(inst.groups[i]), req.placement.replicas_clause
        qualify = [n for n in range(n_nodes) if (i, n) not in inst.rejected]
        if clause is None or not qualify or len(qualify) >= k:  # none qualify: the filters alone conflict
            continue
        blocks: dict[int, tuple[Constraint, set[int]]] = {}  # id(clause) -> (clause, nodes it rules out)
        for n in range(n_nodes):
            for c, _ in inst.rejected.get((i, n), ()):
                blocks.setdefault(id(c), (c, set()))[1].add(n)
        kept = list(blocks)
        for key in list(kept):  # deletion: drop each filter the count does not need
            trial = [other for other in kept if other != key]
            if n_nodes - len(set[int]().union(*(blocks[o][1] for o in trial))) < k:
                kept = trial
        why = f"{req.name}: {clause.text} needs {k} distinct nodes; {len(qualify)} of the {n_nodes} qualify"
        return [(req.name, clause)] + [(req.name, blocks[key][0]) for key in kept], why
    least: list[dict[str, tuple[float, Constraint | None]]] = []  # request -> resource -> its smallest demand
    for i, req in enumerate(inst.requests):
        smallest: dict[str, tuple[float, Constraint | None]] = {}
        fits = [n for n in range(n_nodes) if (i, n) not in inst.rejected]
        for n in fits:
            amounts, source = _demands(req, inst.nodes[n])
            for resource in _GRAIN:
                amount = amounts.get(resource, 0.0)
                if resource not in smallest or amount < smallest[resource][0]:
                    smallest[resource] = (amount, source.get(resource))
        least.append(smallest)
    for resource in _GRAIN:
        offer = sum(n.capacity(resource) * _usable(resource) for n in inst.nodes)
        asks: list[tuple[float, int, Constraint]] = []  # (amount per replica, request, clause asking)
        for i in range(len(inst.requests)):
            amount, asked_by = least[i].get(resource, (0.0, None))
            if amount > 0 and asked_by is not None:
                asks.append((amount, i, asked_by))
        need = sum(a * len(inst.groups[i]) for a, i, _ in asks)
        if need <= offer + 1e-9:
            continue
        asks.sort(key=lambda a: a[0] * len(inst.groups[a[1]]))
        for ask in list(asks):  # drop the smallest asks while the rest still overflow
            if need - ask[0] * len(inst.groups[ask[1]]) > offer + 1e-9:
                asks.remove(ask)
                need -= ask[0] * len(inst.groups[ask[1]])
        pairs: list[tuple[str, Constraint]] = []
        for amount, i, asked_by in asks:
            req = inst.requests[i]
            pairs.append((req.name, asked_by))
            extra = amount * (len(inst.groups[i]) - 1)  # what its replicas beyond the first add
            if req.placement.replicas_clause is not None and extra > 0:
                if need - extra > offer + 1e-9:
                    need -= extra  # short even with one replica: replicas(n) is not to blame
                else:
                    pairs.append((req.name, req.placement.replicas_clause))
        why = (f"{resource}: these requests need {_show(resource, need)} in all; "
               f"the cluster offers {_show(resource, offer)} after the {HEADROOM:.0%} headroom")
        return pairs, why
    return None


def explain(inst: Instance, *, timeout: float = 10.0) -> Explanation:
    """A minimal set of the user's constraints that cannot hold together, and the nearest misses.

    Conflicts that counting proves (too few nodes for a request's replicas, too little of a
    resource in all) are found first, at once; others by z3's unsat core, minimised by
    deletion, within ``timeout`` seconds (a core z3 cannot shrink in time is kept whole).
    """
    counted = _counted(inst)
    if counted is not None:
        pairs, why = counted
        return _explanation(inst, pairs, (why,))
    deadline = time.perf_counter() + timeout
    z3 = _z3()
    ctx = z3.Context()
    solver = z3.Solver(ctx=ctx)
    solver.set("random_seed", 0)
    lit: dict[int, Any] = {}  # id(constraint) -> its z3 literal
    owner: dict[str, tuple[str, Constraint]] = {}

    def literal(req: Request, c: Constraint) -> Any:
        if id(c) not in lit:
            name = f"c{len(lit)}"
            lit[id(c)] = z3.Bool(name, ctx)
            owner[name] = (req.name, c)
        return lit[id(c)]

    nodes = range(len(inst.nodes))
    y = {(s, n): z3.Bool(f"y{s}_{n}", ctx) for s in range(len(inst.slots)) for n in nodes}
    for i, req in enumerate(inst.requests):
        clauses = _tracked(req)
        replicas = req.placement.replicas_clause
        for k, s in enumerate(inst.groups[i]):
            one = z3.And(z3.Or([y[s, n] for n in nodes]), z3.AtMost(*[y[s, n] for n in nodes], 1))
            if k == 0 or replicas is None:
                solver.add(one)
            else:
                p = literal(req, replicas)
                solver.add(z3.Implies(p, one), z3.Implies(z3.Not(p), z3.And([z3.Not(y[s, n]) for n in nodes])))
            for n in nodes:
                for c, _ in inst.rejected.get((i, n), ()):
                    if c in clauses or isinstance(c, (Requirement, QosBound, LabelMatch, Qos)):
                        solver.add(z3.Implies(literal(req, c), z3.Not(y[s, n])))
        for n in nodes:
            col = [y[s, n] for s in inst.groups[i]]
            if len(col) > 1:
                solver.add(z3.AtMost(*col, 1))
    for n in nodes:  # shared capacity: each demand counts while the clause asking for it holds
        for r, resource in enumerate(inst.resources):
            terms: list[tuple[Any, int]] = []
            for s, (i, _) in enumerate(inst.slots):
                if (i, n) in inst.rejected:
                    continue
                req = inst.requests[i]
                amount = inst.demand[s][n][r]
                if amount:
                    _, source = _demands(req, inst.nodes[n])
                    terms.append((z3.And(y[s, n], literal(req, source[resource])), amount))
            if sum(w for _, w in terms) > inst.capacity[n][r]:
                solver.add(z3.PbLe(terms, inst.capacity[n][r]))
    for i, req in enumerate(inst.requests):
        for aff in req.placement.affinities:
            j = next(k for k, other in enumerate(inst.requests) if other.name == aff.tool)
            p = literal(req, aff)
            for a in inst.groups[i] if aff.kind == "apart" else inst.groups[i][:1]:
                for b in inst.groups[j] if aff.kind == "apart" else inst.groups[j][:1]:
                    for n in nodes:
                        if aff.kind == "apart":
                            solver.add(z3.Implies(p, z3.Not(z3.And(y[a, n], y[b, n]))))
                        else:
                            close = [y[b, m] for m in nodes if inst.distance(n, m) <= 1]
                            solver.add(z3.Implies(z3.And(p, y[a, n]), z3.Or(close)))
    for req in inst.requests:  # a clause that constrains nothing still belongs to the request
        for c in _tracked(req):
            literal(req, c)
    names = {str(v): v for v in lit.values()}

    def unsat(assumptions: list[Any]) -> bool | None:
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        solver.set("timeout", max(1, int(left * 1000)))
        answer = solver.check(*assumptions)
        return True if answer == z3.unsat else False if answer == z3.sat else None

    core = [str(c) for c in solver.unsat_core()] if unsat(list(names.values())) else []
    for name in list(core):  # deletion: keep only clauses the conflict needs
        if unsat([names[c] for c in core if c != name]):
            core = [c for c in core if c != name]
    return _explanation(inst, [owner[c] for c in core], ())


def _explanation(inst: Instance, pairs: Sequence[tuple[str, Constraint]], reasons: tuple[str, ...]) -> Explanation:
    """The explanation naming ``pairs`` (request, clause), with each request's closest nodes."""
    nodes = range(len(inst.nodes))
    conflicts = tuple(sorted(pairs, key=lambda rc: (rc[0], rc[1].column)))
    closest: dict[str, tuple[tuple[str, str], ...]] = {}
    for name in dict.fromkeys(r for r, _ in conflicts):
        i = next(k for k, other in enumerate(inst.requests) if other.name == name)
        ranked = sorted(nodes, key=lambda n: (len(inst.rejected.get((i, n), ())), inst.nodes[n].name))
        closest[name] = tuple(
            (inst.nodes[n].name, "; ".join(f"{c.text}: {why}" for c, why in inst.rejected[(i, n)]) if (i, n) in inst.rejected
             else "meets its constraints alone, not together with the rest")
            for n in ranked[:3]
        )
    sources = {r.name: r.placement.source for r in inst.requests if r.name in closest}
    return Explanation(conflicts, closest, sources, reasons)


def contradictions(placement: Placement | str) -> tuple[Constraint, ...]:
    """Clauses of one placement that no node could ever satisfy together (a minimal set), or ().

    Found by z3 over a symbolic node — any capacities, latency, availability and labels — with
    the 10% headroom reserve: ``on(gpu>=2, gpu<=1)``, ``on(cpu>=95%)``, ``near(db).apart(db)``,
    ``label(zone=a, zone=b)``.

    >>> [c.text for c in contradictions("on(gpu>=2, memory>=1GB, gpu<2)")]
    ['gpu>=2', 'gpu<2']
    >>> contradictions("on(gpu>=1).qos(interactive)")
    ()
    """
    p = placement if isinstance(placement, Placement) else parse_placement(placement)
    z3 = _z3()
    ctx = z3.Context()
    solver = z3.Solver(ctx=ctx)
    cap = {r: z3.Real(r, ctx) for r in ("gpu", "cpu", "npu", "memory", "network", "disk")}
    latency, availability = z3.Real("latency", ctx), z3.Real("availability", ctx)
    for v in cap.values():
        solver.add(v >= 0)
    solver.add(latency >= 0, availability >= 0, availability <= 1)
    tracked: dict[str, tuple[Constraint, Any]] = {}

    def track(c: Constraint, formula: Any) -> None:
        name = f"c{len(tracked)}"
        tracked[name] = (c, z3.Bool(name, ctx))
        solver.add(z3.Implies(tracked[name][1], formula))

    for t in p.requirements:
        c = cap[t.resource]
        usable = _usable(t.resource)
        bound = z3.RealVal(t.value, ctx) * c if t.percent else z3.RealVal(t.value, ctx)
        formula = {
            ">=": usable * c >= bound, ">": usable * c > bound, "==": usable * c >= bound,
            "<=": c <= bound, "<": c < bound, "!=": c != bound,
        }[t.op]
        if t.op == "==" and t.value == 0:
            formula = c == 0
        elif t.percent and t.op in (">=", ">", "=="):
            formula = z3.And(formula, c > 0)  # a share of what the node has: it has some
        track(t, formula)
    if p.qos is not None:
        if p.qos.level is not None:
            from effectus.types._placement import QOS_LEVELS

            lat, resp, _ = QOS_LEVELS[p.qos.level]
            track(p.qos, latency <= min(lat, resp))
        for b in p.qos.bounds:
            term = latency if b.metric in ("latency", "response") else availability if b.metric == "availability" else None
            if term is None:
                continue
            value = z3.RealVal(b.value, ctx)
            track(b, {">=": term >= value, ">": term > value, "<=": term <= value, "<": term < value, "==": term == value, "!=": term != value}[b.op])
    for aff in p.affinities:  # near(x) and apart(x) of one tool: both hold only if x is absent
        others = [a for a in p.affinities if a.tool == aff.tool and a.kind != aff.kind]
        if others and aff.kind == "near":
            track(aff, z3.BoolVal(True, ctx))
            track(others[0], z3.Not(tracked[f"c{len(tracked) - 1}"][1]))
    labels: dict[str, Any] = {}
    for lab in p.labels:
        var = labels.setdefault(lab.key, z3.String(f"label:{lab.key}", ctx))
        value = z3.StringVal(lab.value, ctx)
        track(lab, var == value if lab.op == "=" else var != value)
    flags = {name: flag for name, (_, flag) in tracked.items()}
    if solver.check(*flags.values()) != z3.unsat:
        return ()
    core = [str(c) for c in solver.unsat_core()]
    for name in list(core):
        if solver.check(*[flags[c] for c in core if c != name]) == z3.unsat:
            core = [c for c in core if c != name]
    return tuple(sorted((tracked[c][0] for c in core), key=lambda c: c.column))
