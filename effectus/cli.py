"""The ``effectus`` command line: exit 0 when all is well, 1 when a check fails, 2 on bad usage.

Subcommands import what they need lazily, so ``effectus --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

import effectus

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    # effectus.examples maps to the repository's examples/ folder when installed; imported
    # by name so that type checkers of the source tree do not need that mapping.
    demo = importlib.import_module("effectus.examples.demo")
    run_demo: Callable[[], int] = demo.main
    return run_demo()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="effectus",
        description="Tools as pure programs over algebraic effects.",
    )
    parser.add_argument("--version", action="version", version=f"effectus {effectus.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="run the example order batch under production, testing and exploration",
        description="Run the example order batch (examples/orders.py) end to end on this "
        "machine: for real, then in memory under test, then every choice explored.",
    )
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("effectus: error: a command is required (try `effectus demo`)", file=sys.stderr)
        return 2
    status: int = args.func(args)
    return status


if __name__ == "__main__":  # pragma: no cover - exercised through `python -m effectus`
    sys.exit(main())
