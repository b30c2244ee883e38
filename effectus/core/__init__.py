"""The kernel of effectus: effects, handlers, interpreters and tools.

It imports nothing heavy (no jax, z3, ray or hypothesis), so ``import effectus`` stays fast.
"""

from effectus.core._effect import Effect, Trap, effect
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
    UndeclaredEffect,
    UnhandledEffect,
)
from effectus.core._codec import CodecError, register_codec
from effectus.core._compose import Composite, fan_out, identity, parallel, pipe
from effectus.core._handler import Handler, handles
from effectus.core._loop import Cancelled, Cooperative, Scheduler, Seeded, Task, TaskError
from effectus.core._record import Recording, record
from effectus.core._replay import Replaying, ReplayStopped, branch, replay, replaying, resume
from effectus.core._run import Handle, Interpreter, handle, run, run_async, run_result
from effectus.core._tasks import Cancel, Join, Spawn, Wait
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
from effectus.core._tool import Call, Tool

__all__ = [
    "Call",
    "Cancel",
    "Cancelled",
    "CodecError",
    "Composite",
    "Cooperative",
    "Deadlock",
    "Effect",
    "EffectusError",
    "Footer",
    "Handle",
    "Handler",
    "Header",
    "InternalError",
    "Interpreter",
    "Join",
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
    "Scheduler",
    "Seeded",
    "Spawn",
    "Task",
    "TaskError",
    "Tool",
    "Trace",
    "TraceError",
    "TraceWriter",
    "Trap",
    "UndeclaredEffect",
    "UnhandledEffect",
    "VerifyReport",
    "Wait",
    "branch",
    "effect",
    "fan_out",
    "handle",
    "handles",
    "identity",
    "parallel",
    "pipe",
    "read_trace",
    "record",
    "register_codec",
    "replay",
    "replaying",
    "resume",
    "run",
    "run_async",
    "run_result",
    "verify_trace",
]
