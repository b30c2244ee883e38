"""Local search for placement: a near-aware construction, then simulated annealing.

Every state the search visits is a feasible plan: a move (relocate one replica, or swap two)
is taken only when it keeps capacities, distinct nodes for replicas and ``apart`` peers, and
``near`` peers in one rack.  Costs are the instance's own (`Instance.objective`), updated by
exact deltas, so the search's figure for a plan is always ``inst.objective`` of it.

This finds good plans fast at every size; z3 (in `_placement`) proves small ones optimal and
explains infeasible ones.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from effectus.proofs._placement import Instance

__all__ = ["Search"]


def _pick(items: Sequence[int], u: float) -> int:
    """The item a uniform ``u`` in [0, 1) picks."""
    return items[int(u * len(items))]


class Search:
    """Feasible moves over one instance, with the costs needed to rank them."""

    t_scale = 1.0
    max_rounds = 8
    round_s = 0.25
    reheat = 0.5
    t_end = 1e-3
    p_group = 0.15

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        n_slots, n_nodes = len(inst.slots), len(inst.nodes)
        self.n_slots, self.n_nodes = n_slots, n_nodes
        # only resources some slot asks for and some node limits take part in capacity checks
        active = [
            r for r in range(len(inst.resources))
            if any(vec[r] for s in range(n_slots) for vec in inst.demand[s].values())
        ]
        self.cap = [[c[r] for r in active] for c in inst.capacity]
        self.dem: list[list[tuple[int, ...] | None]] = []
        self.cost: list[list[int | None]] = []
        for s in range(n_slots):
            dem_row: list[tuple[int, ...] | None] = [None] * n_nodes
            cost_row: list[int | None] = [None] * n_nodes
            for n in inst.allowed[s]:
                dem_row[n] = tuple(inst.demand[s][n][r] for r in active)
                cost_row[n] = inst.cost[s][n]
            self.dem.append(dem_row)
            self.cost.append(cost_row)
        self.allowed = [list(a) for a in inst.allowed]
        #: slot -> (other slot, gain if same datacenter, same rack, same node) per edge
        self.nbr: list[list[tuple[int, int, int, int]]] = [[] for _ in range(n_slots)]
        for a, b, (g_dc, g_rack, g_node) in inst.edges:
            gains = (g_dc, g_dc + g_rack, g_dc + g_rack + g_node)
            self.nbr[a].append((b, *gains))
            self.nbr[b].append((a, *gains))
        #: slot -> slots that may not share its node (its request's other replicas, apart peers)
        self.sep: list[list[int]] = [[] for _ in range(n_slots)]
        for g in inst.groups:
            for s in g:
                self.sep[s] += [t for t in g if t != s]
        for a, b in inst.apart:
            self.sep[a].append(b)
            self.sep[b].append(a)
        #: slot -> slots that must share its rack (``near``)
        self.near: list[list[int]] = [[] for _ in range(n_slots)]
        for a, b in inst.near:
            self.near[a].append(b)
            self.near[b].append(a)
        self.rack = list(inst.rack_of)
        self.dc = list(inst.dc_of)

    # --- costs ----------------------------------------------------------------------------

    def gain(self, n: int, p: int, g_dc: int, g_rack: int, g_node: int) -> int:
        if n == p:
            return g_node
        if self.rack[n] == self.rack[p]:
            return g_rack
        return g_dc if self.dc[n] == self.dc[p] else 0

    def delta(self, where: Sequence[int], s: int, n: int, m: int, skip: int = -1) -> int:
        """What moving slot ``s`` from node ``n`` to ``m`` changes (edges to ``skip`` left out)."""
        cost = self.cost[s]
        d = (cost[m] or 0) - (cost[n] or 0)  # both allowed: neither is None
        rack, dc = self.rack, self.dc
        for o, g_dc, g_rack, g_node in self.nbr[s]:
            if o == skip:
                continue
            p = where[o]
            d += (g_node if n == p else g_rack if rack[n] == rack[p] else g_dc if dc[n] == dc[p] else 0) - (
                g_node if m == p else g_rack if rack[m] == rack[p] else g_dc if dc[m] == dc[p] else 0)
        return d

    # --- construction ---------------------------------------------------------------------

    def components(self) -> list[list[int]]:
        """Slots joined by ``near`` (each component must share one rack), singletons included."""
        parent = list(range(self.n_slots))

        def root(s: int) -> int:
            while parent[s] != s:
                parent[s] = parent[parent[s]]
                s = parent[s]
            return s

        for a, b in self.inst.near:
            parent[root(a)] = root(b)
        out: dict[int, list[int]] = {}
        for s in range(self.n_slots):
            out.setdefault(root(s), []).append(s)
        return list(out.values())

    def construct(self, rng: random.Random | None = None, partial: Sequence[int] | None = None) -> list[int] | None:
        """A feasible plan, or None: the most constrained components first, each slot on its
        cheapest node with room, a ``near`` component all in the rack where it is cheapest.
        With ``rng``, ties and near-ties in the order are broken at random.  With ``partial``
        (slot -> node, -1 for none), only its unplaced slots are placed, around the others."""
        where = [-1] * self.n_slots if partial is None else list(partial)
        free = [list(c) for c in self.cap]
        for s, n in enumerate(where):
            if n >= 0:
                self._put(s, n, where, free)

        def size(s: int) -> int:
            return sum(max((d for d in self.dem[s] if d is not None), key=sum, default=()))

        def key(comp: list[int]) -> tuple[float, ...]:
            options = min(len(self.allowed[s]) for s in comp)
            jitter = rng.random() if rng is not None else 0.0
            return (options * (1 + 0.5 * jitter), -sum(size(s) for s in comp) * (1 + 0.5 * jitter))

        for comp in sorted(([s for s in c if where[s] < 0] for c in self.components()), key=lambda c: key(c) if c else ()):
            if not comp:
                continue
            if len(comp) == 1:
                choice = self._cheapest(comp[0], where, free, None)
                if choice is None:
                    return None
                self._put(comp[0], choice, where, free)
                continue
            best: tuple[int, list[tuple[int, int]]] | None = None
            for rack in sorted(set(self.rack)):
                trial: list[tuple[int, int]] = []
                total = 0
                for s in comp:
                    choice = self._cheapest(s, where, free, rack)
                    if choice is None:
                        break
                    total += self.cost[s][choice] or 0
                    self._put(s, choice, where, free)
                    trial.append((s, choice))
                for s, n in trial:  # undo: only the best rack is kept
                    self._take(s, n, where, free)
                if len(trial) == len(comp) and (best is None or total < best[0]):
                    best = (total, trial)
            if best is None:
                return None
            for s, n in best[1]:
                self._put(s, n, where, free)
        return where

    def first_fit(self) -> list[int] | None:
        """Slots in order, each on the first allowed node with room (the plainest construction)."""
        where = [-1] * self.n_slots
        free = [list(c) for c in self.cap]
        for s in range(self.n_slots):
            for n in self.allowed[s]:
                if self._fits(s, n, where, free):
                    self._put(s, n, where, free)
                    break
            else:
                return None
        return where

    def _fits(self, s: int, n: int, where: Sequence[int], free: list[list[int]]) -> bool:
        dem = self.dem[s][n]
        if dem is None or any(f < d for f, d in zip(free[n], dem)):
            return False
        if any(where[t] == n for t in self.sep[s]):
            return False
        return all(where[t] < 0 or self.rack[where[t]] == self.rack[n] for t in self.near[s])

    def _cheapest(self, s: int, where: list[int], free: list[list[int]], rack: int | None) -> int | None:
        best: tuple[int, int] | None = None
        for n in self.allowed[s]:
            if rack is not None and self.rack[n] != rack:
                continue
            if not self._fits(s, n, where, free):
                continue
            c = self.cost[s][n] or 0
            for o, g_dc, g_rack, g_node in self.nbr[s]:
                if where[o] >= 0:
                    c -= self.gain(n, where[o], g_dc, g_rack, g_node)
            if best is None or c < best[0]:
                best = (c, n)
        return None if best is None else best[1]

    def _put(self, s: int, n: int, where: list[int], free: list[list[int]]) -> None:
        where[s] = n
        row = free[n]
        for k, d in enumerate(self.dem[s][n] or ()):
            row[k] -= d

    def _take(self, s: int, n: int, where: list[int], free: list[list[int]]) -> None:
        where[s] = -1
        row = free[n]
        for k, d in enumerate(self.dem[s][n] or ()):
            row[k] += d

    # --- annealing ------------------------------------------------------------------------

    def anneal(self, start: Sequence[int], *, deadline: float, seed: int, movable: Sequence[int] | None = None) -> list[int]:
        """Simulated annealing from the feasible plan ``start`` until ``deadline``: the best plan seen.

        Moves: relocate a replica to a random allowed node or to a node of a slot it talks to;
        swap two replicas (a random pair, or one with a replica on a peer's node).  The
        temperature falls geometrically over each round; every round restarts from the best.
        Only the ``movable`` slots (default: all) change nodes.
        """
        rng = random.Random(seed)
        rand, exp = rng.random, math.exp
        where = list(start)
        free = [list(c) for c in self.cap]
        on: list[list[int]] = [[] for _ in range(self.n_nodes)]
        pos = [0] * self.n_slots
        for s, n in enumerate(where):
            row = free[n]
            for k, d in enumerate(self.dem[s][n] or ()):
                row[k] -= d
            pos[s] = len(on[n])
            on[n].append(s)
        inst = self.inst
        current = inst.objective(where)
        best, best_where = current, list(where)
        n_slots = self.n_slots
        pool = list(range(n_slots)) if movable is None else list(movable)
        mobile = [movable is None] * n_slots
        for s in pool:
            mobile[s] = True
        n_pool = len(pool)
        if n_pool == 0:
            return where
        dem, cost, nbr, sep, near, rack, allowed = self.dem, self.cost, self.nbr, self.sep, self.near, self.rack, self.allowed
        delta = self.delta

        def move(s: int, n: int, m: int) -> None:
            where[s] = m
            row_n, row_m = free[n], free[m]
            for k, d in enumerate(dem[s][n] or ()):
                row_n[k] += d
            for k, d in enumerate(dem[s][m] or ()):
                row_m[k] -= d
            lst = on[n]  # swap-remove s from its old node's list
            last = lst[-1]
            lst[pos[s]] = last
            pos[last] = pos[s]
            lst.pop()
            pos[s] = len(on[m])
            on[m].append(s)

        t0 = self._temperature(where, rng, pool) * self.t_scale
        started = time.perf_counter()
        total = max(deadline - started, 1e-3)
        rounds = max(1, min(self.max_rounds, int(total / self.round_s)))
        span = total / rounds
        round_end = started + span
        t_hi, t_lo = t0, t0 * self.t_end
        temp = t_hi
        it = 0
        while True:
            it += 1
            if not it & 127:
                now = time.perf_counter()
                if now >= deadline:
                    break
                if now >= round_end:  # a new round: from the best, hot again
                    round_end = min(deadline, now + span)
                    for s in range(n_slots):
                        if where[s] != best_where[s]:
                            move(s, where[s], best_where[s])
                    current = best
                    t_hi *= self.reheat
                    t_lo = t_hi * self.t_end
                frac = 1.0 - (round_end - now) / span
                temp = t_hi * (t_lo / t_hi) ** min(1.0, max(0.0, frac))
            s = pool[int(rand() * n_pool)]
            n = where[s]
            r = rand()
            peers = nbr[s]
            if peers and r < self.p_group:  # move s with the peers that share its node
                group = [s]
                for o in group:
                    if len(group) >= 4:
                        break
                    group += [q[0] for q in nbr[o] if where[q[0]] == n and mobile[q[0]] and q[0] not in group]
                if len(group) == 1:
                    continue
                outside = [q[0] for g in group for q in nbr[g] if where[q[0]] != n]
                m = where[outside[int(rand() * len(outside))]] if outside and rand() < 0.7 else _pick(allowed[s], rand())
                if m == n or any(cost[g][m] is None for g in group):
                    continue
                d = 0
                for g in group:  # one at a time: each delta sees the earlier ones moved
                    d += delta(where, g, n, m)
                    where[g] = m
                for g in group:
                    where[g] = n
                if d > 0 and (temp <= 0 or rand() >= exp(-d / temp)):
                    continue
                row = list(free[m])
                for g in group:
                    for k, x in enumerate(dem[g][m] or ()):
                        row[k] -= x
                if any(f < 0 for f in row):
                    continue
                if any(where[t] == m for g in group for t in sep[g]):
                    continue
                if any(t not in group and rack[where[t]] != rack[m] for g in group for t in near[g]):
                    continue
                for g in group:
                    move(g, n, m)
                current += d
            elif r < 0.55:  # relocate
                if peers and r < 0.25:
                    m = where[peers[int(rand() * len(peers))][0]]
                else:
                    m = _pick(allowed[s], rand())
                if m == n or cost[s][m] is None:
                    continue
                d = delta(where, s, n, m)
                if d > 0 and (temp <= 0 or rand() >= exp(-d / temp)):
                    continue
                dem_m = dem[s][m] or ()
                row = free[m]
                if any(f < x for f, x in zip(row, dem_m)):
                    continue
                if any(where[t] == m for t in sep[s]):
                    continue
                if near[s] and any(rack[where[t]] != rack[m] for t in near[s]):
                    continue
                move(s, n, m)
                current += d
            else:  # swap with a slot on another node
                if peers and r < 0.8:
                    m = where[peers[int(rand() * len(peers))][0]]
                    if m == n or not on[m]:
                        continue
                    t = _pick(on[m], rand())
                    if not mobile[t]:
                        continue
                else:
                    t = pool[int(rand() * n_pool)]
                    m = where[t]
                    if m == n:
                        continue
                if cost[s][m] is None or cost[t][n] is None:
                    continue
                d = delta(where, s, n, m, t) + delta(where, t, m, n, s)
                if d > 0 and (temp <= 0 or rand() >= exp(-d / temp)):
                    continue
                ds_n, ds_m, dt_n, dt_m = dem[s][n] or (), dem[s][m] or (), dem[t][n] or (), dem[t][m] or ()
                fn, fm = free[n], free[m]
                if any(fn[k] + ds_n[k] < dt_n[k] for k in range(len(fn))):
                    continue
                if any(fm[k] + dt_m[k] < ds_m[k] for k in range(len(fm))):
                    continue
                if any(where[u] == m for u in sep[s] if u != t) or any(where[u] == n for u in sep[t] if u != s):
                    continue
                if near[s] and any(rack[n if u == t else where[u]] != rack[m] for u in near[s]):
                    continue
                if near[t] and any(rack[m if u == s else where[u]] != rack[n] for u in near[t]):
                    continue
                move(s, n, m)
                move(t, m, n)
                current += d
            if current < best:
                best = current
                best_where = list(where)
        return best_where

    def _temperature(self, where: list[int], rng: random.Random, pool: Sequence[int]) -> float:
        """A starting temperature: the median cost rise of random relocations of ``pool`` slots."""
        rises: list[int] = []
        for _ in range(200):
            s = rng.choice(pool)
            m = rng.choice(self.allowed[s])
            if m != where[s]:
                d = self.delta(where, s, where[s], m)
                if d > 0:
                    rises.append(d)
        rises.sort()
        return float(rises[len(rises) // 2]) / 2 if rises else 1.0
