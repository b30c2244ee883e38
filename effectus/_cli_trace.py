"""The trace commands of the command line: each prints its report and returns the exit status.

``effectus replay`` re-runs a recorded program against its trace; ``effectus trace show``
prints a trace as a table, ``verify`` checks every line and blob, ``diff`` finds where two
traces part.  Showing and comparing never decode values into objects (which would need the
program's classes): encoded values are rendered as text directly, so ``show`` and ``diff``
work on any trace without importing anything.  Exit status: 0 all is well, 1 a replay or
check failed (the report is on stdout), 2 bad input (the message is on stderr).
"""

from __future__ import annotations

import base64
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from effectus.core._codec import JSON
from effectus.core._errors import ReplayDivergence, TraceError
from effectus.core._trace import Footer, Header, Record, Trace, read_trace, verify_trace

__all__ = ["diff", "render", "replay", "show", "verify"]

#: Widths at which the columns of ``trace show`` are cut (with "...").
EFFECT_WIDTH, FIELDS_WIDTH, ANSWER_WIDTH = 24, 48, 40

T = TypeVar("T")

_PACKAGE_DIR = str(Path(__file__).resolve().parent) + os.sep


def _fail(message: str) -> int:
    print(f"effectus: error: {message}", file=sys.stderr)
    return 2


def _load(path: str, reader: Callable[[str], T]) -> T | str:
    """``reader(path)``, or the message saying why the trace cannot be read."""
    try:
        return reader(path)
    except TraceError as err:
        return str(err)
    except OSError as err:
        return f"cannot read trace {path}: {err.strerror or err}"


# -- rendering encoded values ------------------------------------------------------------------


def short(name: str) -> str:
    """The class part of ``module:qualname`` (``Get`` of ``effectus.effects._state:Get``)."""
    return name.rpartition(":")[2] or name


def render(data: JSON) -> str:
    """Encoded data as the ``repr`` of the value it stands for, without decoding it.

    Classes are shown by their short names; arrays by shape and dtype.

    >>> render({"$tuple": [1, {"$bytes": "eA=="}]})
    "(1, b'x')"
    >>> render({"$dataclass": ["app:Point", {"x": 1, "y": 2}]})
    'Point(x=1, y=2)'
    """
    try:
        return _render(data)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return repr(data)  # malformed tagged data: show what is there


def _render(data: JSON) -> str:
    if type(data) is list:
        return "[" + ", ".join(_render(v) for v in data) + "]"
    if type(data) is dict:
        if len(data) == 1:
            ((key, payload),) = data.items()
            if key.startswith("$"):
                return _tagged(key[1:], payload)
        return "{" + ", ".join(f"{k!r}: {_render(v)}" for k, v in data.items()) + "}"
    return repr(data)


def _tagged(tag: str, payload: Any) -> str:
    if tag == "tuple":
        items = [_render(v) for v in payload]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if tag == "map":
        return "{" + ", ".join(f"{_render(k)}: {_render(v)}" for k, v in payload) + "}"
    if tag == "int":
        return str(int(payload, 0))
    if tag == "bytes":
        return repr(base64.b64decode(payload))
    if tag == "float":
        return str(payload)
    if tag in ("set", "frozenset"):
        inner = "{" + ", ".join(_render(v) for v in payload) + "}" if payload else ""
        return f"{tag}({inner})" if tag == "frozenset" or not payload else inner
    if tag == "enum":
        return f"{short(payload[0])}.{payload[1]}"
    if tag == "error":
        return f"{short(payload['type'])}({', '.join(_render(a) for a in payload['args'])})"
    if tag == "dataclass":
        fields = ", ".join(f"{k}={_render(v)}" for k, v in payload[1].items())
        return f"{short(payload[0])}({fields})"
    if tag == "array":
        shape = tuple(payload["shape"])
        return f"array(shape={shape}, dtype={payload['dtype']})"
    if tag == "repr":
        return str(payload)
    return f"${tag}:{_render(payload)}"


def render_error(data: JSON) -> str:
    """An encoded exception as ``Type: message``, the message as ``str(error)`` would give it.

    >>> render_error({"$error": {"type": "builtins:KeyError", "args": ["x"], "attrs": {}}})
    "KeyError: 'x'"
    """
    payload = data.get("$error") if type(data) is dict and len(data) == 1 else None
    if type(payload) is not dict:
        return render(data)
    name = short(str(payload.get("type")))
    args, attrs = payload.get("args"), payload.get("attrs")
    if type(args) is not list or type(attrs) is not dict:
        return f"{name}: {render(payload)}"
    if "errno" in attrs and "strerror" in attrs:  # OSError's own str()
        message = f"[Errno {render(attrs['errno'])}] {_text(attrs['strerror'])}"
        if "filename" in attrs:
            message += f": {render(attrs['filename'])}"
    elif not args:
        return name
    elif len(args) == 1:
        # KeyError shows its key's repr; other errors the str of their one argument.
        message = render(args[0]) if name == "KeyError" else _text(args[0])
    else:
        message = "(" + ", ".join(render(a) for a in args) + ")"
    return f"{name}: {message}"


def _text(data: JSON) -> str:
    return data if type(data) is str else render(data)


def render_answer(ok: bool, value: JSON) -> str:
    """What an effect answered: the value, or ``!Type: message`` for an error."""
    return render(value) if ok else "!" + render_error(value)


def render_fields(fields: dict[str, JSON]) -> str:
    """``name=value, ...`` of an effect's encoded fields."""
    return ", ".join(f"{name}={render(value)}" for name, value in fields.items())


def render_effect(record: Record) -> str:
    """``Get(key='x', default=0)``: a record's effect as it would be written."""
    return f"{short(record.effect)}({render_fields(record.fields)})"


def render_call(header: Header) -> str:
    """``module:qualname(arg=value, ...)``: the recorded program and its arguments."""
    args = header.args
    if args is None:
        return f"{header.program}(<arguments not recorded>)"
    if type(args) is dict and not any(k.startswith("$") for k in args):
        return f"{header.program}({render_fields(args)})"
    return f"{header.program}(**{render(args)})"


def render_outcome(footer: Footer | None) -> str:
    """``returned 3`` / ``raised KeyError: 'x'`` / why there is no outcome."""
    if footer is None:
        return "none: the run did not finish (no footer)"
    if footer.outcome == "raised":
        return "raised " + render_error(footer.value)
    return "returned " + render(footer.value)


def clip(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with "..." when longer.

    >>> clip("abcdefgh", 6)
    'abc...'
    """
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: max(width - 3, 0)] + "..."


# -- effectus replay ---------------------------------------------------------------------------


def replay(path: str, *, stop_at: int | None = None) -> int:
    """``effectus replay TRACE``: re-run the recorded program against its trace."""
    from effectus.core._replay import ReplayStopped, replay as run_replay
    from effectus.specs._golden import recorded_program

    trace = _load(path, read_trace)
    if isinstance(trace, str):
        return _fail(trace)
    n = len(trace.records)
    what = f"replayed {n} record{'s' if n != 1 else ''}"
    try:
        program = recorded_program(trace)
    except TraceError as err:
        return _fail(str(err))
    except ReplayDivergence as err:
        print(err)
        return 1
    try:
        value = run_replay(program, trace, stop_at=stop_at)
    except (ReplayDivergence, ReplayStopped) as err:
        # (A replay that ends its run on the stop may report the stop as the context of a
        # divergence about the records left over.)
        stopped = err if isinstance(err, ReplayStopped) else err.__context__
        if not isinstance(stopped, ReplayStopped):
            print(err)
            return 1
        print(stopped)
        site = _user_site(stopped)
        if site:
            print(f"  at {site}")
        return 0
    except Exception as err:
        # The replay checked that the recorded run raised this same error (when it has a footer).
        print(f"{what}: raised {type(err).__name__}: {err}")
        _note_unfinished(trace)
        return 0
    print(f"{what}: returned {value!r}")
    _note_unfinished(trace)
    return 0


def _note_unfinished(trace: Trace) -> None:
    if trace.footer is None:
        print("note: the trace has no footer (the recorded run did not finish), so the outcome was not compared")


def _user_site(err: BaseException) -> str | None:
    """``file:line in function`` of the innermost frame of ``err`` outside effectus."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if not f.filename.startswith(_PACKAGE_DIR)]
    if not frames:
        return None
    f = frames[-1]
    return f"{os.path.relpath(f.filename) if os.path.isabs(f.filename) else f.filename}:{f.lineno} in {f.name}"


# -- effectus trace show -----------------------------------------------------------------------


def show(
    path: str,
    *,
    effect: str | None = None,
    task: int | None = None,
    errors: bool = False,
    limit: int | None = None,
    start: int = 0,
) -> int:
    """``effectus trace show TRACE``: the header, a table of the (filtered) records, the outcome."""
    trace = _load(path, read_trace)
    if isinstance(trace, str):
        return _fail(trace)
    h = trace.header
    print(f"trace:    {trace.path}")
    print(f"program:  {render_call(h)}")
    seed = "none" if h.seed is None else h.seed
    print(f"recorded: {h.created} by effectus {h.effectus}, python {h.python}, on {h.platform}; seed {seed}")

    def wanted(r: Record) -> bool:
        return (
            r.seq >= start
            and (task is None or r.task == task)
            and (not errors or not r.ok)
            and (effect is None or effect in (r.effect, short(r.effect), short(r.effect).rpartition(".")[2]))
        )

    matching = [r for r in trace.records if wanted(r)]
    shown = matching if limit is None else matching[:limit]
    rows = [
        (
            str(r.seq),
            str(r.task),
            clip(short(r.effect), EFFECT_WIDTH),
            clip(render_fields(r.fields), FIELDS_WIDTH),
            clip(render_answer(r.ok, r.value), ANSWER_WIDTH),
            r.site,
        )
        for r in shown
    ]
    total = len(trace.records)
    filters = _describe_filters(effect, task, errors, limit, start)
    if filters:
        print(f"records:  {len(shown)} shown of {total} ({filters})")
    else:
        print(f"records:  {total}")
    if rows:
        print()
        print(_table(("seq", "task", "effect", "fields", "answer", "site"), rows, right=(0, 1)))
        print()
    if limit is not None and len(matching) > limit:
        print(f"... {len(matching) - limit} more matching records (raise --limit to see them)")
    print(f"outcome:  {render_outcome(trace.footer)}")
    if trace.truncated:
        print("note: an incomplete final line was dropped (the writer stopped while writing it)")
    return 0


def _describe_filters(effect: str | None, task: int | None, errors: bool, limit: int | None, start: int) -> str:
    parts: list[str] = []
    if effect is not None:
        parts.append(f"--effect {effect}")
    if task is not None:
        parts.append(f"--task {task}")
    if errors:
        parts.append("--errors")
    if start:
        parts.append(f"--from {start}")
    if limit is not None:
        parts.append(f"--limit {limit}")
    return ", ".join(parts)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], *, right: tuple[int, ...] = ()) -> str:
    """Columns aligned to their widest cell; the last column is not padded."""
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]

    def line(row: Sequence[str]) -> str:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) if i < len(row) - 1 else cell
            for i, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    return "\n".join(line(row) for row in [head, *rows])


# -- effectus trace verify ---------------------------------------------------------------------


def verify(path: str) -> int:
    """``effectus trace verify TRACE``: check every line and blob; 1 if anything is damaged."""
    report = _load(path, verify_trace)
    if isinstance(report, str):
        return _fail(report)
    print(report)
    return 0 if report.ok else 1


# -- effectus trace diff -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Side:
    name: str  # "A" or "B"
    trace: Trace


def _record_key(r: Record) -> tuple[object, ...]:
    return (r.effect, r.fields, r.ok, r.value, r.task)


def diff(path_a: str, path_b: str) -> int:
    """``effectus trace diff A B``: where two traces first part, and how much they differ.

    Compared: the program, its arguments and seed, every record (effect, fields, answer, task,
    site) and the outcome.  Not compared: when, and with which effectus, python and platform,
    each was recorded (shown as notes when they differ).
    """
    loaded = [_load(p, read_trace) for p in (path_a, path_b)]
    for item in loaded:
        if isinstance(item, str):
            return _fail(item)
    a, b = (_Side(name, t) for name, t in zip("AB", loaded) if not isinstance(t, str))
    lines: list[str] = []
    ha, hb = a.trace.header, b.trace.header
    # (The program and its arguments are on the summary's A and B lines.)
    header_diffs = [f"  seed: A {ha.seed}, B {hb.seed}"] if ha.seed != hb.seed else []
    call_differs = (ha.program, ha.args) != (hb.program, hb.args)
    ra, rb = a.trace.records, b.trace.records
    differing = [i for i in range(max(len(ra), len(rb))) if i >= len(ra) or i >= len(rb) or _record_key(ra[i]) != _record_key(rb[i])]
    moved = [i for i in range(min(len(ra), len(rb))) if i not in differing and ra[i].site != rb[i].site]
    fa, fb = a.trace.footer, b.trace.footer
    outcome_differs = (fa is None) != (fb is None) or (
        fa is not None and fb is not None and (fa.outcome, fa.value) != (fb.outcome, fb.value)
    )

    if differing:
        lines += _first_divergence(a, b, differing[0])
    elif moved:
        i = moved[0]
        lines.append(f"traces perform the same effects, but at other lines: first at record {i}")
        lines.append(f"  A: {render_effect(ra[i])}  at {ra[i].site}")
        lines.append(f"  B: {render_effect(rb[i])}  at {rb[i].site}")
    elif call_differs or header_diffs or outcome_differs:
        what = "program or arguments" if call_differs else "seed" if header_diffs else "outcome"
        lines.append(f"traces perform the same effects, but differ in their {what}")
    else:
        n = len(ra)
        lines.append(f"traces are identical: {n} record{'s' if n != 1 else ''}, {render_outcome(fa)}")
        lines += _environment_notes(ha, hb)
        print("\n".join(lines))
        return 0
    lines.append("summary:")
    lines.append(f"  A: {a.trace.path}: {render_call(ha)}")
    lines.append(f"  B: {b.trace.path}: {render_call(hb)}")
    lines += header_diffs
    lines.append(
        f"  records: A {len(ra)}, B {len(rb)}; {len(differing)} differ"
        + (f", {len(moved)} more at other lines" if moved else "")
    )
    lines.append(f"  outcome: A {render_outcome(fa)}; B {render_outcome(fb)}")
    lines += _environment_notes(ha, hb)
    print("\n".join(lines))
    return 1


def _first_divergence(a: _Side, b: _Side, i: int) -> list[str]:
    ra, rb = a.trace.records, b.trace.records
    if i >= len(ra) or i >= len(rb):
        short_side, long_side = (a, b) if i >= len(ra) else (b, a)
        r = long_side.trace.records[i]
        return [
            f"traces differ at record {i}: {short_side.name} ends after {i} records, "
            f"{long_side.name} goes on",
            f"  {long_side.name}: {render_effect(r)} -> {render_answer(r.ok, r.value)}  at {r.site}",
        ]
    x, y = ra[i], rb[i]
    lines = [
        f"traces differ at record {i} (A has {len(ra)} records, B has {len(rb)})",
        f"  A: {render_effect(x)} -> {render_answer(x.ok, x.value)}  at {x.site}",
        f"  B: {render_effect(y)} -> {render_answer(y.ok, y.value)}  at {y.site}",
        "  differences:",
    ]
    if x.effect != y.effect:
        lines.append(f"    effect: A {x.effect}, B {y.effect}")
    else:
        for name in sorted(set(x.fields) | set(y.fields)):
            fx_, fy = x.fields.get(name), y.fields.get(name)
            if name not in x.fields or name not in y.fields or fx_ != fy:
                shown_x = render(fx_) if name in x.fields else "<absent>"
                shown_y = render(fy) if name in y.fields else "<absent>"
                lines.append(f"    {name}: A {shown_x}, B {shown_y}")
    if (x.ok, x.value) != (y.ok, y.value):
        lines.append(f"    answer: A {render_answer(x.ok, x.value)}, B {render_answer(y.ok, y.value)}")
    if x.task != y.task:
        lines.append(f"    task: A {x.task}, B {y.task}")
    return lines


def _environment_notes(ha: Header, hb: Header) -> list[str]:
    return [
        f"note: recorded with {what} {x} (A) and {y} (B)"
        for what, x, y in (
            ("effectus", ha.effectus, hb.effectus),
            ("python", ha.python, hb.python),
            ("platform", ha.platform, hb.platform),
        )
        if x != y
    ]
