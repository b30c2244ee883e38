"""Logs and metrics: `Log` writes a structured message and `Measure` feeds a named metric.

Guarantees: every handler accepts exactly the same effects (levels, kinds and field names are
checked when the effect is built, so a program that logs under testing logs in production),
and aggregates metrics the same way (`Metrics`): counters add, gauges keep the last value,
histograms keep every value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from effectus.core import Effect, Handler, effect, handles

if TYPE_CHECKING:
    import logging

__all__ = ["Log", "LogRecord", "Measure", "MemoryLog", "Metrics", "StdlibLog"]

LEVELS = ("debug", "info", "warning", "error", "critical")
KINDS = ("counter", "gauge", "histogram")

# Attributes of `logging.LogRecord`: stdlib logging refuses them as `extra` keys, so a field
# with one of these names would work under testing and fail in production.
_RESERVED_FIELDS = frozenset(
    {
        "args", "asctime", "created", "exc_info", "exc_text", "filename", "funcName",
        "levelname", "levelno", "lineno", "message", "module", "msecs", "msg", "name",
        "pathname", "process", "processName", "relativeCreated", "stack_info", "taskName",
        "thread", "threadName",
    }
)


@effect
class Log(Effect[None]):
    """Log ``message`` at ``level`` with structured ``fields``.

    ``fx.production()`` passes it to the stdlib logger ``"effectus"`` (`StdlibLog`), the
    fields as ``extra``; ``fx.testing()`` appends a `LogRecord` to `MemoryLog.records`.
    Recorded as its fields; a replay checks them and answers ``None``.

    Args:
        message: the text.
        level: one of ``"debug"``, ``"info"``, ``"warning"``, ``"error"``, ``"critical"``.
        fields: structured data; copied when the effect is built.  Names must be strings and
            must not be attributes of ``logging.LogRecord`` (such as ``name`` or ``msg``).

    Raises:
        TypeError, ValueError: on a bad level, message or field name (on the user's line).

    >>> import effectus as fx
    >>> interp = fx.testing()
    >>> interp.run(fx.Log("saved", fields={"rows": 3}))
    >>> interp.handler(fx.effects.MemoryLog).records
    [LogRecord(level='info', message='saved', fields={'rows': 3})]
    """

    message: str
    level: str = "info"
    fields: Mapping[str, object] | None = None

    def __post_init__(self) -> None:
        message = cast(object, self.message)  # unchecked until here
        if not isinstance(message, str):
            raise TypeError(
                f"Log(message={message!r}): message must be a str "
                f"(type={type(message).__name__}).\n"
                f"Fix: format it first, or put the value in fields: "
                f"Log('value', fields={{'value': x}})."
            )
        if self.level not in LEVELS:
            raise ValueError(
                f"Log(level={self.level!r}): level must be one of {', '.join(LEVELS)}.\n"
                f"Fix: e.g. Log({self.message!r}, level='warning')."
            )
        if self.fields is not None:
            object.__setattr__(self, "fields", _check_fields(self.fields))


def _check_fields(fields: object) -> dict[str, object]:
    if not isinstance(fields, Mapping):
        raise TypeError(
            f"Log(fields={fields!r}): fields must be a mapping of names to values "
            f"(type={type(fields).__name__}).\nFix: Log('msg', fields={{'user': 'ada'}})."
        )
    copied: dict[str, object] = {}
    for name, value in cast(Mapping[object, object], fields).items():
        if not isinstance(name, str):
            raise TypeError(
                f"Log(fields=...): field names must be str; got {name!r} "
                f"(type={type(name).__name__})."
            )
        if name in _RESERVED_FIELDS:
            raise ValueError(
                f"Log(fields=...): the field name {name!r} is reserved by logging.LogRecord.\n"
                f"Fix: rename it, e.g. {name + '_'!r}."
            )
        copied[name] = value
    return copied


@effect
class Measure(Effect[None]):
    """Add ``value`` to the metric ``name`` of the given ``kind``.

    A ``"counter"`` adds the values up, a ``"gauge"`` keeps the last one, a ``"histogram"``
    keeps them all.  ``fx.production()`` aggregates into `StdlibLog.metrics` and logs each
    measure at DEBUG on the ``"effectus.metrics"`` logger; ``fx.testing()`` aggregates into
    `MemoryLog.metrics`.  Recorded as its fields; a replay checks them and answers ``None``.

    Args:
        name: the metric's name; a name keeps the kind it was first measured with.
        value: a finite number (default 1.0: count one).
        kind: ``"counter"``, ``"gauge"`` or ``"histogram"``.

    Raises:
        TypeError, ValueError: on an empty name, a non-finite value or an unknown kind (on
            the user's line); measuring a name with a second kind raises ValueError at the
            ``await``.

    >>> import effectus as fx
    >>> async def serve() -> None:
    ...     await fx.Measure("requests")
    ...     await fx.Measure("requests")
    ...     await fx.Measure("latency_ms", 12.5, kind="histogram")
    >>> interp = fx.testing()
    >>> interp.run(serve())
    >>> interp.handler(fx.effects.MemoryLog).metrics.snapshot()
    {'latency_ms': (12.5,), 'requests': 2.0}
    """

    name: str
    value: float = 1.0
    kind: str = "counter"

    def __post_init__(self) -> None:
        name = cast(object, self.name)  # unchecked until here
        if not isinstance(name, str):
            raise TypeError(
                f"Measure(name={name!r}): name must be a str "
                f"(type={type(name).__name__}).\nFix: e.g. Measure('requests')."
            )
        if not self.name:
            raise ValueError(
                "Measure(name=''): name must be a non-empty str.\nFix: e.g. Measure('requests')."
            )
        v = cast(object, self.value)  # unchecked until here
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(
                f"Measure({self.name!r}, value={v!r}): value must be a number "
                f"(type={type(v).__name__})."
            )
        if not math.isfinite(v):
            raise ValueError(
                f"Measure({self.name!r}, value={v!r}): value must be finite.\n"
                f"Fix: skip the measure, or count the bad case in its own counter."
            )
        if self.kind not in KINDS:
            raise ValueError(
                f"Measure({self.name!r}, kind={self.kind!r}): kind must be one of "
                f"{', '.join(KINDS)}.\nFix: e.g. Measure({self.name!r}, 1.0, kind='gauge')."
            )


@dataclass(frozen=True)
class LogRecord:
    """One `Log` effect as `MemoryLog` keeps it.

    >>> LogRecord("info", "hello", {})
    LogRecord(level='info', message='hello', fields={})
    """

    level: str
    message: str
    fields: Mapping[str, object]


class Metrics:
    """Aggregated measures: counters summed, gauges last value, histograms every value.

    >>> m = Metrics()
    >>> m.add(Measure("hits")); m.add(Measure("hits", 2)); m.add(Measure("temp", 20.5, "gauge"))
    >>> m.counters, m.gauges, m.histograms
    ({'hits': 3.0}, {'temp': 20.5}, {})
    >>> m.snapshot()
    {'hits': 3.0, 'temp': 20.5}
    """

    def __init__(self) -> None:
        self.counters: dict[str, float] = {}
        self.gauges: dict[str, float] = {}
        self.histograms: dict[str, list[float]] = {}
        self._kinds: dict[str, str] = {}

    def add(self, m: Measure) -> None:
        """Aggregate one measure.

        Raises:
            ValueError: ``m.name`` was measured before with another kind.
        """
        known = self._kinds.setdefault(m.name, m.kind)
        if known != m.kind:
            raise ValueError(
                f"Measure({m.name!r}, kind={m.kind!r}): {m.name!r} is already a {known}; a "
                f"metric keeps one kind.\nFix: measure it as kind={known!r}, or use another "
                f"name such as {m.name + '_' + m.kind!r}."
            )
        value = float(m.value)
        if m.kind == "counter":
            self.counters[m.name] = self.counters.get(m.name, 0.0) + value
        elif m.kind == "gauge":
            self.gauges[m.name] = value
        else:
            self.histograms.setdefault(m.name, []).append(value)

    def snapshot(self) -> dict[str, float | tuple[float, ...]]:
        """Every metric by name (sorted): a float, or a tuple of values for a histogram."""
        out: dict[str, float | tuple[float, ...]] = {}
        for name in sorted(self._kinds):
            kind = self._kinds[name]
            if kind == "counter":
                out[name] = self.counters[name]
            elif kind == "gauge":
                out[name] = self.gauges[name]
            else:
                out[name] = tuple(self.histograms[name])
        return out

    def __repr__(self) -> str:
        return f"Metrics({self.snapshot()!r})"


class StdlibLog(Handler):
    """Logs through stdlib ``logging`` and aggregates metrics; handles `Log` and `Measure`.

    Used by ``fx.production()``.  A `Log` goes to the logger named ``logger`` with its fields
    as ``extra`` (so formatters and handlers see them as record attributes); a `Measure` is
    aggregated into ``metrics`` and logged at DEBUG on ``"<logger>.metrics"``.

    Args:
        logger: the name of the stdlib logger.

    >>> import effectus as fx
    >>> handler = StdlibLog("myapp")
    >>> fx.run(fx.Measure("jobs"), handler)
    >>> handler.metrics.snapshot()
    {'jobs': 1.0}
    """

    def __init__(self, logger: str = "effectus") -> None:
        import logging  # lazily: `import effectus` stays fast

        given = cast(object, logger)  # unchecked until here
        if not isinstance(given, str):
            raise TypeError(
                f"StdlibLog(logger={given!r}): logger must be the name of a stdlib logger "
                f"(type={type(given).__name__})."
            )
        self.logger: logging.Logger = logging.getLogger(logger)
        self.metrics_logger: logging.Logger = logging.getLogger(f"{logger}.metrics")
        self.metrics = Metrics()
        self._levels: dict[str, int] = {
            "debug": logging.DEBUG,
            "info": logging.INFO,
            "warning": logging.WARNING,
            "error": logging.ERROR,
            "critical": logging.CRITICAL,
        }
        self._debug = logging.DEBUG

    @handles(Log)
    def log(self, e: Log) -> None:
        level: int = self._levels[e.level]
        if self.logger.isEnabledFor(level):
            extra = dict(e.fields) if e.fields else None
            self.logger.log(level, e.message, extra=extra)

    @handles(Measure)
    def measure(self, e: Measure) -> None:
        self.metrics.add(e)
        if self.metrics_logger.isEnabledFor(self._debug):
            self.metrics_logger.debug(
                "%s %s %s",
                e.kind,
                e.name,
                e.value,
                extra={"metric": e.name, "kind": e.kind, "value": e.value},
            )

    def __repr__(self) -> str:
        return f"StdlibLog({self.logger.name!r})"


class MemoryLog(Handler):
    """Keeps logs and metrics in memory; handles `Log` and `Measure`.

    Used by ``fx.testing()``: ``records`` lists every `Log` as a `LogRecord`, in order, and
    ``metrics`` aggregates every `Measure`.

    >>> import effectus as fx
    >>> handler = MemoryLog()
    >>> fx.run(fx.Log("disk full", "error"), handler)
    >>> handler.records
    [LogRecord(level='error', message='disk full', fields={})]
    """

    def __init__(self) -> None:
        self.records: list[LogRecord] = []
        self.metrics = Metrics()

    @handles(Log)
    def log(self, e: Log) -> None:
        self.records.append(LogRecord(e.level, e.message, dict(e.fields or {})))

    @handles(Measure)
    def measure(self, e: Measure) -> None:
        self.metrics.add(e)

    def __repr__(self) -> str:
        return f"MemoryLog({len(self.records)} records)"
