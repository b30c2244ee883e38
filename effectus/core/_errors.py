"""The error hierarchy: every error effectus raises derives from `EffectusError`.

Each error also subclasses the builtin it resembles, so existing ``except`` clauses keep
working (``except LookupError`` catches `UnhandledEffect`).  Messages answer three questions in
order: what happened, where (the user's ``file:line``), and what to do.
"""

from __future__ import annotations

__all__ = [
    "Deadlock",
    "EffectusError",
    "InternalError",
    "LinearityError",
    "PlacementError",
    "PostconditionError",
    "PreconditionError",
    "ProtocolError",
    "ReplayDivergence",
    "TraceError",
    "UnhandledEffect",
]

_REPORT_URL = "https://github.com/effectus/effectus/issues"


class EffectusError(Exception):
    """Base class of every error raised by effectus."""

    def locate(self, site: str) -> None:
        """Told by the interpreter where the program was when this error reached it.

        Errors raised by handlers, which cannot see the program, may add the site to their
        message; by default nothing changes.
        """


class UnhandledEffect(EffectusError, LookupError):
    """A program performed an effect that no installed handler handles.

    Raised *into the program* at its ``await``, so the program may catch it.
    """


class UndeclaredEffect(EffectusError, PermissionError):
    """A tool performed an effect its spec (``@fx.tool(effects=...)``) does not declare.

    Raised into the program at its ``await`` before any handler sees the effect.
    """


class ReplayDivergence(EffectusError, AssertionError):
    """A replayed program performed a different effect from the one recorded.

    The message ends with the program's ``file:line`` once the interpreter has located it.
    """

    site: str | None = None

    def locate(self, site: str) -> None:
        if self.site is None and self.args:
            self.site = site
            self.args = (str(self.args[0]).replace("{site}", site), *self.args[1:])


class TraceError(EffectusError, ValueError):
    """A trace file is corrupt, truncated, of an unknown version, or cannot be written."""


class ProtocolError(EffectusError, TypeError):
    """A channel operation does not follow the channel's session type."""


class LinearityError(EffectusError, RuntimeError):
    """A linear value was used twice, or never used."""


class Deadlock(EffectusError, RuntimeError):
    """Every task is blocked: no task can make progress."""


class PreconditionError(EffectusError, ValueError):
    """A tool was called with arguments that violate its ``requires=`` spec."""


class PostconditionError(EffectusError, AssertionError):
    """A tool returned a result that violates its ``ensures=`` spec."""


class PlacementError(EffectusError, ValueError):
    """A placement string is malformed or a placement problem is infeasible."""


class InternalError(EffectusError, RuntimeError):
    """A bug in effectus itself; the message asks for a report."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"internal error in effectus: {what}\n"
            f"This is a bug in effectus, not in your program. Please report it at "
            f"{_REPORT_URL} with the traceback."
        )


for _cls in (
    EffectusError, UnhandledEffect, ReplayDivergence, TraceError, ProtocolError, LinearityError,
    Deadlock, PreconditionError, PostconditionError, PlacementError, InternalError,
):
    _cls.__module__ = "effectus"  # tracebacks read `effectus.UnhandledEffect`
