"""Golden traces: a recorded run, replayed in a test, fails the test where the program changed.

A trace names its program (``module:qualname``) and the arguments it was called with, so a
trace alone is enough to run the program again: `recorded_program` imports the module — the
user asked for it to be replayed, so importing their code is expected here, unlike in
decoding — and rebuilds the call.  `check_golden` replays it against its trace and fails the
test with the divergence report.  Put traces in a folder and give each its own test:

.. code-block:: python

    import effectus.specs
    import pytest

    @pytest.mark.parametrize("trace", effectus.specs.golden_traces("tests/traces"))
    def test_golden(trace):
        effectus.specs.check_golden(trace)

pytest is imported only when these functions are called: ``import effectus`` stays light.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from effectus.core._codec import decode
from effectus.core._errors import ReplayDivergence, TraceError
from effectus.core._replay import replay
from effectus.core._tool import Tool
from effectus.core._trace import Trace, read_trace

if TYPE_CHECKING:
    from _pytest.mark.structures import ParameterSet

__all__ = ["check_golden", "golden_traces", "recorded_program"]

_PATH_HINT = (
    "Fix: add the folder that holds it to PYTHONPATH "
    "(PYTHONPATH=src effectus replay ...)."
)


def resolve(program: str) -> Any:
    """The object named ``module:qualname``, importing the module."""
    module_name, colon, qualname = program.partition(":")
    if not colon or not module_name or not qualname:
        raise TraceError(f"the trace names its program {program!r}; expected 'module:qualname'")
    if module_name == "__main__":
        raise TraceError(
            f"the trace was recorded from a script run as __main__ ({program}), so its program "
            f"cannot be imported again.\nFix: define the program in a module and record it "
            f"from there."
        )
    if "<locals>" in qualname.split("."):
        raise TraceError(
            f"the trace's program {program} was defined inside a function, so it cannot be "
            f"imported again.\nFix: define the program at the top level of its module."
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        missing = err.name or module_name
        raise TraceError(
            f"cannot import module {module_name!r}, which holds the trace's program {program} "
            f"(no module named {missing!r}).\n{_PATH_HINT}"
        ) from None
    except Exception as err:
        raise TraceError(
            f"importing module {module_name!r}, which holds the trace's program {program}, "
            f"raised {type(err).__name__}: {err}"
        ) from err
    obj: Any = module
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TraceError(
                f"module {module_name!r} ({module.__file__}) has no {qualname!r}, the trace's "
                f"program.\nFix: if it was renamed or moved, record a new trace; if another "
                f"module of that name shadows it, set PYTHONPATH."
            ) from None
    return obj


def _call(fn: Any, args: dict[str, Any], program: str) -> Awaitable[Any]:
    """``fn`` called with the arguments its coroutine started with (names -> values)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return fn(**args)  # type: ignore[no-any-return]  # no signature: names are all we have
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    missing: list[str] = []
    for p in params:
        if p.name not in args:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is not p.empty:
                continue
            missing.append(p.name)
        elif p.kind is p.VAR_POSITIONAL:
            positional.extend(args[p.name])
        elif p.kind is p.VAR_KEYWORD:
            keywords.update(args[p.name])
        elif p.kind is p.KEYWORD_ONLY:
            keywords[p.name] = args[p.name]
        else:
            positional.append(args[p.name])
    if missing:
        raise ReplayDivergence(
            f"the recorded call no longer fits {program}: the trace has no value for "
            f"{', '.join(missing)} (recorded arguments: {', '.join(args) or 'none'}).\n"
            f"Fix: if the program changed on purpose, record a new trace."
        )
    try:
        return fn(*positional, **keywords)  # type: ignore[no-any-return]  # checked below
    except TypeError as err:
        raise ReplayDivergence(
            f"the recorded call no longer fits {program}: {err}.\n"
            f"Fix: if the program changed on purpose, record a new trace."
        ) from None


def recorded_program(trace: Trace) -> Awaitable[Any]:
    """The program ``trace`` recorded, called again with its recorded arguments.

    Imports the program's module (from ``sys.path``), so classes named by the arguments are
    known when they are decoded.

    Raises:
        TraceError: the module cannot be imported, it has no such program, the program is not
            an ``async def`` or tool, or the trace holds no arguments.
        ReplayDivergence: the program's parameters no longer take the recorded arguments.
    """
    program = trace.header.program
    fn = resolve(program)
    if not (isinstance(fn, Tool) or inspect.iscoroutinefunction(fn)):
        raise TraceError(
            f"the trace's program {program} is now {fn!r}, not an async def or tool.\n"
            f"Fix: if the program changed on purpose, record a new trace."
        )
    if trace.header.args is None:
        raise TraceError(
            f"the trace of {program} holds no arguments: they could not be recorded (a value "
            f"with no codec), so the call cannot be rebuilt.\nFix: replay it from Python "
            f"with fx.replay({qualname_tail(program)}(...), path)."
        )
    decoded: object = decode(trace.header.args)
    if type(decoded) is not dict:
        raise TraceError(f"the trace's arguments of {program} are {decoded!r}; expected names -> values")
    args: dict[str, Any] = {}
    for name, value in cast("dict[object, Any]", decoded).items():
        if type(name) is not str:
            raise TraceError(f"the trace's arguments of {program} name a parameter {name!r}")
        args[name] = value
    return _call(fn, args, program)


def qualname_tail(program: str) -> str:
    """The last part of a ``module:qualname`` name (``Get`` of ``effectus.effects._state:Get``)."""
    return program.rpartition(":")[2].rpartition(".")[2] or program


def golden_traces(directory: str | os.PathLike[str]) -> list[ParameterSet]:
    """One ``pytest.param`` per ``*.jsonl`` trace in ``directory``, sorted, with its name as id.

    ``directory`` is relative to the current folder (where pytest runs) unless absolute.

    Raises:
        NotADirectoryError: ``directory`` is not a folder.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "b.jsonl").write_text(""), (folder / "a.jsonl").write_text("")
    >>> [p.id for p in golden_traces(folder)]
    ['a.jsonl', 'b.jsonl']
    """
    import pytest

    folder = Path(directory)
    if not folder.is_dir():
        raise NotADirectoryError(
            f"golden_traces({str(directory)!r}): no such folder (looked in {folder.resolve()}).\n"
            f"Fix: give the folder of the traces, relative to where pytest runs."
        )
    return [pytest.param(path, id=path.name) for path in sorted(folder.glob("*.jsonl"))]


def check_golden(trace: str | os.PathLike[str]) -> None:
    """Replay the program recorded in ``trace``; fail the calling test where it diverges.

    Passes when the program performs the recorded effects and ends as recorded (returning the
    same value, or raising the same error).  Fails with the divergence report, or with why
    the trace cannot be replayed (unreadable, program not importable).
    """
    import pytest

    try:
        loaded = read_trace(trace)
        program = recorded_program(loaded)
    except (TraceError, ReplayDivergence, OSError) as err:
        pytest.fail(f"golden trace {os.fspath(trace)} cannot be replayed:\n{err}", pytrace=False)
    try:
        replay(program, loaded)
    except ReplayDivergence as err:
        pytest.fail(f"golden trace {os.fspath(trace)}: the program diverged\n{err}", pytrace=False)
    except Exception:
        # The replay has checked that the program raised as the recorded run did; a trace with
        # no footer (a run that died) has no outcome to check, so its error is the test's.
        footer = loaded.footer
        if footer is None or footer.outcome != "raised":
            raise
