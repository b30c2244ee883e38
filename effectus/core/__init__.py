"""The kernel of effectus: effects, handlers, interpreters and tools.

It imports nothing heavy (no jax, z3, ray or hypothesis), so ``import effectus`` stays fast.
"""

from effectus.core._effect import Effect, effect
from effectus.core._errors import (
    Deadlock,
    EffectusError,
    InternalError,
    LinearityError,
    PlacementError,
    PostconditionError,
    PreconditionError,
    ProtocolError,
    ReplayDivergence,
    TraceError,
    UnhandledEffect,
)
from effectus.core._handler import Handler, handles
from effectus.core._run import Handle, Interpreter, handle, run, run_result
from effectus.core._tool import Call, Tool, tool

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
    "Tool",
    "TraceError",
    "UnhandledEffect",
    "effect",
    "handle",
    "handles",
    "run",
    "run_result",
    "tool",
]
