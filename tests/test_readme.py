"""README.md's Python examples run, in order, and their assertions hold."""

from __future__ import annotations

import linecache
import re
import sys
import types
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_examples() -> None:
    """The README shows at least the core example and the standard-effects examples."""
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index: int) -> None:
    """Each ```python block of the README executes without error (its asserts included)."""
    # A real module, as a user's script would be: dataclasses look their module up.
    module = types.ModuleType(f"readme_block_{index}")
    sys.modules[module.__name__] = module
    # Its source is readable, as a script's is (predicates in error messages quote it).
    filename = f"README.md[block {index}]"
    linecache.cache[filename] = (len(BLOCKS[index]), None, BLOCKS[index].splitlines(True), filename)
    try:
        exec(compile(BLOCKS[index], filename, "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]


def test_readme_setup_commands_match_ci() -> None:
    """The README's test command is exactly the command .ci/run executes."""
    text = README.read_text(encoding="utf-8")
    commands = re.findall(r"```sh\n(.*?)\n```", text, flags=re.S)
    assert len(commands) == 2, "README gives exactly two set-up commands"
    assert "effectus demo" in commands[0]
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == commands[1]
