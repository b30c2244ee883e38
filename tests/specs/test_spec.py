"""Tool specs checked at run time: refinements, types, pre/postconditions, invariants, effects."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import annotated_types as at
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import effectus as fx
from effectus.specs import Length, SpecError, spec_of

HERE = Path(__file__).name


def line_of(text: str) -> int:
    """The line of this file that contains ``text`` (for asserting reported sites)."""
    return next(i for i, line in enumerate(Path(__file__).read_text().splitlines(), 1) if text in line)


@fx.tool(requires=lambda xs, k: 0 < k <= len(xs), ensures=lambda result, k: len(result) == k)
async def top(xs: list[int], k: int) -> list[int]:
    return sorted(xs, reverse=True)[:k]


@fx.tool
async def plain(x: int) -> int:
    return x


@settings(max_examples=60, deadline=None)
@given(xs=st.lists(st.integers(), max_size=6), k=st.integers(-2, 8))
def test_a_relational_precondition_is_checked_exactly(xs: list[int], k: int) -> None:
    """The call succeeds exactly when the precondition holds, and then returns the body's answer."""
    if 0 < k <= len(xs):
        assert fx.run(top(xs, k)) == sorted(xs, reverse=True)[:k]
    else:
        with pytest.raises(fx.PreconditionError):
            top(xs, k)


def test_a_failed_precondition_names_the_predicate_values_and_call_site() -> None:
    """The message quotes the predicate's source, the values it read, and the caller's line."""
    with pytest.raises(fx.PreconditionError) as info:
        top([5], 3)  # the failing call
    text = str(info.value)
    assert text.startswith("precondition of tool top failed: 0 < k <= len(xs)\n")
    assert "  xs = [5]\n  k = 3\n" in text
    assert f"called at tests/specs/{HERE}:{line_of('top([5], 3)  # the failing call')} in " in text
    assert f"predicate at tests/specs/{HERE}:{line_of('@fx.tool(requires=lambda xs, k: 0 < k')}" in text
    assert "Fix: call the tool with arguments that satisfy it" in text


def test_a_failed_postcondition_is_raised_at_the_await() -> None:
    """A body that breaks `ensures` fails with PostconditionError, raised where it was awaited."""

    @fx.tool(ensures=lambda result, x: result > x)
    async def grow(x: int) -> int:
        return x - 1

    async def main() -> int:
        return await grow(3)  # awaited here

    with pytest.raises(fx.PostconditionError) as info:
        fx.run(main())
    text = str(info.value)
    assert text.startswith("postcondition of tool ")
    assert "failed: result > x\n  result = 2\n  x = 3\n" in text
    frames = traceback.extract_tb(info.value.__traceback__)
    assert any(f.name == "main" and f.lineno == line_of("return await grow(3)  # awaited here") for f in frames)


@settings(max_examples=80, deadline=None)
@given(k=st.integers(-50, 50))
def test_numeric_refinements_accept_exactly_their_interval(k: int) -> None:
    """Ge, Lt and MultipleOf together accept k iff 0 <= k < 30 and k % 3 == 0."""

    @fx.tool
    async def unused() -> None:
        return None

    @fx.tool(requires=[])
    async def pick(k: Annotated[int, at.Ge(0), at.Lt(30), at.MultipleOf(3)]) -> int:
        return k

    if 0 <= k < 30 and k % 3 == 0:
        assert fx.run(pick(k)) == k
    else:
        with pytest.raises(fx.PreconditionError, match=r"refinement of tool .*pick failed: "):
            pick(k)


@settings(max_examples=60, deadline=None)
@given(xs=st.lists(st.integers(), max_size=7), n=st.integers(0, 6))
def test_length_refinements_and_vectors(xs: list[int], n: int) -> None:
    """MinLen/MaxLen/Len bound a length; Length("n") ties it to another parameter (a Vec[n])."""

    @fx.tool()
    async def count(xs: Annotated[list[int], at.Len(1, 5)]) -> int:
        return len(xs)

    @fx.tool(requires=[])
    async def vec(n: int, xs: Annotated[list[int], Length("n")]) -> int:
        return n

    if 1 <= len(xs) <= 5:
        assert fx.run(count(xs)) == len(xs)
    else:
        with pytest.raises(fx.PreconditionError, match=r"len\(xs\) (>= 1|<= 5)"):
            count(xs)
    if len(xs) == n:
        assert fx.run(vec(n, xs)) == n
    else:
        with pytest.raises(fx.PreconditionError, match=r"failed: len\(xs\) == \(n\)"):
            vec(n, xs)


def test_a_refined_result_is_a_postcondition() -> None:
    """``-> Annotated[int, Gt(0)]`` is checked on the result."""

    @fx.tool(requires=[])
    async def dec(x: int) -> Annotated[int, at.Gt(0)]:
        return x - 1

    assert fx.run(dec(5)) == 4
    with pytest.raises(fx.PostconditionError, match=r"refinement of tool .*dec failed: result > 0\n  result = 0"):
        fx.run(dec(1))


def test_an_annotated_types_predicate_refinement_is_called() -> None:
    """``Predicate(str.isupper)`` runs on the argument."""

    @fx.tool(requires=[])
    async def shout(word: Annotated[str, at.Predicate(str.isupper)]) -> str:
        return word + "!"

    assert fx.run(shout("HEY")) == "HEY!"
    with pytest.raises(fx.PreconditionError, match=r"word = 'hey'"):
        shout("hey")


def test_argument_and_result_types_are_checked_with_beartype() -> None:
    """Plain classes and generic hints (list[int]) are checked on the way in and out."""

    @fx.tool(requires=[])
    async def total(xs: list[int], scale: float = 1) -> int:
        return sum(xs) * scale if scale < 0 else int(sum(xs) * scale)  # type: ignore[return-value]

    assert fx.run(total([1, 2])) == 3
    assert fx.run(total([1, 2], 2)) == 6  # an int where a float goes: the numeric tower
    with pytest.raises(fx.PreconditionError, match=r"argument xs of tool .*total must be list\[int\], got \['a'\]"):
        total(["a"])  # type: ignore[list-item]
    with pytest.raises(fx.PreconditionError, match=r"argument scale .* must be float, got 'x'"):
        total([1], "x")  # type: ignore[arg-type]
    with pytest.raises(fx.PostconditionError, match=r"result of tool .*total must be int, got -1.5"):
        fx.run(total([1, 2], -0.5))


def test_a_predicate_that_raises_or_is_not_boolean_is_reported_as_such() -> None:
    """A predicate raising, or answering a non-bool, is a spec failure naming what happened."""

    @fx.tool(requires=lambda a, b: a / b > 0)
    async def ratio(a: int, b: int) -> float:
        return a / b

    with pytest.raises(fx.PreconditionError, match=r"raised ZeroDivisionError: division by zero\n  predicate: a / b > 0") as info:
        ratio(1, 0)
    assert isinstance(info.value.__cause__, ZeroDivisionError)

    @fx.tool(requires=lambda xs: len(xs))
    async def nonempty(xs: list[int]) -> int:
        return xs[0]

    with pytest.raises(fx.PreconditionError, match=r"answered 2 \(type=int\), not a bool: len\(xs\)"):
        nonempty([1, 2])


def test_numpy_booleans_are_accepted() -> None:
    """A predicate answering numpy.bool_ is read as the bool it is."""

    @fx.tool(requires=lambda v: np.all(np.asarray(v) > 0))
    async def positive(v: list[int]) -> int:
        return len(v)

    assert fx.run(positive([1, 2])) == 2
    with pytest.raises(fx.PreconditionError, match=r"failed: np.all\(np.asarray\(v\) > 0\)"):
        positive([1, -2])


def test_invariants_hold_before_and_after_the_body() -> None:
    """An invariant over a mutable argument is checked on entry and again on return."""

    @fx.tool(invariants=lambda stack: all(a <= b for a, b in zip(stack, stack[1:])))
    async def push(stack: list[int], x: int) -> None:
        stack.append(x)

    s = [1, 2]
    fx.run(push(s, 5))
    assert s == [1, 2, 5]
    with pytest.raises(fx.PostconditionError, match=r"invariant of tool .*push failed"):
        fx.run(push(s, 0))
    with pytest.raises(fx.PreconditionError, match=r"invariant of tool .*push failed"):
        push([3, 1], 4)


def test_defaults_keyword_only_and_positional_only_parameters_bind_as_in_python() -> None:
    """The generated check has the tool's own signature: defaults are checked, binding errors
    are Python's own TypeError."""

    @fx.tool(requires=lambda a, b, c: a + b + c > 0)
    async def f(a: int, /, b: int = 1, *, c: int = 0) -> int:
        return a + b + c

    assert fx.run(f(0)) == 1
    assert fx.run(f(0, c=2, b=0)) == 2
    with pytest.raises(fx.PreconditionError, match=r"  a = -1\n  b = 1\n  c = 0"):
        f(-1)
    with pytest.raises(TypeError):
        f(a=1)  # type: ignore[call-arg]


def test_predicates_not_inlined_give_the_same_verdicts() -> None:
    """A predicate reading a closure is called rather than inlined; verdicts are the same."""
    limit = 10

    @fx.tool(requires=lambda x: x < limit)
    async def called(x: int) -> int:
        return x

    @fx.tool(requires=lambda x: x < 10)
    async def inlined(x: int) -> int:
        return x

    s_called, s_inlined = spec_of(called), spec_of(inlined)
    assert s_called is not None and s_inlined is not None
    assert s_called.requires[0].inline is None and s_inlined.requires[0].inline == "(x < 10)"
    for x in (9, 10, 11):
        for t in (called, inlined):
            if x < 10:
                assert fx.run(t(x)) == x
            else:
                with pytest.raises(fx.PreconditionError):
                    t(x)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: fx.tool(requires=lambda y: y > 0)(_body), r"names y, which is not a parameter of .*Fix: name its parameters after the tool's: x"),
        (lambda: fx.tool(requires=lambda result: result > 0)(_body), r"names result.*only ensures may name `result`"),
        (lambda: fx.tool(requires=[3])(_body), r"3 is not a predicate"),
        (lambda: fx.tool(effects=[int])(_body), r"<class 'int'> is not an effect type"),
        (lambda: fx.tool(requires=[])(_contradiction), r"refinements of x contradict each other: Gt\(gt=5\), Lt\(lt=3\)"),
        (lambda: fx.tool(requires=[])(_bad_length), r"Length\('m'\) on xs names m, which is not a parameter"),
    ],
)
def test_malformed_specs_are_refused_when_decorated(make: object, message: str) -> None:
    """Each malformed spec raises SpecError at decoration, saying what is wrong and the fix."""
    with pytest.raises(SpecError, match="(?s)" + message):
        make()  # type: ignore[operator]


async def _body(x: int) -> int:
    return x


async def _contradiction(x: Annotated[int, at.Gt(5), at.Lt(3)]) -> int:
    return x


async def _bad_length(xs: Annotated[list[int], Length("m")]) -> int:
    return len(xs)


def test_a_spec_on_a_plain_function_is_refused() -> None:
    """Specs go on `async def` programs; a plain def gets the TypeError that says so."""

    def sync(x: int) -> int:
        return x

    with pytest.raises(TypeError, match=r"@fx.tool decorates `async def` programs"):
        fx.tool(requires=lambda x: x > 0)(sync)  # type: ignore[arg-type]


# --- declared effects -------------------------------------------------------------------------


@dataclass(frozen=True)
class Read(fx.Effect[int]):
    key: str


@dataclass(frozen=True)
class Write(fx.Effect[None]):
    key: str
    value: int


class Store(fx.Handler):
    """A dict, counting what reached it."""

    def __init__(self) -> None:
        self.data: dict[str, int] = {}
        self.seen: list[str] = []

    @fx.handles(Read)
    def read(self, e: Read) -> int:
        self.seen.append(f"read {e.key}")
        return self.data.get(e.key, 0)

    @fx.handles(Write)
    def write(self, e: Write) -> None:
        self.seen.append(f"write {e.key}")
        self.data[e.key] = e.value


@fx.tool(effects=[Read])
async def reader(key: str) -> int:
    return await Read(key)


@fx.tool(effects=[Read])
async def sneaky(key: str) -> int:
    value = await Read(key)
    await Write(key, value + 1)  # not declared
    return value


async def helper_writes(key: str) -> None:
    await Write(key, 1)


@fx.tool(effects=[Read])
async def via_helper(key: str) -> None:
    await helper_writes(key)


@fx.tool(effects=[Read, fx.Spawn, fx.Join])
async def via_task(key: str) -> None:
    task = await fx.Spawn(helper_writes(key))
    await fx.Join(task)


def test_declared_effects_pass_and_undeclared_ones_are_refused_before_any_handler() -> None:
    """A tool may perform what it declares; an undeclared effect raises UndeclaredEffect at the
    tool's await, and the handler never sees it."""
    store = Store()
    store.data["k"] = 4
    assert fx.run(reader("k"), store) == 4
    with pytest.raises(fx.UndeclaredEffect) as info:
        fx.run(sneaky("k"), store)
    assert store.seen == ["read k", "read k"]  # the write never reached the store
    text = str(info.value)
    assert "tool sneaky performed Write(key='k', value=5), an effect its spec does not declare" in text
    assert f"at tests/specs/{HERE}:{line_of('await Write(key, value + 1)  # not declared')} in sneaky" in text
    assert "declared effects: Read" in text and "Fix: add Write to effects=[...]" in text


@pytest.mark.parametrize("interpreter", [fx.testing(), fx.Interpreter(scheduler=fx.Cooperative())], ids=["seeded", "cooperative"])
def test_the_declaration_covers_callees_and_spawned_tasks(interpreter: fx.Interpreter) -> None:
    """Plain programs the tool awaits, and tasks it spawns, are held to the tool's declaration."""
    for program in (via_helper("k"), via_task("k")):
        store = Store()
        with pytest.raises(fx.UndeclaredEffect, match=r"performed Write"):
            interpreter.with_handlers(store).run(program)
        assert store.seen == []


def test_handlers_installed_inside_the_tool_answer_effects_that_never_leave_it() -> None:
    """A tool that handles an effect itself (fx.handle) may perform it without declaring it."""

    @fx.tool(effects=[Read])
    async def local(key: str) -> int:
        inner = Store()
        await fx.handle(helper_writes(key), inner)
        return inner.data[key] + await Read(key)

    outer = Store()
    assert fx.run(local("k"), outer) == 1
    assert outer.seen == ["read k"]


def test_a_tool_without_declared_effects_may_perform_any() -> None:
    """No ``effects=``: nothing is restricted (and the tool carries no guard)."""

    @fx.tool(requires=lambda key: key != "")
    async def free(key: str) -> int:
        await Write(key, 2)
        return await Read(key)

    assert free.allowed is None
    assert fx.run(free("k"), Store()) == 2


def test_spec_of_reads_back_what_was_declared() -> None:
    """The spec keeps each predicate's source, the constraints, the effects and placement."""

    @fx.tool(requires=lambda n: n > 0, effects=[Read], placement="on(cpu>=1)")
    async def shaped(n: Annotated[int, at.Le(9)]) -> int:
        return n

    spec = spec_of(shaped)
    assert spec is not None and spec_of(plain) is None
    assert [p.source for p in spec.predicates()] == ["n <= 9", "n > 0"]
    assert spec.constraints == {"n": (at.Le(9),)}
    assert spec.effects == frozenset({Read}) and spec.placement == "on(cpu>=1)"
