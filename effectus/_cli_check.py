"""``effectus check MODULE``: the static checks of a module's tools, as a table or JSON."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["check", "load_module"]


def load_module(target: str) -> ModuleType:
    """Import ``target``: a path to a ``.py`` file, or a dotted module name.

    Raises:
        ImportError: with what to do, when neither works.
    """
    path = Path(target)
    if target.endswith(".py") or path.is_file():
        if not path.is_file():
            raise ImportError(f"no such file: {target}")
        dotted = _dotted(path)
        if dotted is not None:
            # A module of a package under the current folder is imported by its dotted name,
            # so traces recorded from it name a program `effectus replay` can import again.
            return load_module(dotted)
        name = path.stem
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {target} as a module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        sys.path.insert(0, str(path.resolve().parent))
        try:
            spec.loader.exec_module(module)
        finally:
            sys.path.pop(0)
        return module
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")  # like `python -m`: the current folder's modules
    return importlib.import_module(target)


def _dotted(path: Path) -> str | None:
    """``examples.orders`` for ``examples/orders.py`` when every folder between the current
    folder and the file is a package; None otherwise."""
    here = Path.cwd().resolve()
    try:
        parts = path.resolve().with_suffix("").relative_to(here).parts
    except ValueError:
        return None
    folder = here
    for part in parts[:-1]:
        folder = folder / part
        if not (folder / "__init__.py").is_file():
            return None
    return ".".join(parts) if len(parts) > 1 and all(p.isidentifier() for p in parts) else None


def check(target: str, *, as_json: bool = False, cache: bool = True) -> int:
    """Check every spec'd tool of ``target``; 0 when nothing is refuted, 1 otherwise, 2 on bad input."""
    try:
        module = load_module(target)
    except Exception as err:  # the user's module failed to import: say so, exit 2
        print(f"effectus check: cannot import {target}: {type(err).__name__}: {err}", file=sys.stderr)
        return 2
    from effectus.proofs import check as run_checks

    report = run_checks(module, cache=cache, progress=None if as_json else _progress)
    print(report.to_json() if as_json else report.table())
    return 0 if report.ok else 1


def _progress(done: int, total: int, tool: str) -> None:
    """A progress bar on stderr, drawn only on a terminal and for more than a few tools."""
    if total <= 3 or not sys.stderr.isatty():
        return
    width = 30
    filled = width * done // total
    line = f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {tool[:40]:<40}"
    sys.stderr.write(line if done < total else "\r" + " " * len(line) + "\r")
    sys.stderr.flush()
