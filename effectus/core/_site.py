"""Await sites and tracebacks: errors name the user's ``file:line`` and hide effectus' machinery.

`throw_into` raises an error inside a suspended program so that the traceback ends on the
user's ``await`` line; `trim` removes the interpreter's own frames from a traceback.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Coroutine, Generator
from pathlib import Path
from types import CodeType, CoroutineType, FrameType, GeneratorType, TracebackType
from typing import Any, cast

__all__ = [
    "Site",
    "await_site",
    "caller_site",
    "describe_site",
    "program_site",
    "register_await_code",
    "relative",
    "throw_into",
    "trim",
]

_CORE_DIR = str(Path(__file__).resolve().parent) + os.sep
_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent) + os.sep
_STDLIB_DIR = str(Path(sysconfig.get_paths()["stdlib"]).resolve()) + os.sep
# Installed packages live under the stdlib folder in most layouts, but are user code.
_SITE_DIRS = tuple(
    str(Path(sysconfig.get_paths()[key]).resolve()) + os.sep for key in ("purelib", "platlib")
)


def _is_stdlib(filename: str) -> bool:
    return filename.startswith(_STDLIB_DIR) and not filename.startswith(_SITE_DIRS)

# Code objects of effectus' own `__await__` generators (effects, tool calls, scoped handlers).
_AWAIT_CODES: set[CodeType] = set()


def register_await_code(code: CodeType) -> None:
    """Mark ``code`` as an effectus ``__await__`` frame: hidden from sites and tracebacks."""
    _AWAIT_CODES.add(code)


def _is_core(code: CodeType) -> bool:
    return code.co_filename.startswith(_CORE_DIR)


def _await_chain(program: Any) -> list[Any]:
    """The chain of awaitables from ``program`` down to what it is suspended on."""
    chain = [program]
    obj = program
    while True:
        if type(obj) is CoroutineType:
            obj = obj.cr_await
        elif type(obj) is GeneratorType:
            # (The cast: pyright leaves a narrowed generator's type arguments unknown.)
            obj = cast("GeneratorType[object, object, object]", obj).gi_yieldfrom
        else:
            break
        if obj is None:
            break
        chain.append(obj)
    return chain


def await_site(program: Coroutine[Any, Any, Any]) -> FrameType | None:
    """The innermost user frame of a suspended program: where it is awaiting.

    Frames of the standard library (asyncio's, say) are passed over while a frame of the
    user's own code is below them in the chain.
    """
    frame: FrameType | None = None
    for obj in _await_chain(program):
        f = getattr(obj, "cr_frame", None) or getattr(obj, "gi_frame", None)
        if f is None or f.f_code in _AWAIT_CODES or _is_core(f.f_code):
            continue
        if frame is None or not _is_stdlib(f.f_code.co_filename):
            frame = f
    return frame


def _is_library(filename: str) -> bool:
    # effectus.examples ships inside the package but is user code.
    return filename.startswith(_PACKAGE_DIR) and not filename.startswith(_PACKAGE_DIR + "examples")


class Site:
    """A place in the user's code, formatted ``path:line in function`` only when shown.

    A site taken from a running frame keeps the frame's code and instruction offset and
    works out the line only when asked (``frame.f_lineno`` scans the code's line table).
    """

    __slots__ = ("filename", "_line", "function", "_code", "_offset")

    _code: CodeType
    _offset: int

    def __init__(self, filename: str, line: int, function: str) -> None:
        self.filename = filename
        self._line = line
        self.function = function

    @property
    def line(self) -> int:
        """The line number (0 when unknown)."""
        line = self._line
        if line < 0:
            offset = self._offset
            line = 0
            for start, end, number in self._code.co_lines():
                if start <= offset < end:
                    line = number or 0
                    break
            self._line = line
        return line

    def __str__(self) -> str:
        if not self.filename:
            return "<unknown>"
        return f"{relative(self.filename)}:{self.line} in {self.function}"

    __repr__ = __str__


def caller_site(depth: int = 1) -> Site:
    """The innermost frame outside effectus: the user's call (cheap; formatted lazily).

    The search starts ``depth`` frames up from the caller of `caller_site` (1: its caller);
    a caller that knows how deep it is called from user code saves the walk.
    """
    # sys._getframe, not inspect.currentframe(): holding our own frame would make a
    # reference cycle on every call.  Channel operations call this at every step: the
    # library test is cached per file, and the Site is built without a call to __init__.
    frame: FrameType | None = sys._getframe(depth)  # pyright: ignore[reportPrivateUsage]
    while frame is not None:
        filename = frame.f_code.co_filename
        library = _LIBRARY_FILES.get(filename)
        if library is None:
            library = _LIBRARY_FILES[filename] = _is_library(filename)
        if not library:
            return _frame_site(frame)
        frame = frame.f_back
    return Site("", 0, "")


_LIBRARY_FILES: dict[str, bool] = {}
_new = object.__new__


def _frame_site(frame: FrameType) -> Site:
    """Where ``frame`` is now; its line is worked out only when shown."""
    code = frame.f_code
    site: Site = _new(Site)
    site.filename = code.co_filename
    site._line = -1  # pyright: ignore[reportPrivateUsage]
    site.function = code.co_name
    site._code = code  # pyright: ignore[reportPrivateUsage]
    site._offset = frame.f_lasti  # pyright: ignore[reportPrivateUsage]
    return site


def program_site(program: Coroutine[Any, Any, Any] | None) -> Site:
    """Where ``program`` is suspended (cheap; formatted lazily)."""
    frame = None if program is None else await_site(program)
    return Site("", 0, "") if frame is None else _frame_site(frame)


def relative(filename: str) -> str:
    try:
        rel = os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        return filename
    return filename if rel.startswith("..") else rel


def describe_site(program: Coroutine[Any, Any, Any] | None) -> str:
    """``path:line in function`` for where ``program`` is suspended."""
    site = program_site(program)
    return str(site) if site.filename else "<program not started or already finished>"


def strip_head(err: BaseException) -> BaseException:
    """Drop the interpreter's frames from the head of ``err``'s traceback (O(1) per level)."""
    tb = err.__traceback__
    while tb is not None and _is_core(tb.tb_frame.f_code):
        tb = tb.tb_next
    err.__traceback__ = tb
    return err


def throw_into(program: Coroutine[Any, Any, Any] | Generator[Any, Any, Any], err: BaseException) -> Any:
    """Raise ``err`` inside the suspended ``program``, at the user's ``await``.

    Our ``__await__`` generator sits at the bottom of the await chain.  Closing it first makes
    CPython raise the error directly in the awaiting frame, so no effectus frame appears
    between the user's line and the handler that raised.
    """
    bottom = _await_chain(program)[-1]
    if type(bottom) is GeneratorType and bottom.gi_code in _AWAIT_CODES and bottom is not program:
        bottom.close()
    return program.throw(strip_head(err))


def trim(tb: TracebackType | None) -> TracebackType | None:
    """A copy of ``tb`` without the interpreter's own frames."""
    kept: list[TracebackType] = []
    while tb is not None:
        if not _is_core(tb.tb_frame.f_code) and tb.tb_frame.f_code not in _AWAIT_CODES:
            kept.append(tb)
        tb = tb.tb_next
    out: TracebackType | None = None
    for entry in reversed(kept):
        out = TracebackType(out, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return out
