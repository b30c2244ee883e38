"""``effectus test MODULE``: the generated property tests of a module's tools, or a test file."""

from __future__ import annotations

import sys
from pathlib import Path

from effectus._cli_check import load_module

__all__ = ["run"]


def run(target: str, *, examples: int = 100, seed: int | None = 0, failures: str = "effectus-failures", write: str | None = None) -> int:
    """Run (or with ``write``, write out) the property tests of ``target``'s tools: 0 when all
    hold, 1 when one fails, 2 on bad input."""
    try:
        module = load_module(target)
    except Exception as err:  # the user's module failed to import: say so, exit 2
        print(f"effectus test: cannot import {target}: {type(err).__name__}: {err}", file=sys.stderr)
        return 2
    if write is not None:
        from effectus.specs._ghostwriter import ghostwrite

        path = Path(write)
        source = ghostwrite(module)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(source)
        tmp.replace(path)  # whole or not at all
        print(f"wrote {path} ({source.count(chr(10) + 'def test_')} tests); run it with: python -m pytest {path}")
        return 0
    from effectus.specs._properties import PropertyResult, run_properties

    def progress(result: PropertyResult) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{result.tool} {result.name}: {result.outcome}\033[K")
            sys.stderr.flush()

    report = run_properties(module, examples=examples, seed=seed, failures=failures, progress=progress)
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    if not report.results:
        print(f"effectus test: {target} has no spec'd tools to test (tools need @fx.tool(...) with a spec, refinements, relations or a protocol)")
        return 0
    print(report.render())
    return 0 if report.ok else 1
