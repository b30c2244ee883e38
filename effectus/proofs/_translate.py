"""Predicates as z3 formulas: ``translate(p, scope)`` holds exactly when ``p`` returns a truthy value.

A spec's predicate (``requires=lambda xs, k: 0 < k <= len(xs)``), a refinement
(``Annotated[int, Ge(0)]``) or a postcondition naming ``result`` is read from its source with
`ast` (never evaluated) and turned into a z3 formula over symbolic values (`Sym`) for its
parameters.  The formula is *exact*: for every concrete value of the symbols it is true if and
only if the predicate, run by Python on those values, returns a truthy value without raising.
Anything outside the subset below raises `RuntimeOnly`, naming the construct and where it is:
such a predicate is checked at run time only, never silently "proved".

The translatable subset:

- ``int``, ``float`` and ``bool`` literals; names of parameters; names of ``int``, ``float`` and
  ``bool`` constants (and of tuples or frozensets of them, for ``in``) in the predicate's module
  or closure, read when the predicate is translated;
- arithmetic ``+ - * / // % **`` (``**`` only with a literal non-negative int exponent), unary
  ``-`` and ``+``, and ``not``;
- comparisons ``< <= > >= == !=`` between numbers and bools, chains included
  (``0 < k <= len(xs)``);
- ``and``, ``or`` and conditional expressions ``a if c else b``;
- ``len(x)``, ``abs(x)``, ``min``/``max`` of two or more numbers;
- ``x in {1, 2, 3}``, ``x in (a, b)``, ``x not in [...]`` over literal collections, and ``in``
  over ``range(a)``/``range(a, b)`` and over a sequence;
- indexing a sequence: ``xs[i]``, ``xs[-1]`` (any int index);
- ``all(...)``/``any(...)`` over generator expressions (``if`` clauses and nested ``for``
  included) iterating ``range(a)``, ``range(a, b)`` or a sequence, and ``all(xs)``/``any(xs)``;
- on arrays (a class with a ``.shape``): ``x.shape``, ``x.shape[i]``, ``len(x.shape)``,
  ``x.ndim``, ``x.size`` and ``len(x)``;
- calls of predicates passed in ``predicates=`` (by name), and of functions (lambda or def) in
  the predicate's module or closure that are themselves in the subset, inlined; a def must be
  a single ``return expr`` after an optional docstring (an ``assert`` is refused: ``python -O``
  skips it, so its meaning depends on how Python runs).

Everything else is `RuntimeOnly`: ``isinstance``, string methods and string literals,
comprehensions other than a generator inside ``all``/``any``, ``lambda`` inside a predicate,
``:=``, f-strings, slices, attributes other than an array's, ``is``, bitwise operators, calls of
anything else, recursive calls, and ill-typed expressions (``len(k)`` of an int, a sequence
compared with a number): Python would raise ``TypeError`` there, or the value has no model.

How values are modelled:

- ``int`` is a z3 ``Int`` (unbounded, like Python's); ``bool`` a ``Bool``, which arithmetic and
  comparisons with numbers read as 0 or 1; ``float`` a ``Real``: floats are modelled as exact
  real numbers, so rounding, ``inf`` and ``nan`` are not modelled (the one approximation);
- mixed int/float arithmetic converts with ``ToReal``; ``/`` always gives a real (a float in
  Python: ``k / 3 * 3 == k`` holds for the reals, not always for floats);
- ``//`` and ``%`` follow Python: floor division, and a remainder with the divisor's sign
  (z3's ``div``/``mod`` are Euclidean, so they are corrected for a negative divisor);
- a sequence (``list[T]``, ``tuple[T, ...]``, ``tuple[T, T]``, ``Sequence[T]``, ``str``) is a
  length and an array of items; the items of ``str`` and of an unparametrised ``list`` have no
  model, so only ``len`` of them translates;
- an array is its shape: ``ndim`` and an array of non-negative dims; ``size`` is their product.

Errors are part of the meaning, not side conditions: an index out of range, a division by
zero, a failing nested call make Python raise, so the predicate does not return a truthy value
and the formula is false there.  ``xs[i] > 0`` translates to ``-len(xs) <= i < len(xs) and
xs[i if i >= 0 else len(xs) + i] > 0``, and ``not xs[i] > 0`` is *also* false out of range.
The other choice, a fresh unconstrained element, would let a precondition that can only raise
look satisfiable, and a postcondition that raises look proved.  Short-circuits (``and``,
``or``, ``if``-``else``, comparison chains, ``all``/``any`` stopping at the first element that
decides) are followed exactly, so ``k == 0 or n // k > 1`` holds wherever ``k == 0``.  A loop
whose elements may raise needs "no earlier element raised" in its formula; when z3 shows
(under a small fixed ``rlimit``, so the answer is reproducible) that they cannot raise within
the loop's range, the plain quantifier is used.

This module is longer than the modules around it because its three parts are mutually
recursive: the translator needs `Sym`, a `Sym`'s facts are `refinement` formulas, and a
``Predicate`` refinement is a translated predicate.
"""

from __future__ import annotations

import ast
import builtins
import collections.abc
import contextlib
import inspect
import math
import types
import typing
from collections.abc import Callable, Collection, Generator, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, Literal, NamedTuple, NoReturn, TypeVar

import annotated_types as at
import z3  # type: ignore[import-untyped]  # z3 ships no type information

from effectus.core._errors import EffectusError
from effectus.core._site import relative
from effectus.proofs._isolated import solve
from effectus.specs._source import body_after_docstring, find_node, returned_expr
from effectus.specs._spec import Shape, ShapeCheck, SpecError

__all__ = ["RuntimeOnly", "Sym", "refinement", "symbol", "translate"]

# z3's Python API is unannotated: every call goes through this one Any-typed name, and each
# helper below states the type it returns.
_z: Any = z3

Kind = Literal["int", "float", "bool", "seq", "array"]
_T = TypeVar("_T", bound=z3.ExprRef)

_CALLS = "only len, abs, min, max, all, any, range and spec'd predicates translate"
_ILL_TYPED = "Python raises TypeError here; check the predicate"


class RuntimeOnly(EffectusError, NotImplementedError):
    """A predicate (or part) outside the translatable subset: checked at run time only.

    Attributes:
        construct: what stopped translation (``"call of str.startswith"``).
        reason: a sentence for the user: why, and what translates instead.
        file: the predicate's source file, when known.
        line: the line in that file, when known.
        col: the column (1-based, as editors count), when known.
    """

    def __init__(
        self, construct: str, reason: str, *, file: str | None = None,
        line: int | None = None, col: int | None = None,
    ) -> None:
        self.construct = construct
        self.reason = reason
        self.file = file
        self.line = line
        self.col = col
        super().__init__(construct, reason)

    def __str__(self) -> str:
        where = ""
        if self.line is not None:
            path = relative(self.file) if self.file else "<predicate>"
            where = f" at {path}:{self.line}" + (f":{self.col}" if self.col is not None else "")
        elif self.file:
            where = f" in {relative(self.file)}"
        return f"runtime-only: {self.construct}{where} — {self.reason}"


RuntimeOnly.__module__ = "effectus.proofs"


# --- small z3 helpers that fold constants, so formulas stay readable -------------------------


def _true(f: z3.BoolRef) -> bool:
    return bool(_z.is_true(f))


def _false(f: z3.BoolRef) -> bool:
    return bool(_z.is_false(f))


_TRUE: z3.BoolRef = _z.BoolVal(True)
_FALSE: z3.BoolRef = _z.BoolVal(False)


def _and(*fs: z3.BoolRef) -> z3.BoolRef:
    parts = [f for f in fs if not _true(f)]
    if any(_false(f) for f in parts):
        return _FALSE
    return _TRUE if not parts else parts[0] if len(parts) == 1 else _z.And(*parts)


def _or(*fs: z3.BoolRef) -> z3.BoolRef:
    parts = [f for f in fs if not _false(f)]
    if any(_true(f) for f in parts):
        return _TRUE
    return _FALSE if not parts else parts[0] if len(parts) == 1 else _z.Or(*parts)


def _not(f: z3.BoolRef) -> z3.BoolRef:
    if _true(f) or _false(f):
        return _FALSE if _true(f) else _TRUE
    g: Any = f  # z3's terms are unannotated
    return g.arg(0) if _z.is_not(f) else _z.Not(f)


def _implies(a: z3.BoolRef, b: z3.BoolRef) -> z3.BoolRef:
    return _or(_not(a), b)


def _ite(c: z3.BoolRef, a: _T, b: _T) -> _T:
    if _true(c) or _false(c):
        return a if _true(c) else b
    return typing.cast(_T, _z.If(c, a, b))


def _between(v: z3.ArithRef, lo: z3.ArithRef, hi: z3.ArithRef) -> z3.BoolRef:
    return _z.And(lo <= v, v < hi)


def _forall(v: z3.ArithRef, lo: z3.ArithRef, hi: z3.ArithRef, body: z3.BoolRef) -> z3.BoolRef:
    return body if _true(body) else _z.ForAll([v], _z.Implies(_between(v, lo, hi), body))


def _exists(v: z3.ArithRef, lo: z3.ArithRef, hi: z3.ArithRef, body: z3.BoolRef) -> z3.BoolRef:
    return _FALSE if _false(body) else _z.Exists([v], _z.And(_between(v, lo, hi), body))


def _entailed(premise: z3.BoolRef, conclusion: z3.BoolRef) -> bool:
    """Whether ``premise`` implies ``conclusion``, as z3 finds within a small fixed rlimit
    (deterministic: the same formula always gets the same answer; "don't know" is False)."""
    if _true(conclusion) or _true(_z.simplify(conclusion)):
        return True
    return solve([premise, _z.Not(conclusion)], rlimit=_ENTAIL_RLIMIT).answer == "unsat"


def _int(n: int) -> z3.ArithRef:
    return _z.IntVal(n)


def _sort(kind: Kind) -> z3.SortRef:
    return {"int": _z.IntSort(), "float": _z.RealSort(), "bool": _z.BoolSort()}.get(kind, _z.IntSort())


def _define_product() -> Any:
    """product(dims, n) = dims[0] * ... * dims[n - 1], a recursive function z3 unfolds."""
    product = _z.RecFunction(
        "effectus.product", _z.ArraySort(_z.IntSort(), _z.IntSort()), _z.IntSort(), _z.IntSort()
    )
    dims, n = _z.Array("dims", _z.IntSort(), _z.IntSort()), _z.Int("n")
    _z.RecAddDefinition(product, [dims, n], _z.If(n <= 0, 1, product(dims, n - 1) * dims[n - 1]))
    return product


_PRODUCT = _define_product()


# --- symbolic values -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Type:
    """The Python type a symbolic value stands for, with the refinements its values satisfy."""

    kind: Kind
    name: str  # as users write it: "int", "list[int]", "ndarray"
    element: _Type | None = None  # seq: its items' type (None: items have no model)
    constraints: tuple[object, ...] = ()
    length: int | None = None  # seq: a fixed length (tuple[int, int])
    attrs: frozenset[str] = frozenset()  # array: which of ndim, size its class has


_INT, _FLOAT, _BOOL = _Type("int", "int"), _Type("float", "float"), _Type("bool", "bool")
_SHAPE = _Type("seq", "tuple[int, ...]", element=_Type("int", "int", constraints=(at.Ge(0),)))


class Sym:
    """A symbolic value: a z3 term plus the Python type it stands for.

    - ``int``, ``float``, ``bool``: `term` is the value (z3 ``Int``, ``Real``, ``Bool``);
    - a sequence (``kind == "seq"``): `term` is an array from index to item and `length` its
      ``len``; `item` gives the item at an index;
    - an array (``kind == "array"``): `shape` is a sequence of ``ndim`` non-negative dims,
      `ndim` and `size` their count and product.

    `facts` are the formulas every value of the type satisfies (``len >= 0``, each element's
    refinement, ...): assume them in proofs.  Make one with `symbol`.

    >>> xs = symbol("xs", list[int])
    >>> xs, xs.length, xs.item(z3.IntVal(0)).term
    (Sym(xs: list[int]), len(xs), xs[0])
    >>> xs.facts()
    [len(xs) >= 0]
    """

    __slots__ = ("_t", "length", "name", "term")

    def __init__(
        self, t: _Type, term: z3.ExprRef, length: z3.ArithRef | None = None, name: str = ""
    ) -> None:
        self._t = t
        self.term = term
        self.length = length
        self.name = name

    @property
    def kind(self) -> Kind:
        """``"int"``, ``"float"``, ``"bool"``, ``"seq"`` or ``"array"``."""
        return self._t.kind

    @property
    def type(self) -> str:
        """The Python type it stands for, as written in messages (``list[int]``)."""
        return self._t.name

    def __repr__(self) -> str:
        return f"Sym({self.name or self.term}: {self.type})"

    def has_items(self) -> bool:
        """Whether a sequence's items are modelled (not for ``str`` or a bare ``list``)."""
        return self.kind == "seq" and self._t.element is not None

    def has_attribute(self, name: str) -> bool:
        """Whether an array's class has ``name`` (``ndim``, ``size``) besides ``shape``."""
        return name in self._t.attrs

    def item(self, index: z3.ArithRef) -> Sym:
        """The item at ``index`` (0 <= index < length; no bounds are added) of a sequence."""
        element = self._t.element
        if self.kind != "seq" or element is None:
            raise TypeError(f"{self!r} has no modelled items")
        return Sym(element, _z.Select(self.term, index), name=f"{self.name}[{index}]")

    @property
    def shape(self) -> Sym:
        """An array's shape: a ``tuple[int, ...]`` of ``ndim`` non-negative dims."""
        if self.kind != "array" or self.length is None:
            raise TypeError(f"{self!r} is not an array")
        return Sym(_SHAPE, self.term, self.length, f"{self.name}.shape")

    @property
    def ndim(self) -> z3.ArithRef:
        """An array's number of dimensions."""
        return _as_arith(self.shape.length)

    @property
    def size(self) -> z3.ArithRef:
        """An array's number of elements, the product of its dims."""
        return _PRODUCT(self.term, self.ndim)

    def facts(self) -> list[z3.BoolRef]:
        """Formulas every value of this type satisfies: lengths and dims are non-negative,
        each element and the value itself satisfy their refinements."""
        out: list[z3.BoolRef] = []
        t = self._t
        if t.kind == "array":
            out += [*self.shape.facts(), self.size >= 0]
        elif t.kind == "seq":
            length = _as_arith(self.length)
            out.append(length >= 0)
            if t.length is not None:
                out.append(_method(length, "__eq__", _int(t.length)))
            if t.element is not None:
                i: z3.ArithRef = _z.Int(f"{self.name}!i")
                each = self.item(i).facts()
                if each:
                    out.append(_forall(i, _int(0), length, _and(*each)))
        out += [refinement(self, c) for c in t.constraints]
        return out


def _as_arith(term: z3.ArithRef | None) -> z3.ArithRef:
    if term is None:
        raise TypeError("a sequence without a length")  # unreachable: seqs are built with one
    return term


def _scalar(t: _Type, term: z3.ExprRef) -> Sym:
    return Sym(t, term)


def _fresh(name: str, t: _Type) -> Sym:
    if t.kind == "int":
        return Sym(t, _z.Int(name), name=name)
    if t.kind == "float":
        return Sym(t, _z.Real(name), name=name)
    if t.kind == "bool":
        return Sym(t, _z.Bool(name), name=name)
    if t.kind == "array":
        dims = _z.Array(f"{name}.shape", _z.IntSort(), _z.IntSort())
        return Sym(t, dims, _z.Int(f"{name}.ndim"), name)
    element = _sort(t.element.kind) if t.element is not None else _z.IntSort()
    return Sym(t, _z.Array(name, _z.IntSort(), element), _z.Int(f"len({name})"), name)


def symbol(name: str, annotation: object) -> Sym:
    """A fresh symbolic value for a parameter ``name`` annotated ``annotation``.

    ``int``, ``float``, ``bool``, ``str``, sequences of numbers (``list[T]``, ``tuple[T, ...]``,
    ``tuple[T, T]``, ``Sequence[T]``), classes with a ``.shape`` (``numpy.ndarray``), and
    ``Annotated[T, ...]`` of these, whose annotated-types metadata become `Sym.facts` through
    `refinement` (string metadata, documentation, is skipped).

    Raises:
        RuntimeOnly: the type has no model (``dict``, a union, a class without a shape, a list
            of lists), or a constraint does not translate.

    >>> from typing import Annotated
    >>> from annotated_types import Ge
    >>> k = symbol("k", Annotated[int, Ge(0)])
    >>> k.term, k.facts()
    (k, [k >= 0])
    """
    t = _type_of(annotation)
    sym = _fresh(name, t)
    sym.facts()  # raises RuntimeOnly now for a constraint that does not translate
    return sym


def _annotation_name(annotation: object) -> str:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "").replace("collections.abc.", "")


_SEQUENCES: tuple[object, ...] = (
    list, tuple, collections.abc.Sequence, collections.abc.MutableSequence
)


def _type_of(annotation: object) -> _Type:
    name = _annotation_name(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        base = _type_of(args[0])
        kept = tuple(m for m in args[1:] if not isinstance(m, (str, at.DocInfo)))
        return replace(base, name=_annotation_name(args[0]), constraints=base.constraints + kept)
    if annotation is bool or annotation is int or annotation is float:
        return {bool: _BOOL, int: _INT, float: _FLOAT}[annotation]
    if annotation is str:
        return _Type("seq", "str")
    if annotation in _SEQUENCES:
        return _Type("seq", name)
    if origin in _SEQUENCES:
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(set(args)) > 1:
                raise RuntimeOnly(
                    f"parameter type {name}",
                    "a tuple with items of different types has no model; "
                    "use tuple[T, ...] or check it at run time",
                )
            return _Type("seq", name, _element(args[0], name), length=len(args))
        return _Type("seq", name, _element(args[0], name) if args else None)
    if isinstance(annotation, type) and _has(annotation, "shape"):
        attrs = frozenset(a for a in ("ndim", "size") if _has(annotation, a))
        return _Type("array", name, attrs=attrs)
    raise RuntimeOnly(
        f"parameter type {name}",
        "only int, float, bool, str, sequences of numbers (list[T], tuple[T, ...], "
        "Sequence[T]) and classes with a .shape have a z3 model",
    )


def _has(cls: type, attr: str) -> bool:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # a class whose annotations do not evaluate: fall back to hasattr
        hints = {}
    return hasattr(cls, attr) or attr in hints


def _element(annotation: object, outer: str) -> _Type:
    t = _type_of(annotation)
    if t.kind in ("seq", "array"):
        raise RuntimeOnly(
            f"parameter type {outer}",
            f"sequences of {t.name} have no model; only sequences of numbers and bools do",
        )
    return t


def refinement(sym: Sym, constraint: object) -> z3.BoolRef:
    """The z3 formula of one annotated-types ``constraint`` on ``sym``.

    ``Gt``, ``Ge``, ``Lt``, ``Le``, ``MultipleOf`` (Python's ``value % m == 0``), ``MinLen``,
    ``MaxLen``, ``Len``, ``Interval`` (and any grouped metadata, expanded), ``Predicate(fn)``
    (``fn`` translated with its parameter bound to ``sym``), ``Not(fn)``, and effectus'
    ``Shape`` on an array: its ``ndim`` and dims, a name standing for the dim where it first
    stands alone (``Shape("n n")`` is square).  Alone, a value's names are its own; a tool's
    Shapes share names across its signature through the tool's spec (see ``ShapeCheck``).

    Raises:
        RuntimeOnly: any other constraint, a bound that is not a number, a constraint that
            does not apply to the value's type (``Ge(0)`` on a list), or a predicate outside
            the subset.

    >>> from annotated_types import Interval
    >>> refinement(symbol("k", int), Interval(ge=0, lt=10))
    And(k >= 0, k < 10)
    """
    tr = _Translator({})
    node = ast.Constant(value=None)  # errors here have no source position
    env = _Env(None, {}, {}, {})
    if isinstance(constraint, (at.Gt, at.Ge, at.Lt, at.Le)):
        op, bound = {
            at.Gt: (ast.Gt(), "gt"), at.Ge: (ast.GtE(), "ge"),
            at.Lt: (ast.Lt(), "lt"), at.Le: (ast.LtE(), "le"),
        }[type(constraint)]
        return tr.compare(op, sym, _bound(constraint, getattr(constraint, bound)), node, env)
    if isinstance(constraint, at.MultipleOf):
        m = _bound(constraint, constraint.multiple_of)
        ok, rest = tr.arith(ast.Mod(), sym, m, node, env)
        return _and(ok, tr.compare(ast.Eq(), rest, _scalar(_INT, _int(0)), node, env))
    if isinstance(constraint, (at.MinLen, at.MaxLen)):
        ok, length = tr.length(sym, node, env)
        if isinstance(constraint, at.MinLen):
            return _and(ok, length >= constraint.min_length)
        return _and(ok, length <= constraint.max_length)
    if isinstance(constraint, at.GroupedMetadata):
        return _and(*(refinement(sym, c) for c in constraint))
    if isinstance(constraint, Shape):
        if sym.kind != "array":
            raise RuntimeOnly(f"constraint {constraint!r}", f"a Shape applies to a class with a .shape, not to {sym.type}")
        try:  # alone, each name is a symbol of this value's own: Shape("n n") is square
            shapes = ShapeCheck(sym.type, [("value", constraint)], ())
        except SpecError:  # a name only inside an expression (k in "3 k+1")
            raise RuntimeOnly(f"constraint {constraint!r}",
                              "a name that stands alone in none of its dims has no value") from None
        return translate(shapes.expr, {"value": sym})
    if isinstance(constraint, (at.Predicate, at.Not)):
        body, inner = tr.bind(constraint.func, [sym], {}, node, env)
        with tr.entered(constraint.func, node, env):
            return tr.answers_true(body, inner) if isinstance(constraint, at.Predicate) \
                else tr.truth(body, inner)[1]
    raise RuntimeOnly(
        f"constraint {constraint!r}",
        "only Gt, Ge, Lt, Le, MultipleOf, MinLen, MaxLen, Len, Interval, Predicate, Not and "
        "Shape translate",
    )


def _bound(constraint: object, value: object) -> Sym:
    sym = _constant(value)
    if sym is None:
        raise RuntimeOnly(
            f"constraint {constraint!r}", "its bound is not a finite int, float or bool"
        )
    return sym


def _constant(value: object) -> Sym | None:
    """The symbolic value of a Python number, or None for anything else."""
    if isinstance(value, bool):
        return _scalar(_BOOL, _z.BoolVal(value))
    if isinstance(value, int):
        return _scalar(_INT, _int(value))
    if isinstance(value, float) and math.isfinite(value):
        exact = Fraction(value)  # the double's own value, not the decimal it prints as
        return _scalar(_FLOAT, _z.RealVal(f"{exact.numerator}/{exact.denominator}"))
    return None


# --- the translator --------------------------------------------------------------------------


class _Val(NamedTuple):
    ok: z3.BoolRef  # the expression evaluates without raising
    sym: Sym  # its value, where ok


@dataclass(frozen=True)
class _Env:
    """Where names resolve: the predicate's file, module globals, closure, and local symbols."""

    file: str | None
    globals: Mapping[str, object]
    closure: Mapping[str, object]
    locals: Mapping[str, Sym]

    def bind(self, name: str, sym: Sym) -> _Env:
        return replace(self, locals={**self.locals, name: sym})


@dataclass(frozen=True)
class _Source:
    """A predicate's expression, parsed from its source, with what its names refer to."""

    params: tuple[str, ...]
    body: ast.expr
    env: _Env


_MISSING = object()
_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|",
    ast.BitXor: "^", ast.BitAnd: "&",
}
# Methods, not the operator module: `k < 10` must not turn into `10 > k` because z3's
# numerals subclass its terms (Python tries the reflected method of a subclass first).
_CMPOPS: dict[type[ast.cmpop], str] = {
    ast.Eq: "__eq__", ast.NotEq: "__ne__", ast.Lt: "__lt__", ast.LtE: "__le__",
    ast.Gt: "__gt__", ast.GtE: "__ge__",
}
_CMPNAMES: dict[type[ast.cmpop], str] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
}
_OUTSIDE: dict[type[ast.AST], str] = {
    ast.ListComp: "list comprehension", ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension", ast.GeneratorExp: "generator expression outside all()/any()",
    ast.Lambda: "lambda", ast.NamedExpr: "assignment expression (:=)", ast.JoinedStr: "f-string",
    ast.Tuple: "tuple display", ast.List: "list display", ast.Set: "set display",
    ast.Dict: "dict display", ast.Starred: "starred expression", ast.Await: "await",
    ast.Yield: "yield", ast.YieldFrom: "yield from", ast.Slice: "slice",
}
_MAX_EXPONENT = 256
_ENTAIL_RLIMIT = 200_000


class _Translator:
    """One translation: the predicates callable by name, and the functions being inlined."""

    def __init__(self, predicates: Mapping[str, Callable[..., object]]) -> None:
        self.predicates = predicates
        self.active: list[object] = []  # code objects being inlined: a recursion guard
        self.counter = 0

    def fail(self, node: ast.AST, env: _Env, construct: str, reason: str) -> NoReturn:
        line: int | None = getattr(node, "lineno", None)
        col: int | None = getattr(node, "col_offset", None)
        raise RuntimeOnly(construct, reason, file=env.file, line=line,
                          col=None if line is None or col is None else col + 1)

    def fresh(self, name: str) -> z3.ArithRef:
        """A bound variable; names are numbered per translation, so formulas are reproducible."""
        self.counter += 1
        return _z.Int(f"{name}!{self.counter}")

    # -- truth: (evaluates to a truthy value, evaluates to a falsy value) ----------------------
    # Where neither holds, the expression raises.  Keeping both, rather than "raises" and a
    # value, gives `not` for free (it swaps them) and keeps negated loops small.

    def truth(self, node: ast.expr, env: _Env) -> tuple[z3.BoolRef, z3.BoolRef]:
        if isinstance(node, ast.BoolOp):
            t, f = self.truth(node.values[0], env)
            for operand in node.values[1:]:  # the right operand runs only if needed
                t2, f2 = self.truth(operand, env)
                if isinstance(node.op, ast.And):
                    t, f = _and(t, t2), _or(f, _and(t, f2))
                else:
                    t, f = _or(t, _and(f, t2)), _and(f, f2)
            return t, f
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            t, f = self.truth(node.operand, env)
            return f, t
        if isinstance(node, ast.IfExp):
            tc, fc = self.truth(node.test, env)
            ta, fa = self.truth(node.body, env)
            tb, fb = self.truth(node.orelse, env)
            return _or(_and(tc, ta), _and(fc, tb)), _or(_and(tc, fa), _and(fc, fb))
        if isinstance(node, ast.Compare):
            return self.chain(node, env)
        if isinstance(node, ast.Call):
            return self.call_truth(node, env)
        return _truths(*self.value(node, env), self, node, env)

    def answers_true(self, node: ast.expr, env: _Env) -> z3.BoolRef:
        """Where ``node`` evaluates to ``True`` itself: a predicate must answer a bool (the run-time
        check refuses a truthy ``1`` or a non-empty list), so ``lambda n: n % 3`` never holds."""
        if isinstance(node, ast.BoolOp):
            # `a and b` answers b when a is truthy, else a (which is then not True);
            # `a or b` answers a when a is truthy, else b.
            first = node.values[0]
            holds = self.answers_true(first, env)
            t, f = self.truth(first, env)
            for operand in node.values[1:]:
                if isinstance(node.op, ast.And):
                    holds = _and(t, self.answers_true(operand, env))
                else:
                    holds = _or(holds, _and(f, self.answers_true(operand, env)))
                t2, f2 = self.truth(operand, env)
                t, f = (_and(t, t2), _or(f, _and(t, f2))) if isinstance(node.op, ast.And) else \
                    (_or(t, _and(f, t2)), _and(f, f2))
            return holds
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return self.truth(node.operand, env)[1]
        if isinstance(node, ast.IfExp):
            tc, fc = self.truth(node.test, env)
            return _or(_and(tc, self.answers_true(node.body, env)), _and(fc, self.answers_true(node.orelse, env)))
        if isinstance(node, ast.Compare):
            return self.chain(node, env)[0]
        if isinstance(node, ast.Call):
            name, target = self.callee(node, env)
            if (target is all or target is any) and len(node.args) == 1:
                return self.quantify(target is all, name, node.args[0], env)[0]
            if not _is_builtin(target):
                ok, body, inner = self.arguments(typing.cast(Callable[..., object], target), node, env)
                with self.entered(target, node, env):
                    return _and(ok, self.answers_true(body, inner))
        ok, sym = self.value(node, env)
        return _and(ok, _boolean(sym.term)) if sym.kind == "bool" else _FALSE

    def truthiness(self, sym: Sym, node: ast.AST, env: _Env) -> z3.BoolRef:
        if sym.kind == "bool":
            return _boolean(sym.term)
        if sym.kind in ("int", "float"):
            return _method(sym.term, "__ne__", _int(0))
        if sym.kind == "seq":
            return _as_arith(sym.length) > 0
        self.fail(node, env, f"truth value of {sym.type}",
                  "an array's truth value is ambiguous (numpy raises); compare its size")

    # -- values -------------------------------------------------------------------------------

    def value(self, node: ast.expr, env: _Env) -> _Val:
        if isinstance(node, ast.Constant):
            sym = _constant(node.value)
            if sym is None:
                what = "string literal" if isinstance(node.value, str) else "constant"
                self.fail(node, env, f"{what} {node.value!r}",
                          "only finite int, float and bool literals translate")
            return _Val(_TRUE, sym)
        if isinstance(node, ast.Name):
            return _Val(_TRUE, self.name(node, env))
        if isinstance(node, ast.BinOp):
            ok_a, a = self.value(node.left, env)
            ok_b, b = self.value(node.right, env)
            ok, sym = self.arith(node.op, a, b, node, env)
            return _Val(_and(ok_a, ok_b, ok), sym)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node, env)
        if isinstance(node, (ast.BoolOp, ast.IfExp)):
            return self.choice(node, env)
        if isinstance(node, ast.Compare):
            return _boolean_value(*self.chain(node, env))
        if isinstance(node, ast.Call):
            return self.call(node, env)
        if isinstance(node, ast.Subscript):
            return self.subscript(node, env)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, env)
        construct = _OUTSIDE.get(type(node), f"{type(node).__name__} expression")
        self.fail(node, env, construct, "it is outside the translatable subset (see effectus.proofs)")

    def lookup(self, name: str, env: _Env) -> object:
        for space in (env.locals, env.closure, env.globals):
            if name in space:
                return space[name]
        return getattr(builtins, name, _MISSING)

    def name(self, node: ast.Name, env: _Env) -> Sym:
        obj = self.lookup(node.id, env)
        sym = obj if isinstance(obj, Sym) else _constant(obj)
        if sym is not None:
            return sym
        if obj is _MISSING:
            self.fail(node, env, f"name {node.id}",
                      "it is not a parameter, a constant of the predicate's module or a builtin "
                      "(Python would raise NameError)")
        self.fail(node, env, f"name {node.id} ({_describe(obj)})",
                  "only parameters and finite int, float and bool constants translate as values")

    def unary(self, node: ast.UnaryOp, env: _Env) -> _Val:
        if isinstance(node.op, ast.Not):
            t, f = self.truth(node.operand, env)
            return _boolean_value(f, t)
        if isinstance(node.op, ast.Invert):
            self.fail(node, env, "operator ~", "bitwise operators are outside the subset")
        ok, sym = self.value(node.operand, env)
        minus = isinstance(node.op, ast.USub)
        term, t = self.number(sym, node, env, "unary -" if minus else "unary +")
        return _Val(ok, _scalar(t, _neg(term) if minus else term))

    def number(self, sym: Sym, node: ast.AST, env: _Env, what: str) -> tuple[z3.ArithRef, _Type]:
        """``sym`` as an Int or Real term (a bool reads as 0 or 1)."""
        if sym.kind == "bool":
            return _ite(_boolean(sym.term), _int(1), _int(0)), _INT
        if sym.kind in ("int", "float"):
            return _arith(sym.term), _INT if sym.kind == "int" else _FLOAT
        self.fail(node, env, f"{what} of {sym.type}", _ILL_TYPED)

    def numbers(
        self, a: Sym, b: Sym, node: ast.AST, env: _Env, what: str
    ) -> tuple[z3.ArithRef, z3.ArithRef, _Type]:
        """Both operands as terms of one sort: Real if either is a float, else Int."""
        if a.kind in ("seq", "array") or b.kind in ("seq", "array"):
            self.fail(node, env, f"{what} between {a.type} and {b.type}",
                      "it translates between int, float and bool operands only")
        (x, tx), (y, ty) = self.number(a, node, env, what), self.number(b, node, env, what)
        if tx is _FLOAT or ty is _FLOAT:
            return _real(x), _real(y), _FLOAT
        return x, y, _INT

    def arith(
        self, op: ast.operator, a: Sym, b: Sym, node: ast.AST, env: _Env
    ) -> tuple[z3.BoolRef, Sym]:
        """``a op b``: whether it evaluates without raising, and its value."""
        what = f"operator {_BINOPS[type(op)]}"
        if isinstance(op, ast.Pow):
            return _TRUE, self.power(a, b, node, env)
        if type(op) not in _ARITH and not isinstance(op, (ast.Div, ast.FloorDiv, ast.Mod)):
            self.fail(node, env, what, "bitwise and matrix operators are outside the subset")
        x, y, t = self.numbers(a, b, node, env, what)
        if type(op) in _ARITH:
            return _TRUE, _scalar(t, _ARITH[type(op)](x, y))
        u: Any = x  # z3's operators are unannotated
        # ZeroDivisionError where y == 0; a literal divisor's sign is known and folded
        nonzero: z3.BoolRef = _method(y, "__ne__", _int(0))
        negative = y < 0
        if _z.is_int_value(y) or _z.is_rational_value(y):
            nonzero, negative = _z.simplify(nonzero), _z.simplify(negative)
        if isinstance(op, ast.Div):
            return nonzero, _scalar(_FLOAT, _real(x) / _real(y))
        if t is _FLOAT:
            floor = _z.ToReal(_z.ToInt(u / y))
            return nonzero, _scalar(_FLOAT, floor if isinstance(op, ast.FloorDiv) else u - y * floor)
        # z3's div and mod are Euclidean (0 <= r < |y|); Python's remainder takes y's sign.
        quotient, remainder = u / y, u % y
        adjust = _and(negative, remainder != 0)
        if isinstance(op, ast.FloorDiv):
            return nonzero, _scalar(_INT, _ite(adjust, quotient - 1, quotient))
        return nonzero, _scalar(_INT, _ite(adjust, remainder + y, remainder))

    def power(self, a: Sym, b: Sym, node: ast.AST, env: _Env) -> Sym:
        base, t = self.number(a, node, env, "operator **")
        exponent = _z.simplify(self.number(b, node, env, "operator **")[0])
        if b.kind == "float" or not _z.is_int_value(exponent) or exponent.as_long() < 0:
            self.fail(node, env, "operator ** with a non-literal exponent",
                      "only a literal non-negative int exponent translates (x ** 2)")
        n: int = exponent.as_long()
        if n > _MAX_EXPONENT:
            self.fail(node, env, f"operator ** with exponent {n}",
                      f"exponents above {_MAX_EXPONENT} are not expanded")
        result: Any = _int(1) if t is _INT else _z.RealVal(1)
        for i in range(n):  # a product, not z3's power: its arithmetic solvers prefer products
            result = base if i == 0 else result * base
        return _scalar(t, result)

    def choice(self, node: ast.BoolOp | ast.IfExp, env: _Env) -> _Val:
        """``a and b``, ``a or b``, ``a if c else b`` as values (not only as conditions)."""
        if isinstance(node, ast.IfExp):
            c, fc = self.truth(node.test, env)
            ok_a, a = self.value(node.body, env)
            ok_b, b = self.value(node.orelse, env)
            return _Val(_or(_and(c, ok_a), _and(fc, ok_b)), self.pick(c, a, b, node, env))
        ok, sym = self.value(node.values[0], env)
        for operand in node.values[1:]:
            ok2, sym2 = self.value(operand, env)
            b = self.truthiness(sym, node, env)
            if isinstance(node.op, ast.And):  # `a and b` is a when a is falsy, else b
                ok, sym = _and(ok, _implies(b, ok2)), self.pick(b, sym2, sym, node, env)
            else:
                ok, sym = _and(ok, _or(b, ok2)), self.pick(b, sym, sym2, node, env)
        return _Val(ok, sym)

    def pick(self, c: z3.BoolRef, a: Sym, b: Sym, node: ast.AST, env: _Env) -> Sym:
        """``a`` where ``c`` holds, else ``b`` (two numbers, or two bools)."""
        if a.kind == "bool" and b.kind == "bool":
            return _scalar(_BOOL, _ite(c, a.term, b.term))
        x, y, t = self.numbers(a, b, node, env, "choice")
        return _scalar(t, _ite(c, x, y))

    # -- comparisons --------------------------------------------------------------------------

    def chain(self, node: ast.Compare, env: _Env) -> tuple[z3.BoolRef, z3.BoolRef]:
        """``a < b <= c`` as (holds, fails): each comparator is evaluated only if the
        comparisons before it held."""
        for op in node.ops:
            if isinstance(op, (ast.Is, ast.IsNot)):
                self.fail(node, env, f"comparison {_CMPNAMES[type(op)]}",
                          "identity has no model; compare numbers with ==")
        ok_left, left = self.value(node.left, env)
        t, f = self.links(left, list(zip(node.ops, node.comparators)), node, env)
        return _and(ok_left, t), _and(ok_left, f)

    def links(
        self, left: Sym, rest: list[tuple[ast.cmpop, ast.expr]], node: ast.Compare, env: _Env
    ) -> tuple[z3.BoolRef, z3.BoolRef]:
        op, right = rest[0]
        if isinstance(op, (ast.In, ast.NotIn)):
            if len(rest) > 1:
                self.fail(node, env, "comparison chained after in", "split the chain with `and`")
            ok, found = self.contains(left, right, env)
            found, missing = _and(ok, found), _and(ok, _not(found))
            return (found, missing) if isinstance(op, ast.In) else (missing, found)
        ok_right, value = self.value(right, env)
        held = self.compare(op, left, value, node, env)
        t, f = (_TRUE, _FALSE) if len(rest) == 1 else self.links(value, rest[1:], node, env)
        return _and(ok_right, held, t), _and(ok_right, _or(_not(held), f))

    def compare(self, op: ast.cmpop, a: Sym, b: Sym, node: ast.AST, env: _Env) -> z3.BoolRef:
        name = _CMPNAMES[type(op)]
        if a.kind == "bool" and b.kind == "bool" and isinstance(op, (ast.Eq, ast.NotEq)):
            return _method(a.term, _CMPOPS[type(op)], b.term)
        x, y, _ = self.numbers(a, b, node, env, f"comparison {name}")
        return _method(x, _CMPOPS[type(op)], y)

    def contains(self, item: Sym, node: ast.expr, env: _Env) -> tuple[z3.BoolRef, z3.BoolRef]:
        """``item in node``: a literal collection, a constant tuple, a range or a sequence."""
        elements: list[_Val] | None = None
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            elements = [self.value(e, env) for e in node.elts]
        elif isinstance(node, ast.Name) and isinstance(obj := self.lookup(node.id, env), (tuple, frozenset)):
            items = typing.cast(Collection[object], obj)
            constants = [_constant(v) for v in (items if isinstance(items, tuple) else sorted(items, key=repr))]
            elements = [_Val(_TRUE, c) for c in constants if c is not None]
            if len(elements) != len(constants):
                self.fail(node, env, f"in {node.id} ({_describe(items)})",
                          "only constant tuples and frozensets of numbers translate")
        if elements is not None:
            equal = [self.compare(ast.Eq(), item, e.sym, node, env) for e in elements]
            return _and(*(e.ok for e in elements)), _or(*equal)
        bounds = self.range_call(node, env)
        if bounds is not None:
            ok, lo, hi = bounds
            x, _, t = self.numbers(item, _scalar(_INT, lo), node, env, "in range")
            whole = _z.IsInt(x) if t is _FLOAT else _TRUE  # 2.0 in range(3), 2.5 is not
            return ok, _and(whole, _real_if(t, lo) <= x, x < _real_if(t, hi))
        ok, var, lo, hi, element = self.iterate(node, "in {}", env)
        return ok, _exists(var, lo, hi, self.compare(ast.Eq(), item, element, node, env))

    # -- calls, indexing, attributes ----------------------------------------------------------

    def callee(self, node: ast.Call, env: _Env) -> tuple[str, object]:
        """The name a call names and what it refers to: a builtin of the subset, or a function
        to inline; any other call raises RuntimeOnly."""
        func = node.func
        if isinstance(func, ast.Attribute):
            self.fail(node, env, f"call of {self.receiver(func.value, env)}.{func.attr}", _CALLS)
        if not isinstance(func, ast.Name):  # (lambda v: ...)(k), xs[0](): name what is called
            self.fail(node, env, f"call of {self.value(func, env).sym.type}", _CALLS)
        name = func.id
        if name in env.locals:
            self.fail(node, env, f"call of parameter {name}", _CALLS)
        target = self.predicates[name] if name in self.predicates else self.lookup(name, env)
        if _is_builtin(target):
            if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                self.fail(node, env, f"call of {name} with keyword or starred arguments", _CALLS)
            return name, target
        if name in self.predicates or isinstance(target, types.FunctionType):
            return name, target
        if target is _MISSING:
            self.fail(node, env, f"call of undefined name {name}",
                      "Python would raise NameError; define it, or pass it in predicates=")
        if target is range:
            self.fail(node, env, "range outside all()/any() or in", "iterate it inside all()/any()")
        self.fail(node, env, f"call of {name}", _CALLS)

    def call(self, node: ast.Call, env: _Env) -> _Val:
        name, target = self.callee(node, env)
        if _is_builtin(target):
            return self.builtin(name, target, node, env)
        ok, body, inner = self.arguments(typing.cast(Callable[..., object], target), node, env)
        with self.entered(target, node, env):
            val = self.value(body, inner)
        return _Val(_and(ok, val.ok), val.sym)

    def call_truth(self, node: ast.Call, env: _Env) -> tuple[z3.BoolRef, z3.BoolRef]:
        """A call as a condition: all()/any() and inlined predicates keep their own (holds,
        fails), so ``not any(...)`` is an ``all`` formula, not a negated ``any`` one."""
        name, target = self.callee(node, env)
        if (target is all or target is any) and len(node.args) == 1:
            return self.quantify(target is all, name, node.args[0], env)
        if _is_builtin(target):
            return _truths(*self.builtin(name, target, node, env), self, node, env)
        ok, body, inner = self.arguments(typing.cast(Callable[..., object], target), node, env)
        with self.entered(target, node, env):
            t, f = self.truth(body, inner)
        return _and(ok, t), _and(ok, f)

    def arguments(
        self, fn: Callable[..., object], node: ast.Call, env: _Env
    ) -> tuple[z3.BoolRef, ast.expr, _Env]:
        """The call's arguments evaluated (whether they evaluate), and ``fn``'s expression with
        the environment binding its parameters to them."""
        oks: list[z3.BoolRef] = []
        args: list[Sym] = []
        kwargs: dict[str, Sym] = {}
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.fail(arg, env, "starred argument", "pass arguments one by one")
            oks.append((val := self.value(arg, env)).ok)
            args.append(val.sym)
        for kw in node.keywords:
            if kw.arg is None:
                self.fail(kw.value, env, "**keyword arguments", "pass arguments one by one")
            oks.append((val := self.value(kw.value, env)).ok)
            kwargs[kw.arg] = val.sym
        body, inner = self.bind(fn, args, kwargs, node, env)
        return _and(*oks), body, inner

    def receiver(self, node: ast.expr, env: _Env) -> str:
        """What a method is called on, for messages: ``str``, ``math``, ``list[int]``."""
        if isinstance(node, ast.Constant):
            return type(node.value).__name__
        if isinstance(node, ast.Name):
            obj = self.lookup(node.id, env)
            if isinstance(obj, types.ModuleType):
                return obj.__name__
            if not isinstance(obj, Sym) and obj is not _MISSING:
                return type(obj).__name__
        return self.value(node, env).sym.type

    def builtin(self, name: str, target: object, node: ast.Call, env: _Env) -> _Val:
        """``len``, ``abs``, ``min``, ``max``, ``all`` or ``any`` (``target``), called ``name``."""
        args = node.args
        if (target is all or target is any) and len(args) == 1:
            return _boolean_value(*self.quantify(target is all, name, args[0], env))
        if (target is min or target is max) and len(args) == 1:
            self.fail(node, env, f"{name} over one argument",
                      f"{name} translates for two or more numbers, not over a sequence; "
                      f"write it with all() (all(m <= x for x in xs))")
        if (len(args) != 1) if target is not min and target is not max else not args:
            self.fail(node, env, f"call of {name} with {len(args)} arguments", _ILL_TYPED)
        vals = [self.value(a, env) for a in args]
        ok = _and(*(v.ok for v in vals))
        if target is len:
            ok_len, length = self.length(vals[0].sym, node, env)
            return _Val(_and(ok, ok_len), _scalar(_INT, length))
        if target is abs:
            term, t = self.number(vals[0].sym, node, env, "abs")
            return _Val(ok, _scalar(t, _z.If(term < 0, _neg(term), term)))
        best = vals[0].sym
        for v in vals[1:]:  # Python keeps the first of equal candidates
            x, y, _ = self.numbers(best, v.sym, node, env, name)
            best = self.pick(y < x if target is min else y > x, v.sym, best, node, env)
        return _Val(ok, best)

    def length(self, sym: Sym, node: ast.AST, env: _Env) -> tuple[z3.BoolRef, z3.ArithRef]:
        if sym.kind == "seq":
            return _TRUE, _as_arith(sym.length)
        if sym.kind == "array":  # numpy: len of a 0-d array raises TypeError
            return sym.ndim >= 1, _z.Select(sym.term, 0)
        self.fail(node, env, f"len of {sym.type}", _ILL_TYPED)

    def element(self, seq: Sym, index: z3.ArithRef, node: ast.AST, env: _Env, what: str) -> Sym:
        """Item ``index`` of ``seq``; ``what`` names the use in messages ("indexing {}")."""
        if seq.kind != "seq":
            reason = "array elements have no model; only .shape, .ndim, .size and len translate" \
                if seq.kind == "array" else _ILL_TYPED
            self.fail(node, env, what.format(seq.type), reason)
        if not seq.has_items():
            self.fail(node, env, f"item of {seq.type}",
                      f"items of {seq.type} have no model; only len() of it translates")
        return seq.item(index)

    def subscript(self, node: ast.Subscript, env: _Env) -> _Val:
        if isinstance(node.slice, ast.Slice):
            self.fail(node, env, "slice", "slices have no model; index single items, or use all()")
        ok_seq, seq = self.value(node.value, env)
        ok_i, index = self.value(node.slice, env)
        if not seq.has_items():
            self.element(seq, _int(0), node, env, "indexing {}")  # raises: nothing to index
        if index.kind not in ("int", "bool"):
            self.fail(node, env, f"index of type {index.type}", _ILL_TYPED)
        length: Any = _as_arith(seq.length)  # z3's operators are unannotated
        i, _ = self.number(index, node, env, "index")
        if _z.is_int_value(literal := _z.simplify(i)):  # xs[2], xs[-1], kept readable
            n: int = literal.as_long()
            in_range, at_ = (n < length, literal) if n >= 0 else (length >= -n, length - -n)
        else:  # IndexError outside -len <= i < len
            in_range, at_ = _z.And(-length <= i, i < length), _z.If(i < 0, i + length, i)
        return _Val(_and(ok_seq, ok_i, in_range), self.element(seq, at_, node, env, "indexing {}"))

    def attribute(self, node: ast.Attribute, env: _Env) -> _Val:
        if isinstance(node.value, ast.Name):
            obj = self.lookup(node.value.id, env)
            if not isinstance(obj, Sym) and obj is not _MISSING and _constant(obj) is None:
                self.fail(node, env, f"attribute .{node.attr} of {_describe(obj)}",
                          "only .shape, .ndim and .size of array parameters translate")
        ok, sym = self.value(node.value, env)
        if sym.kind == "array" and node.attr == "shape":
            return _Val(ok, sym.shape)
        if sym.kind == "array" and sym.has_attribute(node.attr):
            return _Val(ok, _scalar(_INT, sym.ndim if node.attr == "ndim" else sym.size))
        self.fail(node, env, f"attribute .{node.attr} of {sym.type}",
                  "only .shape, .ndim and .size of arrays translate")

    # -- all() and any() ----------------------------------------------------------------------

    def range_call(
        self, node: ast.expr, env: _Env
    ) -> tuple[z3.BoolRef, z3.ArithRef, z3.ArithRef] | None:
        """``range(a)`` or ``range(a, b)``: (evaluates, lo, hi); None if ``node`` is no range."""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and self.lookup(node.func.id, env) is range):
            return None
        if node.keywords or not 1 <= len(node.args) <= 2:
            self.fail(node, env, f"range with {len(node.args)} arguments",
                      "range(a) and range(a, b) translate; a step does not")
        vals = [self.value(arg, env) for arg in node.args]
        for arg, val in zip(node.args, vals):
            if val.sym.kind not in ("int", "bool"):
                self.fail(arg, env, f"range of {val.sym.type}", _ILL_TYPED)
        bounds = [self.number(v.sym, node, env, "range")[0] for v in vals]
        lo, hi = (_int(0), bounds[0]) if len(bounds) == 1 else (bounds[0], bounds[1])
        return _and(*(v.ok for v in vals)), lo, hi

    def iterate(
        self, node: ast.expr, what: str, env: _Env
    ) -> tuple[z3.BoolRef, z3.ArithRef, z3.ArithRef, z3.ArithRef, Sym]:
        """A loop over range(...) or a sequence: (evaluates, variable, lo, hi, element)."""
        var = self.fresh("i")
        bounds = self.range_call(node, env)
        if bounds is not None:
            ok, lo, hi = bounds
            return ok, var, lo, hi, _scalar(_INT, var)
        ok, seq = self.value(node, env)
        element = self.element(seq, var, node, env, what)
        return ok, var, _int(0), _as_arith(seq.length), element

    def quantify(
        self, is_all: bool, name: str, arg: ast.expr, env: _Env
    ) -> tuple[z3.BoolRef, z3.BoolRef]:
        """``all(arg)`` or ``any(arg)`` (called ``name``) as (holds, fails)."""
        if isinstance(arg, ast.GeneratorExp):
            return self.level(is_all, arg.generators, arg.elt, env)
        ok, var, lo, hi, item = self.iterate(arg, f"{name}() over {{}}", env)
        truthy = self.truthiness(item, arg, env)
        return self.close(is_all, (ok, var, lo, hi), (_TRUE, _FALSE), (truthy, _not(truthy)))

    def level(
        self, is_all: bool, comps: list[ast.comprehension], elt: ast.expr, env: _Env
    ) -> tuple[z3.BoolRef, z3.BoolRef]:
        if not comps:
            return self.truth(elt, env)
        comp = comps[0]
        if comp.is_async or not isinstance(comp.target, ast.Name):
            self.fail(comp.target, env, "unpacking or async target in a generator",
                      "iterate one name over range(...) or a sequence")
        ok_iter, var, lo, hi, element = self.iterate(comp.iter, "iteration over {}", env)
        inner = env.bind(comp.target.id, element)
        t, f = _TRUE, _FALSE
        for cond in comp.ifs:  # each filter runs only if those before held, like `and`
            tc, fc = self.truth(cond, inner)
            t, f = _and(t, tc), _or(f, _and(t, fc))
        body = self.level(is_all, comps[1:], elt, inner)
        return self.close(is_all, (ok_iter, var, lo, hi), (t, f), body)

    def close(
        self, is_all: bool, loop: tuple[z3.BoolRef, z3.ArithRef, z3.ArithRef, z3.ArithRef],
        filt: tuple[z3.BoolRef, z3.BoolRef], body: tuple[z3.BoolRef, z3.BoolRef],
    ) -> tuple[z3.BoolRef, z3.BoolRef]:
        """One loop of all()/any() as (holds, fails): it stops at the first element that
        decides (a falsy one for all, a truthy one for any), and raises if an element raises
        before that."""
        ok, var, lo, hi = loop
        (kept, skipped), (truthy, falsy) = filt, body
        decides, passes = (falsy, truthy) if is_all else (truthy, falsy)
        go_on, stop = _or(skipped, _and(kept, passes)), _and(kept, decides)
        every = _forall(var, lo, hi, go_on)
        # Most loops cannot raise inside their range (all(xs[i] < xs[i + 1] for i in
        # range(len(xs) - 1))); then the first element that decides is just some element.
        in_range = _between(var, lo, hi)
        if _entailed(in_range, _or(kept, skipped)) and \
                _entailed(_and(in_range, kept), _or(truthy, falsy)):
            some = _exists(var, lo, hi, stop)
        else:
            earlier = self.fresh("j")
            before = _forall(earlier, lo, var, _z.substitute(go_on, (var, earlier)))
            some = _exists(var, lo, hi, _and(stop, before))
        every, some = _and(ok, every), _and(ok, some)
        return (every, some) if is_all else (some, every)

    # -- inlining -----------------------------------------------------------------------------

    def bind(
        self, fn: Callable[..., object], args: Sequence[Sym], kwargs: Mapping[str, Sym],
        node: ast.AST, env: _Env,
    ) -> tuple[ast.expr, _Env]:
        """``fn``'s expression, and the environment binding its parameters to the arguments
        (defaults included)."""
        name = getattr(fn, "__qualname__", repr(fn))
        source = _source(fn)
        try:
            bound = inspect.signature(fn).bind(*args, **kwargs)
        except TypeError as err:
            self.fail(node, env, f"call of {name}", f"its arguments do not match: {err}")
        bound.apply_defaults()
        local: dict[str, Sym] = {}
        for param, value in bound.arguments.items():
            sym = value if isinstance(value, Sym) else _constant(value)
            if sym is None:
                self.fail(node, env, f"default {param}={value!r} of {name}",
                          "only number defaults translate")
            local[param] = sym
        return source.body, replace(source.env, locals=local)

    @contextlib.contextmanager
    def entered(self, fn: object, node: ast.AST, env: _Env) -> Generator[None, None, None]:
        """While ``fn``'s expression is translated: a call of ``fn`` inside it is recursion."""
        code = getattr(fn, "__code__", None)
        if code is not None and code in self.active:
            self.fail(node, env, f"recursive call of {getattr(fn, '__qualname__', fn)}",
                      "a recursive predicate has no finite formula")
        self.active.append(code)
        try:
            yield
        finally:
            self.active.pop()


def _is_builtin(target: object) -> bool:
    return any(target is f for f in (len, abs, min, max, all, any))


def _truths(ok: z3.BoolRef, sym: Sym, tr: _Translator, node: ast.AST, env: _Env) -> tuple[z3.BoolRef, z3.BoolRef]:
    """(holds, fails) of a value: it evaluates, and is truthy or falsy."""
    b = tr.truthiness(sym, node, env)
    return _and(ok, b), _and(ok, _not(b))


_ARITH: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
}


def _method(x: z3.ExprRef, name: str, y: z3.ExprRef) -> Any:
    return getattr(x, name)(y)


def _neg(term: z3.ArithRef) -> z3.ArithRef:
    minus: Any = term  # z3's operators are unannotated
    return -minus


def _boolean(term: z3.ExprRef) -> z3.BoolRef:
    return typing.cast(z3.BoolRef, term)  # the term of a bool Sym


def _arith(term: z3.ExprRef) -> z3.ArithRef:
    return typing.cast(z3.ArithRef, term)  # the term of an int or float Sym


def _boolean_value(holds: z3.BoolRef, fails: z3.BoolRef) -> _Val:
    """A condition as a value: it evaluates where it holds or fails, to whether it holds."""
    return _Val(_or(holds, fails), _scalar(_BOOL, holds))


def _real(term: z3.ArithRef) -> z3.ArithRef:
    return term if _z.is_real(term) else _z.ToReal(term)


def _real_if(t: _Type, term: z3.ArithRef) -> z3.ArithRef:
    return _real(term) if t is _FLOAT else term


def _describe(obj: object) -> str:
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__}"
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, type)):
        return f"{type(obj).__name__} {obj.__qualname__}"
    return type(obj).__name__


# --- reading a predicate's source ------------------------------------------------------------


def _source(fn: Callable[..., object]) -> _Source:
    """``fn``'s parameters and expression, found in its file by position and parameter names."""
    if not isinstance(fn, types.FunctionType):
        raise RuntimeOnly(f"predicate {getattr(fn, '__qualname__', repr(fn))}",
                          "only a lambda or a def translates")
    code = fn.__code__
    file, line = code.co_filename, code.co_firstlineno
    node = find_node(code, fn.__globals__)
    if node is None:
        raise RuntimeOnly(f"predicate {fn.__qualname__}",
                          "its source cannot be found (defined in a REPL or with exec, or "
                          "lambdas on its line that cannot be told apart?)",
                          file=file, line=line)
    if code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS):
        raise RuntimeOnly(f"predicate {fn.__qualname__} with *args or **kwargs",
                          "name each parameter", file=file, line=line)
    params = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    body = node.body if isinstance(node, ast.Lambda) else _returned(node, file)
    return _Source(params, body, _Env(file, fn.__globals__, closure_of(fn), {}))


def closure_of(fn: types.FunctionType) -> dict[str, object]:
    """The values of ``fn``'s closure variables, by name (a name not bound yet is left out)."""
    closure: dict[str, object] = {}
    for var, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            closure[var] = cell.cell_contents
        except ValueError:  # an empty cell: the name is not bound yet
            pass
    return closure


def _returned(node: ast.FunctionDef | ast.AsyncFunctionDef, file: str) -> ast.expr:
    """The expression of a def that is a single ``return expr`` after an optional docstring."""
    value = returned_expr(node)
    if value is not None:
        return value
    body = body_after_docstring(node)
    where = body[0] if body else node
    what = "async def" if isinstance(node, ast.AsyncFunctionDef) else \
        f"statement {type(where).__name__.lower()}"
    raise RuntimeOnly(
        f"{what} in def {node.name}",
        "a def predicate must be a single `return expr` (an assert is skipped under "
        "python -O); write the conditions into the returned expression with `and`",
        file=file, line=where.lineno, col=where.col_offset + 1,
    )


# --- the entry point -------------------------------------------------------------------------

_NO_PREDICATES: Mapping[str, Callable[..., object]] = types.MappingProxyType({})


def translate(
    predicate: Callable[..., object] | ast.expr | str,
    scope: Mapping[str, Sym],
    *,
    predicates: Mapping[str, Callable[..., object]] = _NO_PREDICATES,
) -> z3.BoolRef:
    """The z3 formula that holds exactly when ``predicate`` returns a truthy value.

    ``predicate`` is a lambda or a def (its source is read and parsed, never evaluated; a def
    must be a single ``return expr``), an expression as text or as an `ast` node, or a tool's
    ``ShapeCheck`` (its expression).  The parameters of a lambda or def are bound to the
    symbols of ``scope`` by name (a parameter missing from ``scope`` takes its default if that
    is a number); the free names of an expression are looked up in ``scope`` (an expression
    that is a lambda binds its parameters from ``scope``).  Other names are the module's
    constants, closure variables and builtins; calls go to ``predicates`` (by name) first, then
    to the module's functions, inlined.

    Raises:
        RuntimeOnly: the first construct outside the translatable subset (see the module's
            docstring), with its ``file:line:col``.
        TypeError: a parameter of the predicate has no symbol in ``scope``.
        SyntaxError: ``predicate`` is text that does not parse.

    >>> xs, k = symbol("xs", list[int]), symbol("k", int)
    >>> translate(lambda xs, k: 0 < k <= len(xs), {"xs": xs, "k": k})
    And(0 < k, k <= len(xs))
    >>> translate("xs[-1] > 0", {"xs": xs})
    And(len(xs) >= 1, xs[len(xs) - 1] > 0)
    """
    tr = _Translator(predicates)
    if isinstance(predicate, ShapeCheck):  # a tool's Shape refinements: their expression
        predicate = predicate.expr
    if isinstance(predicate, (str, ast.expr)):
        node = ast.parse(predicate.strip(), "<predicate>", mode="eval").body \
            if isinstance(predicate, str) else predicate
        env = _Env(None, {}, {}, dict(scope))
        if isinstance(node, ast.Lambda):
            args = node.args
            names = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
            node, env = node.body, replace(env, locals={n: _param(n, scope, None) for n in names})
    else:
        source = _source(predicate)
        params = {p: _param(p, scope, predicate) for p in source.params}
        tr.active.append(getattr(predicate, "__code__", None))
        node, env = source.body, replace(source.env, locals=params)
    return tr.answers_true(node, env)


def _param(name: str, scope: Mapping[str, Sym], fn: Callable[..., object] | None) -> Sym:
    if name in scope:
        return scope[name]
    default = inspect.signature(fn).parameters[name].default if fn is not None else None
    sym = _constant(default)
    if sym is None:
        known = ", ".join(scope) or "nothing"
        raise TypeError(
            f"translate: the predicate's parameter {name!r} has no symbol in scope (scope has "
            f"{known}).\nFix: add it, e.g. scope[{name!r}] = symbol({name!r}, <its annotation>)."
        )
    return sym
