"""Hypothesis strategies from specs: arguments that meet a tool's preconditions, by construction.

`strategy_for(tool)` reads the tool's signature and spec once and builds a strategy of argument
tuples (in signature order) in three layers:

1. **types and refinements** map to bounded strategies: ``Annotated[int, Ge(0), Lt(10)]`` is
   ``integers(0, 9)``, ``MultipleOf(5)`` draws a multiple, ``MinLen``/``MaxLen``/``Len`` bound a
   length, ``Length("n")`` ties one to a parameter, ``Shape("n m")`` gives arrays consistent
   shapes; containers, unions, literals, enums and dataclasses recurse, and a Hypothesis
   strategy in ``Annotated`` metadata (``Annotated[float, st.floats(allow_nan=True)]``) is used
   as given.
2. **relational preconditions** that are linear over the numeric parameters and the lengths of
   sequences (``0 < k <= len(xs)``, ``lo <= x < hi``, ``len(a) == len(b)``) become dependent
   draws: the system is projected onto each prefix of the draw order (Fourier-Motzkin
   elimination, once), so each value is drawn from exactly the interval the values before it
   leave open.
3. the rest of the precondition (``xs == sorted(xs)``, ``a * b > 100``, ``n % 7 == 3``) is checked
   on the constructed candidate; when a few candidates in a row miss it, **z3** supplies one of a
   pool of satisfying assignments (the boundary values of each parameter from minimising and
   maximising, and more from blocking clauses), drawn with ``sampled_from`` so Hypothesis still
   shrinks and replays it.  For such tools, pool values are also mixed in now and then, so the
   boundaries are tried.

A precondition no arguments satisfy raises `Unsatisfiable` with z3's proof, and a parameter
whose type has no strategy raises `SpecError` naming it and saying how to register one.  Where
neither construction nor z3 reaches the precondition (a predicate z3 cannot translate, such as
``math.gcd(a, b) == 7``, or one it gives up on), the candidate is rejected, and Hypothesis' own
health check may then say that too much was filtered: write such a precondition's linear part
out (bounds, ``len``), or give the parameter a strategy in its annotation.

This module imports Hypothesis; ``import effectus`` does not import it.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
import math
import random
import typing
from collections.abc import Callable, Mapping, MutableSequence, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

import annotated_types as at
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument, ResolutionFailed

from effectus.core import PreconditionError
from effectus.core._tool import Tool
from effectus.specs._properties import Unsatisfiable
from effectus.specs._spec import Length, ShapeCheck, SpecError, annotated_parts, spec_of

__all__ = ["call", "splitter", "strategy_for", "strategy_for_type"]

#: How long a sequence gets when nothing bounds its length from above: its lower bound plus this.
MAX_EXTRA_LENGTH = 12
#: The longest a generated sequence gets: its own minimum length plus this (a parameter its
#: length is tied to, as by ``Length("n")``, is bounded with it).
MAX_LENGTH = 64
#: The range of a free array dimension (a name in a `Shape` no parameter or bound fixes).
DIMENSION = (1, 6)
#: Candidates tried by construction before a z3 witness is drawn instead.
ATTEMPTS = 3
#: How many satisfying assignments z3 is asked for (boundaries first, then blocked variety).
POOL_SIZE = 24


# --- one annotation ---------------------------------------------------------------------------


def strategy_for_type(hint: object, *, where: str = "a value") -> st.SearchStrategy[Any]:
    """A strategy of values of ``hint``, refinements included (``Annotated[int, Ge(0)]``).

    Numbers are finite (no NaN or infinity) unless a strategy in the annotation says otherwise.

    Raises:
        SpecError: ``hint`` has no strategy; the message names ``where`` and how to register one.
    """
    base, metadata = annotated_parts(hint)
    plain = base  # (kept un-narrowed for from_type)
    found: list[Any] = [m for m in metadata if isinstance(m, st.SearchStrategy)]
    given: list[st.SearchStrategy[Any]] = found
    if given:
        return given[-1]
    bounds = _Bounds.of(metadata)
    origin, args = typing.get_origin(base), typing.get_args(base)
    if base is bool:
        return st.booleans()
    if base is int:
        return bounds.integers()
    if base is float:
        return bounds.floats()
    if base is str:
        return st.text(min_size=bounds.min_len, max_size=bounds.max_len)
    if base is bytes:
        return st.binary(min_size=bounds.min_len, max_size=bounds.max_len)
    if base is type(None) or base is None:
        return st.none()
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin is typing.Union or (origin is not None and _is_union(base)):
        return st.one_of(*(strategy_for_type(a, where=where) for a in args))
    if _is_union(base):
        return st.one_of(*(strategy_for_type(a, where=where) for a in typing.get_args(base)))
    if origin in (list, Sequence, MutableSequence) or base is list:
        item = strategy_for_type(args[0], where=f"{where} (an item)") if args else st.integers()
        return st.lists(item, min_size=bounds.min_len, max_size=bounds.max_len)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = strategy_for_type(args[0], where=f"{where} (an item)")
            return st.lists(item, min_size=bounds.min_len, max_size=bounds.max_len).map(tuple)
        return st.tuples(*(strategy_for_type(a, where=f"{where} (item {i})") for i, a in enumerate(args)))
    if origin in (set, frozenset):
        item = strategy_for_type(args[0], where=f"{where} (an item)") if args else st.integers()
        made = st.sets(item, min_size=bounds.min_len, max_size=bounds.max_len)
        return made.map(frozenset) if origin is frozenset else made
    if origin is dict or origin is Mapping:
        keys = strategy_for_type(args[0], where=f"{where} (a key)") if args else st.text()
        values = strategy_for_type(args[1], where=f"{where} (a value)") if args else st.integers()
        return st.dictionaries(keys, values, min_size=bounds.min_len, max_size=bounds.max_len)
    if isinstance(base, type) and issubclass(base, enum.Enum):
        members: list[Any] = list(typing.cast(Any, base))
        return st.sampled_from(members)
    if isinstance(base, type) and dataclasses.is_dataclass(base):
        return _dataclass(base, where)
    return _registered(plain, where)


def _is_union(hint: object) -> bool:
    import types

    return isinstance(hint, types.UnionType)


def _dataclass(cls: type, where: str) -> st.SearchStrategy[Any]:
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except Exception as err:  # noqa: BLE001 - annotations that do not resolve
        raise _unsupported(cls, where, f"its annotations do not resolve ({err})") from err
    fields = {f.name: strategy_for_type(hints.get(f.name, object), where=f"{where} (field {f.name})")
              for f in dataclasses.fields(cls) if f.init}
    return st.builds(cls, **fields)


def _registered(hint: object, where: str) -> st.SearchStrategy[Any]:
    if hint is object or hint is typing.Any or hint is inspect.Parameter.empty:
        raise _unsupported(hint, where, "it has no type annotation (or is Any/object)")
    try:
        made = st.from_type(typing.cast(Any, hint))
        made.validate()
    except (InvalidArgument, ResolutionFailed, TypeError) as err:
        raise _unsupported(hint, where, str(err).splitlines()[0]) from err
    return made


def _unsupported(hint: object, where: str, why: str) -> SpecError:
    if hint is object or hint is typing.Any or hint is inspect.Parameter.empty:
        return SpecError(
            f"cannot generate {where}: {why}.\n"
            f"Fix: annotate it with the type of the values it takes (int, list[str], a dataclass, ...)."
        )
    name = getattr(hint, "__qualname__", None) or repr(hint).replace("typing.", "")
    return SpecError(
        f"cannot generate {where} of type {name}: {why}.\n"
        f"Fix: annotate it with a type Hypothesis can build, register one with "
        f"hypothesis.strategies.register_type_strategy({name}, ...), or give the strategy in "
        f"the annotation: Annotated[{name}, st.builds(...)]."
    )


@dataclass
class _Bounds:
    """A value's own bounds, read from its annotated-types metadata."""

    lo: Fraction | None = None
    lo_strict: bool = False
    hi: Fraction | None = None
    hi_strict: bool = False
    multiple: int | None = None
    min_len: int = 0
    max_len: int | None = None

    @classmethod
    def of(cls, metadata: Sequence[object]) -> _Bounds:
        b = cls()
        for m in metadata:
            match m:
                case at.Gt(gt=v) if (f := _fraction(v)) is not None:
                    b.low(f, True)
                case at.Ge(ge=v) if (f := _fraction(v)) is not None:
                    b.low(f, False)
                case at.Lt(lt=v) if (f := _fraction(v)) is not None:
                    b.high(f, True)
                case at.Le(le=v) if (f := _fraction(v)) is not None:
                    b.high(f, False)
                case at.MultipleOf(multiple_of=v) if isinstance(v, int) and v != 0:
                    b.multiple = abs(v)
                case at.MinLen(min_length=v):
                    b.min_len = max(b.min_len, v)
                case at.MaxLen(max_length=v):
                    b.max_len = v if b.max_len is None else min(b.max_len, v)
                case _:
                    pass
        return b

    def low(self, v: Fraction, strict: bool) -> None:
        if self.lo is None or v > self.lo or (v == self.lo and strict):
            self.lo, self.lo_strict = v, strict

    def high(self, v: Fraction, strict: bool) -> None:
        if self.hi is None or v < self.hi or (v == self.hi and strict):
            self.hi, self.hi_strict = v, strict

    def integers(self) -> st.SearchStrategy[int]:
        lo = None if self.lo is None else math.floor(self.lo) + 1 if self.lo_strict else math.ceil(self.lo)
        hi = None if self.hi is None else math.ceil(self.hi) - 1 if self.hi_strict else math.floor(self.hi)
        return _integers(lo, hi, self.multiple)

    def floats(self) -> st.SearchStrategy[float]:
        return _floats(self.lo, self.lo_strict, self.hi, self.hi_strict)


def _fraction(v: object) -> Fraction | None:
    """A finite int or float bound, exactly; None for anything else."""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return Fraction(v)
    return None


def _integers(lo: int | None, hi: int | None, multiple: int | None = None) -> st.SearchStrategy[int]:
    if multiple is None:
        return st.integers(lo, hi)
    k_lo = None if lo is None else -((-lo) // multiple)
    k_hi = None if hi is None else hi // multiple
    return st.integers(k_lo, k_hi).map(lambda k: k * multiple)


def _floats(lo: Fraction | None, lo_strict: bool, hi: Fraction | None, hi_strict: bool) -> st.SearchStrategy[float]:
    return st.floats(
        None if lo is None else float(lo), None if hi is None else float(hi),
        allow_nan=False, allow_infinity=False,
        exclude_min=lo is not None and lo_strict, exclude_max=hi is not None and hi_strict,
    )


# --- linear relations ---------------------------------------------------------------------------

# A linear term: variable -> coefficient, plus a constant under the key "".
_Term = dict[str, Fraction]


@dataclass(frozen=True)
class _Ineq:
    """``sum(coeffs[v] * v) + const <= 0`` (``< 0`` when strict)."""

    coeffs: tuple[tuple[str, Fraction], ...]
    const: Fraction
    strict: bool

    @staticmethod
    def make(term: _Term, strict: bool, ints: frozenset[str]) -> _Ineq | None:
        coeffs = tuple(sorted((v, c) for v, c in term.items() if v and c != 0))
        const = term.get("", Fraction(0))
        if strict and coeffs and all(v in ints and c.denominator == 1 for v, c in coeffs) and const.denominator == 1:
            return _Ineq(coeffs, const + 1, False)  # over the integers, a < b is a + 1 <= b
        return _Ineq(coeffs, const, strict)

    def coefficient(self, var: str) -> Fraction:
        return next((c for v, c in self.coeffs if v == var), Fraction(0))

    def violated(self) -> bool:
        """A constraint without variables that does not hold."""
        return not self.coeffs and (self.const >= 0 if self.strict else self.const > 0)


def _eliminate(system: list[_Ineq], var: str, ints: frozenset[str]) -> list[_Ineq]:
    """Fourier-Motzkin: the constraints ``system`` puts on the other variables."""
    keep = [q for q in system if q.coefficient(var) == 0]
    pos = [q for q in system if q.coefficient(var) > 0]
    neg = [q for q in system if q.coefficient(var) < 0]
    for p in pos:
        for n in neg:
            a, b = p.coefficient(var), -n.coefficient(var)
            term: _Term = {"": p.const * b + n.const * a}
            for v, c in p.coeffs:
                term[v] = term.get(v, Fraction(0)) + c * b
            for v, c in n.coeffs:
                term[v] = term.get(v, Fraction(0)) + c * a
            made = _Ineq.make(term, p.strict or n.strict, ints)
            if made is not None and made not in keep:
                keep.append(made)
    return keep


class _Linear:
    """Reads the linear part of predicates: comparisons of sums of constants, numeric
    parameters and ``len`` of sequence parameters, joined by ``and`` (chains included)."""

    def __init__(self, numeric: Mapping[str, str], sequences: frozenset[str]) -> None:
        self.numeric = numeric  # parameter -> "int" | "float"
        self.sequences = sequences

    def atoms(self, node: ast.expr) -> tuple[list[tuple[_Term, str]], bool]:
        """The linear comparisons ``node`` implies (``term op 0``), and whether they are all of
        it (False: a part is not linear and must be checked on each candidate)."""
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
            out: list[tuple[_Term, str]] = []
            complete = True
            for value in node.values:
                found, whole = self.atoms(value)
                out += found
                complete = complete and whole
            return out, complete
        if isinstance(node, ast.Compare):
            out = []
            left = node.left
            complete = True
            for op, right in zip(node.ops, node.comparators):
                a, b = self.term(left), self.term(right)
                name = _OPS.get(type(op))
                if a is None or b is None or name is None:
                    complete = False
                else:
                    diff = dict(a)
                    for v, c in b.items():
                        diff[v] = diff.get(v, Fraction(0)) - c
                    out.append((diff, name))
                left = right
            return out, complete
        return [], False

    def term(self, node: ast.expr) -> _Term | None:
        match node:
            case ast.Constant(value=bool()):
                return None
            case ast.Constant(value=int() | float() as v) if math.isfinite(v):
                return {"": Fraction(v)}
            case ast.Name(id=name) if name in self.numeric:
                return {name: Fraction(1)}
            case ast.Call(func=ast.Name(id="len"), args=[ast.Name(id=name)], keywords=[]) if name in self.sequences:
                return {f"len({name})": Fraction(1)}
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                inner = self.term(operand)
                return None if inner is None else {v: -c for v, c in inner.items()}
            case ast.UnaryOp(op=ast.UAdd(), operand=operand):
                return self.term(operand)
            case ast.BinOp(left=left, op=ast.Add() | ast.Sub() as op, right=right):
                a, b = self.term(left), self.term(right)
                if a is None or b is None:
                    return None
                sign = 1 if isinstance(op, ast.Add) else -1
                out = dict(a)
                for var, coef in b.items():
                    out[var] = out.get(var, Fraction(0)) + sign * coef
                return out
            case ast.BinOp(left=left, op=ast.Mult(), right=right):
                a, b = self.term(left), self.term(right)
                if a is None or b is None:
                    return None
                for x, y in ((a, b), (b, a)):
                    if set(x) <= {""}:
                        k = x.get("", Fraction(0))
                        return {v: c * k for v, c in y.items()}
                return None
            case _:
                return None


_OPS: dict[type, str] = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "=="}


def _inequalities(term: _Term, op: str, ints: frozenset[str]) -> list[_Ineq]:
    neg = {v: -c for v, c in term.items()}
    made = {
        "<": [_Ineq.make(term, True, ints)],
        "<=": [_Ineq.make(term, False, ints)],
        ">": [_Ineq.make(neg, True, ints)],
        ">=": [_Ineq.make(neg, False, ints)],
        "==": [_Ineq.make(term, False, ints), _Ineq.make(neg, False, ints)],
    }[op]
    return [q for q in made if q is not None]


# --- a tool's arguments ---------------------------------------------------------------------------


@dataclass
class _Param:
    name: str
    hint: object
    base: object
    metadata: tuple[object, ...]
    kind: str  # "int" | "float" | "seq" | "array" | "other"
    shape: tuple[str, ...] = ()  # array: its dims, as written


@dataclass
class _Plan:
    """What `strategy_for` reads from a tool once: the draw order and the projected systems."""

    # (Any: a Tool is a descriptor, which type checkers apply to a dataclass field's reads.)
    tool: Any
    name: str
    params: list[_Param]
    split: Split  # an argument tuple -> positional and keyword-only arguments
    order: list[str]  # the variables, in draw order
    ints: frozenset[str]
    #: variable -> the constraints on it once the variables before it are known
    systems: dict[str, list[_Ineq]]
    multiples: dict[str, int]
    #: whether the linear reading is the whole precondition (False: check each candidate)
    complete: bool
    others: dict[str, st.SearchStrategy[Any]] = field(default_factory=dict[str, "st.SearchStrategy[Any]"])
    items: dict[str, st.SearchStrategy[Any]] = field(default_factory=dict[str, "st.SearchStrategy[Any]"])
    #: the linear part alone is contradictory (z3 is asked why)
    contradictory: bool = False
    #: z3's witnesses, once asked
    pool: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    asked: bool = False
    #: why no arguments exist, once z3 proved it
    unsatisfiable: str | None = None


def strategy_for(tool: Tool[..., Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    """A Hypothesis strategy of argument tuples (in signature order) that meet ``tool``'s
    preconditions, built by construction (see the module docstring).

    >>> import effectus as fx
    >>> from hypothesis import given
    >>> @fx.tool(requires=lambda xs, k: 0 < k <= len(xs))
    ... async def top(xs: list[int], k: int) -> list[int]:
    ...     return sorted(xs)[-k:]
    >>> @given(strategy_for(top))
    ... def test(args):
    ...     xs, k = args
    ...     assert 0 < k <= len(xs)
    >>> test()

    Raises:
        SpecError: a parameter's type has no strategy (named, with how to register one).
        Unsatisfiable: no arguments satisfy the preconditions (z3's proof says why); raised
            here when the linear part contradicts itself, else when drawing finds it.
    """
    plan = _plan(tool)
    if plan.contradictory:
        _pool(plan)  # raises Unsatisfiable with z3's proof, here rather than at the first draw
    return _arguments(plan)


Split = Callable[[tuple[Any, ...]], tuple[list[Any], dict[str, Any]]]


def splitter(tool: Tool[..., Any]) -> Split:
    """Reads ``tool``'s signature once; the function it answers turns an argument tuple as
    `strategy_for` orders it into positional arguments and keyword-only ones by name."""
    params = list(inspect.signature(tool.__wrapped__).parameters.values())
    keyword = [(p.name, p.kind is p.KEYWORD_ONLY) for p in params]

    def split(args: tuple[Any, ...]) -> tuple[list[Any], dict[str, Any]]:
        positional = [a for (_, kw), a in zip(keyword, args) if not kw]
        return positional, {name: a for (name, kw), a in zip(keyword, args) if kw}

    return split


def call(tool: Tool[..., Any], args: tuple[Any, ...]) -> Any:
    """``tool`` called with ``args`` as `strategy_for` orders them (keyword-only by name)."""
    positional, keywords = splitter(tool)(args)
    return tool(*positional, **keywords)


def _hints_of(tool: Tool[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(tool.__wrapped__, include_extras=True)
    except Exception as err:  # noqa: BLE001 - annotations that do not resolve
        raise SpecError(f"cannot generate arguments for {tool.__qualname__}: its annotations do not resolve ({err})") from err


def _plan(tool: Tool[..., Any]) -> _Plan:
    if not isinstance(tool, Tool):  # pyright: ignore[reportUnnecessaryIsInstance]  # for untyped callers
        raise TypeError(f"strategy_for() takes a tool (made by @fx.tool); got {tool!r} (type={type(tool).__qualname__})")
    spec = spec_of(tool)
    hints = _hints_of(tool)
    params: list[_Param] = []
    for sp in inspect.signature(tool.__wrapped__).parameters.values():
        if sp.kind in (sp.VAR_POSITIONAL, sp.VAR_KEYWORD):
            raise SpecError(f"cannot generate arguments for {tool.__qualname__}: *{sp.name} has no fixed arity.\nFix: name each parameter.")
        hint = hints.get(sp.name, object)
        base, metadata = annotated_parts(hint)
        kind = "other"
        if any(isinstance(m, st.SearchStrategy) for m in metadata):
            kind = "other"
        elif base is int:
            kind = "int"
        elif base is float:
            kind = "float"
        elif _sequence_item(base) is not None:
            kind = "seq"
        shape = next((m for m in metadata if type(m).__name__ == "Shape" and hasattr(m, "dims")), None)
        written: tuple[str, ...] = tuple(str(getattr(shape, "dims")).split()) if shape is not None else ()
        if shape is not None:
            kind = "array"
        params.append(_Param(sp.name, hint, base, metadata, kind, written))
    numeric = {p.name: p.kind for p in params if p.kind in ("int", "float")}
    sequences = frozenset(p.name for p in params if p.kind == "seq")
    reader = _Linear(numeric, sequences)
    # Array dims: names no parameter holds become int variables of their own.
    dims: list[str] = []
    for p in params:
        for d in p.shape:
            for node in ast.walk(ast.parse(d, mode="eval")):
                if isinstance(node, ast.Name) and node.id not in numeric and node.id not in dims:
                    dims.append(node.id)
    dim_reader = _Linear({**numeric, **{d: "int" for d in dims}}, sequences)
    ints = frozenset([*(n for n, k in numeric.items() if k == "int"), *(f"len({s})" for s in sequences), *dims])
    system: list[_Ineq] = []
    multiples: dict[str, int] = {}
    complete = True
    for p in params:
        var = f"len({p.name})" if p.kind == "seq" else p.name
        bounds = _Bounds.of(p.metadata)
        if p.kind == "seq":
            system += _inequalities({var: Fraction(-1)}, "<=", ints)  # len >= 0
            # A generated sequence stays short, and so does a number its length is tied to.
            cap = max(bounds.min_len, 0) + MAX_LENGTH
            system += _inequalities({var: Fraction(1), "": Fraction(-cap)}, "<=", ints)
        if p.kind in ("int", "float"):
            if bounds.lo is not None:
                system += _inequalities({var: Fraction(1), "": -bounds.lo}, ">" if bounds.lo_strict else ">=", ints)
            if bounds.hi is not None:
                system += _inequalities({var: Fraction(1), "": -bounds.hi}, "<" if bounds.hi_strict else "<=", ints)
            if bounds.multiple is not None and p.kind == "int":
                multiples[var] = bounds.multiple
        if p.kind == "seq":
            if bounds.min_len:
                system += _inequalities({var: Fraction(1), "": Fraction(-bounds.min_len)}, ">=", ints)
            if bounds.max_len is not None:
                system += _inequalities({var: Fraction(1), "": Fraction(-bounds.max_len)}, "<=", ints)
            for m in p.metadata:
                if isinstance(m, Length):
                    found = reader.term(ast.parse(m.expr, mode="eval").body)
                    if found is None:
                        complete = False
                        continue
                    diff = {var: Fraction(1), **{v: -c for v, c in found.items()}}
                    if var in found:
                        diff[var] = 1 - found[var]
                    system += _inequalities(diff, "==", ints)
        for d in p.shape:
            found = dim_reader.term(ast.parse(d, mode="eval").body)
            if found is None:
                complete = False
            else:
                system += _inequalities({v: -c for v, c in found.items()}, "<=", ints)  # a dim is >= 0
    for d in dims:
        system += _inequalities({d: Fraction(1), "": Fraction(-DIMENSION[0])}, ">=", ints)
    if spec is not None:
        for pred in (*spec.requires, *spec.invariants):
            parsed = _node(pred.source)
            found_atoms, whole = reader.atoms(parsed) if parsed is not None else ([], False)
            complete = complete and whole
            for term, op in found_atoms:
                system += _inequalities(term, op, ints)
        if any(p.fn is not None and not isinstance(p.fn, ShapeCheck) for p in spec.refinements if "result" not in p.names):
            complete = False  # Predicate(...) refinements: checked on each candidate (shapes are built to fit)
    order: list[str] = []
    for p in params:
        if p.kind in ("int", "float"):
            order.append(p.name)
        elif p.kind == "seq":
            order.append(f"len({p.name})")
    order += [d for d in dims if d not in order]
    systems: dict[str, list[_Ineq]] = {}
    current = system
    for var in reversed(order):
        systems[var] = [q for q in current if q.coefficient(var) != 0]
        current = _eliminate(current, var, ints)
    plan = _Plan(tool, tool.__qualname__, params, splitter(tool), order, ints, systems, multiples, complete)
    if any(q.violated() for q in current):
        plan.contradictory = True
    for p in params:
        where = f"argument {p.name} of {tool.__qualname__}"
        if p.kind == "seq":
            item = _sequence_item(p.base)
            plan.items[p.name] = strategy_for_type(item, where=f"{where} (an item)") if item is not object else st.integers()
        elif p.kind == "array":
            plan.items[p.name] = _array_elements(p, where)
        elif p.kind == "other":
            plan.others[p.name] = strategy_for_type(p.hint, where=where)
    return plan


def _node(source: str) -> ast.expr | None:
    try:
        return ast.parse(source, mode="eval").body
    except SyntaxError:
        return None


def _sequence_item(base: object) -> object | None:
    """The item type of a sequence type whose length a spec may talk about (None: not one)."""
    import collections.abc as abc

    if base is str or base is bytes:
        return str if base is str else bytes
    if base is list or base is tuple or base is abc.Sequence:
        return object
    origin, args = typing.get_origin(base), typing.get_args(base)
    if origin in (list, abc.Sequence, abc.MutableSequence) and len(args) == 1:
        return typing.cast(object, args[0])
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return typing.cast(object, args[0])
    return None


def _array_elements(p: _Param, where: str) -> st.SearchStrategy[Any]:
    import numpy as np

    dtype: Any = next((getattr(m, "dtype") for m in p.metadata if getattr(m, "dtype", None) is not None), np.float64)
    kind: Any = np.dtype(dtype)
    if kind.kind == "f":
        width: Literal[16, 32, 64] = 16 if kind.itemsize == 2 else 32 if kind.itemsize == 4 else 64
        return st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=width)
    if kind.kind in "iu":
        info = np.iinfo(kind)
        return st.integers(max(int(info.min), -1000), min(int(info.max), 1000))
    if kind.kind == "b":
        return st.booleans()
    raise _unsupported(p.hint, where, f"arrays of dtype {kind} have no element strategy")


def _interval(plan: _Plan, var: str, values: Mapping[str, Fraction]) -> tuple[Fraction | None, bool, Fraction | None, bool]:
    lo: Fraction | None = None
    hi: Fraction | None = None
    lo_strict = hi_strict = False
    for q in plan.systems[var]:
        a = q.coefficient(var)
        rest = q.const + sum((c * values[v] for v, c in q.coeffs if v != var), Fraction(0))
        bound = -rest / a  # a*var + rest <= 0
        if a > 0 and (hi is None or bound < hi or (bound == hi and q.strict)):
            hi, hi_strict = bound, q.strict
        elif a < 0 and (lo is None or bound > lo or (bound == lo and q.strict)):
            lo, lo_strict = bound, q.strict
    return lo, lo_strict, hi, hi_strict


def _draw_var(draw: st.DrawFn, plan: _Plan, var: str, values: Mapping[str, Fraction]) -> Fraction | None:
    lo, lo_strict, hi, hi_strict = _interval(plan, var, values)
    if var in plan.ints:
        ilo = None if lo is None else math.floor(lo) + 1 if lo_strict else math.ceil(lo)
        ihi = None if hi is None else math.ceil(hi) - 1 if hi_strict else math.floor(hi)
        if var.startswith("len(") and ihi is None:
            ihi = max(ilo or 0, 0) + MAX_EXTRA_LENGTH
        elif var not in {p.name for p in plan.params} and ihi is None:  # a free array dim
            ihi = max(ilo or 0, DIMENSION[1])
        multiple = plan.multiples.get(var)
        if multiple is not None:
            k_lo = None if ilo is None else -((-ilo) // multiple)
            k_hi = None if ihi is None else ihi // multiple
            if k_lo is not None and k_hi is not None and k_lo > k_hi:
                return None
        elif ilo is not None and ihi is not None and ilo > ihi:
            return None
        return Fraction(draw(_integers(ilo, ihi, multiple)))
    if lo is not None and hi is not None and (lo > hi or (lo == hi and (lo_strict or hi_strict))):
        return None
    try:
        return Fraction(draw(_floats(lo, lo_strict, hi, hi_strict)))
    except InvalidArgument:  # an open interval with no float inside it
        return None


def _candidate(draw: st.DrawFn, plan: _Plan) -> tuple[Any, ...] | None:
    values: dict[str, Fraction] = {}
    for var in plan.order:
        got = _draw_var(draw, plan, var, values)
        if got is None:
            return None
        values[var] = got
    out: list[Any] = []
    for p in plan.params:
        if p.kind == "int":
            out.append(int(values[p.name]))
        elif p.kind == "float":
            out.append(float(values[p.name]))
        elif p.kind == "seq":
            out.append(_sequence(draw, plan, p, int(values[f"len({p.name})"])))
        elif p.kind == "array":
            out.append(_array(draw, plan, p, values))
        else:
            out.append(draw(plan.others[p.name]))
    return tuple(out)


def _sequence(draw: st.DrawFn, plan: _Plan, p: _Param, n: int) -> Any:
    base = p.base
    if base is str:
        return draw(st.text(min_size=n, max_size=n))
    if base is bytes:
        return draw(st.binary(min_size=n, max_size=n))
    items = draw(st.lists(plan.items[p.name], min_size=n, max_size=n))
    return tuple(items) if base is tuple or typing.get_origin(base) is tuple else items


def _array(draw: st.DrawFn, plan: _Plan, p: _Param, values: Mapping[str, Fraction]) -> Any:
    import numpy as np
    from hypothesis.extra import numpy as hnp

    env = {k: int(v) for k, v in values.items()}
    shape = tuple(int(eval(compile(d, "<shape>", "eval"), {"__builtins__": {}}, env)) for d in p.shape)
    dtype = next((getattr(m, "dtype") for m in p.metadata if getattr(m, "dtype", None) is not None), np.float64)
    return draw(hnp.arrays(np.dtype(dtype), shape, elements=plan.items[p.name]))


def _valid(plan: _Plan, args: tuple[Any, ...]) -> bool:
    pre = getattr(plan.tool, "_pre", None)
    if pre is None:
        return True
    positional, keywords = plan.split(args)  # (the signature was read once, by `_plan`)
    # beartype checks a random item of a container: keep the global random state as it was,
    # which Hypothesis requires of strategies.
    state = random.getstate()
    try:
        pre(*positional, **keywords)
    except PreconditionError:
        return False
    finally:
        random.setstate(state)
    return True


def _arguments(plan: _Plan) -> st.SearchStrategy[tuple[Any, ...]]:
    @st.composite
    def arguments(draw: st.DrawFn) -> tuple[Any, ...]:
        if not plan.contradictory:
            if not plan.complete and draw(st.integers(0, 7)) == 7 and _pool(plan):
                return _witness(draw, plan)
            for _ in range(ATTEMPTS):
                candidate = _candidate(draw, plan)
                if candidate is not None and _valid(plan, candidate):
                    return candidate
        if _pool(plan):
            return _witness(draw, plan)
        from hypothesis import reject

        reject()  # z3 neither found arguments nor proved there are none
        raise AssertionError("unreachable")  # pragma: no cover

    return arguments()


def _witness(draw: st.DrawFn, plan: _Plan) -> tuple[Any, ...]:
    """One of z3's assignments; the parameters it does not model are drawn."""
    from effectus.proofs._witness import SeqLength

    assignment = draw(st.sampled_from(_pool(plan)))
    out: list[Any] = []
    for p in plan.params:
        value = assignment.get(p.name)
        if isinstance(value, SeqLength):
            out.append(_sequence(draw, plan, p, value.length))
        elif type(value) is list and p.kind == "seq":
            out.append(tuple(value) if p.base is tuple or typing.get_origin(p.base) is tuple else value)  # pyright: ignore[reportUnknownArgumentType]  # z3's items
        elif p.name in assignment:
            out.append(value)
        elif p.kind == "seq":
            out.append(_sequence(draw, plan, p, draw(st.integers(0, MAX_EXTRA_LENGTH))))
        elif p.kind in ("int", "float"):
            out.append(draw(strategy_for_type(p.hint)))
        elif p.kind == "array":
            from hypothesis import reject

            reject()  # z3 does not build arrays: construction does (rarely reached)
        else:
            out.append(draw(plan.others[p.name]))
    args = tuple(out)
    if not _valid(plan, args):
        from hypothesis import reject

        reject()  # a predicate z3 does not model refused it: rare, and Hypothesis moves on
    return args


def _pool(plan: _Plan) -> list[dict[str, Any]]:
    """z3's satisfying assignments for the tool's preconditions (parameter -> value), boundary
    values first; raises `Unsatisfiable` when z3 proves there are none."""
    if not plan.asked:
        from effectus.proofs._witness import witnesses

        found = witnesses(plan.tool, POOL_SIZE)
        plan.asked = True
        if isinstance(found, str):
            plan.unsatisfiable = (
                f"cannot generate arguments for {plan.name}: {found}\n"
                f"Fix: correct the preconditions; a tool no arguments satisfy can never be called."
            )
        else:
            plan.pool = found
    if plan.unsatisfiable is not None:
        # (Raised from one place: Hypothesis sees the same error on every draw.)
        raise Unsatisfiable(plan.unsatisfiable)
    return plan.pool
