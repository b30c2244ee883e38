"""A Monte Carlo job split into tools that say where they may run, placed by z3, run on Ray.

`estimate_pi` spawns one `sample` task per shard and joins them; each `sample` draws its
points through `RandomFloat` effects.  The same program runs on one machine (`fx.production`),
deterministically under test (`fx.testing`), or with each shard as a Ray task
(``fx.production().with_handlers(Distributed())``) — and a trace recorded on Ray replays here.
`REQUESTS` is the placement problem of the job's tools, solved by ``effectus.proofs.place``.
"""

from __future__ import annotations

import os

import effectus as fx
from effectus.proofs import Request

__all__ = ["REQUESTS", "estimate_pi", "sample", "whereabouts"]


@fx.tool(placement="on(cpu>=1, memory>=64MB).qos(batch)")
async def sample(points: int) -> int:
    """How many of ``points`` random points in the unit square fall inside the quarter circle."""
    inside = 0
    for _ in range(points):
        x, y = await fx.RandomFloat(), await fx.RandomFloat()
        inside += x * x + y * y <= 1.0
    return inside


@fx.tool(placement="on(cpu>=1).replicas(2)")
async def whereabouts() -> int:
    """The process this tool runs in (to see where a distributed handler sent it)."""
    return os.getpid()


async def estimate_pi(shards: int, points: int) -> float:
    """Estimate pi from ``shards`` tasks of ``points`` samples each, run concurrently."""
    tasks = [await fx.Spawn(sample(points)) for _ in range(shards)]
    inside = sum([await fx.Join(t) for t in tasks])
    return 4.0 * inside / (shards * points)


#: where the job's tools may run (the sampler near the combiner it reports to): a problem one
#: machine can hold, so that the demo places it on the local devices
REQUESTS = (
    Request("sample", "on(cpu>=0.5, memory>=64MB).qos(batch).near(combine)", work=4.0, talks={"combine": 1.0}),
    Request("combine", "on(cpu>=0.25, memory>=16MB).qos(responsive)", work=0.5),
    Request("classify", "on(cpu>=0.5, memory>=256MB).qos(interactive)", work=2.0),
)
