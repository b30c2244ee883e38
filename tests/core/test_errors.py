"""Tests of `effectus.core._errors`: one hierarchy, each error also its builtin look-alike."""

from __future__ import annotations

import pytest

import effectus as fx
from effectus.core import _errors

BUILTIN_OF = {
    fx.UnhandledEffect: LookupError,
    fx.ReplayDivergence: AssertionError,
    fx.TraceError: ValueError,
    fx.ProtocolError: TypeError,
    fx.LinearityError: RuntimeError,
    fx.Deadlock: RuntimeError,
    fx.PreconditionError: ValueError,
    fx.PostconditionError: AssertionError,
    fx.PlacementError: ValueError,
    fx.InternalError: RuntimeError,
}


def test_every_error_class_is_covered_here() -> None:
    """The table above lists every error class the errors module exports, but the base."""
    exported = {getattr(_errors, name) for name in _errors.__all__}
    assert exported == {fx.EffectusError, *BUILTIN_OF}


@pytest.mark.parametrize("cls", list(BUILTIN_OF), ids=lambda c: c.__name__)
def test_error_derives_from_effectus_error_and_its_builtin(cls: type[Exception]) -> None:
    """Each error is an EffectusError and also the builtin it resembles, for existing excepts."""
    assert issubclass(cls, fx.EffectusError)
    assert issubclass(cls, BUILTIN_OF[cls])
    assert issubclass(fx.EffectusError, Exception)


@pytest.mark.parametrize("cls", [fx.EffectusError, *BUILTIN_OF], ids=lambda c: c.__name__)
def test_errors_read_as_effectus_names(cls: type[Exception]) -> None:
    """Tracebacks show `effectus.UnhandledEffect`, not the private module path."""
    assert cls.__module__ == "effectus"
    assert getattr(fx, cls.__name__) is cls


def test_existing_except_clauses_catch_effectus_errors() -> None:
    """`except LookupError` catches UnhandledEffect; `except ValueError` catches TraceError."""
    with pytest.raises(LookupError):
        raise fx.UnhandledEffect("no handler for X()")
    with pytest.raises(ValueError):
        raise fx.TraceError("record 3: bad checksum")


def test_internal_error_asks_for_a_report() -> None:
    """InternalError says it is a bug in effectus and asks for a report with the traceback."""
    err = fx.InternalError("table lost its Call entry")
    assert str(err).splitlines() == [
        "internal error in effectus: table lost its Call entry",
        "This is a bug in effectus, not in your program. Please report it at "
        "https://github.com/effectus/effectus/issues with the traceback.",
    ]
    assert isinstance(err, RuntimeError)


def test_internal_error_is_raised_intact() -> None:
    """An InternalError raised and caught keeps its message."""
    with pytest.raises(fx.InternalError, match=r"^internal error in effectus: oops\n"):
        raise fx.InternalError("oops")
