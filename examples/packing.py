"""Packing a parcel into boxes: spec'd tools whose tests are generated, and one seeded bug.

A heavy parcel is split into boxes of (almost) equal weight.  Every tool here carries a spec, and
``effectus test examples/packing.py`` tests each one without a line of test code: arguments are
drawn to meet the preconditions (``0 < boxes <= grams`` is a dependent draw, not a filter), the
scale's readings are drawn from its declared result type, and the postconditions, the declared
effects, linearity and the metamorphic relations are checked on every run.

`packing_desk` serves one side of a session-typed channel (`DESK`): its generated test is a
Hypothesis state machine that plays the warehouse through every conversation `DESK` allows.

`fill_boxes` carries a **seeded bug**: it puts the whole remainder in the last box, so boxes can
differ by more than a gram.  The generated tests find it, shrink it to ``grams=5, boxes=3``, and
save the run as a trace that ``effectus replay`` reproduces (part 7 of ``effectus demo``).

>>> import effectus as fx
>>> fx.run(split(1000, 3))
[334, 333, 333]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from annotated_types import Ge, Gt, Le

import effectus as fx
from effectus.specs import metamorphic
from effectus.types import END, Endpoint, Session, offer, rec, recv, send

Grams = Annotated[int, Gt(0)]
#: A parcel goes in at most 100 boxes.
Boxes = Annotated[int, Gt(0), Le(100)]


@dataclass(frozen=True)
class Weigh(fx.Effect[Annotated[int, Ge(0)]]):
    """Read the scale: the parcel's weight in grams (the environment answers; tests draw it)."""


def _even(result: list[int], grams: int, boxes: int) -> bool:
    return len(result) == boxes and sum(result) == grams and max(result) - min(result) <= 1


@metamorphic(lambda grams, boxes: (grams + boxes, boxes), lambda a, b: [x + 1 for x in a] == b,
             name="one more gram per box")
@fx.tool(requires=lambda grams, boxes: boxes <= grams, ensures=_even)
async def split(grams: Grams, boxes: Boxes) -> list[int]:
    """``grams`` in ``boxes`` boxes whose weights differ by at most one gram, heaviest first."""
    q, r = divmod(grams, boxes)
    return [q + 1] * r + [q] * (boxes - r)


@fx.tool(requires=lambda grams, boxes: boxes <= grams, ensures=_even)
async def fill_boxes(grams: Grams, boxes: Boxes) -> list[int]:
    """Like `split`, faster to explain: each box gets the quotient, the last one the rest.

    SEEDED BUG (on purpose, for the demo): the remainder all goes into the last box, so with
    ``grams=5, boxes=3`` the boxes weigh ``[1, 1, 3]``.
    """
    q, r = divmod(grams, boxes)
    return [q] * (boxes - 1) + [q + r]


@metamorphic(lambda weights: (list(reversed(weights)),), lambda a, b: a == b, name="order does not matter")
@fx.tool(requires=lambda weights: len(weights) > 0, ensures=lambda result, weights: result in weights)
async def heaviest(weights: list[int]) -> int:
    """The heaviest box's weight."""
    return max(weights)


@fx.tool(effects=[Weigh], ensures=lambda result, boxes: len(result) == boxes)
async def weigh_and_split(boxes: Boxes) -> list[int]:
    """Weigh the parcel, then split it; an empty scale (or fewer grams than boxes) gives
    every box what there is, zeros included."""
    grams = await Weigh()
    if grams < boxes:
        return [1] * grams + [0] * (boxes - grams)
    return await split(grams, boxes)


#: The desk's side of its channel: the warehouse asks for boxes for a parcel, again and again,
#: until it says it is done.
DESK = rec("desk", lambda desk: offer(pack=recv(int, send(int, desk)), done=END))

#: The heaviest a box may be, in grams.
BOX_LIMIT = 20_000


@fx.tool
async def packing_desk(ep: Annotated[Endpoint[Session], DESK]) -> int:
    """Serve the warehouse: for each parcel's grams, answer how many boxes it needs (at least
    one); answer how many parcels were served when the warehouse is done."""
    served = 0
    while True:
        label, ep = await ep.offer()
        if label == "done":
            await ep.close()
            return served
        grams, ep = await ep.recv()
        ep = await ep.send(max(1, -(-int(grams) // BOX_LIMIT)))  # type: ignore[call-overload]
        served += 1
