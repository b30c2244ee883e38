"""fx.equivalent: may a new tool replace an old one?  Proved or refuted by z3 for pure bodies in
the subset; tested differentially (under fx.testing, effects compared) otherwise."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import effectus as fx


@fx.tool(requires=lambda x: x >= 0)
async def old_abs(x: int) -> int:
    if x < 0:
        return -x
    return x


@fx.tool
async def identity_int(x: int) -> int:
    return x


@fx.tool
async def off_at_seven(x: int) -> int:
    return x + (1 if x == 7 else 0)


@fx.tool(requires=lambda x: x > 0)
async def refuses_zero(x: int) -> int:
    return x


@fx.tool
async def clamp_old(x: int, hi: int) -> int:
    return x if x < hi else hi


@fx.tool
async def clamp_new(x: int, hi: int) -> int:
    return min(x, hi)


@fx.tool
async def ratio_old(a: int, b: int) -> int:
    return a // b


@fx.tool
async def ratio_guarded(a: int, b: int) -> int:
    if b == 0:
        return 0
    return a // b


@fx.tool
async def greet(name: str) -> int:
    await fx.Log(f"hello {name}")
    return len(name)


@fx.tool
async def greet_same(name: str) -> int:
    await fx.Log(f"hello {name}")
    return len(name)


@fx.tool
async def greet_other_words(name: str) -> int:
    await fx.Log(f"hi {name}")
    return len(name)


@fx.tool
async def count_loop(xs: list[int]) -> int:
    n = 0
    for _ in xs:
        n += 1
    return n


@fx.tool
async def count_len(xs: list[int]) -> int:
    return len(xs)


@fx.tool
async def count_but_long(xs: list[int]) -> int:
    return len(xs) if len(xs) < 3 else 3


def test_z3_proves_a_pure_rewrite_on_the_old_tools_domain() -> None:
    """old_abs accepts x >= 0 only, where it is the identity: the identity may replace it."""
    eq = fx.equivalent(old_abs, identity_int)
    assert eq and (eq.verdict, eq.method) == ("proved", "z3")
    eq = fx.equivalent(clamp_old, clamp_new)
    assert (eq.verdict, eq.method) == ("proved", "z3")


def test_z3_refutes_with_a_counterexample_that_really_differs() -> None:
    """The counterexample is the one input where the rewrite differs, and running both on it
    shows the two outcomes."""
    eq = fx.equivalent(identity_int, off_at_seven)
    assert not eq and (eq.verdict, eq.method) == ("refuted", "z3")
    assert eq.counterexample == {"x": "7"} and "old returns 7, new returns 8" in eq.detail
    assert fx.run(identity_int(7)) != fx.run(off_at_seven(7))


def test_a_new_tool_that_refuses_what_the_old_accepted_cannot_replace_it() -> None:
    """x = 0 is in old_abs's domain, not in refuses_zero's."""
    eq = fx.equivalent(old_abs, refuses_zero)
    assert eq.verdict == "refuted" and eq.counterexample == {"x": "0"} and "refuses" in eq.detail


def test_raising_is_an_outcome_too() -> None:
    """a // 0 raises in the old tool; the guarded one returns 0 there: they differ at b = 0."""
    eq = fx.equivalent(ratio_old, ratio_guarded)
    assert eq.verdict == "refuted" and eq.counterexample["b"] == "0"
    assert "raises ZeroDivisionError" in eq.detail


def test_effectful_tools_are_compared_differentially_effects_included() -> None:
    """Same result but another log line is a disagreement, shrunk to the empty name; the same
    tool written twice agrees on every generated example."""
    eq = fx.equivalent(greet, greet_same, examples=50)
    assert eq and (eq.verdict, eq.method) == ("agreed", "differential") and eq.examples == 50
    eq = fx.equivalent(greet, greet_other_words, examples=50)
    assert (eq.verdict, eq.method) == ("refuted", "differential")
    assert eq.counterexample == {"name": "''"} and "effect 0 differs" in eq.detail


def test_bodies_outside_the_subset_are_tested_not_proved() -> None:
    """A loop puts a body outside the subset: the verdict comes from running both tools, and
    the first disagreement is the shortest list where they differ."""
    eq = fx.equivalent(count_loop, count_len, examples=100)
    assert (eq.verdict, eq.method) == ("agreed", "differential")
    eq = fx.equivalent(count_loop, count_but_long, examples=100)
    assert eq.verdict == "refuted" and eq.counterexample == {"xs": "[0, 0, 0, 0]"}


class Unbuildable:
    """Hypothesis cannot build it: its __init__ parameter has no annotation."""

    def __init__(self, secret) -> None:  # type: ignore[no-untyped-def]
        self.secret = secret


def test_misuse_is_a_type_error_that_says_what_to_do() -> None:
    """Not a tool, a different number of parameters, or a type Hypothesis cannot build."""

    @fx.tool
    async def takes_opaque(o: Unbuildable) -> int:
        return len(repr(o))  # outside the subset: only a differential test can compare it

    with pytest.raises(TypeError, match="not a tool"):
        fx.equivalent(old_abs, lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes 2 arguments and .* takes 1"):
        fx.equivalent(clamp_old, identity_int)
    with pytest.raises(TypeError, match="(?s)cannot generate arguments for .*takes_opaque.*register_type_strategy"):
        fx.equivalent(takes_opaque, takes_opaque)


@settings(max_examples=30, deadline=None)
@given(k=st.integers(-5, 5))
def test_equivalence_verdicts_agree_with_running_the_tools(k: int) -> None:
    """Whatever z3 proves equivalent gives equal results on every sampled input (property)."""
    @fx.tool
    async def shifted(x: int) -> int:
        return x + k - k

    assert fx.equivalent(identity_int, shifted).verdict == "proved"
    for x in range(-3, 4):
        assert fx.run(identity_int(x)) == fx.run(shifted(x))
