"""The public/private split: each public name is exported from exactly one subpackage."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import effectus

HEAVY = ("jax", "z3", "ray", "hypothesis", "numpy")


def subpackages() -> list[ModuleType]:
    """Every subpackage of effectus (core, effects, types, ...), imported."""
    return [
        importlib.import_module(f"effectus.{info.name}")
        for info in pkgutil.iter_modules(effectus.__path__)
        if info.ispkg
    ]


SUBPACKAGES = subpackages()


def test_there_are_subpackages_to_check() -> None:
    """The subpackages the design names are found (so the checks below are not vacuous)."""
    names = {p.__name__ for p in SUBPACKAGES}
    assert {"effectus.core", "effectus.types"} <= names


@pytest.mark.parametrize("package", [effectus, *SUBPACKAGES], ids=lambda p: p.__name__)
def test_all_is_sorted_and_resolves(package: ModuleType) -> None:
    """Each package has an __all__ that is sorted, has no duplicates, and names real attributes."""
    names = package.__all__
    assert list(names) == sorted(set(names))
    missing = [name for name in names if not hasattr(package, name)]
    assert missing == []


def test_every_public_name_is_exported_by_exactly_one_subpackage() -> None:
    """No name appears in the __all__ of two subpackages."""
    owners: dict[str, list[str]] = {}
    for package in SUBPACKAGES:
        for name in package.__all__:
            owners.setdefault(name, []).append(package.__name__)
    assert {name: where for name, where in owners.items() if len(where) > 1} == {}


def test_top_level_names_are_the_subpackages_objects() -> None:
    """Every name in effectus.__all__ is the very object its one subpackage exports."""
    owner = {name: package for package in SUBPACKAGES for name in package.__all__}
    assert [name for name in effectus.__all__ if name not in owner] == ["__version__"]
    for name in effectus.__all__:
        if name != "__version__":
            assert getattr(effectus, name) is getattr(owner[name], name), name


@pytest.mark.parametrize("package", SUBPACKAGES, ids=lambda p: p.__name__)
def test_implementation_modules_are_private(package: ModuleType) -> None:
    """Inside a subpackage every module but __init__ starts with '_' (public modules re-export)."""
    folder = Path(package.__file__ or "").parent
    public = [p.name for p in folder.glob("*.py") if not p.name.startswith("_")]
    assert public == []


def test_core_reference_interpreter_is_private() -> None:
    """The reference interpreter is not part of the public API."""
    assert "reference_run" not in effectus.__all__
    assert all("reference_run" not in p.__all__ for p in SUBPACKAGES)


@pytest.mark.slow
def test_import_effectus_loads_nothing_heavy() -> None:
    """`import effectus` in a fresh process imports none of jax, z3, ray, hypothesis, numpy."""
    code = (
        "import sys, effectus\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    root = Path(effectus.__file__ or "").resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "[]", done.stderr
