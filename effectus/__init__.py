"""effectus: tools as pure programs over algebraic effects.

A program is an ``async def`` that awaits effects; an interpreter made of swappable handlers
gives them meaning (production, testing or replay).  See README.md.
"""

from effectus.core import (
    Call,
    Deadlock,
    Effect,
    EffectusError,
    Handle,
    Handler,
    InternalError,
    Interpreter,
    LinearityError,
    PlacementError,
    PostconditionError,
    PreconditionError,
    ProtocolError,
    ReplayDivergence,
    TraceError,
    UnhandledEffect,
    effect,
    handle,
    handles,
    run,
    run_result,
    tool,
)

__version__ = "0.1.0"

__all__ = [
    "Call",
    "Deadlock",
    "Effect",
    "EffectusError",
    "Handle",
    "Handler",
    "InternalError",
    "Interpreter",
    "LinearityError",
    "PlacementError",
    "PostconditionError",
    "PreconditionError",
    "ProtocolError",
    "ReplayDivergence",
    "TraceError",
    "UnhandledEffect",
    "__version__",
    "effect",
    "handle",
    "handles",
    "run",
    "run_result",
    "tool",
]
