"""``mypy --strict`` and pyright strict report nothing on the whole ``effectus`` package.

The configuration is the project's (``[tool.mypy]`` and ``[tool.pyright]`` in
``pyproject.toml``); a failure lists every message, with its file and line.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from _checkers import ROOT, Report

pytestmark = pytest.mark.slow

PACKAGE = ROOT / "effectus"
TYPING_TESTS = ROOT / "tests" / "typing"


def test_mypy_strict_is_clean_on_the_package(mypy: Callable[..., Report]) -> None:
    """mypy --strict finds no error in effectus/ (notes included: strict shows none)."""
    report = mypy(PACKAGE)
    assert report.diagnostics == (), report.dump()


def test_pyright_strict_is_clean_on_the_package(pyright: Callable[..., Report]) -> None:
    """pyright, strict per pyproject.toml, finds no error or warning in effectus/."""
    report = pyright(PACKAGE)
    assert report.errors() == [], report.dump(report.errors())


def test_typing_tests_are_strict_clean(
    mypy: Callable[..., Report], pyright: Callable[..., Report]
) -> None:
    """The tests that show typing are themselves clean under both checkers (snippets aside)."""
    targets = [TYPING_TESTS / name for name in ("_checkers.py", "conftest.py")]
    targets += sorted(TYPING_TESTS.glob("test_*.py"))
    found = mypy(*targets).errors() + pyright(*targets).errors()
    assert found == [], "\n".join(str(d) for d in found)
