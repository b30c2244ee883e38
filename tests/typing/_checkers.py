"""Running mypy and pyright from tests, with their diagnostics parsed into one shape.

Both checkers run from the repository root with the configuration in ``pyproject.toml``
(strict for both): mypy in-process through ``mypy.api``, pyright as a subprocess
(``--outputjson``) on the interpreter that runs the tests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_MYPY_LINE = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+): (?P<severity>error|note|warning): (?P<message>.*?)"
    r"(?:  \[(?P<code>[a-z0-9-]+)\])?$"
)


@dataclass(frozen=True)
class Diagnostic:
    """One message of a type checker."""

    file: str  # relative to the repository root, with forward slashes
    line: int  # 1-based
    severity: str  # mypy: error / note; pyright: error / warning / information
    code: str  # mypy's error code or pyright's rule; "" when it has none
    message: str  # the first line only for pyright (the rest explains it)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: {self.message} [{self.code}]"


@dataclass(frozen=True)
class Report:
    """What one checker (named with its version) said."""

    checker: str
    diagnostics: tuple[Diagnostic, ...]

    def about(self, path: Path) -> list[Diagnostic]:
        """The diagnostics about the file ``path``."""
        name = relative(path)
        return [d for d in self.diagnostics if d.file == name]

    def errors(self) -> list[Diagnostic]:
        """The errors and warnings (not notes or informations)."""
        return [d for d in self.diagnostics if d.severity in ("error", "warning")]

    def dump(self, diagnostics: list[Diagnostic] | None = None) -> str:
        """``diagnostics`` (by default all of them) as text, for assertion messages."""
        shown = list(self.diagnostics) if diagnostics is None else diagnostics
        return f"{self.checker} said:\n" + "\n".join(f"  {d}" for d in shown)


def relative(path: Path | str) -> str:
    """``path`` relative to the repository root, with forward slashes."""
    p = Path(path)
    if not p.is_absolute():
        p = ROOT / p
    try:
        return p.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return p.as_posix()


def run_mypy(targets: list[Path], cache_dir: Path) -> Report:
    """mypy's report on files or directories, with ``--strict`` and the project config."""
    from mypy import api
    from mypy.version import __version__

    args = [
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--strict",
        "--cache-dir",
        str(cache_dir),
        "--show-error-codes",
        "--show-absolute-path",
        "--hide-error-context",
        "--no-error-summary",
        "--no-pretty",
        "--no-color-output",
        *(str(t) for t in targets),
    ]
    here = os.getcwd()
    os.chdir(ROOT)  # `import effectus` resolves to the source tree, as in CI
    try:
        stdout, stderr, status = api.run(args)
    finally:
        os.chdir(here)
    assert status in (0, 1), f"mypy crashed (exit {status}):\n{stderr}\n{stdout}"
    found: list[Diagnostic] = []
    for text in stdout.splitlines():
        m = _MYPY_LINE.match(text)
        assert m is not None, f"unparsed mypy output line: {text!r}"
        found.append(
            Diagnostic(
                file=relative(m["file"]),
                line=int(m["line"]),
                severity=m["severity"],
                code=m["code"] or "",
                message=m["message"],
            )
        )
    return Report(f"mypy {__version__}", tuple(found))


def run_pyright(executable: str, targets: list[Path]) -> Report:
    """pyright's report on files or directories (none: the project's ``include``)."""
    proc = subprocess.run(
        [executable, "--outputjson", "--pythonpath", sys.executable, *(str(t) for t in targets)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    # Exit status 1 means "errors found"; anything else is a failure to run.
    assert proc.returncode in (0, 1), f"pyright failed ({proc.returncode}):\n{proc.stderr}"
    data = json.loads(proc.stdout)
    found = tuple(
        Diagnostic(
            file=relative(d["file"]),
            line=d["range"]["start"]["line"] + 1,
            severity=d["severity"],
            code=d.get("rule", ""),
            message=d["message"].splitlines()[0],
        )
        for d in data["generalDiagnostics"]
    )
    return Report(f"pyright {data.get('version', '?')}", found)
