"""What flows between tools, proved with z3: composites, and the bodies of spec'd tools.

Two checks read how tools are put together rather than one spec alone:

- **composition**: for a composite built with `fx.pipe`, `fx.fan_out` and `fx.parallel`, every
  part that receives another part's result must accept it — what the sender's spec promises
  about its result (its result type's refinements and its ``ensures``) must imply what the
  receiver's spec requires.  The composite's own arguments are assumed to satisfy the
  preconditions of the parts that receive them, and those must hold together (a fan-out
  whose parts accept no common argument can never be called);
- **bodies**: the body of a spec'd tool is run symbolically when it lies in the body subset:
  assignments (``x = e``, ``x: T = e``, ``x += e``, ``a, b = e``), ``if``/``elif``/``else``,
  ``return``, ``raise``, ``pass``, expression statements, and ``await`` of a spec'd tool, a
  plain tool, a composite or an effect.  Each call of a spec'd tool must meet the callee's
  precondition from what holds on the path to it; each ``return`` must meet the tool's
  postconditions.  A callee's result is any value its spec allows (its result refinements and
  ``ensures``); an effect's result is any value of its declared result type
  (``class Get(fx.Effect[Annotated[int, Ge(0)]])`` answers some ``int >= 0``).

Soundness, stated plainly:

- the body check proves *partial* correctness: on every path that returns, the result meets
  the postconditions; a path that raises (a failed precondition, an ``IndexError``, a
  ``raise``) is not a violation — it is how Python reports that it cannot go on;
- an expression outside the predicate subset makes its value *opaque*: a proof that needs the
  value is unknown, naming the construct, and a branch on an opaque condition explores both
  sides (a proof still holds; a counterexample may be spurious, so it is reported as unknown);
- loops (``for``, ``while``), ``try``, ``with``, ``assert`` and the other statements put the
  whole body outside the subset: its checks are unknown, naming the statement and its line;
- floats are exact reals, as in `effectus.proofs.translate`.
"""

from __future__ import annotations

import ast
import copy
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Union, cast

import z3  # type: ignore[import-untyped]  # z3 ships no type information

from effectus.core._compose import Composite, identity
from effectus.core._effect import is_effect_type
from effectus.core._tool import Tool
from effectus.proofs._isolated import solve
from effectus.proofs._solve import RLIMIT, Check, show
from effectus.proofs._translate import (
    RuntimeOnly,
    Sym,
    _constant,  # pyright: ignore[reportPrivateUsage]
    _Env,  # pyright: ignore[reportPrivateUsage]
    _Translator,  # pyright: ignore[reportPrivateUsage]
    closure_of,
    symbol,
    translate,
)
from effectus.specs import Predicate, Spec, spec_of
from effectus.specs._source import body_after_docstring, find_node

_z: Any = z3

__all__ = ["Opaque", "assignment", "body_checks", "composite_checks", "fingerprint", "formulas", "paths_of", "precondition"]

#: paths explored per body at most: beyond, the body check is unknown
MAX_PATHS = 256


@dataclass(frozen=True)
class Opaque:
    """A value with no z3 model, and why (``the result of fetch, a dict[str, int], ...``)."""

    why: str


Value = Union[Sym, Opaque, tuple["Value", ...]]


@dataclass(frozen=True)
class Goal:
    """One thing to prove: ``premises`` imply every formula of ``goals``."""

    label: str
    premises: tuple[z3.BoolRef, ...]
    #: (the predicate's source, its formula)
    goals: tuple[tuple[str, z3.BoolRef], ...]
    #: predicates of the goal that did not translate (a proof of the rest is not a proof)
    missing: tuple[str, ...] = ()
    #: assumptions that did not translate (a counterexample may violate them)
    dropped: tuple[str, ...] = ()
    where: str = ""
    #: what a refutation means, when it is not a failed predicate (a type mismatch, ...)
    note: str = ""


_NEVER: list[tuple[str, z3.BoolRef]] = [("", _z.BoolVal(False))]


@dataclass
class _Run:
    """One symbolic run: what is assumed so far, what must be proved, the inputs to show."""

    facts: list[z3.BoolRef] = field(default_factory=list[z3.BoolRef])
    dropped: list[str] = field(default_factory=list[str])
    goals: list[Goal] = field(default_factory=list[Goal])
    inputs: dict[str, Sym] = field(default_factory=dict[str, Sym])
    #: results of calls and answers of effects, shown after the inputs in counterexamples
    answers: dict[str, tuple[Sym, z3.BoolRef]] = field(default_factory=dict[str, tuple[Sym, z3.BoolRef]])
    entry_tools: list[str] = field(default_factory=list[str])
    counter: int = 0

    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}#{self.counter}"

    def assume(self, pc: Sequence[z3.BoolRef], formulas: Sequence[tuple[str, z3.BoolRef] | z3.BoolRef], dropped: Sequence[str] = ()) -> None:
        guard = _conj(pc)
        for item in formulas:
            f = item[1] if isinstance(item, tuple) else item
            self.facts.append(f if not pc else _z.Implies(guard, f))
        self.dropped.extend(dropped)

    def oblige(self, label: str, pc: Sequence[z3.BoolRef], goals: Sequence[tuple[str, z3.BoolRef]], missing: Sequence[str] = (), *, where: str = "", note: str = "") -> None:
        self.goals.append(Goal(label, (*self.facts, *pc), tuple(goals), tuple(missing), tuple(self.dropped), where, note))


def _equal(a: object, b: object) -> z3.BoolRef:
    return _z.BoolVal(False) if a is None else cast(z3.BoolRef, cast(Any, a) == b)


def _conj(fs: Sequence[z3.BoolRef]) -> z3.BoolRef:
    return fs[0] if len(fs) == 1 else _z.And(*fs) if fs else _z.BoolVal(True)


# --- values and specs --------------------------------------------------------------------------


def _fresh(run: _Run, base: str, hint: object, what: str) -> Value:
    try:
        sym = symbol(run.fresh(base), hint)
    except RuntimeOnly as err:
        return Opaque(f"{what} has no z3 model ({err.reason})")
    run.facts.extend(sym.facts())
    return sym


def _as_sym(run: _Run, value: Value, hint: object, pc: Sequence[z3.BoolRef], what: str) -> Sym | Opaque:
    """``value`` as one symbol of type ``hint`` (a tuple of values becomes a sequence)."""
    if isinstance(value, (Sym, Opaque)):
        return value
    packed = _fresh(run, what, hint, what)
    if not isinstance(packed, Sym) or packed.kind != "seq" or not packed.has_items():
        return Opaque(f"{what} is a tuple, and {_hint_name(hint)} has no item model")
    items: list[z3.BoolRef] = [_equal(packed.length, _z.IntVal(len(value)))]
    for i, item in enumerate(value):
        if not isinstance(item, Sym):
            return Opaque(f"item {i} of {what} has no z3 model")
        items.append(_equal(packed.item(_z.IntVal(i)).term, item.term))
    run.assume(pc, items)
    return packed


def _hint_name(hint: object) -> str:
    return getattr(hint, "__qualname__", None) or repr(hint).replace("typing.", "")


def _numeric(kind: str) -> bool:
    return kind in ("int", "float", "bool")


def formulas(preds: Sequence[Predicate], scope: Mapping[str, Sym | Opaque]) -> tuple[list[tuple[str, z3.BoolRef]], list[str]]:
    """Each predicate translated over ``scope`` (with its source); those that do not
    translate, with why."""
    syms = {n: v for n, v in scope.items() if isinstance(v, Sym)}
    out: list[tuple[str, z3.BoolRef]] = []
    missing: list[str] = []
    for pred in preds:
        opaque = [f"{n}: {v.why}" for n in pred.names if isinstance(v := scope.get(n), Opaque)]
        if opaque:
            missing.append(f"{pred.source}: reads {'; '.join(opaque)}")
            continue
        try:
            out.append((pred.source, translate(pred.fn if pred.fn is not None else pred.source, syms)))
        except (RuntimeOnly, TypeError) as err:
            missing.append(f"{pred.source}: {err}")
    return out, missing


def _pre(spec: Spec) -> list[Predicate]:
    return [*(p for p in spec.refinements if "result" not in p.names), *spec.requires, *spec.invariants]


def _post(spec: Spec) -> list[Predicate]:
    return [*(p for p in spec.refinements if "result" in p.names), *spec.ensures]


def _hints(tool: Tool[..., Any]) -> dict[str, object]:
    """A plain tool's annotations, refinements kept (none where one does not resolve: a value
    of an unknown type has no model)."""
    try:
        return typing.get_type_hints(tool.__wrapped__, include_extras=True)
    except Exception:  # noqa: BLE001 - an annotation that does not resolve has no model
        return {}


def _return_hint(tool: Tool[..., Any]) -> object:
    return _hints(tool).get("return", object)


def _effect_result(cls: type) -> object:
    """The result type an effect class declares (``fx.Effect[R]``), or ``object``."""
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            args = typing.get_args(base)
            if args and is_effect_type(typing.get_origin(base)):
                return args[0]
    return object


# --- calls and composites ------------------------------------------------------------------


def _call(run: _Run, tool: Tool[..., Any], args: list[Value], kwargs: dict[str, Value], pc: list[z3.BoolRef], *, entry: bool, where: str) -> Value:
    """The value a call of ``tool`` answers; its precondition assumed (entry) or obliged."""
    if isinstance(tool, Composite):
        return _composite(run, tool, args, kwargs, pc, entry=entry, where=where)
    if tool is identity and len(args) == 1 and not kwargs:
        return args[0]
    name = tool.__qualname__
    spec = spec_of(tool)
    if spec is None:
        return _fresh(run, name, _return_hint(tool), f"the result of {name}")
    try:
        bound = spec.signature.bind(*args, **kwargs)
    except TypeError as err:
        run.oblige(f"call of {name}{where}", pc, _NEVER, note=f"the call does not fit {name}'s signature: {err}")
        return Opaque(f"the result of a call of {name} that does not fit its signature")
    bound.apply_defaults()
    scope: dict[str, Sym | Opaque] = {}
    for pname, value in bound.arguments.items():
        hint = spec.types.get(pname, object)
        if not isinstance(value, (Sym, Opaque, tuple)):
            value = _constant(value) or Opaque(f"the default {value!r} of {pname}")
        sym = _as_sym(run, cast(Value, value), hint, pc, f"{name}.{pname}")
        mismatch = _mismatch(sym, hint)
        if mismatch:
            run.oblige(f"call of {name}{where}", pc, _NEVER, note=f"{pname} gets {mismatch}")
        scope[pname] = sym
    found, missing = formulas(_pre(spec), scope)
    if entry:
        run.assume(pc, found, [f"{name}: {m}" for m in missing])
        run.entry_tools.append(name)
    else:
        run.oblige(f"call of {name}{where}", pc, found, missing)
    result = _fresh(run, name, spec.result_type, f"the result of {name}")
    if isinstance(result, Sym):
        found, missing = formulas(_post(spec), {**scope, "result": result})
        run.assume(pc, found, [f"{name}: {m}" for m in missing])
    return result


def _mismatch(value: Sym | Opaque, hint: object) -> str:
    """What is wrong when ``value`` cannot be a ``hint`` (a list where an int is due), or ''."""
    if isinstance(value, Opaque):
        return ""
    try:
        expected = symbol("_", hint)
    except RuntimeOnly:
        return ""
    if expected.kind == value.kind or (_numeric(expected.kind) and _numeric(value.kind)):
        return ""
    return f"a {value.type} where its type is {expected.type}"


def _composite(run: _Run, tool: Composite, args: list[Value], kwargs: dict[str, Value], pc: list[z3.BoolRef], *, entry: bool, where: str) -> Value:
    if tool.kind == "pipe":
        value = _call(run, tool.parts[0], args, kwargs, pc, entry=entry, where=where)
        for before, part in zip(tool.parts, tool.parts[1:]):
            value = _call(run, part, [value], {}, pc, entry=False, where=f"{where} after {before.__qualname__}")
        return value
    if tool.kind == "fan_out":
        return tuple(_call(run, part, args, kwargs, pc, entry=entry, where=where) for part in tool.parts)
    n = len(tool.parts)
    items = _split(run, args[0] if len(args) == 1 and not kwargs else Opaque("arguments"), n, pc, tool, where)
    return tuple(
        _call(run, part, [item], {}, pc, entry=entry, where=f" on item {i}{where}")
        for i, (part, item) in enumerate(zip(tool.parts, items))
    )


def _split(run: _Run, value: Value, n: int, pc: list[z3.BoolRef], tool: Composite, where: str) -> list[Value]:
    """The ``n`` items of the one argument of a `fx.parallel` composite."""
    label = f"{tool.__qualname__} gets {n} items{where}"
    if isinstance(value, tuple):
        if len(value) != n:
            run.oblige(label, pc, _NEVER, note=f"it gets a tuple of {len(value)}")
        return list(value)
    if isinstance(value, Sym) and value.kind == "seq" and value.has_items() and value.length is not None:
        run.oblige(label, pc, [(f"len(...) == {n}", _equal(value.length, _z.IntVal(n)))])
        return [value.item(_z.IntVal(i)) for i in range(n)]
    return [Opaque(f"item {i} of {value.why if isinstance(value, Opaque) else value.type}") for i in range(n)]


def _entry(run: _Run, tool: Tool[..., Any]) -> list[Value]:
    """Fresh symbols for the arguments a call of ``tool`` takes (shown in counterexamples)."""
    if isinstance(tool, Composite):
        if tool.kind == "parallel":
            return [tuple(_entry(run, part)[0] for part in tool.parts)]
        return _entry(run, tool.parts[0])
    spec = spec_of(tool)
    hints: Mapping[str, object] = spec.types if spec is not None else _hints(tool)
    out: list[Value] = []
    for pname in inspect.signature(tool.__wrapped__).parameters:
        name = pname if pname not in run.inputs else run.fresh(pname)
        value = _fresh(run, name, hints.get(pname, object), f"argument {pname}")
        if isinstance(value, Sym):
            run.inputs[name] = value
        out.append(value)
    return out


def composite_checks(name: str, tool: Composite) -> list[Check]:
    """The composition checks of a composite: each part accepts what it is given."""
    run = _Run()
    args = _entry(run, tool)
    _call(run, tool, args, {}, [], entry=True, where="")
    rows: list[Check] = []
    if len(run.entry_tools) > 1:
        solved = solve(run.facts, rlimit=RLIMIT)
        what = f"arguments every part accepts ({', '.join(run.entry_tools)})"
        if solved.answer == "unsat":
            rows.append(Check(name, what, "refuted", "no arguments satisfy the preconditions of all the parts that receive them: the composite can never be called"))
        elif solved.answer == "unknown":
            rows.append(Check(name, what, "unknown", f"z3 gave up: {solved.reason} (rlimit {RLIMIT})"))
        else:
            model = show(solved, run.inputs)
            rows.append(Check(name, what, "unknown" if run.dropped else "proved", _example(model), model, tuple(run.dropped)))
    return rows + _decide_all(name, run)


# --- bodies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathEnd:
    """How one path through a body ends: its condition, and what it returns (or that it raises)."""

    pc: tuple[z3.BoolRef, ...]
    kind: Literal["return", "raise"]
    value: Value | None
    line: int


@dataclass
class _State:
    values: dict[str, Value]
    pc: list[z3.BoolRef]

    def split(self, condition: z3.BoolRef) -> _State:
        return _State(dict(self.values), [*self.pc, condition])


class _Body:
    """Runs one body symbolically, path by path."""

    def __init__(self, run: _Run, tool: Tool[..., Any]) -> None:
        fn: Callable[..., Any] = tool.__wrapped__
        node = find_node(fn.__code__, fn.__globals__)
        file = fn.__code__.co_filename
        if not isinstance(node, ast.AsyncFunctionDef):
            raise RuntimeOnly(f"body of {tool.__qualname__}", "its source cannot be found", file=file, line=fn.__code__.co_firstlineno)
        self.run = run
        self.node = node
        self.env = _Env(file, fn.__globals__, closure_of(typing.cast(types.FunctionType, fn)), {})
        self.tr = _Translator({})
        self.ends: list[PathEnd] = []
        self.awaited = 0

    # -- statements ---------------------------------------------------------------------------

    def block(self, stmts: list[ast.stmt], state: _State) -> None:
        for i, stmt in enumerate(stmts):
            if len(self.ends) > MAX_PATHS:
                self.fail(stmt, f"more than {MAX_PATHS} paths", "split the tool into smaller tools")
            if isinstance(stmt, ast.If):
                t, f = self.condition(stmt.test, state)
                rest = stmts[i + 1:]
                self.block([*stmt.body, *rest], state.split(t))
                self.block([*stmt.orelse, *rest], state.split(f))
                return
            if isinstance(stmt, ast.Return):
                value = self.expr(stmt.value, state) if stmt.value is not None else Opaque("None")
                self.ends.append(PathEnd(tuple(state.pc), "return", value, stmt.lineno))
                return
            if isinstance(stmt, ast.Raise):
                self.ends.append(PathEnd(tuple(state.pc), "raise", None, stmt.lineno))
                return
            self.simple(stmt, state)
        self.ends.append(PathEnd(tuple(state.pc), "return", Opaque("None (the body ends without return)"), self.node.end_lineno or self.node.lineno))

    def simple(self, stmt: ast.stmt, state: _State) -> None:
        if isinstance(stmt, ast.Pass):
            return
        if isinstance(stmt, ast.Expr):
            self.expr(stmt.value, state)
            return
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            self.assign(stmt.targets[0], self.expr(stmt.value, state), state)
            return
        if isinstance(stmt, ast.AnnAssign) and stmt.value is not None and stmt.simple:
            self.assign(stmt.target, self.expr(stmt.value, state), state)
            return
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            operation = ast.BinOp(ast.Name(stmt.target.id, ast.Load()), stmt.op, stmt.value)
            self.assign(stmt.target, self.expr(ast.copy_location(operation, stmt), state), state)
            return
        what = type(stmt).__name__.lower()
        self.fail(stmt, f"{what} statement", "bodies with loops, try, with, assert or del are checked at run time only; "
                  "the body subset is assignments, if/else, return, raise and awaits")

    def assign(self, target: ast.expr, value: Value, state: _State) -> None:
        if isinstance(target, ast.Name):
            state.values[target.id] = value
            return
        if isinstance(target, ast.Tuple) and all(isinstance(t, ast.Name) for t in target.elts):
            names = [t.id for t in target.elts if isinstance(t, ast.Name)]
            if isinstance(value, tuple) and len(value) == len(names):
                state.values.update(zip(names, value))
            else:
                for n in names:
                    state.values[n] = Opaque(f"{n} is unpacked from a value without a tuple model")
            return
        self.fail(target, "assignment to " + type(target).__name__.lower(), "assign to names only")

    # -- expressions --------------------------------------------------------------------------

    def expr(self, node: ast.expr, state: _State) -> Value:
        """The value of ``node`` (awaits performed first); a path where it raises ends there."""
        node = self.hoist(node, state)
        if isinstance(node, ast.Name) and node.id in state.values:
            return state.values[node.id]
        if isinstance(node, ast.Tuple):
            return tuple(self.expr(e, state) for e in node.elts)
        try:
            ok, sym = self.tr.value(node, self.scope(node, state))
        except RuntimeOnly as err:
            return Opaque(f"{ast.unparse(node)} at line {node.lineno}: {err.construct} ({err.reason})")
        self.raises_unless(ok, state, node)
        return sym

    def condition(self, node: ast.expr, state: _State) -> tuple[z3.BoolRef, z3.BoolRef]:
        node = self.hoist(node, state)
        try:
            t, f = self.tr.truth(node, self.scope(node, state))
        except RuntimeOnly as err:
            self.run.dropped.append(f"the condition {ast.unparse(node)} at line {node.lineno}: {err.construct}")
            unknown = _z.Bool(self.run.fresh("condition"))
            return unknown, _z.Not(unknown)
        self.raises_unless(_z.Or(t, f), state, node)
        return t, f

    def raises_unless(self, ok: z3.BoolRef, state: _State, node: ast.AST) -> None:
        if _z.is_true(_z.simplify(ok)):
            return
        self.ends.append(PathEnd((*state.pc, _z.Not(ok)), "raise", None, getattr(node, "lineno", 0)))
        state.pc.append(ok)

    def scope(self, node: ast.expr, state: _State) -> _Env:
        """The translator's environment: every name ``node`` reads must be a symbol."""
        for name in ast.walk(node):
            if isinstance(name, ast.Name) and name.id in state.values:
                value = state.values[name.id]
                if isinstance(value, Opaque):
                    raise RuntimeOnly(f"name {name.id}", value.why, file=self.env.file, line=name.lineno)
                if isinstance(value, tuple):
                    raise RuntimeOnly(f"name {name.id}", "it holds a tuple of results; unpack it first", file=self.env.file, line=name.lineno)
        return replace(self.env, locals={n: v for n, v in state.values.items() if isinstance(v, Sym)})

    def hoist(self, node: ast.expr, state: _State) -> ast.expr:
        """``node`` with each ``await`` performed and replaced by a name holding its value."""
        body = self

        class Awaits(ast.NodeTransformer):
            def visit_Await(self, node: ast.Await) -> ast.AST:  # noqa: N802 - ast's naming
                inner = self.generic_visit(node)
                assert isinstance(inner, ast.Await)
                body.awaited += 1
                name = f"await#{body.awaited}"
                state.values[name] = body.perform(inner.value, state)
                return ast.copy_location(ast.Name(name, ast.Load()), node)

        if not any(isinstance(n, ast.Await) for n in ast.walk(node)):
            return node
        out = Awaits().visit(copy.deepcopy(node))  # (the parsed source is shared: never edit it)
        assert isinstance(out, ast.expr)
        return out

    def perform(self, node: ast.expr, state: _State) -> Value:
        """The value of ``await node``: a tool call, a composite call, or an effect."""
        where = f" (line {node.lineno})"
        if not isinstance(node, ast.Call):
            return Opaque(f"await of {ast.unparse(node)}{where}")
        target = self.resolve(node.func)
        if is_effect_type(target):
            assert isinstance(target, type)
            answer = _fresh(self.run, target.__qualname__, _effect_result(target), f"the answer to {target.__qualname__}{where}")
            if isinstance(answer, Sym):
                self.run.answers[f"{ast.unparse(node)}{where}"] = (answer, _conj(state.pc))
            return answer
        if isinstance(target, Tool):
            tool = cast(Tool[..., Any], target)
            if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
                return Opaque(f"a call of {tool.__qualname__} with * or ** arguments{where}")
            args = [self.expr(a, state) for a in node.args]
            kwargs = {k.arg: self.expr(k.value, state) for k in node.keywords if k.arg is not None}
            result = _call(self.run, tool, args, kwargs, state.pc, entry=False, where=where)
            if isinstance(result, Sym):
                self.run.answers[f"{tool.__qualname__}(...){where}"] = (result, _conj(state.pc))
            return result
        return Opaque(f"await of {ast.unparse(node.func)}{where}, which is not a tool or an effect")

    def resolve(self, node: ast.expr) -> object:
        """What a dotted name in the body refers to (module globals, closure, builtins)."""
        if isinstance(node, ast.Name):
            for space in (self.env.closure, self.env.globals):
                if node.id in space:
                    return space[node.id]
            return None
        if isinstance(node, ast.Attribute):
            return getattr(self.resolve(node.value), node.attr, None)
        return None

    def fail(self, node: ast.AST, construct: str, reason: str) -> typing.NoReturn:
        raise RuntimeOnly(construct, reason, file=self.env.file, line=getattr(node, "lineno", None))


def paths_of(
    tool: Tool[..., Any], run: _Run | None = None, *, args: list[Value] | None = None, assume: bool = True,
) -> tuple[list[Value], list[PathEnd], _Run]:
    """The body of ``tool`` run symbolically: its argument values and how each path ends.

    ``args`` gives the arguments (default: fresh symbols); with ``assume`` the tool's
    preconditions hold on them (`fx.equivalent` runs a second tool on the first one's
    arguments without assuming its preconditions, to ask whether they hold).

    Raises:
        RuntimeOnly: the body (or its source) is outside the body subset.
    """
    run = run or _Run()
    spec = spec_of(tool)
    body = _Body(run, tool)
    args = args if args is not None else _entry(run, tool)
    params = list(inspect.signature(tool.__wrapped__).parameters)
    state = _State(dict(zip(params, args)), [])
    if spec is not None and assume:
        pre, missing = precondition(tool, args)
        run.assume([], pre, [f"{spec.name}: {m}" for m in missing])
    body.block(body_after_docstring(body.node), state)
    return args, body.ends, run


def precondition(tool: Tool[..., Any], args: list[Value]) -> tuple[list[z3.BoolRef], list[str]]:
    """The formulas of ``tool``'s preconditions on ``args``, and those that do not translate."""
    spec = spec_of(tool)
    if spec is None:
        return [], []
    params = list(spec.types)
    found, missing = formulas(_pre(spec), {p: v for p, v in zip(params, args) if not isinstance(v, tuple)})
    return [f for _, f in found], missing


def body_checks(name: str, tool: Tool[..., Any]) -> list[Check]:
    """The body checks of a spec'd tool: each call meets its callee's precondition, and each
    ``return`` the tool's postconditions.  Empty when there is nothing to prove."""
    spec = spec_of(tool)
    if spec is None:
        return []
    post = _post(spec)
    try:
        args, ends, run = paths_of(tool)
    except RuntimeOnly as err:
        if not post and not _calls_spec_tools(tool):
            return []
        return [Check(name, "body meets postconditions", "unknown", f"the body is outside the body subset: {err}")]
    params = list(spec.types)
    for end in ends:
        if end.kind != "return" or not post:
            continue
        value = end.value if end.value is not None else Opaque("None")
        result = _as_sym(run, value, spec.result_type, list(end.pc), "result")
        scope: dict[str, Sym | Opaque] = {p: v for p, v in zip(params, args) if not isinstance(v, tuple)}
        scope["result"] = result
        found, missing = formulas(post, scope)
        mismatch = _mismatch(result, spec.result_type)
        note = f"the body returns {mismatch}" if mismatch else ""
        run.oblige("body meets postconditions", list(end.pc), _NEVER if note else found, missing,
                   where=f"line {end.line}", note=note)
    return _decide_all(name, run)


def _calls_spec_tools(tool: Tool[..., Any]) -> bool:
    fn = tool.__wrapped__
    names = set(fn.__code__.co_names)
    return any(isinstance(fn.__globals__.get(n), Tool) and (spec_of(fn.__globals__[n]) is not None or isinstance(fn.__globals__[n], Composite)) for n in names)


# --- verdicts -----------------------------------------------------------------------------


def _decide_all(name: str, run: _Run) -> list[Check]:
    """One row per label: refuted if any goal of it is, unknown if any is, else proved."""
    by_label: dict[str, list[Check]] = {}
    for goal in run.goals:
        by_label.setdefault(goal.label, []).append(_decide(name, goal, run))
    rows: list[Check] = []
    for label, checks in by_label.items():
        worst = next((c for c in checks if c.verdict == "refuted"), None) or next((c for c in checks if c.verdict == "unknown"), None)
        if worst is not None:
            rows.append(worst)
            continue
        shown = "; ".join(dict.fromkeys(c.detail for c in checks))
        rows.append(Check(name, label, "proved", shown))
    return rows


def _decide(name: str, goal: Goal, run: _Run) -> Check:
    at = f" at {goal.where}" if goal.where else ""
    target = _conj([f for _, f in goal.goals])
    solved = solve([*goal.premises, _z.Not(target)], rlimit=RLIMIT)
    if solved.answer == "unknown":
        return Check(name, goal.label, "unknown", f"z3 gave up{at}: {solved.reason} (rlimit {RLIMIT})", runtime_only=goal.missing)
    if solved.answer == "unsat":
        if goal.missing:
            return Check(name, goal.label, "unknown", f"the translatable part holds{at}; the rest is runtime-only", runtime_only=goal.missing)
        return Check(name, goal.label, "proved", f"holds on every path{at}" if at else "holds for every input")
    model = show(solved, run.inputs)
    reached = {k: sym for k, (sym, pc) in run.answers.items() if _z.is_true(solved.eval(pc))}
    answers = show(solved, reached)
    failing = [source for source, f in goal.goals if source and _z.is_false(solved.eval(f))]
    why = goal.note or (f"{'; '.join(failing)} fails" if failing else "fails")
    shown = assignment(model) + (f" (then {assignment(answers)})" if answers else "")
    if goal.dropped:
        return Check(name, goal.label, "unknown", f"{why}{at} for {shown}, unless the runtime-only assumptions rule that out", model, goal.dropped)
    return Check(name, goal.label, "refuted", f"{why}{at}: counterexample {shown}", model)


def assignment(model: Mapping[str, str]) -> str:
    """``model`` as ``a=1, b=2`` (``any input`` when it is empty)."""
    return ", ".join(f"{k}={v}" for k, v in model.items()) or "any input"


def _example(model: Mapping[str, str]) -> str:
    return f"e.g. {assignment(model)}"


# --- cache keys ----------------------------------------------------------------------------


def fingerprint(tool: Tool[..., Any]) -> str:
    """What the body and composition checks of ``tool`` depend on, as text (hashed for the
    cache): its structure, its body's syntax tree, and the specs of what the body calls."""
    parts = [_describe(tool)]
    if not isinstance(tool, Composite):
        fn = tool.__wrapped__
        node = find_node(fn.__code__, fn.__globals__)
        parts.append(ast.dump(node) if node is not None else repr(fn.__code__.co_code))
        names = fn.__code__.co_names
        spaces = [fn.__globals__, *(vars(v) for v in fn.__globals__.values() if isinstance(v, types.ModuleType))]
        for n in names:
            for space in spaces:
                obj = space.get(n)
                if isinstance(obj, Tool):
                    parts.append(_describe(cast(Tool[..., Any], obj)))
                elif is_effect_type(obj):
                    parts.append(f"{n}: {_effect_result(cast(type, obj))!r}")
    return "\n".join(parts)


def _describe(tool: Tool[..., Any]) -> str:
    if isinstance(tool, Composite):
        return f"{tool.kind}({', '.join(_describe(p) for p in tool.parts)})"
    spec = spec_of(tool)
    if spec is None:
        return f"{tool.__qualname__} -> {_return_hint(tool)!r}"
    preds = "; ".join(f"{p.kind}:{p.source}" for p in spec.predicates())
    return f"{spec.name}{sorted((k, repr(v)) for k, v in spec.types.items())} -> {spec.result_type!r} [{preds}]"
