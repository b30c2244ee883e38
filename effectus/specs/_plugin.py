"""The pytest plugin: generated property tests and recorded traces as test items.

Installed with effectus (entry point ``pytest11``) and inert until configured.  In
``pyproject.toml`` (or ``pytest.ini``, ``[pytest]``)::

    [tool.pytest.ini_options]
    effectus_modules = ["shop.pricing", "shop.packing"]   # their tools' properties become tests
    effectus_traces = ["tests/traces"]                     # each trace replays as a test
    effectus_examples = 100                                # examples per property
    effectus_failures = "effectus-failures"                # where failing runs' traces go

Each spec'd tool of each module gives one item per property (``pricing.py::split::contract``);
a failing item prints the shrunk arguments and the path of the trace ``effectus replay``
reproduces.  Each ``*.jsonl`` trace under a traces folder gives an item that replays it and fails
where the program now diverges (a regression test from a recorded failure or production run).

The CI profile: ``--effectus-ci`` (or ``HYPOTHESIS_PROFILE=effectus-ci``) loads the Hypothesis
profile ``effectus-ci``: derandomized (the same examples on every run), no deadline, no example
database, and every failure printed with its reproduction blob — so CI results depend only on
the code.  It applies to the generated items and to the project's own ``@given`` tests.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["CI_PROFILE", "register_profiles"]

CI_PROFILE = "effectus-ci"


def register_profiles() -> None:
    """Register the Hypothesis profile ``effectus-ci`` (see the module docstring)."""
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        CI_PROFILE, derandomize=True, deadline=None, database=None, print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("effectus", "effectus: generated property tests and trace replays")
    group.addoption("--effectus-ci", action="store_true", help=f"load the Hypothesis profile {CI_PROFILE!r}")
    group.addoption("--effectus-module", action="append", default=[], metavar="MODULE",
                    help="also collect the property tests of MODULE's tools (repeatable)")
    parser.addini("effectus_modules", "modules whose tools' property tests are collected", type="linelist", default=[])
    parser.addini("effectus_traces", "folders whose *.jsonl traces are replayed as tests", type="linelist", default=[])
    parser.addini("effectus_examples", "examples per generated property (default 100)", default="100")
    parser.addini("effectus_failures", "where failing runs' traces go", default="effectus-failures")


def pytest_configure(config: pytest.Config) -> None:
    if _modules(config) or config.getini("effectus_traces") or config.getoption("effectus_ci") or os.environ.get("HYPOTHESIS_PROFILE") == CI_PROFILE:
        register_profiles()
        if config.getoption("effectus_ci"):
            from hypothesis import settings

            settings.load_profile(CI_PROFILE)


def _modules(config: pytest.Config) -> list[str]:
    listed: list[str] = list(config.getini("effectus_modules"))
    given: list[str] = config.getoption("effectus_module") or []
    return [*listed, *given]


@pytest.hookimpl(tryfirst=True)  # before `-k` and `-m` select among the items
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    items.extend([*_property_items(session, config), *_trace_items(session, config)])


def _property_items(session: pytest.Session, config: pytest.Config) -> Iterator[pytest.Item]:
    from effectus.specs._properties import properties_of, testable, tools_in

    examples = int(config.getini("effectus_examples"))
    failures = Path(str(config.getini("effectus_failures")))
    if not failures.is_absolute():
        failures = config.rootpath / failures
    for module_name in _modules(config):
        try:
            module = importlib.import_module(module_name)
        except Exception as err:  # noqa: BLE001 - reported as a failing item, not a crash
            yield _item(_Broken, session, f"{module_name}::import", error=f"cannot import {module_name}: {type(err).__name__}: {err}")
            continue
        for name, tool in tools_in(module):
            if not testable(tool):
                continue
            for prop in properties_of(tool, name=name):
                node = f"{module_name}::{prop.id.partition('::')[0]}::{prop.name}"
                yield _item(PropertyItem, session, node, prop=prop, examples=examples, failures=failures)


def _trace_items(session: pytest.Session, config: pytest.Config) -> Iterator[pytest.Item]:
    for folder in config.getini("effectus_traces"):
        root = Path(str(folder))
        if not root.is_absolute():
            root = config.rootpath / root
        if not root.is_dir():
            yield _item(_Broken, session, f"{folder}::traces", error=f"effectus_traces names {folder}, which is not a folder (looked in {root})")
            continue
        for path in sorted(root.rglob("*.jsonl")):
            shown = path.relative_to(config.rootpath) if path.is_relative_to(config.rootpath) else path
            yield _item(TraceItem, session, f"replay::{shown}", path=path)


def _item(kind: type[pytest.Item], session: pytest.Session, node: str, **kwargs: Any) -> pytest.Item:
    """An item of ours, named ``node`` (no file: its id is the name itself)."""
    made: pytest.Item = kind.from_parent(session, name=node, nodeid=node, **kwargs)  # pyright: ignore[reportUnknownMemberType]  # pytest's **kw
    return made


class PropertyFailed(Exception):
    """A generated property test failed (its report is the message)."""


class _Reported(pytest.Item):
    """An item whose failures are reports (no traceback of the plugin's own frames)."""

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, PropertyFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


class PropertyItem(_Reported):
    """One property of one tool, run with Hypothesis (see `effectus.specs.Property`)."""

    def __init__(self, *, prop: Any, examples: int, failures: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # pyright: ignore[reportUnknownMemberType]  # pytest's Node.__init__
        self.prop = prop
        self.examples = examples
        self.failures = failures

    def runtest(self) -> None:
        from hypothesis import settings

        from effectus.specs._properties import hypothesis_settings

        profile: Any = settings.default  # the loaded profile (effectus-ci under --effectus-ci)
        chosen = hypothesis_settings(self.examples, None)
        if profile is not None and profile.derandomize:
            chosen = settings(chosen, derandomize=True, database=None)
        result = self.prop.run(examples=self.examples, seed=None, failures=self.failures, settings=chosen)
        self.user_properties.append(("examples", result.examples))
        if result.trace is not None:
            self.user_properties.append(("trace", str(result.trace)))
        if not result.ok:
            raise PropertyFailed(f"{result.outcome}: {result.tool} {result.name}\n{result.message}")

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


class TraceItem(_Reported):
    """One recorded trace, replayed.  A trace of a run that returned fails where the program
    now diverges from it; a trace of a run that failed fails while that failure still happens."""

    def __init__(self, *, path: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # pyright: ignore[reportUnknownMemberType]  # pytest's Node.__init__
        self.trace = path

    def runtest(self) -> None:
        from effectus.core import ReplayDivergence, read_trace
        from effectus.specs._golden import check_golden

        footer = read_trace(self.trace).footer
        if footer is None or footer.outcome != "raised":
            check_golden(self.trace)  # a good run: the program must still do exactly this
            return
        # A failing run (say, one `effectus test` saved): it passes once the failure is fixed.
        from effectus.core import replay
        from effectus.specs._golden import recorded_program

        loaded = read_trace(self.trace)
        try:
            replay(recorded_program(loaded), loaded)
        except ReplayDivergence as err:
            if "performed: returned" in str(err):
                return  # every effect as recorded, and now it returns: fixed
            raise PropertyFailed(f"{self.trace}: the program diverged from the failing run it recorded\n{err}") from err
        except Exception as err:
            raise PropertyFailed(
                f"{self.trace}: the recorded failure still happens: {type(err).__name__}: {err}\n"
                f"Reproduce it with: effectus replay {self.trace}"
            ) from err
        raise PropertyFailed(f"{self.trace}: the replay ended without the recorded failure's outcome")

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.trace, None, self.name


class _Broken(_Reported):
    """A configuration problem, reported as a failing item."""

    def __init__(self, *, error: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # pyright: ignore[reportUnknownMemberType]  # pytest's Node.__init__
        self.error = error

    def runtest(self) -> None:
        raise PropertyFailed(self.error)
