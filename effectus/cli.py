"""The ``effectus`` command line: exit 0 when all is well, 1 when a check fails, 2 on bad usage.

Subcommands import what they need lazily, so ``effectus --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
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


def _replay(args: argparse.Namespace) -> int:
    from effectus import _cli_trace

    return _cli_trace.replay(args.trace, stop_at=args.stop_at)


def _trace_show(args: argparse.Namespace) -> int:
    from effectus import _cli_trace

    return _cli_trace.show(
        args.trace,
        effect=args.effect,
        task=args.task,
        errors=args.errors,
        limit=args.limit,
        start=args.start,
    )


def _trace_verify(args: argparse.Namespace) -> int:
    from effectus import _cli_trace

    return _cli_trace.verify(args.trace)


def _trace_diff(args: argparse.Namespace) -> int:
    from effectus import _cli_trace

    return _cli_trace.diff(args.a, args.b)


def _check(args: argparse.Namespace) -> int:
    from effectus import _cli_check

    return _cli_check.check(args.module, as_json=args.json, cache=not args.no_cache)


def _place(args: argparse.Namespace) -> int:
    from effectus import _cli_place

    return _cli_place.place(args.file, timeout=args.timeout)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def _test(args: argparse.Namespace) -> int:
    from effectus import _cli_properties

    return _cli_properties.run(
        args.module, examples=args.examples, seed=None if args.random else args.seed,
        failures=args.failures, write=args.write,
    )


def _count(text: str) -> int:
    """A whole number >= 0, for options such as ``--limit``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


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
        "machine: for real, then in memory under test, then every choice explored; then the "
        "quote service (examples/service.py) over its interleavings; then `effectus check` over "
        "examples/orders.py, whose pricing specs z3 proves.",
    )
    demo.set_defaults(func=_demo)

    replay = commands.add_parser(
        "replay",
        help="re-run a recorded program against its trace",
        description="Import the program a trace recorded (PYTHONPATH must reach its module), "
        "call it with the recorded arguments and answer its effects from the trace. Exits 1 "
        "with a report at the first effect that differs from the recording.",
    )
    replay.add_argument("trace", metavar="TRACE", help="a trace file written by fx.record")
    replay.add_argument(
        "--stop-at", type=_count, metavar="N", help="stop when the program reaches record N"
    )
    replay.set_defaults(func=_replay)

    check = commands.add_parser(
        "check",
        help="prove or refute the specs of every tool in a module with z3",
        description="Import MODULE (a dotted name, or a path to a .py file) and check the spec of "
        "each tool it defines with @fx.tool(...): preconditions satisfiable, postconditions "
        "consistent, placement satisfiable. Prints one row per tool and check; exits 1 when "
        "anything is refuted.",
    )
    check.add_argument("module", metavar="MODULE", help="a module name (pkg.tools) or a file (tools.py)")
    check.add_argument("--json", action="store_true", help="print the report as JSON (for CI)")
    check.add_argument("--no-cache", action="store_true", help="do not read or write the proof cache")
    check.set_defaults(func=_check)

    test = commands.add_parser(
        "test",
        help="run the generated property tests of every spec'd tool in a module",
        description="Import MODULE (a dotted name, or a path to a .py file) and run the property "
        "tests generated from the specs of its tools: arguments that meet each tool's "
        "preconditions, effect answers drawn from their result types, postconditions, declared "
        "effects, linearity, metamorphic relations and protocols checked. Each failure is shrunk "
        "and its run saved as a trace that `effectus replay` reproduces. Exits 1 on any failure.",
    )
    test.add_argument("module", metavar="MODULE", help="a module name (pkg.tools) or a file (tools.py)")
    test.add_argument("--examples", type=_count, default=100, help="examples per property (default 100)")
    test.add_argument("--seed", type=_count, default=0, help="Hypothesis' seed (default 0: the same examples every run)")
    test.add_argument("--random", action="store_true", help="let Hypothesis choose the examples (and use its database)")
    test.add_argument("--failures", default="effectus-failures", metavar="DIR", help="where failing runs' traces go (default effectus-failures/)")
    test.add_argument("--write", metavar="FILE", help="do not run: write the tests as an explicit pytest file instead")
    test.set_defaults(func=_test)

    place = commands.add_parser(
        "place",
        help="solve a placement problem (nodes and requests) with z3",
        description="Read FILE (TOML or JSON: [[nodes]] with capacities, labels, rack and "
        "datacenter; [[requests]] with a name, a placement string such as "
        "'on(gpu>=1, memory>=8GB).qos(interactive).replicas(2)', work and talks) and print the "
        "cheapest plan as a table, or, when none exists, the constraints that conflict and the "
        "nodes that came closest (exit 1). With failed = [...] in FILE, also re-plan without "
        "those nodes, moving only what must move.",
    )
    place.add_argument("file", metavar="FILE", help="a .toml or .json problem")
    place.add_argument("--timeout", type=_seconds, metavar="SECONDS", help="solver time (default: the file's, else 10)")
    place.set_defaults(func=_place)

    trace = commands.add_parser(
        "trace",
        help="show, verify or compare trace files",
        description="Read trace files without running anything.",
    )
    actions = trace.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser(
        "show",
        help="print a trace as a table",
        description="Print the header, one row per record (seq, task, effect, fields, answer, "
        "site) and the outcome. Filters combine.",
    )
    show.add_argument("trace", metavar="TRACE")
    show.add_argument("--effect", metavar="NAME", help="only records of this effect (Get, or module:Get)")
    show.add_argument("--task", type=_count, metavar="N", help="only records of task N")
    show.add_argument("--errors", action="store_true", help="only effects that answered with an error")
    show.add_argument("--from", dest="start", type=_count, default=0, metavar="N", help="start at record N")
    show.add_argument("--limit", type=_count, metavar="N", help="show at most N records")
    show.set_defaults(func=_trace_show)
    verify = actions.add_parser(
        "verify",
        help="check every line's checksum, the order of records and the blobs",
        description="Check a whole trace and list every problem. Exits 1 if there is one; an "
        "incomplete final line (the writer was killed) is reported but is not a problem.",
    )
    verify.add_argument("trace", metavar="TRACE")
    verify.set_defaults(func=_trace_verify)
    diff = actions.add_parser(
        "diff",
        help="the first difference between two traces",
        description="Compare two traces record by record and show the first that differs, "
        "field by field. Exits 0 when they are the same (the time and machine of recording "
        "aside), 1 when they differ.",
    )
    diff.add_argument("a", metavar="A")
    diff.add_argument("b", metavar="B")
    diff.set_defaults(func=_trace_diff)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("effectus: error: a command is required (try `effectus demo`)", file=sys.stderr)
        return 2
    try:
        status: int = args.func(args)
    except BrokenPipeError:
        # The reader went away (`effectus trace show big.jsonl | head`): stop quietly, and keep
        # Python from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return status


if __name__ == "__main__":  # pragma: no cover - exercised through `python -m effectus`
    sys.exit(main())
