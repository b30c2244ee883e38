"""Tests of `effectus.effects._log`: Log, Measure, Metrics, StdlibLog and MemoryLog."""

from __future__ import annotations

import logging
import traceback

import pytest
from hypothesis import given
from hypothesis import strategies as st

import effectus as fx
from effectus.effects import LogRecord, MemoryLog, Metrics, StdlibLog


async def chatty() -> None:
    await fx.Log("starting")
    await fx.Log("disk almost full", "warning", {"free_mb": 12})
    await fx.Measure("requests")
    await fx.Measure("requests", 2)
    await fx.Measure("queue", 5, "gauge")
    await fx.Measure("queue", 3, "gauge")
    await fx.Measure("latency", 0.25, "histogram")
    await fx.Measure("latency", 0.5, "histogram")


EXPECTED_METRICS = {"latency": (0.25, 0.5), "queue": 3.0, "requests": 3.0}


def test_memory_log_records_logs_and_aggregates_metrics() -> None:
    """MemoryLog keeps each Log as a LogRecord, in order, and aggregates each Measure."""
    interp = fx.testing()
    interp.run(chatty())
    handler = interp.handler(MemoryLog)
    assert handler.records == [
        LogRecord("info", "starting", {}),
        LogRecord("warning", "disk almost full", {"free_mb": 12}),
    ]
    assert handler.metrics.snapshot() == EXPECTED_METRICS
    assert handler.metrics.counters == {"requests": 3.0}
    assert handler.metrics.gauges == {"queue": 3.0}
    assert handler.metrics.histograms == {"latency": [0.25, 0.5]}


def test_stdlib_log_logs_through_logging_with_fields_as_extra(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """StdlibLog logs on the 'effectus' logger at the effect's level, fields as attributes."""
    caplog.set_level(logging.DEBUG, logger="effectus")
    handler = StdlibLog()
    fx.run(chatty(), handler)
    logs = [r for r in caplog.records if r.name == "effectus"]
    assert [(r.levelno, r.getMessage()) for r in logs] == [
        (logging.INFO, "starting"),
        (logging.WARNING, "disk almost full"),
    ]
    assert getattr(logs[1], "free_mb") == 12
    assert handler.metrics.snapshot() == EXPECTED_METRICS


def test_stdlib_log_logs_each_measure_at_debug_on_the_metrics_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each Measure is logged at DEBUG on '<logger>.metrics' with metric, kind and value."""
    caplog.set_level(logging.DEBUG, logger="app.metrics")
    fx.run(fx.Measure("jobs", 2), StdlibLog("app"))
    (record,) = [r for r in caplog.records if r.name == "app.metrics"]
    assert record.levelno == logging.DEBUG
    assert record.getMessage() == "counter jobs 2"
    assert (getattr(record, "metric"), getattr(record, "kind"), getattr(record, "value")) == (
        "jobs",
        "counter",
        2,
    )


def test_production_logs_on_the_effectus_logger(caplog: pytest.LogCaptureFixture) -> None:
    """fx.production() handles Log with StdlibLog on the 'effectus' logger."""
    caplog.set_level(logging.INFO, logger="effectus")
    fx.production().run(fx.Log("hello", "error"))
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("effectus", "ERROR", "hello")
    ]


def test_log_fields_are_copied_when_the_effect_is_built() -> None:
    """Mutating the caller's dict after building a Log does not change the effect."""
    fields: dict[str, object] = {"user": "ada"}
    effect = fx.Log("login", fields=fields)
    fields["user"] = "mallory"
    assert effect.fields == {"user": "ada"}


def test_metric_kind_conflict_raises_at_the_await() -> None:
    """Measuring a counter as a gauge is a ValueError raised on the program's await line."""

    async def main() -> None:
        await fx.Measure("x")
        await fx.Measure("x", 1, "gauge")

    with pytest.raises(
        ValueError, match=r"(?s)Measure\('x', kind='gauge'\): 'x' is already a counter.*Fix"
    ) as info:
        fx.testing().run(main())
    assert "main" in [f.name for f in traceback.extract_tb(info.value.__traceback__)]


def test_metrics_snapshot_is_sorted_and_independent() -> None:
    """Metrics.snapshot lists metrics by sorted name and is a copy."""
    m = Metrics()
    for effect in (fx.Measure("b"), fx.Measure("a", 2, "histogram")):
        m.add(effect)
    snap = m.snapshot()
    assert list(snap) == ["a", "b"]
    m.add(fx.Measure("a", 3, "histogram"))
    assert snap == {"a": (2.0,), "b": 1.0}
    assert repr(m) == "Metrics({'a': (2.0, 3.0), 'b': 1.0})"


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: fx.Log("x", "verbose"), ValueError, r"Log\(level='verbose'\): level must be one"),
        (
            lambda: fx.Log(42),  # type: ignore[arg-type]  # the wrong call under test
            TypeError,
            r"Log\(message=42\): message must be a str",
        ),
        (
            lambda: fx.Log("x", fields=[1]),  # type: ignore[arg-type]  # the wrong call under test
            TypeError,
            r"fields must be a mapping",
        ),
        (
            lambda: fx.Log("x", fields={1: 2}),  # type: ignore[dict-item]  # the wrong call
            TypeError,
            r"field names must be str; got 1",
        ),
        (
            lambda: fx.Log("x", fields={"name": "a"}),
            ValueError,
            r"the field name 'name' is reserved by logging.LogRecord",
        ),
        (lambda: fx.Measure(""), ValueError, r"Measure\(name=''\): name must be a non-empty"),
        (
            lambda: fx.Measure(3),  # type: ignore[arg-type]  # the wrong call under test
            TypeError,
            r"Measure\(name=3\): name must be a str",
        ),
        (lambda: fx.Measure("m", float("nan")), ValueError, r"value=nan\): value must be finite"),
        (
            lambda: fx.Measure("m", "1"),  # type: ignore[arg-type]  # the wrong call under test
            TypeError,
            r"value='1'\): value must be a number",
        ),
        (lambda: fx.Measure("m", 1, "timer"), ValueError, r"kind='timer'\): kind must be one of"),
    ],
)
def test_bad_log_and_measure_effects_are_refused(
    build: object, error: type[Exception], message: str
) -> None:
    """Bad levels, messages, fields, names, values and kinds fail when the effect is built."""
    assert callable(build)
    with pytest.raises(error, match=message):
        build()


def test_stdlib_log_refuses_a_non_string_logger() -> None:
    """StdlibLog(logger=1) is a TypeError."""
    with pytest.raises(TypeError, match=r"StdlibLog\(logger=1\): logger must be the name"):
        StdlibLog(1)  # type: ignore[arg-type]  # the wrong call under test


MEASURES = st.lists(
    st.builds(
        fx.Measure,
        name=st.sampled_from(["a", "b", "c"]),
        value=st.floats(-1e6, 1e6) | st.integers(-1000, 1000),
        kind=st.sampled_from(["counter", "gauge", "histogram"]),
    ),
    max_size=30,
)


@given(MEASURES)
def test_law_both_handlers_aggregate_metrics_identically(measures: list[fx.Measure]) -> None:
    """Law: StdlibLog and MemoryLog give the same metrics (or the same error) for any measures,
    with counters summed, gauges last and histograms every value."""

    async def main() -> None:
        for m in measures:
            await m

    memory, stdlib = MemoryLog(), StdlibLog("effectus.test")
    a = fx.run_result(main(), memory)
    b = fx.run_result(main(), stdlib)
    assert type(a) is type(b)
    assert memory.metrics.snapshot() == stdlib.metrics.snapshot()
    kinds: dict[str, str] = {}
    expected: dict[str, list[float]] = {}
    for m in measures:
        if kinds.setdefault(m.name, m.kind) != m.kind:
            break
        expected.setdefault(m.name, []).append(m.value)
    for name, values in expected.items():
        kind = kinds[name]
        got = memory.metrics.snapshot()[name]
        if kind == "counter":
            total = 0.0
            for v in values:
                total += v
            assert got == total
        elif kind == "gauge":
            assert got == values[-1]
        else:
            assert got == tuple(values)
