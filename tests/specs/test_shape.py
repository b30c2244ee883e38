"""`Shape` refinements of array parameters: checked on every call, and modelled in z3."""

from __future__ import annotations

import itertools
import traceback
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pytest
import z3  # type: ignore[import-untyped]
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import effectus as fx
from effectus.proofs import RuntimeOnly, check_spec, refinement, symbol, translate
from effectus.specs import Shape, SpecError, spec_of
from effectus.specs._spec import ShapeCheck

HERE = Path(__file__).name


def line_of(text: str) -> int:
    """The line of this file that contains ``text`` (for asserting reported sites)."""
    return next(i for i, line in enumerate(Path(__file__).read_text().splitlines(), 1) if text in line)


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own proof cache."""
    monkeypatch.setenv("EFFECTUS_PROOF_CACHE", str(tmp_path / "proofs"))


Matrix = np.ndarray


@fx.tool
async def matmul(a: Annotated[Matrix, Shape("n m")], b: Annotated[Matrix, Shape("m k")]) -> Annotated[Matrix, Shape("n k")]:
    return a @ b


@fx.tool
async def transpose_wrong(a: Annotated[Matrix, Shape("n m")]) -> Annotated[Matrix, Shape("n m")]:
    return a.T


@fx.tool(ensures=lambda result, a: result == a.shape[0])
async def rows(a: Annotated[Matrix, Shape("n m")], n: int) -> int:
    return n


@fx.tool(requires=[lambda a: a.shape[0] == 3, lambda n: n > 5])
async def never_callable(a: Annotated[Matrix, Shape("n m")], n: int) -> int:
    return n


@fx.tool(ensures=lambda result, a: result == a.shape[1])
async def inner_dim(a: Annotated[Matrix, Shape("n m")], b: Annotated[Matrix, Shape("m k")]) -> int:
    return b.shape[0]  # the same m: provable only through the shared symbol


@fx.tool(ensures=lambda result, a: result == a.shape[1])
async def outer_dim(a: Annotated[Matrix, Shape("n m")], b: Annotated[Matrix, Shape("m k")]) -> int:
    return b.shape[1]  # k, not m: refuted


@fx.tool
async def stacked(a: Annotated[Matrix, Shape("n n")], b: Annotated[Matrix, Shape("n+1 2*n n//2")]) -> int:
    return 0


@fx.tool
async def fixed(a: Annotated[Matrix, Shape("3 k")]) -> int:
    return 0


@fx.tool
async def untyped(a: Annotated[Any, Shape("n")]) -> int:
    return 0


# --- run time: what passes -------------------------------------------------------------------


def test_consistent_shapes_pass_and_the_body_runs() -> None:
    """Shapes that agree on every symbol are accepted, and the result's Shape holds."""
    out = fx.run(matmul(np.ones((2, 3)), np.ones((3, 4))))
    assert out.shape == (2, 4)
    assert float(out[0, 0]) == 3.0


def test_expression_dims_and_literals_are_computed_from_the_symbols() -> None:
    """``n+1 2*n n//2`` after ``n n``: with n = 3 the second array must be (4, 6, 1)."""
    assert fx.run(stacked(np.zeros((3, 3)), np.zeros((4, 6, 1)))) == 0
    assert fx.run(fixed(np.zeros((3, 0)))) == 0


class Grid:
    """Not an array, but it has a shape."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape


@fx.tool
async def area(g: Annotated[Grid, Shape("h w")], h: int) -> int:
    return h * g.shape[1]


def test_any_value_with_a_shape_tuple_is_accepted() -> None:
    """Not only numpy: any object whose ``.shape`` is a tuple of ints."""
    assert fx.run(area(Grid((2, 5)), 2)) == 10
    with pytest.raises(fx.PreconditionError, match=r"g.shape\[0\] = 2 but h = 3 \(the argument\)"):
        area(Grid((2, 5)), 3)


# --- run time: what fails, and what the message says ----------------------------------------


def test_a_symbol_that_disagrees_names_both_dims_and_the_call_site() -> None:
    """``m`` is 3 from a.shape[1], and b.shape[0] is 4: the message says exactly that."""
    with pytest.raises(fx.PreconditionError) as info:
        matmul(np.ones((2, 3)), np.ones((4, 5)))  # mismatched inner dims
    text = str(info.value)
    assert text.startswith(
        "refinement of tool matmul failed: b.shape[0] = 4 but m = 3 (from a.shape[1])\n"
        "  predicate: a: Shape('n m'), b: Shape('m k')\n"
        "  a.shape = (2, 3)\n"
        "  b.shape = (4, 5)\n"
    )
    assert f"called at tests/specs/{HERE}:{line_of('np.ones((4, 5)))  # mismatched inner dims')} in " in text
    assert "Fix: call the tool with arguments that satisfy it" in text


def test_a_wrong_number_of_dims_is_refused() -> None:
    """A 3-d array where ``Shape("n m")`` asks for 2 dims."""
    with pytest.raises(fx.PreconditionError) as info:
        matmul(np.ones((2, 3, 1)), np.ones((3, 4)))
    assert str(info.value).startswith(
        "refinement of tool matmul failed: a.shape = (2, 3, 1) has 3 dims, but Shape('n m') has 2\n"
    )


def test_a_wrong_literal_dim_is_refused() -> None:
    """``Shape("3 k")`` refuses 4 rows."""
    with pytest.raises(fx.PreconditionError, match=r"failed: a.shape\[0\] = 4, not 3\n"):
        fixed(np.zeros((4, 2)))


def test_a_dim_tied_to_an_int_parameter() -> None:
    """A name that is a parameter means the argument: n must be the number of rows."""
    assert fx.run(rows(np.zeros((2, 7)), 2)) == 2
    with pytest.raises(fx.PreconditionError) as info:
        rows(np.zeros((2, 7)), 3)
    text = str(info.value)
    assert text.startswith("refinement of tool rows failed: a.shape[0] = 2 but n = 3 (the argument)\n")
    assert "  a.shape = (2, 7)\n  n = 3\n" in text


def test_an_expression_dim_names_its_symbols_and_where_they_come_from() -> None:
    """``2*n`` with n = 3 from a.shape[0] is 6, not 5."""
    with pytest.raises(fx.PreconditionError) as info:
        stacked(np.zeros((3, 3)), np.zeros((4, 5, 1)))
    assert str(info.value).startswith(
        "refinement of tool stacked failed: b.shape[1] = 5 but 2*n = 6 with n = 3 (from a.shape[0])\n"
    )
    with pytest.raises(fx.PreconditionError, match=r"a.shape\[1\] = 4 but n = 3 \(from a.shape\[0\]\)"):
        stacked(np.zeros((3, 4)), np.zeros((4, 6, 1)))


def test_a_value_without_a_shape_fails_the_check_clearly() -> None:
    """A list has no ``.shape``: the check fails (it does not crash) and says so."""
    with pytest.raises(fx.PreconditionError) as info:
        untyped([1, 2])
    assert str(info.value).startswith("refinement of tool untyped failed: a is list [1, 2], which has no .shape\n")


def test_the_result_shape_is_checked_with_the_arguments_symbols() -> None:
    """``-> Shape("n m")`` after ``a: Shape("n m")``: a transpose of a non-square matrix breaks it,
    and the error is raised at the caller's await."""
    square = fx.run(transpose_wrong(np.zeros((2, 2))))
    assert square.shape == (2, 2)

    async def main() -> object:
        return await transpose_wrong(np.zeros((2, 3)))  # awaited here

    with pytest.raises(fx.PostconditionError) as info:
        fx.run(main())
    text = str(info.value)
    assert text.startswith(
        "refinement of tool transpose_wrong failed: result.shape[0] = 3 but n = 2 (from a.shape[0])\n"
        "  predicate: result: Shape('n m')\n"
        "  a.shape = (2, 3)\n"
        "  result.shape = (3, 2)\n"
    )
    frames = traceback.extract_tb(info.value.__traceback__)
    assert any(f.name == "main" and f.lineno == line_of("transpose_wrong(np.zeros((2, 3)))  # awaited here") for f in frames)


def test_a_result_only_symbol_binds_from_the_result_itself() -> None:
    """A symbol first standing alone in the result takes the result's dim; ``k k`` is square."""

    @fx.tool
    async def gram(a: Annotated[Matrix, Shape("n m")]) -> Annotated[Matrix, Shape("k k")]:
        return a if a.shape[0] == 1 else a.T @ a

    assert fx.run(gram(np.ones((2, 3)))).shape == (3, 3)
    with pytest.raises(fx.PostconditionError, match=r"result.shape\[1\] = 4 but k = 1 \(from result.shape\[0\]\)"):
        fx.run(gram(np.ones((1, 4))))


def test_the_shape_check_is_one_inlined_expression() -> None:
    """The generated check pastes the Shapes as one expression: symbols become the dim that binds them."""
    spec = spec_of(matmul)
    assert spec is not None
    pre, post = spec.refinements
    assert pre.inline == "(len(a.shape) == 2 and len(b.shape) == 2 and b.shape[0] == a.shape[1])"
    assert post.inline == "(len(result.shape) == 2 and result.shape[0] == a.shape[0] and result.shape[1] == b.shape[1])"
    assert post.names == ("a", "b", "result")


# --- malformed shapes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dims", "bad"),
    [("n + 1", "'+'"), ("2.5", "'2.5'"), ("n/2", "'n/2'"), ("-1", "'-1'"), ("f(n)", "'f(n)'"), ("n**2", "'n**2'"), ("x y+", "'y+'")],
)
def test_a_malformed_shape_is_a_spec_error_with_a_fix(dims: str, bad: str) -> None:
    """Each dim must be an int, a name or + - * // of them, with no spaces inside."""
    with pytest.raises(SpecError) as info:
        Shape(dims)
    text = str(info.value)
    assert text.startswith(f"Shape({dims!r}): {bad} is not a dim (")
    assert '\nFix: write each dim as an int, a name or an expression' in text
    assert isinstance(info.value, TypeError)


def test_shape_dims_must_be_a_string() -> None:
    """``Shape(3)`` is refused, naming the type."""
    with pytest.raises(SpecError, match=r"Shape\(dims=3\) \(type=int\): the dims are one string"):
        Shape(3)  # type: ignore[arg-type]


def test_well_formed_shapes_are_accepted() -> None:
    """Ints, names, expressions (with parentheses), and the empty Shape of a 0-d array."""
    for dims in ["", "3", "batch n+1", "2*(n+1) n//2-1", "  n   m  "]:
        assert Shape(dims).dims == dims
    assert Shape("n m") == Shape("n m") and hash(Shape("n m")) == hash(Shape("n m"))


def test_a_symbol_only_inside_an_expression_is_refused_when_decorating() -> None:
    """``Shape("n+1")`` alone: nothing gives n a value."""
    with pytest.raises(SpecError) as info:

        @fx.tool
        async def shifted(a: Annotated[Matrix, Shape("n+1")]) -> int:
            return 0

    assert str(info.value) == (
        "@fx.tool on test_a_symbol_only_inside_an_expression_is_refused_when_decorating.<locals>.shifted: "
        "a: Shape('n+1') uses n, which no dim gives a value.\n"
        "Fix: make n a parameter, or write it alone as a dim of a parameter (Shape(\"n ...\"))."
    )


def test_a_symbol_bound_only_by_the_result_cannot_shape_a_parameter() -> None:
    """The precondition runs before there is a result: its Shapes need parameters' symbols."""
    with pytest.raises(SpecError, match=r"a: Shape\('k\+1'\) uses k, which no dim gives a value"):

        @fx.tool
        async def grow(a: Annotated[Matrix, Shape("k+1")]) -> Annotated[Matrix, Shape("k")]:
            return a


def test_two_shapes_of_one_parameter_must_agree_on_their_dims() -> None:
    """``Shape("n")`` and ``Shape("n m")`` on one value admit nothing."""
    with pytest.raises(SpecError, match=r"the Shapes of a contradict each other"):

        @fx.tool
        async def both(a: Annotated[Matrix, Shape("n"), Shape("n m")]) -> int:
            return 0


def test_two_shapes_of_one_parameter_both_hold() -> None:
    """``Shape("n m"), Shape("k k")``: a square matrix, whatever the names."""

    @fx.tool
    async def square(a: Annotated[Matrix, Shape("n m"), Shape("k k")]) -> int:
        return 0

    assert fx.run(square(np.zeros((2, 2)))) == 0
    with pytest.raises(fx.PreconditionError, match=r"a.shape\[1\] = 3 but k = 2 \(from a.shape\[0\]\)"):
        square(np.zeros((2, 3)))


# --- z3 ----------------------------------------------------------------------------------------


def verdicts(tool: object) -> dict[str, str]:
    """check -> verdict for one tool."""
    return {row.check: row.verdict for row in fx.check(tool, cache=False).rows}


def test_a_dim_tied_to_a_parameter_proves_a_postcondition() -> None:
    """``result == a.shape[0]`` with ``a: Shape("n m")`` and ``return n``: proved, body included."""
    assert verdicts(rows) == {
        "preconditions satisfiable": "proved",
        "postconditions consistent": "proved",
        "body meets postconditions": "proved",
    }


def test_contradictory_preconditions_through_a_shape_are_refuted() -> None:
    """a.shape[0] == 3, a.shape[0] == n (the Shape) and n > 5 cannot all hold."""
    spec = spec_of(never_callable)
    assert spec is not None
    pre = check_spec(spec, cache=False)[0]
    assert pre.verdict == "refuted"
    assert "a: Shape('n m')" in pre.detail and "a.shape[0] == 3" in pre.detail and "n > 5" in pre.detail


def test_a_shared_symbol_links_two_arrays_in_proofs() -> None:
    """b.shape[0] is a.shape[1] (both are m): returning it proves ``result == a.shape[1]``;
    b.shape[1] (k) does not, with a counterexample."""
    assert verdicts(inner_dim)["body meets postconditions"] == "proved"
    body = [r for r in fx.check(outer_dim, cache=False).rows if r.check == "body meets postconditions"]
    assert [r.verdict for r in body] == ["refuted"]
    assert "counterexample" in body[0].detail


def test_shapes_of_a_callee_are_met_or_refuted_at_each_call() -> None:
    """Calling a tool whose arrays must share a dim, with arrays made to differ (or agree)."""

    @fx.tool
    async def make(n: int) -> Annotated[Matrix, Shape("n")]:
        return np.zeros(n)

    @fx.tool
    async def pair(a: Annotated[Matrix, Shape("m")], b: Annotated[Matrix, Shape("m")]) -> int:
        return 0

    @fx.tool(requires=lambda n: n >= 0)
    async def agree(n: int) -> int:
        x = await make(n)
        y = await make(n)
        return await pair(x, y)

    @fx.tool(requires=lambda n: n >= 0)
    async def differ(n: int) -> int:
        x = await make(n)
        y = await make(n + 1)
        return await pair(x, y)

    report = fx.check(agree, cache=False)
    assert report.counts() == {"proved": 5, "refuted": 0, "unknown": 0}, report.table()
    assert [v for c, v in verdicts(differ).items() if ".pair (line" in c] == ["refuted"]


def test_a_shape_on_a_value_without_a_model_is_runtime_only_never_proved() -> None:
    """``Annotated[Any, Shape("n")]`` has no z3 model: the check is unknown and says why."""
    spec = spec_of(untyped)
    assert spec is not None
    pre = check_spec(spec, cache=False)[0]
    assert pre.verdict == "unknown"
    assert any(item.startswith("a: Shape('n'): reads a:") for item in pre.runtime_only)


def test_refinement_of_a_lone_array_binds_names_within_it() -> None:
    """``Shape("n n")`` on its own is a square: no non-square 2-d array satisfies it; a name
    only in an expression has no value there, so it is runtime-only."""
    a = symbol("a", np.ndarray)
    square = refinement(a, Shape("n n"))
    solver = z3.Solver()
    solver.add(*a.facts(), square, a.ndim == 2, a.shape.item(z3.IntVal(0)).term != a.shape.item(z3.IntVal(1)).term)
    assert solver.check() == z3.unsat
    facts = symbol("b", Annotated[np.ndarray, Shape("3 k")]).facts()
    solver = z3.Solver()
    b = symbol("b", np.ndarray)
    solver.add(*facts, b.shape.item(z3.IntVal(0)).term == 4)
    assert solver.check() == z3.unsat
    with pytest.raises(RuntimeOnly, match="stands alone in none of its dims"):
        refinement(a, Shape("k+1"))


# --- the property: run time, z3 and an independent oracle agree --------------------------------

SYMBOLS = ("n", "m")
TEMPLATES = ("{s}", "{s}", "{s}+1", "2*{s}", "{s}//2", "{s}-1", "k", "k+1", "0", "1", "3")


@st.composite
def signatures(draw: st.DrawFn) -> list[list[str]]:
    """1 to 3 array parameters, each with 0 to 3 dims written over the symbols n, m and the int
    parameter k; every symbol used stands alone somewhere (else the spec is malformed)."""
    params = draw(st.lists(
        st.lists(st.tuples(st.sampled_from(TEMPLATES), st.sampled_from(SYMBOLS)).map(lambda t: t[0].format(s=t[1])), max_size=3),
        min_size=1, max_size=3,
    ))
    used = {s for dims in params for d in dims for s in SYMBOLS if s in d}
    alone = {d for dims in params for d in dims}
    assume(used <= alone)
    return params


def oracle(params: list[list[str]], shapes: list[tuple[int, ...]], k: int) -> bool:
    """Whether some values of n and m make every array's shape what its dims say (a search,
    sharing nothing with the implementation's binding)."""
    if any(len(shape) != len(dims) for dims, shape in zip(params, shapes)):
        return False
    top = max([0, *(d for shape in shapes for d in shape)]) + 2
    for n, m in itertools.product(range(top), repeat=2):
        env = {"n": n, "m": m, "k": k}
        if all(eval(d, {}, env) == got for dims, shape in zip(params, shapes) for d, got in zip(dims, shape)):
            return True
    return False


def make_tool(params: list[list[str]]) -> Any:
    """A tool ``f(a0, a1, ..., k)`` with ``a_i: Annotated[np.ndarray, Shape(params[i])]``."""
    names = [f"a{i}" for i in range(len(params))]
    namespace: dict[str, Any] = {}
    exec(f"async def f({', '.join(names)}, k):\n    return 0", namespace)
    f = namespace["f"]
    f.__annotations__ = {**{n: Annotated[np.ndarray, Shape(" ".join(d))] for n, d in zip(names, params)}, "k": int}
    return fx.tool(f)


@settings(max_examples=150, deadline=None)
@given(params=signatures(), data=st.data())
def test_the_check_passes_iff_the_shapes_are_consistent(params: list[list[str]], data: st.DataObject) -> None:
    """For random Shapes and random arrays (mostly built to fit, then perturbed): the run-time
    check accepts exactly when the oracle finds values for the symbols; a refusal explains which
    dim is wrong; and the z3 formula of the check holds at these shapes exactly then too."""
    tool = make_tool(params)
    n, m, k = data.draw(st.integers(0, 5)), data.draw(st.integers(0, 5)), data.draw(st.integers(0, 5))
    shapes: list[tuple[int, ...]] = []
    for dims in params:
        shape = [max(0, eval(d, {}, {"n": n, "m": m, "k": k})) for d in dims]
        how = data.draw(st.sampled_from(["fit", "fit", "dim", "ndim"]))
        if how == "dim" and shape:
            i = data.draw(st.integers(0, len(shape) - 1))
            shape[i] = max(0, shape[i] + data.draw(st.sampled_from([-1, 1])))
        elif how == "ndim":
            shape = shape[:-1] if shape and data.draw(st.booleans()) else [*shape, 2]
        shapes.append(tuple(shape))
    expected = oracle(params, shapes, k)

    try:
        fx.run(tool(*(np.zeros(s) for s in shapes), k))
        passed = True
    except fx.PreconditionError as err:
        passed = False
        first, second = str(err).splitlines()[:2]
        assert first.startswith("refinement of tool f failed: a")  # an explanation naming an array
        assert ".shape" in first and second.startswith("  predicate: a0: Shape(")
    assert passed == expected, (params, shapes, k)

    spec = spec_of(tool)
    assert spec is not None
    check = spec.refinements[0].fn
    assert isinstance(check, ShapeCheck)
    arrays = {f"a{i}": symbol(f"a{i}", np.ndarray) for i in range(len(params))}
    ksym = symbol("k", int)
    solver = z3.Solver()
    solver.add(translate(check, {**arrays, "k": ksym}), ksym.term == k)
    for name, shape in zip(arrays, shapes):
        sym = arrays[name]
        solver.add(sym.ndim == len(shape), *(sym.shape.item(z3.IntVal(i)).term == d for i, d in enumerate(shape)))
    assert (solver.check() == z3.sat) == expected, (params, shapes, k)
