"""The standard effects, one family per module, each with a production and a testing handler.

State (`Get`, `Put`, `Modify`), clock (`Now`, `Sleep`), random (`RandomFloat`, `RandomInt`,
`RandomBytes`, `Shuffle`), log/metrics (`Log`, `Measure`), files (`ReadFile`, `WriteFile`,
`ReadBytes`, `WriteBytes`, `ListFiles`, `DeleteFile`, `FileExists`) and fail/choose (`Fail`,
`Choose`, explored exhaustively by `outcomes`); `production` and `testing` bundle the handlers.
"""

from effectus.effects._supervise import Restart, supervise
from effectus.effects._distributed import Distributed
from effectus.effects._explore import Exploration, explore
from effectus.effects._resources import Acquire, Release, acquire
from effectus.effects._choose import (
    ChoicePolicy,
    Choose,
    Fail,
    Outcome,
    PolicyChoice,
    Raise,
    SeededChoice,
    outcomes,
)
from effectus.effects._clock import Now, RealClock, Sleep, VirtualClock
from effectus.effects._files import (
    DeleteFile,
    FileExists,
    ListFiles,
    MemoryFiles,
    ReadBytes,
    ReadFile,
    RealFiles,
    WriteBytes,
    WriteFile,
)
from effectus.effects._interpreters import extend_standard, production, testing
from effectus.effects._log import Log, LogRecord, Measure, MemoryLog, Metrics, StdlibLog
from effectus.effects._random import (
    RandomBytes,
    RandomFloat,
    RandomInt,
    SeededRandom,
    Shuffle,
    SystemRandom,
)
from effectus.effects._state import Get, MemoryState, Modify, Put

__all__ = [
    "Acquire",
    "ChoicePolicy",
    "Choose",
    "DeleteFile",
    "Distributed",
    "Exploration",
    "Fail",
    "FileExists",
    "Get",
    "ListFiles",
    "Log",
    "LogRecord",
    "Measure",
    "MemoryFiles",
    "MemoryLog",
    "MemoryState",
    "Metrics",
    "Modify",
    "Now",
    "Outcome",
    "PolicyChoice",
    "Put",
    "Raise",
    "RandomBytes",
    "RandomFloat",
    "RandomInt",
    "ReadBytes",
    "ReadFile",
    "RealClock",
    "RealFiles",
    "Release",
    "Restart",
    "SeededChoice",
    "SeededRandom",
    "Shuffle",
    "Sleep",
    "StdlibLog",
    "SystemRandom",
    "VirtualClock",
    "WriteBytes",
    "WriteFile",
    "acquire",
    "explore",
    "extend_standard",
    "outcomes",
    "production",
    "supervise",
    "testing",
]
