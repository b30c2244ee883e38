"""Writing the generated tests out as a pytest file, for teams that want them in their repository.

Like Hypothesis' ghostwriter, `ghostwrite` writes source, not a run: one test per tool and
property, explicit enough to read and edit.  Each test draws its arguments with
`strategy_for` (the preconditions met by construction), runs the tool under ``fx.testing``
with a drawn seed — the tool's own checks raise on a broken postcondition, an undeclared effect
or a leaked linear value — and asserts the postconditions it can write out as Python.  The
environment's answers to effects the test interpreter does not handle are drawn by
``environment``.  A metamorphic relation becomes a test that runs both calls and asserts the
relation; a protocol-serving tool gets its state machine's ``TestCase``.
"""

from __future__ import annotations

import keyword
import re
from types import ModuleType
from typing import Any

from effectus.core._tool import Tool
from effectus.specs._properties import relations_of, testable, tools_in
from effectus.specs._protocols import protocol_params
from effectus.specs._spec import spec_of

__all__ = ["ghostwrite"]

_HEADER = '''\
"""Property tests of {module}, generated from the tools' specs by
`effectus test {module} --write ...`.  They are yours now: edit, extend or delete them.

Each test draws arguments that meet the tool's preconditions (effectus.specs.strategy_for) and a
seed for fx.testing; the tool checks its own spec on every call, so a broken postcondition, an
undeclared effect or a leaked linear value fails the test.  Run them with pytest; the CI profile
(`--hypothesis-profile=effectus-ci` with the effectus plugin) makes them deterministic.
"""

from hypothesis import given, settings, strategies as st

import effectus as fx
from effectus.specs import environment, relations_of, strategy_for

import {module} as target

SEEDS = st.integers(0, 2**32 - 1)
#: No deadline: a tool's first run imports what it needs (z3 for a non-linear precondition).
RUNS = settings(deadline=None)'''


def ghostwrite(module: ModuleType) -> str:
    """The source of a pytest file testing every spec'd tool of ``module``."""
    out = [_HEADER.format(module=module.__name__)]
    used: set[str] = set()
    for name, tool in tools_in(module):
        if not testable(tool):
            continue
        attr = name.partition(":")[2]
        if protocol_params(tool):
            out.append(_protocol(attr, used))
            continue
        out.append(_contract(attr, tool, used))
        for i, relation in enumerate(relations_of(tool)):
            out.append(_relation(attr, tool, i, relation.name, used))
    return "\n".join(out) + "\n"


def _test_name(*parts: str, used: set[str]) -> str:
    base = "_".join(re.sub(r"\W+", "_", p).strip("_").lower() for p in parts)
    name, n = f"test_{base}", 2
    while name in used:
        name, n = f"test_{base}_{n}", n + 1
    used.add(name)
    return name


def _unpack(tool: Tool[..., Any]) -> tuple[str, str]:
    """``(a, b) = args`` for the tool's parameters, and the call's argument list."""
    import inspect

    params = list(inspect.signature(tool.__wrapped__).parameters.values())
    names = [p.name if not keyword.iskeyword(p.name) else f"{p.name}_" for p in params]
    target = f"({names[0]},)" if len(names) == 1 else f"({', '.join(names)})"
    call = ", ".join(f"{p.name}={n}" if p.kind is p.KEYWORD_ONLY else n for p, n in zip(params, names))
    return (f"    {target} = args\n" if names else ""), call


def _asserts(tool: Tool[..., Any]) -> list[str]:
    spec = spec_of(tool)
    if spec is None:
        return []
    out: list[str] = []
    for pred in (*(p for p in spec.refinements if "result" in p.names), *spec.ensures):
        if pred.inline is not None:
            out.append(f"    assert {pred.inline[1:-1]}  # {pred.kind} at {pred.where}")
        else:
            out.append(f"    # checked by the tool itself: {pred.source} ({pred.where})")
    return out


def _contract(attr: str, tool: Tool[..., Any], used: set[str]) -> str:
    unpack, call = _unpack(tool)
    spec = spec_of(tool)
    what = "meets its spec" if spec is not None else "runs"
    lines = [
        "@RUNS",
        f"@given(args=strategy_for(target.{attr}), seed=SEEDS, data=st.data())",
        f"def {_test_name(attr, 'contract', used=used)}(args, seed, data):",
        f'    """{attr} {what} on any arguments its preconditions allow."""',
        unpack.rstrip("\n"),
        f"    result = fx.testing(seed).with_handlers(environment(target.{attr}, data.draw)).run(target.{attr}({call}))",
        *_asserts(tool),
    ]
    return "\n\n" + "\n".join(line for line in lines if line)


def _relation(attr: str, tool: Tool[..., Any], index: int, name: str, used: set[str]) -> str:
    unpack, call = _unpack(tool)
    lines = [
        "@RUNS",
        f"@given(args=strategy_for(target.{attr}), seed=SEEDS, data=st.data())",
        f"def {_test_name(attr, name, used=used)}(args, seed, data):",
        f'    """{attr}: metamorphic relation {name!r}."""',
        f"    relation = relations_of(target.{attr})[{index}]",
        f"    interp = fx.testing(seed).with_handlers(environment(target.{attr}, data.draw))",
        unpack.rstrip("\n"),
        f"    first = interp.run(target.{attr}({call}))",
        f"    second = interp.run(target.{attr}(*relation.transform(*args)))",
        "    assert relation.relation(first, second) is True, (first, second)",
    ]
    return "\n\n" + "\n".join(line for line in lines if line)


def _protocol(attr: str, used: set[str]) -> str:
    name = _test_name(attr, "protocol", used=used)
    cls = "Test" + "".join(part.capitalize() for part in name[len("test_"):].split("_"))
    return (
        f"\n\n\n# {attr} serves a channel: Hypothesis plays the other side, every conversation its protocol allows.\n"
        f"{cls} = fx.specs.protocol_machine(target.{attr}).TestCase\n"
    )
