"""``import effectus``: how long it takes, and what it drags in, each in a fresh interpreter.

All measurements run subprocesses of the running Python, with the repository root on
``PYTHONPATH``:

* wall time of ``python -c "import effectus"`` minus that of ``python -c "pass"`` (the two are
  run alternately, and the medians are subtracted);
* the cumulative time ``python -X importtime`` attributes to the ``effectus`` package, and the
  part of it spent in effectus's own modules (the sum of their self times);
* which modules are loaded afterwards: none of jax, z3, ray, hypothesis may be (numpy and
  returns are reported too), and any other third-party top-level packages are listed.

The timings are taken twice: as users see them (with this interpreter's ``site``, whose
``.pth`` files may already import much of the stdlib), and with ``python -S`` (no site, so
effectus pays for every stdlib module it needs).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

__all__ = ["HEAVY", "ImportReport", "Timing", "measure"]

#: Packages `import effectus` must not import: each costs from 100 ms to seconds.
HEAVY = ("jax", "z3", "ray", "hypothesis", "numpy", "returns")
#: The ones the issue names; the rest of HEAVY are reported but do not fail the check.
REQUIRED_ABSENT = ("jax", "z3", "ray", "hypothesis")

ROOT = Path(__file__).resolve().parent.parent

_PROBE = f"""
import json, sys
before = set(sys.modules)
import effectus
new = set(sys.modules) - before
tops = sorted({{m.split(".")[0] for m in new}} - set(sys.stdlib_module_names))
print(json.dumps({{
    "heavy": [m for m in {HEAVY!r} if m in sys.modules],
    "third_party": [t for t in tops if t != "effectus" and not t.startswith("_")],
    "modules": len(new),
}}))
"""


class Timing(NamedTuple):
    wall_ms: float  # median(import effectus) - median(pass)
    pass_ms: float  # median wall time of `python -c pass`
    importtime_ms: float  # median cumulative -X importtime of the effectus package
    own_ms: float  # median sum of -X importtime self times of effectus.* modules alone


class ImportReport(NamedTuple):
    site: Timing  # as users see it: this interpreter's site-packages and .pth files loaded
    nosite: Timing  # `python -S`: effectus plus exactly the stdlib modules it needs
    heavy: list[str]  # HEAVY modules found in sys.modules after `import effectus`
    third_party: list[str]  # other non-stdlib top-level packages it loaded
    modules: int  # modules newly loaded by `import effectus`
    repeats: int

    @property
    def ok(self) -> bool:
        return not any(m in REQUIRED_ABSENT for m in self.heavy)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=_env(), capture_output=True, text=True, check=True
    )


def _wall_ms(flags: list[str], code: str) -> float:
    start = time.perf_counter()
    _run([*flags, "-c", code])
    return (time.perf_counter() - start) * 1e3


def _importtime_ms(flags: list[str]) -> tuple[float, float]:
    """(cumulative time of the effectus package, sum of self times of effectus modules)."""
    err = _run([*flags, "-X", "importtime", "-c", "import effectus"]).stderr
    cumulative = None
    own = 0
    for line in err.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].strip()
        if name == "effectus":
            cumulative = int(parts[1])
        if name == "effectus" or name.startswith("effectus."):
            own += int(parts[0].rsplit(":", 1)[1])
    if cumulative is None:
        raise RuntimeError(f"no line for effectus in -X importtime output:\n{err[-2000:]}")
    return cumulative / 1e3, own / 1e3


def _timing(flags: list[str], repeats: int) -> Timing:
    _wall_ms(flags, "import effectus")  # warm the OS file cache and write the .pyc files
    bare: list[float] = []
    full: list[float] = []
    cumulative: list[float] = []
    own: list[float] = []
    for _ in range(repeats):  # alternate, so that drift hits both alike
        bare.append(_wall_ms(flags, "pass"))
        full.append(_wall_ms(flags, "import effectus"))
        c, o = _importtime_ms(flags)
        cumulative.append(c)
        own.append(o)
    pass_ms = statistics.median(bare)
    return Timing(
        wall_ms=statistics.median(full) - pass_ms,
        pass_ms=pass_ms,
        importtime_ms=statistics.median(cumulative),
        own_ms=statistics.median(own),
    )


def measure(repeats: int = 15) -> ImportReport:
    """Measure ``import effectus`` ``repeats`` times each way in fresh interpreters."""
    probe = json.loads(_run(["-c", _PROBE]).stdout)
    return ImportReport(
        site=_timing([], repeats),
        nosite=_timing(["-S"], repeats),
        heavy=probe["heavy"],
        third_party=probe["third_party"],
        modules=probe["modules"],
        repeats=repeats,
    )
