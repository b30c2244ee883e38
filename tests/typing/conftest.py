"""Fixtures that run the type checkers; a checker that is not installed skips its tests.

The snippets are type-checker input, not tests: some of them fail when imported, on purpose,
so pytest does not collect them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from _checkers import Report, run_mypy, run_pyright

collect_ignore_glob = ["snippets/*"]

Checker = Callable[..., Report]


@pytest.fixture(scope="session")
def mypy(tmp_path_factory: pytest.TempPathFactory) -> Checker:
    """``mypy(*targets)``: mypy's report, with its cache in a temporary directory."""
    pytest.importorskip("mypy.api", reason="mypy is not installed: pip install -e .[test]")
    cache = tmp_path_factory.mktemp("mypy-cache")

    def check(*targets: Path) -> Report:
        return run_mypy(list(targets), cache)

    return check


@pytest.fixture(scope="session")
def pyright() -> Checker:
    """``pyright(*targets)``: pyright's report."""
    executable = shutil.which("pyright")
    if executable is None:
        pytest.skip("pyright is not installed: pip install -e .[test]")

    def check(*targets: Path) -> Report:
        return run_pyright(executable, list(targets))

    return check
