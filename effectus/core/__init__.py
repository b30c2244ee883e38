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
from effectus.core._codec import CodecError, register_codec
from effectus.core._handler import Handler, handles
from effectus.core._record import Recording, record
from effectus.core._replay import Replaying, ReplayStopped, branch, replay, replaying, resume
from effectus.core._run import Handle, Interpreter, handle, run, run_result
from effectus.core._trace import (
    Footer,
    Header,
    Record,
    Trace,
    TraceWriter,
    VerifyReport,
    read_trace,
    verify_trace,
)
from effectus.core._tool import Call, Tool, tool

__all__ = [
    "Call",
    "CodecError",
    "Deadlock",
    "Effect",
    "EffectusError",
    "Footer",
    "Handle",
    "Handler",
    "Header",
    "InternalError",
    "Interpreter",
    "LinearityError",
    "PlacementError",
    "PostconditionError",
    "PreconditionError",
    "ProtocolError",
    "Record",
    "Recording",
    "ReplayDivergence",
    "ReplayStopped",
    "Replaying",
    "Tool",
    "Trace",
    "TraceError",
    "TraceWriter",
    "UnhandledEffect",
    "VerifyReport",
    "branch",
    "effect",
    "handle",
    "handles",
    "read_trace",
    "record",
    "register_codec",
    "replay",
    "replaying",
    "resume",
    "run",
    "run_result",
    "tool",
    "verify_trace",
]
