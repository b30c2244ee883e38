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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from effectus.proofs._placement import Instance

__all__ = ["Search"]


class Search:
    """Feasible moves over one instance, with the costs needed to rank them."""

    t_scale = 1.0
    max_rounds = 3
    round_s = 0.25
    reheat = 1.0
    t_end = 0.05
    #: move mix, as cumulative thresholds on one uniform draw: relocate to a peer's node, to any
    #: node; swap with a slot on a peer's node, with any slot; move a group; swap two groups
    p_pull = 0.25
    p_reloc = 0.55
    p_peer_swap = 0.8
    p_swap = 0.85
    p_group = 0.9
    p_group_swap = 0.93
    p_eject = 0.97

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
        self.best_cost: int | None = None  # the objective of the last `anneal`'s plan
        self.iterations = 0  # the moves the last `anneal` tried

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
        for o, *gains in self.nbr[s]:
            if o != skip:
                d += self.gain(n, where[o], *gains) - self.gain(m, where[o], *gains)
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

    def _packed(self) -> tuple[list[int], list[list[int]], int]:
        """Capacities and demands packed one resource per bit field, for one-operation checks.

        Field ``r`` of a node's word holds ``free[r] + G`` (``G`` a power of two above the
        largest capacity plus every slot's largest demand together: more than any check can
        take from one node at once), so subtracting packed demands never borrows across fields
        and the node has room exactly when every field keeps its guard bit ``G``: when
        ``word & guards == guards``.  Returns the capacity words, the demand words per slot and
        node (0 where not allowed) and the guard mask.
        """
        n_res = len(self.cap[0]) if self.cap else 0
        top = 1 + max((c for cap in self.cap for c in cap), default=0) + sum(
            max((max(d, default=0) for d in row if d is not None), default=0) for row in self.dem)
        bits = top.bit_length() + 1
        guard = 1 << (bits - 1)
        guards = sum(guard << (bits * r) for r in range(n_res))

        def pack(vec: Sequence[int]) -> int:
            return sum(v << (bits * r) for r, v in enumerate(vec))

        cap = [pack(c) + guards for c in self.cap]
        dem = [[0 if d is None else pack(d) for d in row] for row in self.dem]
        return cap, dem, guards

    def anneal(self, start: Sequence[int], *, deadline: float, seed: int, movable: Sequence[int] | None = None) -> list[int]:
        """Simulated annealing from the feasible plan ``start`` until ``deadline``: the best plan seen.

        Moves: relocate a replica (to a random allowed node, or to a node of a slot it talks
        to); swap two replicas (a random pair, or one with a replica on a peer's node); move the
        group of slots that talk to each other on one node to another node; swap two such
        groups; move a slot to a node and one of that node's slots on to a third; gather a slot
        and its peers on one peer's node.  The temperature falls geometrically over each round
        (by ``t_end``); every round restarts from the best, as hot as the first (``reheat``).
        The best plan is copied lazily: only before a move away from it.  Only the ``movable``
        slots (default: all) change nodes.
        """
        rng = random.Random(seed)
        rand = rng.random
        n_slots, n_nodes = self.n_slots, self.n_nodes
        where = list(start)
        pool = list(range(n_slots)) if movable is None else list(movable)
        mobile = [movable is None] * n_slots
        for s in pool:
            mobile[s] = True
        n_pool = len(pool)
        if n_pool == 0:
            return where
        free, dem, guards = self._packed()
        on: list[list[int]] = [[] for _ in range(n_nodes)]
        pos = [0] * n_slots
        for s, n in enumerate(where):
            free[n] -= dem[s][n]
            pos[s] = len(on[n])
            on[n].append(s)
        # rel[n][m]: 3 same node, 2 same rack, 1 same datacenter, 0 neither; an edge's gains by it
        rack, dc = self.rack, self.dc
        rel = [[3 if n == m else 2 if rack[n] == rack[m] else 1 if dc[n] == dc[m] else 0
                for m in range(n_nodes)] for n in range(n_nodes)]
        nb = [[(o, (0, g_dc, g_rack, g_node)) for o, g_dc, g_rack, g_node in row] for row in self.nbr]
        cost: list[list[Any]] = self.cost  # None only off the allowed nodes, never subtracted
        allowed, sep, near = self.allowed, self.sep, self.near
        # an exponential variate per acceptance test, drawn ahead: accept a rise d when d <= temp * e
        expo = [-math.log(1.0 - rng.random()) for _ in range(4096)]
        n_expo = len(expo) - 1
        k_expo = 0

        def relocate(s: int, n: int, m: int) -> None:
            where[s] = m
            free[n] += dem[s][n]
            free[m] -= dem[s][m]
            lst = on[n]  # swap-remove s from its old node's list
            last = lst[-1]
            lst[pos[s]] = last
            pos[last] = pos[s]
            lst.pop()
            pos[s] = len(on[m])
            on[m].append(s)

        def delta(s: int, n: int, m: int) -> int:
            """What moving ``s`` from ``n`` to ``m`` changes, against ``where`` as it stands."""
            d: int = cost[s][m] - cost[s][n]  # both allowed
            rn, rm = rel[n], rel[m]
            for o, gv in nb[s]:
                p = where[o]
                d += gv[rn[p]] - gv[rm[p]]
            return d

        def colocated(s: int, n: int) -> list[int]:
            """``s`` and the slots on ``n`` joined to it by edges between slots on ``n``."""
            group = [s]
            for o in group:
                for q, _ in nb[o]:
                    if where[q] == n and mobile[q] and q not in group:
                        group.append(q)
            return group

        def fits(moves: Sequence[tuple[int, int, int]]) -> bool:
            """Whether ``moves`` (slot, from, to), already made in ``where``, keep capacities,
            ``apart`` and replicas on distinct nodes, and ``near`` in one rack."""
            change: dict[int, int] = {}
            for x, a, b in moves:
                change[a] = change.get(a, 0) + dem[x][a]
                change[b] = change.get(b, 0) - dem[x][b]
            if any((free[k] + c) & guards != guards for k, c in change.items()):
                return False
            for x, _, b in moves:
                if any(where[u] == b for u in sep[x]):
                    return False
                if any(rack[where[u]] != rack[b] for u in near[x]):
                    return False
            return True

        inst = self.inst
        current = inst.objective(where)
        best, best_where, saved = current, list(where), True

        t0 = self._temperature(where, rng, pool) * self.t_scale
        started = time.perf_counter()
        total = max(deadline - started, 1e-3)
        rounds = max(1, min(self.max_rounds, int(total / self.round_s)))
        span = total / rounds
        round_end = started + span
        t_hi, t_lo = t0, t0 * self.t_end
        temp = t_hi
        p_pull, p_reloc, p_peer_swap, p_group = self.p_pull, self.p_reloc, self.p_peer_swap, self.p_group
        p_group_swap, p_eject = self.p_group_swap, self.p_eject
        p_swap = self.p_swap
        it = 0
        d: int  # a move's change in cost (the cost rows hold None where a node is not allowed)
        while True:
            it += 1
            if not it & 127:
                now = time.perf_counter()
                if now >= deadline:
                    break
                if now >= round_end:  # a new round: from the best, hot again
                    round_end = min(deadline, now + span)
                    if not saved:
                        best_where, saved = list(where), True
                    for s in range(n_slots):
                        if where[s] != best_where[s]:
                            relocate(s, where[s], best_where[s])
                    current = best
                    t_hi *= self.reheat
                    t_lo = t_hi * self.t_end
                frac = 1.0 - (round_end - now) / span
                temp = t_hi * (t_lo / t_hi) ** min(1.0, max(0.0, frac))
            u = rand() * n_pool  # one draw: its integer part picks the slot, the rest the move
            i = int(u)
            r = u - i
            s = pool[i]
            n = where[s]
            peers = nb[s]
            if r < p_reloc:  # relocate s
                m = where[peers[int(rand() * len(peers))][0]] if peers and r < p_pull else n
                if m == n:  # no peer elsewhere: a random node
                    al = allowed[s]
                    m = al[int(rand() * len(al))]
                    if m == n:
                        continue
                elif cost[s][m] is None:
                    continue
                cs = cost[s]
                d = cs[m] - cs[n]  # both allowed
                if peers:
                    rn, rm = rel[n], rel[m]
                    for o, gv in peers:
                        p = where[o]
                        d += gv[rn[p]] - gv[rm[p]]
                if d > 0:
                    k_expo = (k_expo + 1) & n_expo
                    if d > temp * expo[k_expo]:
                        continue
                if (free[m] - dem[s][m]) & guards != guards:
                    continue
                if sep[s] and any(where[t] == m for t in sep[s]):
                    continue
                if near[s] and any(rack[where[t]] != rack[m] for t in near[s]):
                    continue
                if d >= 0 and not saved:
                    best_where, saved = list(where), True
                relocate(s, n, m)
            elif r < p_swap or not peers:  # swap s with a slot on another node
                m = where[peers[int(rand() * len(peers))][0]] if peers and r < p_peer_swap else n
                if m != n:  # a slot on a peer's node
                    lst = on[m]
                    t = lst[int(rand() * len(lst))]
                    if not mobile[t]:
                        continue
                else:
                    t = pool[int(rand() * n_pool)]
                    m = where[t]
                    if m == n:
                        continue
                cs, ct = cost[s], cost[t]
                if cs[m] is None or ct[n] is None:
                    continue
                d = cs[m] - cs[n] + ct[n] - ct[m]  # all allowed
                if peers or nb[t]:
                    rn, rm = rel[n], rel[m]
                    where[s] = m  # t's delta sees s moved (an s-t edge is then counted right)
                    for o, gv in peers:
                        p = where[o]
                        d += gv[rn[p]] - gv[rm[p]]
                    for o, gv in nb[t]:
                        p = where[o]
                        d += gv[rm[p]] - gv[rn[p]]
                    where[s] = n
                if d > 0:
                    k_expo = (k_expo + 1) & n_expo
                    if d > temp * expo[k_expo]:
                        continue
                dsn, dtm = dem[s][n], dem[t][m]
                if (free[n] + dsn - dem[t][n]) & guards != guards:
                    continue
                if (free[m] + dtm - dem[s][m]) & guards != guards:
                    continue
                if sep[s] and any(where[u] == m for u in sep[s] if u != t):
                    continue
                if sep[t] and any(where[u] == n for u in sep[t] if u != s):
                    continue
                if near[s] and any(rack[n if u == t else where[u]] != rack[m] for u in near[s]):
                    continue
                if near[t] and any(rack[m if u == s else where[u]] != rack[n] for u in near[t]):
                    continue
                if d >= 0 and not saved:
                    best_where, saved = list(where), True
                relocate(s, n, m)
                relocate(t, m, n)
            else:  # a compound move: several slots at once
                if r < p_group:  # s's co-located group to another node
                    group = colocated(s, n)
                    outside = [q for g in group for q, _ in nb[g] if where[q] != n]
                    if outside and rand() < 0.7:
                        m = where[outside[int(rand() * len(outside))]]
                    else:
                        al = allowed[s]
                        m = al[int(rand() * len(al))]
                    if m == n:
                        continue
                    moves = [(g, n, m) for g in group]
                elif r < p_group_swap:  # s's co-located group and another node's group trade places
                    t = pool[int(rand() * n_pool)]
                    m = where[t]
                    if m == n:
                        continue
                    moves = [(g, n, m) for g in colocated(s, n)] + [(h, m, n) for h in colocated(t, m)]
                elif r < p_eject:  # s to m, and one of m's slots on to a third node
                    al = allowed[s]
                    m = al[int(rand() * len(al))]
                    if m == n or not on[m]:
                        continue
                    lst = on[m]
                    t = lst[int(rand() * len(lst))]
                    if not mobile[t]:
                        continue
                    if nb[t] and rand() < 0.5:
                        k = where[nb[t][int(rand() * len(nb[t]))][0]]
                    else:
                        al = allowed[t]
                        k = al[int(rand() * len(al))]
                    if k == m:
                        continue
                    moves = [(s, n, m), (t, m, k)]
                else:  # s and the slots it talks to, wherever they are, all to one node
                    if not peers:
                        continue
                    m = where[peers[int(rand() * len(peers))][0]]
                    moves = [(o, where[o], m) for o in dict.fromkeys([s] + [o for o, _ in peers if mobile[o]]) if where[o] != m]
                    if not moves:
                        continue
                if any(cost[x][b] is None for x, _, b in moves):
                    continue
                d = 0
                for x, a, b in moves:  # one at a time: each delta sees the earlier ones moved
                    d += delta(x, a, b)
                    where[x] = b
                ok = d <= 0
                if not ok:
                    k_expo = (k_expo + 1) & n_expo
                    ok = d <= temp * expo[k_expo]
                if ok:
                    ok = fits(moves)
                for x, a, _ in reversed(moves):
                    where[x] = a
                if not ok:
                    continue
                if d >= 0 and not saved:
                    best_where, saved = list(where), True
                for x, a, b in moves:
                    relocate(x, a, b)
            current += d
            if current < best:
                best, saved = current, False
        if not saved:
            best_where = list(where)
        self.best_cost = best
        self.iterations = it
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
