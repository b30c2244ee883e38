"""Translating predicates into z3: the formula agrees with Python, and what cannot be is refused.

Agreement is checked by Hypothesis: it draws concrete values for a predicate's parameters,
Python evaluates the predicate (an ``IndexError`` or ``ZeroDivisionError`` counts as "does not
hold"), and z3 decides the formula with the symbols pinned to those values.  Floats are drawn
as small binary fractions, on which Python's float arithmetic is exact, because the translation
models floats as real numbers.
"""

from __future__ import annotations

import ast
import builtins
import copy
import functools
import inspect
import math
import re
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any

import annotated_types as at
import numpy as np
import pytest
import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from effectus.proofs import RuntimeOnly, Sym, refinement, symbol, translate

AGREE = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
RLIMIT = 5_000_000

# --- constants and helpers the predicates below read ------------------------------------------

LIMIT = 10
RATE = 0.25
STRICT = True
ALLOWED = (1, 3, 5)
EVENS = frozenset({0, 2, 4})
SOME_LIST = [1, 2]
NAN = math.nan


def positive(v: float) -> bool:
    return v > 0


def half(v: int) -> int:
    """Half of v, rounded down (a docstring does not stop inlining)."""
    return v // 2


is_small = lambda v, limit=LIMIT: v < limit  # a lambda defined at module level


def countdown(v: int) -> bool:
    return v <= 0 or countdown(v - 1)


def with_assert(v: int) -> bool:
    assert v > 0
    return v < 10


def two_statements(v: int) -> bool:
    w = v + 1
    return w > 0


def helper(v: int) -> bool:
    return v > 1


# --- concrete values and how to pin symbols to them --------------------------------------------

INTS = st.sampled_from([0, 1, -1, 2, -2]) | st.integers(-20, 20)  # the edges, often
FLOATS = st.integers(-80, 80).map(lambda n: n / 8)  # exact in binary, so exact in Python
BOOLS = st.booleans()
LISTS = st.lists(st.integers(-5, 5), max_size=5)
ARRAYS = st.lists(st.integers(0, 3), max_size=3).map(lambda dims: np.zeros(tuple(dims)))
TEXTS = st.text(max_size=4)

STRATEGY: dict[object, st.SearchStrategy[Any]] = {
    int: INTS, float: FLOATS, bool: BOOLS, list[int]: LISTS, np.ndarray: ARRAYS, str: TEXTS,
    list[bool]: st.lists(BOOLS, max_size=4), list[float]: st.lists(FLOATS, max_size=4),
    tuple[int, ...]: LISTS.map(tuple),
}


def literal(value: object) -> z3.ExprRef:
    """The z3 literal of a Python number or bool (a float by its exact binary value)."""
    if isinstance(value, (bool, np.bool_)):
        return z3.BoolVal(bool(value))
    if isinstance(value, int):
        return z3.IntVal(value)
    exact = Fraction(float(value))
    return z3.RealVal(f"{exact.numerator}/{exact.denominator}")


def pin(sym: Sym, value: object) -> list[z3.BoolRef]:
    """Equalities that fix ``sym`` to the concrete ``value`` (lengths, items and dims too)."""
    if sym.kind == "array":
        shape = np.shape(value)
        return pin(sym.shape, tuple(shape))
    if sym.kind == "seq":
        items = list(value)
        assert sym.length is not None
        eqs = [sym.length == len(items)]
        if sym.has_items():
            eqs += [sym.item(z3.IntVal(i)).term == literal(v) for i, v in enumerate(items)]
        return eqs
    return [sym.term == literal(value)]


RAISES = (IndexError, ZeroDivisionError)


def python_holds(predicate: Callable[..., object], values: Mapping[str, object]) -> bool:
    """Whether Python's predicate answers True, as the run-time check requires (raising, or
    answering a truthy non-bool such as ``1``, counts as not holding)."""
    try:
        return predicate(**values) is True
    except RAISES:
        return False
    except TypeError as err:  # numpy's len() of a 0-d array, which the formula models
        if "unsized object" in str(err):
            return False
        raise


def decide(formula: z3.BoolRef, syms: Mapping[str, Sym], values: Mapping[str, object]) -> bool:
    """The truth value z3 gives ``formula`` with every symbol pinned to its value."""
    solver = z3.Solver()
    solver.set("rlimit", RLIMIT)
    solver.set("random_seed", 0)
    for name, sym in syms.items():  # pinned values that contradict the facts fail both checks
        solver.add(*sym.facts(), *pin(sym, values[name]))
    solver.push()
    solver.add(formula)
    holds = solver.check()
    solver.pop()
    solver.add(z3.Not(formula))
    fails = solver.check()
    decided = sorted([str(holds), str(fails)]) == ["sat", "unsat"]
    assert decided, f"z3 did not decide: {holds}, {fails}"
    return holds == z3.sat


_TRANSLATED: dict[Callable[..., object], tuple[dict[str, Sym], z3.BoolRef]] = {}


def _translated(
    predicate: Callable[..., object], types: Mapping[str, object]
) -> tuple[dict[str, Sym], z3.BoolRef]:
    """The predicate's symbols and formula, translated once for all of Hypothesis' examples."""
    if predicate not in _TRANSLATED:
        syms = {name: symbol(name, annotation) for name, annotation in types.items()}
        _TRANSLATED[predicate] = syms, translate(predicate, syms)
    return _TRANSLATED[predicate]


def check_agreement(
    data: st.DataObject, predicate: Callable[..., object], types: Mapping[str, object]
) -> None:
    syms, formula = _translated(predicate, types)
    values = {name: data.draw(STRATEGY[a], label=name) for name, a in types.items()}
    expected = python_holds(predicate, values)
    assert decide(formula, syms, values) == expected, (values, formula)


def valid(formula: z3.BoolRef, *assumptions: z3.BoolRef) -> bool:
    """Whether ``formula`` holds for every value satisfying ``assumptions``."""
    solver = z3.Solver()
    solver.set("rlimit", RLIMIT)
    solver.add(*assumptions, z3.Not(formula))
    return solver.check() == z3.unsat


I, F, B, L, A, S = int, float, bool, list[int], np.ndarray, str

# --- agreement with Python ---------------------------------------------------------------------

AGREEMENT: list[tuple[str, Callable[..., object], dict[str, object]]] = [
    # chains and short-circuits
    ("chain", lambda xs, k: 0 < k <= len(xs), {"xs": L, "k": I}),
    ("chain of four", lambda k, n, x: -3 <= k < n <= x, {"k": I, "n": I, "x": F}),
    ("chain guards an index", lambda xs, k: 0 <= k < len(xs) > xs[k], {"xs": L, "k": I}),
    ("and guards a division", lambda k, n: n != 0 and k // n > 1, {"k": I, "n": I}),
    ("or guards a division", lambda k, n: n == 0 or k % n == 1, {"k": I, "n": I}),
    ("not of a raising index", lambda xs, k: not xs[k] > 0, {"xs": L, "k": I}),
    ("not of a guarding and", lambda k, n: not (n != 0 and k // n > 1), {"k": I, "n": I}),
    ("not of a raising and", lambda xs, k: not (xs[k] > 0 and k > 3), {"xs": L, "k": I}),
    ("not of a raising chain", lambda xs, k: not 0 < xs[k] < 5, {"xs": L, "k": I}),
    ("not of a conditional", lambda k, b: not (k > 0 if b else k < 0), {"k": I, "b": B}),
    ("not of a guarding chain", lambda xs, k: not 0 <= k < len(xs) > xs[k], {"xs": L, "k": I}),
    ("not of a guarding conditional", lambda xs, k: not (xs[k] if 0 <= k < len(xs) else 1),
     {"xs": L, "k": I}),
    # arithmetic
    ("floor division and modulo", lambda k, n: k // n * n + k % n == k, {"k": I, "n": I}),
    ("modulo sign", lambda k, n: (k % n < 0) == (n < 0), {"k": I, "n": I}),
    ("float floor and modulo", lambda x, y: x // y + x % y > 1, {"x": F, "y": F}),
    ("true division", lambda k, n: k / n > 0.5, {"k": I, "n": I}),
    ("mixed arithmetic", lambda x, k: x * k - k / 4 >= RATE + 1, {"x": F, "k": I}),
    ("powers", lambda k, x: k ** 2 - x ** 3 < k ** 0 + 2 ** 3, {"k": I, "x": F}),
    ("bools as numbers", lambda b, k: b + k > 1 and -b <= 0 and b * 3 != k, {"b": B, "k": I}),
    ("bool equality", lambda b, c: (b == c) != (b != c) and b == 1 - (not b), {"b": B, "c": B}),
    ("bool choices", lambda b, c, k: (b if k > 0 else c) != (c or b and k > 1),
     {"b": B, "c": B, "k": I}),
    # conditional expressions and truthiness
    ("conditional value", lambda k, n: (k if k > n else n) >= k, {"k": I, "n": I}),
    ("conditional guards", lambda xs, k: xs[k] > 0 if -len(xs) <= k < len(xs) else k > 2,
     {"xs": L, "k": I}),
    ("conditional value that raises", lambda xs, k: (k if k > 0 else xs[k]) > -100,
     {"xs": L, "k": I}),
    ("conditional of mixed types", lambda k, b: (1 if b else 2.5) * k > 2, {"k": I, "b": B}),
    ("an int answer is never True", lambda k: k % 3, {"k": I}),
    ("a list answer is never True", lambda xs: xs, {"xs": L}),
    ("`and` answers its last operand", lambda k, xs: k > 0 and xs, {"k": I, "xs": L}),
    ("`or` answers its first truthy operand", lambda k: k or k > 2, {"k": I}),
    ("and/or values", lambda k, n: (k and n) + (k or n) > 1, {"k": I, "n": I}),
    # builtins
    ("len and abs", lambda xs, k: abs(k) < len(xs), {"xs": L, "k": I}),
    ("min and max", lambda k, n, x: min(k, n, x) <= max(k, x) and max(k, n) > min(n, 0),
     {"k": I, "n": I, "x": F}),
    ("len of str", lambda s: len(s) == 2, {"s": S}),
    # membership
    ("in a set", lambda k: k in {1, 2, 3}, {"k": I}),
    ("not in a tuple", lambda x, k: x not in (0.5, k), {"x": F, "k": I}),
    ("in a list display of expressions", lambda k, n: k in [n, n + 1, 2 * n], {"k": I, "n": I}),
    ("in constants", lambda k: k in ALLOWED or k in EVENS, {"k": I}),
    ("in range", lambda k, n: k in range(n) and n not in range(-2, 3), {"k": I, "n": I}),
    ("float in range", lambda x: x in range(4), {"x": F}),
    ("in a sequence", lambda xs, k: k in xs, {"xs": L, "k": I}),
    # indexing
    ("index", lambda xs, k: xs[k] > 0, {"xs": L, "k": I}),
    ("negative literal indexes", lambda xs: xs[-1] > xs[0] + xs[-2], {"xs": L}),
    ("bool index", lambda xs, b: xs[b] == 0, {"xs": L, "b": B}),
    ("tuple index", lambda t, k: t[k] + t[-k] >= 0, {"t": tuple[int, ...], "k": I}),
    # all / any
    ("sorted", lambda xs: all(xs[i] <= xs[i + 1] for i in range(len(xs) - 1)), {"xs": L}),
    ("any over a range", lambda n, k: any(i * i == k for i in range(n)), {"n": I, "k": I}),
    ("filtered range", lambda k, n: all(i % 3 != 0 for i in range(k, n) if i > 0),
     {"k": I, "n": I}),
    ("nested loops", lambda xs: all(xs[i] != xs[j] for i in range(len(xs)) for j in range(i)),
     {"xs": L}),
    ("over a sequence", lambda xs: all(v > 0 for v in xs) or any(v < -3 for v in xs), {"xs": L}),
    ("bare all and any", lambda bs: all(bs) or not any(bs), {"bs": list[bool]}),
    ("all stops before raising", lambda xs, k: all(k // v > 0 for v in xs), {"xs": L, "k": I}),
    ("any stops before raising", lambda xs: any(xs[v] > 0 for v in xs), {"xs": L}),
    ("raising filter", lambda xs: all(v > 1 for v in xs if 10 // v), {"xs": L}),
    ("raising filter, passing body", lambda xs: all(v < 3 for v in xs if 10 // v > 1), {"xs": L}),
    ("two filters", lambda xs, k: all(v > 5 for v in xs if k // v > 0 if v > 9), {"xs": L, "k": I}),
    ("not of raising loops", lambda xs, k: not all(k // v > 0 for v in xs)
     or not any(xs[v] > 0 for v in xs), {"xs": L, "k": I}),
    ("loop bound that raises", lambda k, n: all(i < n for i in range(k // n)), {"k": I, "n": I}),
    ("floats in a sequence", lambda fs, x: any(f > x for f in fs), {"fs": list[float], "x": F}),
    # arrays
    ("square matrix", lambda a: a.ndim == 2 and a.shape[0] == a.shape[1], {"a": A}),
    ("size", lambda a, k: a.size == 0 or a.size > k, {"a": A, "k": I}),
    ("len of an array", lambda a: len(a) > 1, {"a": A}),
    ("shape as a sequence", lambda a, k: len(a.shape) > k and all(d > 1 for d in a.shape),
     {"a": A, "k": I}),
    ("last dim", lambda a: a.shape[-1] == 3, {"a": A}),
    # calls and constants
    ("module functions", lambda k: positive(k) and is_small(half(k)), {"k": I}),
    ("default argument", lambda k: is_small(k, 3) != is_small(k), {"k": I}),
    ("keyword argument", lambda k: is_small(limit=k, v=2), {"k": I}),
    ("constants", lambda x, b: (x > RATE) == STRICT or b, {"x": F, "b": B}),
]


@pytest.mark.parametrize(("predicate", "types"), [(p, t) for _, p, t in AGREEMENT],
                         ids=[name for name, _, _ in AGREEMENT])
@AGREE
@given(data=st.data())
def test_formula_agrees_with_python(
    data: st.DataObject, predicate: Callable[..., object], types: dict[str, object]
) -> None:
    """On drawn values, the formula holds exactly when Python's predicate answers True."""
    check_agreement(data, predicate, types)


@AGREE
@given(a=st.integers(-10**6, 10**6), b=st.integers(-50, 50), c=st.integers(-10**6, 10**6))
def test_floor_division_and_modulo_are_pythons(a: int, b: int, c: int) -> None:
    """``//`` and ``%`` on ints (negative operands included) give exactly Python's results,
    and a zero divisor makes the predicate not hold."""
    syms = {name: symbol(name, int) for name in "abc"}
    values = {"a": a, "b": b, "c": c}
    cases = [(lambda a, b, c: a // b == c, a // b if b else 0),
             (lambda a, b, c: a % b == c, a % b if b else 0)]
    for predicate, answer in cases:
        formula = translate(predicate, syms)
        assert decide(formula, syms, values) == python_holds(predicate, values)
        assert decide(formula, syms, {**values, "c": answer}) == (b != 0)


def test_predicates_passed_by_name_are_inlined() -> None:
    """A call of a name given in ``predicates=`` inlines that function, ahead of globals."""
    k = symbol("k", int)
    formula = translate(lambda k: helper(k), {"k": k}, predicates={"helper": lambda v: v % 2 == 0})
    assert valid(formula == (k.term % 2 == 0))


def test_closure_constants_are_literals() -> None:
    """Numbers a predicate closes over are read when it is translated."""
    bound, scale = 5, 0.5
    k = symbol("k", int)
    formula = translate(lambda k: k * scale < bound, {"k": k})
    assert valid(formula == (z3.ToReal(k.term) * 0.5 < 5))


def test_several_lambdas_on_one_line_are_told_apart() -> None:
    """Each of two lambdas with the same parameters on one line translates to its own formula;
    a lambda nested in another is found too, with the outer one's argument in its closure."""
    up, down = (lambda k: k > 0), (lambda k: k < 0)
    outer = lambda k: (lambda v: v > k)
    spread = dict(p=lambda k:
                  k > 1 and
                  k < 9)["p"]
    k, v = symbol("k", int), symbol("v", int)
    assert valid(translate(up, {"k": k}) == (k.term > 0))
    assert valid(translate(down, {"k": k}) == (k.term < 0))
    assert valid(translate(outer(3), {"v": v}) == (v.term > 3))
    assert valid(translate(spread, {"k": k}) == z3.And(k.term > 1, k.term < 9))


def test_a_def_with_a_docstring_translates() -> None:
    """A def whose body is a docstring and one return translates like the expression (here an
    int, which is never True: the formula is false)."""
    k = symbol("k", int)
    assert valid(translate(half, {"v": k}) == z3.BoolVal(False))
    assert valid(translate(lambda v: half(v) > 1, {"v": k}) == (k.term >= 4))


def test_text_and_ast_predicates_read_names_from_scope() -> None:
    """Text and `ast` expressions take their free names from ``scope``; the text of a lambda
    binds its parameters from ``scope``."""
    xs, k = symbol("xs", list[int]), symbol("k", int)
    scope = {"xs": xs, "k": k}
    expected = translate(lambda xs, k: 0 < k <= len(xs), scope)
    assert valid(translate("0 < k <= len(xs)", scope) == expected)
    assert valid(translate("lambda xs, k: 0 < k <= len(xs)", scope) == expected)
    node = ast.parse("0 < k <= len(xs)", mode="eval").body
    assert valid(translate(node, scope) == expected)


def test_translation_is_reproducible() -> None:
    """The same predicate gives the same formula twice (bound variables are numbered per
    translation), so formulas can be hashed and cached."""
    xs = symbol("xs", list[int])
    nested = {name: predicate for name, predicate, _ in AGREEMENT}["nested loops"]
    assert translate(nested, {"xs": xs}).eq(translate(nested, {"xs": xs}))


def test_facts_prove_what_the_types_promise() -> None:
    """With the facts of ``list[Annotated[int, Gt(0)]]`` assumed, every element is positive,
    and ``k ** 2 >= 0`` holds for every int; without the facts, it does not follow."""
    xs, k = symbol("xs", list[Annotated[int, at.Gt(0)]]), symbol("k", int)
    everywhere = translate(lambda xs: all(v >= 1 for v in xs), {"xs": xs})
    assert valid(everywhere, *xs.facts())
    assert not valid(everywhere)
    assert valid(translate(lambda k: k ** 2 >= 0, {"k": k}))


def test_an_out_of_range_index_never_holds() -> None:
    """Indexing out of range raises in Python, so neither ``xs[k] > 0`` nor its negation holds
    there: the formula never treats a raising predicate as true."""
    xs, k = symbol("xs", list[int]), symbol("k", int)
    scope = {"xs": xs, "k": k}
    outside = z3.Or(k.term >= xs.length, k.term < -xs.length)
    for predicate in (lambda xs, k: xs[k] > 0, lambda xs, k: not xs[k] > 0):
        assert valid(z3.Not(translate(predicate, scope)), outside)


def test_a_parameter_missing_from_scope_is_a_type_error() -> None:
    """A predicate parameter without a symbol (and without a number default) is a caller
    error, reported with the names scope has and how to add the missing one."""
    with pytest.raises(TypeError, match=r"parameter 'k' has no symbol in scope \(scope has xs\)"):
        translate(lambda xs, k: k > 0, {"xs": symbol("xs", list[int])})


# --- symbols and refinements -------------------------------------------------------------------


def test_symbols_model_their_types() -> None:
    """`symbol` gives each type its model: kinds, Python type names, and well-formedness facts."""
    t = symbol("t", tuple[int, int])
    assert (t.kind, t.type) == ("seq", "tuple[int, int]")
    assert valid(t.length == 2, *t.facts())
    a = symbol("a", np.ndarray)
    assert (a.kind, a.type, a.shape.type) == ("array", "ndarray", "tuple[int, ...]")
    assert valid(z3.And(a.ndim >= 0, a.size >= 0), *a.facts())
    assert symbol("s", str).has_items() is False
    fs = symbol("fs", Sequence[float])
    assert (fs.kind, fs.item(z3.IntVal(0)).kind) == ("seq", "float")
    assert symbol("f", Annotated[float, "a doc", at.doc("more doc")]).facts() == []
    with pytest.raises(TypeError, match="has no modelled items"):
        symbol("k", int).item(z3.IntVal(0))


@pytest.mark.parametrize(("annotation", "construct"), [
    (dict[str, int], "parameter type dict[str, int]"),
    (int | None, "parameter type int | None"),
    (list[list[int]], "parameter type list[list[int]]"),
    (tuple[int, str], "parameter type tuple[int, str]"),
    (object, "parameter type object"),
    (Annotated[int, at.Timezone(None)], "constraint Timezone(tz=None)"),
], ids=["dict", "optional", "nested list", "mixed tuple", "object", "unknown metadata"])
def test_types_without_a_model_are_runtime_only(annotation: object, construct: str) -> None:
    """A type with no z3 model, or metadata that is no known constraint, is refused by name."""
    with pytest.raises(RuntimeOnly) as info:
        symbol("p", annotation)
    assert info.value.construct == construct


REFINEMENTS: list[tuple[str, object, object, Callable[[Any], bool]]] = [
    ("Gt", at.Gt(2), int, lambda v: v > 2),
    ("Ge float bound", at.Ge(0.5), int, lambda v: v >= 0.5),
    ("Lt on float", at.Lt(-1), float, lambda v: v < -1),
    ("Le", at.Le(3), float, lambda v: v <= 3),
    ("MultipleOf", at.MultipleOf(3), int, lambda v: v % 3 == 0),
    ("MultipleOf negative", at.MultipleOf(-4), int, lambda v: v % -4 == 0),
    ("MultipleOf float", at.MultipleOf(0.75), float, lambda v: v % 0.75 == 0),
    ("MultipleOf zero", at.MultipleOf(0), int, lambda v: False),  # v % 0 raises
    ("MinLen", at.MinLen(2), list[int], lambda v: len(v) >= 2),
    ("MaxLen", at.MaxLen(2), str, lambda v: len(v) <= 2),
    ("Len", at.Len(1, 3), list[int], lambda v: 1 <= len(v) <= 3),
    ("MinLen on an array", at.MinLen(2), np.ndarray, lambda v: v.ndim >= 1 and len(v) >= 2),
    ("Interval", at.Interval(gt=-3, le=4), int, lambda v: -3 < v <= 4),
    ("Predicate", at.Predicate(lambda v: v % 2 == 1), int, lambda v: v % 2 == 1),
    ("Predicate on a list", at.Predicate(lambda v: all(x != 0 for x in v)), list[int],
     lambda v: 0 not in v),
    ("Not", at.Not(lambda v: v > 1), int, lambda v: not v > 1),
    ("Not of a raising predicate", at.Not(lambda v: 6 // v > 1), int,
     lambda v: v != 0 and not 6 // v > 1),
]


@pytest.mark.parametrize(("constraint", "annotation", "meaning"),
                         [(c, a, m) for _, c, a, m in REFINEMENTS],
                         ids=[name for name, _, _, _ in REFINEMENTS])
@AGREE
@given(data=st.data())
def test_refinement_means_what_annotated_types_says(
    data: st.DataObject, constraint: object, annotation: object, meaning: Callable[[Any], bool]
) -> None:
    """Each constraint's formula holds exactly for the values its documented meaning accepts."""
    sym = symbol("v", annotation)
    value = data.draw(STRATEGY[annotation], label="v")
    assert decide(refinement(sym, constraint), {"v": sym}, {"v": value}) == meaning(value)


def test_annotated_metadata_becomes_facts() -> None:
    """``Annotated`` constraints on a parameter, and on a sequence's items, become its facts."""
    k = symbol("k", Annotated[int, at.Ge(0), at.Lt(10)])
    assert valid(z3.And(k.term >= 0, k.term < 10), *k.facts())
    xs = symbol("xs", list[Annotated[int, at.MultipleOf(2)]])
    assert valid(translate(lambda xs: all(v % 2 == 0 for v in xs), {"xs": xs}), *xs.facts())


@pytest.mark.parametrize(("constraint", "annotation", "construct"), [
    (at.Predicate(str.isdigit), str, "predicate str.isdigit"),
    (at.Predicate(math.isfinite), float, "predicate isfinite"),
    (at.Ge("a"), int, "constraint Ge(ge='a')"),
    (at.Ge(0), list[int], "comparison >= between list[int] and int"),
    (at.MinLen(1), int, "len of int"),
    (at.Timezone(None), int, "constraint Timezone(tz=None)"),
], ids=["str method", "math function", "string bound", "list bound", "len of int", "timezone"])
def test_refinements_outside_the_subset_are_runtime_only(
    constraint: object, annotation: object, construct: str
) -> None:
    """Constraints that do not translate, or do not apply to the type, are refused by name."""
    with pytest.raises(RuntimeOnly) as info:
        refinement(symbol("v", annotation), constraint)
    assert info.value.construct == construct


# --- runtime-only predicates -------------------------------------------------------------------

RUNTIME_ONLY: list[tuple[Callable[..., object], str, str]] = [
    (lambda s: s.startswith("a"), "call of str.startswith", "s.startswith"),
    (lambda k: isinstance(k, int), "call of isinstance", "isinstance"),
    (lambda xs: {v for v in xs} == 1, "set comprehension", "{v for"),
    (lambda xs: [v for v in xs] == 1, "list comprehension", "[v for"),
    (lambda xs: any(lambda: 1 for v in xs), "lambda", "lambda: 1"),
    (lambda k: (n := k) > 0, "assignment expression (:=)", "n := k"),
    (lambda k: f"{k}" == "1", "f-string", 'f"{k}"'),
    (lambda xs: xs.count(1) > 0, "call of list[int].count", "xs.count"),
    (lambda k: k.bit_length() > 1, "call of int.bit_length", "k.bit_length"),
    (lambda k: k.real > 0, "attribute .real of int", "k.real"),
    (lambda k: math.pi > k, "attribute .pi of module math", "math.pi"),
    (lambda k: math.sqrt(k) > 1, "call of math.sqrt", "math.sqrt"),
    (lambda xs: sum(xs) > 0, "call of sum", "sum(xs)"),
    (lambda xs: max(xs) > 0, "max over one argument", "max(xs)"),
    (lambda xs: xs[1:] == xs, "slice", "xs[1:]"),
    (lambda k: k is None, "comparison is", "k is None"),
    (lambda k: k & 1, "operator &", "k & 1"),
    (lambda k: ~k > 0, "operator ~", "~k"),
    (lambda k: 2 ** k > 1, "operator ** with a non-literal exponent", "2 ** k"),
    (lambda k: k ** -1 > 0, "operator ** with a non-literal exponent", "k ** -1"),
    (lambda k: k ** 1000 > 0, "operator ** with exponent 1000", "k ** 1000"),
    (lambda k: undefined_name > k, "name undefined_name", "undefined_name"),
    (lambda k: undefined_fn(k), "call of undefined name undefined_fn", "undefined_fn"),
    (lambda k: len(k) > 0, "len of int", "len(k)"),
    (lambda xs, k: xs < k, "comparison < between list[int] and int", "xs < k"),
    (lambda s: s[0] == 1, "item of str", "s[0]"),
    (lambda xs: all(v for i, v in enumerate(xs)), "unpacking or async target in a generator", "i, v"),
    (lambda k: all(i > 0 for i in range(0, k, 2)), "range with 3 arguments", "range(0, k, 2)"),
    (lambda k: range(k), "range outside all()/any() or in", "range(k)"),
    (lambda k: k in [1, "a"], "string literal 'a'", '"a"'),
    (lambda k: k in SOME_LIST, "name SOME_LIST (list)", "SOME_LIST"),
    (lambda k: k > NAN, "name NAN (float)", "NAN"),
    (lambda k: k > float("nan"), "call of float", 'float("nan")'),
    (lambda a: a and True, "truth value of ndarray", "a and"),
    (lambda a: a[0] > 1, "indexing ndarray", "a[0]"),
    (lambda a: a.T is a, "comparison is", "a.T is a"),
    (lambda a: a.dtype == 1, "attribute .dtype of ndarray", "a.dtype"),
    (lambda x: int(x) > 0, "call of int", "int(x)"),
    (lambda k: k in (1, 2) < 3, "comparison chained after in", "k in"),
    (lambda xs: xs == [1], "list display", "[1]"),
    (lambda k: (lambda v: v)(k) > 0, "lambda", "lambda v"),
    (lambda k: positive(k, 2), "call of positive", "positive(k, 2)"),
    (lambda x: all(i for i in range(x)), "range of float", "x"),
    (lambda xs: xs[0.5] > 0, "index of type float", "xs[0.5]"),
    (lambda k: all(i > 0 for i in k), "iteration over int", "k)"),
    (lambda xs: any(xs) + 1 or xs + 1, "operator + between list[int] and int", "xs + 1"),
]


def test_runtime_only_table_is_one_lambda_per_line() -> None:
    """Each entry of the table sits on its own line (so a line number names one predicate)."""
    lines = [p.__code__.co_firstlineno for p, _, _ in RUNTIME_ONLY]
    assert len(set(lines)) == len(lines)


@pytest.mark.parametrize(("predicate", "construct", "at_"), RUNTIME_ONLY,
                         ids=[c for _, c, _ in RUNTIME_ONLY])
def test_outside_the_subset_is_runtime_only(
    predicate: Callable[..., object], construct: str, at_: str
) -> None:
    """The first construct outside the subset is named, with the predicate's line in this
    file and a column pointing at the construct."""
    scope = {name: symbol(name, annotation) for name, annotation in
             {"k": int, "x": float, "xs": list[int], "s": str, "a": np.ndarray}.items()}
    params = inspect.signature(predicate).parameters
    with pytest.raises(RuntimeOnly) as info:
        translate(predicate, {p: scope[p] for p in params})
    err = info.value
    assert err.construct == construct
    assert err.file == __file__
    assert err.line == predicate.__code__.co_firstlineno
    assert err.col is not None
    source = Path(__file__).read_text().splitlines()[err.line - 1]
    assert source[err.col - 1:].startswith(at_), source[err.col - 1:]


@pytest.mark.parametrize(("function", "construct", "line"), [
    (countdown, "recursive call of countdown", countdown.__code__.co_firstlineno + 1),
    (with_assert, "statement assert in def with_assert", with_assert.__code__.co_firstlineno + 1),
    (two_statements, "statement assign in def two_statements",
     two_statements.__code__.co_firstlineno + 1),
], ids=["recursion", "assert", "two statements"])
def test_defs_outside_the_subset_are_runtime_only(
    function: Callable[..., object], construct: str, line: int
) -> None:
    """Recursion and defs that are more than one ``return`` are refused at the offending line."""
    with pytest.raises(RuntimeOnly) as info:
        translate(function, {"v": symbol("v", int)})
    assert (info.value.construct, info.value.line) == (construct, line)


def test_runtime_only_message_says_what_where_and_what_to_do() -> None:
    """The message reads ``runtime-only: <construct> at <file>:<line>:<col> — <reason>``, and
    RuntimeOnly is an effectus error and a NotImplementedError."""
    predicate = lambda s: s.startswith("a")
    with pytest.raises(NotImplementedError) as info:
        translate(predicate, {"s": symbol("s", str)})
    line = predicate.__code__.co_firstlineno
    assert re.fullmatch(
        rf"runtime-only: call of str\.startswith at \S*test_translate\.py:{line}:27 — only len, "
        r"abs, min, max, all, any, range and spec'd predicates translate",
        str(info.value),
    )
    assert isinstance(info.value, RuntimeOnly)
    assert type(info.value).__module__ == "effectus.proofs"


def test_a_predicate_without_source_is_runtime_only() -> None:
    """A function whose source cannot be read (compiled from a string) is runtime-only."""
    namespace: dict[str, Any] = {}
    exec(compile("f = lambda k: k > 0", "<generated>", "exec"), namespace)
    with pytest.raises(RuntimeOnly, match="its source cannot be found"):
        translate(namespace["f"], {"k": symbol("k", int)})
    with pytest.raises(RuntimeOnly, match="only a lambda or a def"):
        translate(abs, {"k": symbol("k", int)})


# --- fuzz: random predicate ASTs ---------------------------------------------------------------

FUZZ_TYPES: dict[str, object] = {
    "k": int, "n": int, "b": bool, "x": float, "xs": list[int], "a": np.ndarray, "s": str,
}
FUZZ_VALUES = st.fixed_dictionaries({
    "k": st.integers(-4, 4), "n": st.integers(-4, 4), "b": BOOLS, "x": FLOATS,
    "xs": st.lists(st.integers(-3, 3), max_size=4), "a": ARRAYS, "s": TEXTS,
})
FUZZ_SYMS = {name: symbol(name, annotation) for name, annotation in FUZZ_TYPES.items()}


def _name(name: str) -> ast.expr:
    return ast.Name(id=name, ctx=ast.Load())


def _call(name: str, *args: ast.expr) -> ast.expr:
    return ast.Call(func=_name(name), args=list(args), keywords=[])


def _index(seq: ast.expr, index: ast.expr) -> ast.expr:
    return ast.Subscript(value=seq, slice=index, ctx=ast.Load())


def _attr(value: ast.expr, attr: str) -> ast.expr:
    return ast.Attribute(value=value, attr=attr, ctx=ast.Load())


SEQUENCES = st.sampled_from([_name("xs"), _attr(_name("a"), "shape")])


@functools.cache  # a strategy is built once per (depth, bound), not on every draw
def numbers(depth: int, bound: tuple[str, ...]) -> st.SearchStrategy[ast.expr]:
    """Int-valued expressions of the subset (bools and, rarely, floats mixed in)."""
    leaves = st.one_of(
        st.integers(-3, 3).map(ast.Constant),
        st.sampled_from(["k", "n", "b", *bound, *bound]).map(_name),
        st.sampled_from([_call("len", _name("xs")), _call("len", _name("s")),
                         _attr(_name("a"), "ndim"), _attr(_name("a"), "size"),
                         _call("len", _name("a")), ast.Constant(0.5), _name("x")]),
    )
    if depth == 0:
        return leaves
    sub, cond = numbers(depth - 1, bound), conditions(depth - 1, bound)
    arith = [ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.FloorDiv, ast.Mod, ast.Div]
    return st.one_of(
        leaves,
        st.builds(lambda op, a, b: ast.BinOp(left=a, op=op(), right=b),
                  st.sampled_from(arith), sub, sub),
        st.builds(lambda a, n: ast.BinOp(left=a, op=ast.Pow(), right=ast.Constant(n)),
                  sub, st.integers(0, 3)),
        st.builds(lambda op, a: ast.UnaryOp(op=op(), operand=a),
                  st.sampled_from([ast.USub, ast.UAdd]), sub),
        st.builds(lambda a: _call("abs", a), sub),
        st.builds(lambda f, args: _call(f, *args), st.sampled_from(["min", "max"]),
                  st.lists(sub, min_size=2, max_size=3)),
        st.builds(lambda c, a, b: ast.IfExp(test=c, body=a, orelse=b), cond, sub, sub),
        st.builds(lambda op, a, b: ast.BoolOp(op=op(), values=[a, b]),
                  st.sampled_from([ast.And, ast.Or]), sub, sub),
        st.builds(_index, SEQUENCES, sub),
    )


@functools.cache
def conditions(depth: int, bound: tuple[str, ...]) -> st.SearchStrategy[ast.expr]:
    """Bool-valued expressions of the subset: comparisons, connectives, membership, loops."""
    nums = numbers(max(depth - 1, 0), bound)
    compare = st.builds(
        lambda left, rest: ast.Compare(left=left, ops=[o() for o, _ in rest],
                                       comparators=[c for _, c in rest]),
        nums, st.lists(st.tuples(st.sampled_from([ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq,
                                                  ast.NotEq]), nums), min_size=1, max_size=3))
    member = st.builds(
        lambda item, op, where: ast.Compare(left=item, ops=[op()], comparators=[where]),
        nums, st.sampled_from([ast.In, ast.NotIn]), st.one_of(
            st.builds(lambda kind, elts: kind(elts=elts, ctx=ast.Load()),
                      st.sampled_from([ast.Tuple, ast.List, ast.Set]), st.lists(nums, max_size=3)),
            st.builds(lambda a: _call("range", a), nums),
            st.builds(lambda a, b: _call("range", a, b), nums, nums),
            SEQUENCES,
        ))
    leaves = st.one_of(compare, member, st.just(_name("b")), nums,
                       st.builds(lambda a: _call("helper", a), nums))
    if depth == 0:
        return leaves
    sub = conditions(depth - 1, bound)
    var = f"i{len(bound)}"
    iterable = st.one_of(st.builds(lambda a: _call("range", a), nums),
                         st.builds(lambda a, b: _call("range", a, b), nums, nums), SEQUENCES)
    loop = st.builds(
        lambda fn, it, elt, ifs: _call(fn, ast.GeneratorExp(elt=elt, generators=[
            ast.comprehension(target=ast.Name(id=var, ctx=ast.Store()), iter=it, ifs=ifs,
                              is_async=0)])),
        st.sampled_from(["all", "any"]), iterable, conditions(depth - 1, (*bound, var)),
        st.lists(conditions(0, (*bound, var)), max_size=1))
    return st.one_of(
        leaves, loop, loop,
        st.builds(lambda a: ast.UnaryOp(op=ast.Not(), operand=a), sub),
        st.builds(lambda op, vs: ast.BoolOp(op=op(), values=vs), st.sampled_from([ast.And, ast.Or]),
                  st.lists(sub, min_size=2, max_size=3)),
        st.builds(lambda c, a, b: ast.IfExp(test=c, body=a, orelse=b), sub, sub, sub),
    )


# Replacements outside the subset or ill-typed where they land: other constructs, other types,
# undefined names, comparisons of sequences with numbers.
OUTSIDE: st.SearchStrategy[ast.expr] = st.one_of(
    st.sampled_from([ast.Constant("a"), ast.Constant(None), _name("zz"), _name("xs"), _name("s"),
                     _name("a"), _name("helper"), _call("range", _name("k")),
                     _call("isinstance", _name("k"), _name("int")), _call("sum", _name("xs")),
                     _call("undefined", _name("k")), _call("min", _name("xs")),
                     _call("len", _name("k")), _call("helper", _name("k"), _name("n")),
                     _call("helper", _name("xs")), _index(_name("s"), ast.Constant(0)),
                     _index(_name("a"), ast.Constant(0)), _attr(_name("k"), "real"),
                     _attr(_name("a"), "T"), _index(_name("xs"), ast.Constant(0.5)),
                     ast.BinOp(left=_name("k"), op=ast.Pow(), right=_name("n")),
                     ast.BinOp(left=_name("k"), op=ast.BitAnd(), right=ast.Constant(1)),
                     ast.BinOp(left=_name("xs"), op=ast.Add(), right=_name("k")),
                     ast.Compare(left=_name("xs"), ops=[ast.Lt()], comparators=[_name("k")]),
                     ast.Compare(left=_name("k"), ops=[ast.Is()], comparators=[ast.Constant(None)]),
                     ast.UnaryOp(op=ast.Invert(), operand=_name("k")),
                     ast.Subscript(value=_name("xs"), slice=ast.Slice(lower=ast.Constant(1)),
                                   ctx=ast.Load())]),
    st.builds(lambda e: ast.Lambda(args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[],
                                                      kw_defaults=[], defaults=[]), body=e),
              numbers(0, ())),
    st.builds(lambda e: ast.NamedExpr(target=ast.Name(id="w", ctx=ast.Store()), value=e),
              numbers(0, ())),
    st.builds(lambda e: ast.JoinedStr(values=[ast.FormattedValue(value=e, conversion=-1)]),
              numbers(0, ())),
    st.builds(lambda e: ast.SetComp(elt=e, generators=[ast.comprehension(
        target=ast.Name(id="v", ctx=ast.Store()), iter=_name("xs"), ifs=[], is_async=0)]),
              numbers(0, ("v",))),
)


CONDITIONS = conditions(3, ())


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.AST, replacement: ast.expr) -> None:
        self.target, self.replacement = target, replacement

    def visit(self, node: ast.AST) -> ast.AST:
        return self.replacement if node is self.target else super().visit(node)


@st.composite
def predicates(draw: st.DrawFn) -> ast.expr:
    """A predicate of the subset, with up to two subexpressions replaced by OUTSIDE nodes."""
    node = copy.deepcopy(draw(CONDITIONS))  # the strategies share their leaf nodes
    for _ in range(draw(st.integers(0, 2))):
        spots = [n for n in ast.walk(node) if isinstance(n, ast.expr)]
        spot = draw(st.sampled_from(spots))
        node = _Replace(spot, copy.deepcopy(draw(OUTSIDE))).visit(node)
    return node


def _uses_floats(node: ast.AST) -> bool:
    """Whether Python would compute with floats, whose rounding the real model ignores."""
    return any(
        isinstance(n, ast.Div) or (isinstance(n, ast.Name) and n.id == "x")
        or (isinstance(n, ast.Constant) and isinstance(n.value, float))
        for n in ast.walk(node)
    )


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(node=predicates(), values=FUZZ_VALUES)
def test_random_predicates_translate_or_are_runtime_only(
    node: ast.expr, values: dict[str, object]
) -> None:
    """Any expression, in or out of the subset, well-typed or not, either translates to a
    formula or raises RuntimeOnly; when it translates and computes without floats, z3 agrees
    with Python on drawn values."""
    ast.fix_missing_locations(node)
    try:
        formula = translate(node, FUZZ_SYMS, predicates={"helper": helper})
    except RuntimeOnly:
        return
    assert isinstance(formula, z3.BoolRef)
    if _uses_floats(node) or isinstance(node, ast.Lambda):  # a lambda's text binds from scope
        return
    code = compile(ast.Expression(body=node), "<fuzz>", "eval")
    namespace = {**values, "helper": helper, "__builtins__": builtins}
    expected = python_holds(lambda: eval(code, namespace), {})# the test's own AST
    assert decide(formula, FUZZ_SYMS, values) == expected, ast.unparse(node)
