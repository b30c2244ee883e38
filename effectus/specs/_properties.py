"""Property tests from specs: each tool's properties, run with Hypothesis, failures saved as traces.

`properties_of(tool)` lists what a tool promises and can be tested without writing a test:

- ``contract``: on any arguments that meet its preconditions, and whatever its environment
  answers, the tool returns normally and its postconditions and invariants hold (a tool's
  checks raise `PostconditionError` otherwise; any other exception is a failure too);
- ``effects`` (tools that declare ``effects=``): it performs no other effect;
- ``linearity``: it leaves no linear value unconsumed and uses none twice;
- ``relation:<name>``: each metamorphic relation declared with `metamorphic`;
- ``protocol`` (tools that serve one side of a session-typed channel): see ``_protocols``.

Each run happens under ``fx.testing(seed)`` with a seed Hypothesis draws (so randomness, choices
and task interleavings vary too) and is recorded.  Effects the test interpreter does not handle
get answers drawn from their declared result type (``fx.Effect[Annotated[int, Ge(0)]]``), so a
tool is tested against the whole range of what its environment may answer.  Hypothesis shrinks
a failure; the shrunk run's trace is then copied to the failures directory, and
``effectus replay PATH`` reproduces it, answer for answer.
"""

from __future__ import annotations

import inspect
import shutil
import tempfile
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from effectus.core import (
    EffectusError,
    Handler,
    Interpreter,
    LinearityError,
    UndeclaredEffect,
    UnhandledEffect,
    handles,
    record,
)
from effectus.core._effect import is_effect_type
from effectus.core._run import stack_of
from effectus.core._site import relative
from effectus.core._tool import Tool
from effectus.specs._spec import SpecError, spec_of

__all__ = [
    "Property", "PropertyFailure", "PropertyReport", "PropertyResult", "Relation", "Unsatisfiable",
    "environment", "exercise", "metamorphic", "properties_of", "relations_of", "run_properties",
]

T = TypeVar("T")

#: Where failing runs' traces go unless told otherwise.
FAILURES = "effectus-failures"

Outcome = Literal["passed", "failed", "error"]


class PropertyFailure(EffectusError, AssertionError):
    """A generated test found a property that does not hold (a metamorphic relation broken)."""


PropertyFailure.__module__ = "effectus"


class Unsatisfiable(EffectusError, ValueError):
    """No arguments satisfy a tool's preconditions, so no test can call it (with z3's proof)."""


Unsatisfiable.__module__ = "effectus"


# --- metamorphic relations ------------------------------------------------------------------------


@dataclass(frozen=True)
class Relation:
    """A metamorphic relation: run the tool on arguments, and on ``transform`` of them; the two
    results must satisfy ``relation(result, followup)``."""

    name: str
    transform: Callable[..., tuple[Any, ...]]
    relation: Callable[[Any, Any], object]
    where: str


_RELATIONS = "__effectus_relations__"


def metamorphic(
    transform: Callable[..., tuple[Any, ...]],
    relation: Callable[[Any, Any], object],
    *,
    name: str | None = None,
) -> Callable[[Tool[..., Any]], Tool[..., Any]]:
    """Declare a metamorphic relation on a tool (written above ``@fx.tool``), for tools with no
    exact oracle: ``transform`` takes the tool's arguments and answers new ones (a tuple, in
    signature order); ``relation(result, followup)`` must hold between the two results.

    >>> import effectus as fx
    >>> @metamorphic(lambda xs: (list(reversed(xs)),), lambda a, b: a == b, name="order-free")
    ... @fx.tool(requires=lambda xs: len(xs) > 0)
    ... async def biggest(xs: list[int]) -> int:
    ...     return max(xs)
    >>> [r.name for r in relations_of(biggest)]
    ['order-free']

    Raises:
        SpecError: not stacked on a tool, or ``transform``/``relation`` is not callable.
    """
    for what, fn in (("transform", transform), ("relation", relation)):
        if not callable(fn):
            raise SpecError(f"metamorphic({what}=...): {fn!r} is not callable.\nFix: pass a function or lambda.")
    code = getattr(relation, "__code__", None)
    where = f"{relative(code.co_filename)}:{code.co_firstlineno}" if code is not None else "<unknown>"

    def attach(tool: Tool[..., Any]) -> Tool[..., Any]:
        if not isinstance(tool, Tool):  # pyright: ignore[reportUnnecessaryIsInstance]  # for untyped callers
            raise SpecError(
                f"@metamorphic(...) decorates a tool; got {tool!r}.\n"
                f"Fix: write @metamorphic(...) above @fx.tool."
            )
        label = name or f"relation {len(relations_of(tool)) + 1}"
        if any(r.name == label for r in relations_of(tool)):
            raise SpecError(f"@metamorphic on {tool.__qualname__}: two relations are named {label!r}.\nFix: give each its own name=.")
        setattr(tool, _RELATIONS, (*relations_of(tool), Relation(label, transform, relation, where)))
        return tool

    return attach


def relations_of(tool: Tool[..., Any]) -> tuple[Relation, ...]:
    """The metamorphic relations declared on ``tool``, in the order they were written."""
    found: tuple[Relation, ...] = getattr(tool, _RELATIONS, ())
    return tuple(reversed(found))  # decorators apply bottom-up


# --- the programs a test runs (module-level, so a trace of one replays) ------------------------


#: The tools under test, by ``module:qualname``: found without an import (a tool defined in a
#: script or a function runs too; replaying its trace later needs an importable module).
_LIVE: dict[str, Tool[..., Any]] = {}


def _resolve(name: str) -> Tool[..., Any]:
    from effectus.specs._golden import resolve

    live = _LIVE.get(name)
    if live is not None:
        return live
    found: object = resolve(name)
    if not isinstance(found, Tool):
        raise SpecError(f"{name} is not a tool")
    return typing.cast(Tool[..., Any], found)


async def exercise(tool: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Call the tool named ``module:qualname`` with ``args``: the program a property test runs
    (and records), so that its trace names a program ``effectus replay`` can import."""
    return await _resolve(tool)(*args, **kwargs)


async def relate(tool: str, relation: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Run the tool, then on its relation's transformed arguments; raise `PropertyFailure`
    when the two results do not satisfy the relation."""
    target = _resolve(tool)
    found = next((r for r in relations_of(target) if r.name == relation), None)
    if found is None:
        raise SpecError(f"{tool} has no metamorphic relation named {relation!r}")
    first = await target(*args, **kwargs)
    params = list(inspect.signature(target.__wrapped__).parameters)
    given = (*args, *(kwargs[p] for p in params[len(args):] if p in kwargs))
    moved = tuple(found.transform(*given))
    from effectus.specs._strategies import call

    second = await call(target, moved)
    try:
        ok = found.relation(first, second)
    except Exception as err:  # noqa: BLE001 - a relation that raises does not hold
        ok = err
    if ok is not True:
        raise PropertyFailure(
            f"metamorphic relation {found.name!r} of {target.__qualname__} does not hold"
            f"{'' if ok is False else f' (it answered {ok!r})'}:\n"
            f"  arguments {given!r} gave {first!r}\n"
            f"  transformed {moved!r} gave {second!r}\n"
            f"  relation at {found.where}"
        )
    return first, second


# --- the environment's answers -----------------------------------------------------------------


def _generated(answers: dict[type, Any], draw: Callable[[Any], Any]) -> Handler:
    """A handler answering each effect type in ``answers`` with a value drawn from its strategy."""
    methods: dict[str, Any] = {}
    for i, (kind, strategy) in enumerate(answers.items()):
        def answer(self: Handler, e: Any, _s: Any = strategy) -> Any:
            return draw(_s)

        methods[f"answer_{i}"] = handles(kind)(answer)
    cls = type("Environment", (Handler,), methods)
    return typing.cast(Handler, cls())


def environment(tool: Tool[..., Any], draw: Callable[[Any], Any], handlers: Sequence[Handler] = ()) -> Handler:
    """A handler that answers the effects ``tool`` declares and neither ``fx.testing`` nor
    ``handlers`` handle, each answer drawn with ``draw`` (a Hypothesis ``data.draw``) from the
    effect's declared result type."""
    return _generated(_environment(tool, handlers), draw)


def _environment(tool: Tool[..., Any], handlers: Sequence[Handler]) -> dict[type, Any]:
    """Strategies for the answers of the declared effects no handler here handles."""
    from effectus.effects import testing
    from effectus.proofs._body import _effect_result  # pyright: ignore[reportPrivateUsage]
    from effectus.specs._strategies import strategy_for_type

    declared = tool.allowed or frozenset()
    handled = set(stack_of(testing().with_handlers(*handlers)).table)
    out: dict[type, Any] = {}
    for kind in sorted(declared, key=lambda k: k.__qualname__):
        if kind in handled or not is_effect_type(kind):
            continue
        out[kind] = strategy_for_type(_effect_result(kind), where=f"the answer of effect {kind.__qualname__}")
    return out


# --- properties ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PropertyResult:
    """How one property of one tool fared."""

    tool: str
    #: the property's name (``contract``, ``effects``, ``relation:<name>``, ...)
    name: str
    outcome: Outcome
    examples: int
    message: str = ""
    #: the shrunk failing run's trace (``effectus replay`` it)
    trace: Path | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "passed"


@dataclass(frozen=True)
class Property:
    """One testable property of a tool (see the module docstring)."""

    # (Any: a Tool is a descriptor, which type checkers apply to a dataclass field's reads.)
    tool: Any
    name: str
    #: the tool's ``module:qualname``
    target: str

    @property
    def id(self) -> str:
        return f"{self.target.partition(':')[2]}::{self.name}"

    def run(
        self,
        *,
        examples: int = 100,
        seed: int | None = 0,
        failures: str | Path = FAILURES,
        handlers: Sequence[Handler] = (),
        settings: Any = None,
    ) -> PropertyResult:
        """Run the property's Hypothesis test; a failure's trace goes to ``failures``.

        ``seed=None`` lets Hypothesis choose (and use its example database); ``settings``
        (Hypothesis settings) replaces the defaults: ``examples`` examples, no deadline.
        """
        if self.name == "protocol":
            from effectus.specs._protocols import run_protocol

            return run_protocol(self, examples=examples, seed=seed, failures=Path(failures), settings=settings)
        return _run(self, examples=examples, seed=seed, failures=Path(failures), handlers=handlers, settings=settings)


def properties_of(tool: Tool[..., Any], *, name: str | None = None) -> list[Property]:
    """The properties of ``tool`` a generated test checks (see the module docstring)."""
    target = name or f"{tool.__module__}:{tool.__qualname__}"
    if _protocol_params(tool):
        return [Property(tool, "protocol", target)]
    spec = spec_of(tool)
    out = [Property(tool, "contract", target)]
    if spec is not None and spec.effects is not None:
        out.append(Property(tool, "effects", target))
    out.append(Property(tool, "linearity", target))
    out += [Property(tool, f"relation:{r.name}", target) for r in relations_of(tool)]
    return out


def _protocol_params(tool: Tool[..., Any]) -> list[str]:
    from effectus.specs._protocols import protocol_params

    return protocol_params(tool)


def _owns(prop: str, err: BaseException) -> bool:
    """Whether ``err`` is a failure of ``prop`` (the others' failures are theirs to report)."""
    if prop == "effects":
        return isinstance(err, UndeclaredEffect)
    if prop == "linearity":
        return isinstance(err, LinearityError)
    if prop.startswith("relation:"):
        return isinstance(err, PropertyFailure)  # the tool's own failures are the others' to report
    return not isinstance(err, (UndeclaredEffect, LinearityError))


class _Found(Exception):
    """The failure a property test found, carried out of Hypothesis."""

    def __init__(self, error: BaseException, args: tuple[Any, ...]) -> None:
        super().__init__(str(error))
        self.error = error
        self.args_ = args


class _Unhandled(Exception):
    def __init__(self, error: UnhandledEffect) -> None:
        super().__init__(str(error))
        self.error = error


def phases() -> list[Any]:
    """Hypothesis' phases but ``explain``: it traces every line while shrinking (the
    interpreter's included), which makes shrinking a generated run several times slower; the
    failure report says what failed already."""
    from hypothesis import Phase

    return [p for p in Phase if p is not Phase.explain]


def hypothesis_settings(examples: int, seed: int | None) -> Any:
    """The settings a property test runs with: ``examples`` examples, no deadline (runs are
    recorded: timing is noise), one bug reported, and no example database when seeded."""
    from hypothesis import HealthCheck, settings

    current: Any = settings.default
    return settings(
        max_examples=examples, deadline=None, report_multiple_bugs=False,
        database=None if seed is not None or current is None else current.database,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=False, phases=phases(),
    )


def _run(prop: Property, *, examples: int, seed: int | None, failures: Path, handlers: Sequence[Handler], settings: Any) -> PropertyResult:
    from hypothesis import given
    from hypothesis import seed as seeded
    from hypothesis import strategies as st

    from effectus.effects import testing
    from effectus.specs._strategies import splitter, strategy_for

    tool = prop.tool
    _LIVE[prop.target] = tool
    try:
        arguments = strategy_for(tool)
        answers = _environment(tool, handlers)
    except (SpecError, Unsatisfiable) as err:
        return PropertyResult(prop.target, prop.name, "error", 0, str(err))
    split = splitter(tool)
    count = 0
    with tempfile.TemporaryDirectory(prefix="effectus-") as scratch:
        path = Path(scratch) / "run.jsonl"

        def body(data: Any) -> None:
            nonlocal count
            args = data.draw(arguments, label="arguments")
            env_seed = data.draw(st.integers(0, 2**32 - 1), label="fx.testing seed")
            interp: Interpreter = testing(env_seed).with_handlers(*handlers, _generated(answers, data.draw))
            positional, keywords = split(args)
            if prop.name.startswith("relation:"):
                program: Any = relate(prop.target, prop.name.partition(":")[2], positional, keywords)
            else:
                program = exercise(prop.target, positional, keywords)
            count += 1
            try:
                record(interp, path).run(program)
            except UnhandledEffect as err:
                raise _Unhandled(err) from err
            except Exception as err:  # noqa: BLE001 - what the tool raised is the verdict
                if _owns(prop.name, err):
                    raise _Found(err, args) from err

        test = given(st.data())(body)
        test = (settings or hypothesis_settings(examples, seed))(test)
        if seed is not None:
            test = seeded(seed)(test)
        try:
            test()
        except _Found as found:
            saved = _save(path, failures, prop)
            answered = frozenset(f"{k.__module__}:{k.__qualname__}" for k in answers)
            return PropertyResult(prop.target, prop.name, "failed", count, _describe(prop, found, saved, answered), saved)
        except _Unhandled as err:
            return PropertyResult(prop.target, prop.name, "error", count, (
                f"{err.error}\nFix: declare the effect in @fx.tool(effects=[...]) so its answers are "
                f"generated from its result type, or pass a handler for it."
            ))
        except Unsatisfiable as err:
            return PropertyResult(prop.target, prop.name, "error", count, str(err))
        except Exception as err:  # noqa: BLE001 - Hypothesis' own verdicts (health checks, ...)
            return PropertyResult(prop.target, prop.name, "error", count, f"{type(err).__name__}: {err}")
    return PropertyResult(prop.target, prop.name, "passed", count)


def _save(path: Path, failures: Path, prop: Property) -> Path | None:
    if not path.exists():
        return None
    failures.mkdir(parents=True, exist_ok=True)
    name = prop.target.replace(":", ".").replace("<", "").replace(">", "")
    dest = failures / f"{name}--{prop.name.replace(':', '-').replace(' ', '_')}.jsonl"
    tmp = dest.with_suffix(".jsonl.tmp")
    shutil.copyfile(path, tmp)
    tmp.replace(dest)  # whole or not at all
    return dest


def _describe(prop: Property, found: _Found, trace: Path | None, answered: frozenset[str]) -> str:
    params = list(inspect.signature(prop.tool.__wrapped__).parameters)
    shown = ", ".join(f"{p}={v!r}" for p, v in zip(params, found.args_)) or "(none)"
    lines = [
        f"{type(found.error).__name__}: {found.error}",
        f"  falsifying arguments (shrunk): {shown}",
    ]
    if trace is not None and answered:
        from effectus.core import read_trace

        records = [r for r in read_trace(trace).records if r.effect in answered]
        said = [f"{r.effect.rpartition(':')[2]}({', '.join(f'{k}={v!r}' for k, v in r.fields.items())}) -> {r.value!r}"
                for r in records[:8]]
        if said:
            more = f" (and {len(records) - 8} more)" if len(records) > 8 else ""
            lines.append(f"  the environment answered: {'; '.join(said)}{more}")
    if trace is not None:
        lines += [f"  trace: {trace}", f"  reproduce: effectus replay {trace}"]
    return "\n".join(lines)


# --- many tools ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PropertyReport:
    """The results of running the properties of some tools (`run_properties`)."""

    results: tuple[PropertyResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def __iter__(self) -> Iterator[PropertyResult]:
        return iter(self.results)

    def render(self) -> str:
        """The report as the command line prints it: one row per property, then each failure."""
        rows = [(r.tool.partition(":")[2] or r.tool, r.name, r.outcome, str(r.examples)) for r in self.results]
        head = ("tool", "property", "outcome", "examples")
        widths = [max(len(x) for x in col) for col in zip(head, *rows)]
        lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()
                 for row in (head, *rows)]
        bad = [r for r in self.results if not r.ok]
        for r in bad:
            lines += ["", f"{r.outcome.upper()} {r.tool} {r.name}", *("  " + x for x in r.message.splitlines())]
        passed = sum(r.ok for r in self.results)
        lines += ["", f"{passed} of {len(self.results)} properties hold" + ("" if not bad else f"; {len(bad)} did not")]
        return "\n".join(lines)


def tools_in(target: object) -> list[tuple[str, Tool[..., Any]]]:
    """The tools a module (or list) holds, as ``(module:name, tool)``, in definition order."""
    import types

    if isinstance(target, Tool):
        return [(f"{target.__module__}:{target.__qualname__}", target)]
    if isinstance(target, (list, tuple)):
        out: list[tuple[str, Tool[..., Any]]] = []
        for item in typing.cast(Sequence[object], target):
            out += tools_in(item)
        return out
    if isinstance(target, types.ModuleType):
        found: list[tuple[str, Tool[..., Any]]] = []
        for name, item in vars(target).items():
            if isinstance(item, Tool) and not name.startswith("_"):
                value = typing.cast(Tool[..., Any], item)
                # A tool imported from elsewhere is that module's to test.
                owner = getattr(value, "__module__", None)
                if owner == target.__name__ or getattr(value.__wrapped__, "__module__", None) == target.__name__:
                    found.append((f"{target.__name__}:{name}", value))
        return found
    raise TypeError(f"run_properties() takes a tool, a module or a list of them; got {target!r}")


def testable(tool: Tool[..., Any]) -> bool:
    """Whether ``tool`` gets generated tests: it has a spec, or refinements, or relations."""
    return spec_of(tool) is not None or bool(relations_of(tool)) or bool(_protocol_params(tool))


def run_properties(
    target: object,
    *,
    examples: int = 100,
    seed: int | None = 0,
    failures: str | Path = FAILURES,
    handlers: Sequence[Handler] = (),
    progress: Callable[[PropertyResult], None] | None = None,
) -> PropertyReport:
    """Run the generated property tests of a tool, a module's tools or a list of them.

    Only tools with a spec (``@fx.tool(...)`` with arguments or refinements), relations or a
    protocol are tested: a bare tool promises nothing to test.  Each failure's shrunk run is
    saved under ``failures`` (see `PropertyResult.trace`).
    """
    results: list[PropertyResult] = []
    for name, tool in tools_in(target):
        if not testable(tool):
            continue
        for prop in properties_of(tool, name=name):
            result = prop.run(examples=examples, seed=seed, failures=failures, handlers=handlers)
            results.append(result)
            if progress is not None:
                progress(result)
    return PropertyReport(tuple(results))
