"""Tests of `effectus.core._handler`: declaring handlers, checked when the class is defined."""

from __future__ import annotations

import os

from dataclasses import dataclass

import pytest

import effectus as fx


@dataclass(frozen=True)
class Get(fx.Effect[int]):
    key: str


@dataclass(frozen=True)
class Put(fx.Effect[None]):
    key: str
    value: int


@dataclass(frozen=True)
class Peek(Get):
    """A subclass effect: handled by any handler of Get unless handled itself."""


class Memory(fx.Handler):
    def __init__(self) -> None:
        self.data: dict[str, int] = {}

    @fx.handles(Get)
    def get(self, e: Get) -> int:
        return self.data.get(e.key, 0)

    @fx.handles(Put)
    def put(self, e: Put) -> None:
        self.data[e.key] = e.value


def test_handled_lists_the_effect_types_in_definition_order() -> None:
    """Handler.handled() gives the handled effect types in the order they were declared."""
    assert Memory.handled() == (Get, Put)
    assert fx.Handler.handled() == ()


def test_one_method_may_handle_several_types() -> None:
    """@fx.handles(A, B) makes one method the handler of both types."""

    class Both(fx.Handler):
        @fx.handles(Get, Put)
        def either(self, e: Get | Put) -> int | None:
            return 5 if isinstance(e, Get) else None

    async def main() -> int:
        await Put("k", 1)
        return await Get("k")

    assert Both.handled() == (Get, Put)
    assert fx.run(main(), Both()) == 5


def test_stacked_handles_decorators_accumulate() -> None:
    """Two @fx.handles decorators on one method register both types."""

    class Both(fx.Handler):
        @fx.handles(Get)
        @fx.handles(Put)
        def either(self, e: Get | Put) -> int | None:
            return 1

    assert set(Both.handled()) == {Get, Put}


def test_handles_without_types_is_a_type_error() -> None:
    """@fx.handles() with no effect types raises TypeError at definition time."""
    with pytest.raises(TypeError) as info:

        class H(fx.Handler):
            @fx.handles()
            def h(self, e: Get) -> int:
                return 0

    assert str(info.value) == (
        "@handles() needs at least one Effect subclass, e.g. @handles(ReadFile)."
    )


def test_handles_a_non_effect_type_is_a_type_error() -> None:
    """@fx.handles(int) raises TypeError naming the bad argument and its type, with a fix."""
    with pytest.raises(TypeError) as info:

        class H(fx.Handler):
            @fx.handles(int)  # type: ignore[arg-type]  # the point of the test
            def h(self, e: int) -> int:
                return 0

    assert str(info.value).splitlines() == [
        "@handles takes Effect subclasses; got <class 'int'> (type=type).",
        "Fix: declare the effect as `@dataclass(frozen=True) class X(fx.Effect[R])`.",
    ]


def test_handles_an_effect_instance_is_a_type_error() -> None:
    """@fx.handles(Get("x")) (an instance, not a type) raises TypeError."""
    with pytest.raises(TypeError, match=r"got Get\(key='x'\) \(type=Get\)"):
        fx.handles(Get("x"))  # type: ignore[arg-type]  # the point of the test


def test_bare_handles_is_a_type_error_naming_the_method() -> None:
    """@fx.handles without parentheses raises TypeError naming the method it decorates."""
    with pytest.raises(TypeError) as info:

        class H(fx.Handler):
            @fx.handles  # type: ignore[arg-type]  # the point of the test
            def lookup(self, e: Get) -> int:  # type: ignore[misc]  # follows from the above
                return 0

    assert str(info.value) == (
        "@handles needs the effect types it handles: write @handles(SomeEffect) above "
        "test_bare_handles_is_a_type_error_naming_the_method.<locals>.H.lookup, not bare @handles."
    )


def test_method_without_effect_parameter_is_a_type_error() -> None:
    """A handler method `def h(self)` raises TypeError at definition, naming the method."""
    with pytest.raises(TypeError) as info:

        class H(fx.Handler):
            @fx.handles(Get)
            def lonely(self) -> int:
                return 0

    lines = str(info.value).splitlines()
    assert lines[0] == (
        "handler method test_method_without_effect_parameter_is_a_type_error.<locals>.H.lonely"
        "(self) -> 'int' must take (self, effect): the effect (Get) is its only argument."
    )
    # co_firstlineno of a decorated function is its first decorator's line
    assert lines[1] == f"  at {os.path.relpath(__file__)}:{_line_of('def lonely') - 1}"
    assert lines[2] == "Fix: def lonely(self, e: Get) -> ..."


def test_method_with_two_effect_parameters_is_a_type_error() -> None:
    """A handler method `def h(self, a, b)` raises TypeError at definition, naming the method."""
    with pytest.raises(TypeError) as info:

        class H(fx.Handler):
            @fx.handles(Get, Put)
            def greedy(self, a: Get, b: Get) -> int:
                return 0

    lines = str(info.value).splitlines()
    assert lines[0].startswith("handler method ")
    signature = "(self, a: 'Get', b: 'Get') -> 'int'"
    assert f".<locals>.H.greedy{signature} must take (self, effect)" in lines[0]
    assert "the effect (Get, Put) is its only argument." in lines[0]
    assert lines[2] == "Fix: def greedy(self, e: Get) -> ..."


def test_method_with_required_keyword_only_parameter_is_a_type_error() -> None:
    """A handler method with a required keyword-only parameter cannot be called with one effect."""
    with pytest.raises(TypeError, match=r"must take \(self, effect\)"):

        class H(fx.Handler):
            @fx.handles(Get)
            def h(self, e: Get, *, extra: int) -> int:
                return 0


def test_method_with_optional_extra_parameters_is_accepted() -> None:
    """Extra parameters with defaults, or *args, do not stop a method taking one effect."""

    class H(fx.Handler):
        @fx.handles(Get)
        def h(self, e: Get, scale: int = 2) -> int:
            return scale

        @fx.handles(Put)
        def p(self, *args: object) -> None:
            return None

    async def main() -> int:
        await Put("k", 1)
        return await Get("k")

    assert fx.run(main(), H()) == 2


def test_two_methods_handling_the_same_type_is_a_type_error() -> None:
    """Two methods of one class handling the same effect type raise TypeError naming both."""
    with pytest.raises(TypeError) as info:

        class Twice(fx.Handler):
            @fx.handles(Get)
            def first(self, e: Get) -> int:
                return 1

            @fx.handles(Get)
            def second(self, e: Get) -> int:
                return 2

    assert str(info.value) == (
        "test_two_methods_handling_the_same_type_is_a_type_error.<locals>.Twice handles Get "
        "twice: in first() and second(). Fix: keep one method per effect type."
    )


def test_subclass_overrides_the_parents_handler() -> None:
    """A subclass's method for an effect type replaces the parent's; the rest is inherited."""

    class Seeded(Memory):
        @fx.handles(Get)
        def seeded_get(self, e: Get) -> int:
            return 100 + self.data.get(e.key, 0)

    async def main() -> int:
        await Put("k", 1)  # inherited from Memory
        return await Get("k")

    assert Seeded.handled() == (Get, Put)
    assert fx.run(main(), Seeded()) == 101
    assert fx.run(main(), Memory()) == 1  # the parent is unchanged


def test_subclass_may_add_handled_types() -> None:
    """A subclass handling a new effect type keeps its parent's types too."""

    @dataclass(frozen=True)
    class Size(fx.Effect[int]):
        pass

    class Sized(Memory):
        @fx.handles(Size)
        def size(self, e: Size) -> int:
            return len(self.data)

    assert Sized.handled() == (Get, Put, Size)
    assert Memory.handled() == (Get, Put)


def test_handler_of_a_base_effect_handles_its_subclasses() -> None:
    """Performing a subclass effect dispatches to the handler of its base class."""

    async def main() -> int:
        await Put("k", 9)
        return await Peek("k")

    assert fx.run(main(), Memory()) == 9


def test_most_specific_method_of_one_handler_wins() -> None:
    """A handler with methods for both a base and a subclass effect uses the subclass's one."""

    class Both(fx.Handler):
        @fx.handles(Get)
        def get(self, e: Get) -> int:
            return 1

        @fx.handles(Peek)
        def peek(self, e: Peek) -> int:
            return 2

    async def main() -> tuple[int, int, int]:
        return await Get("k"), await Peek("k"), await Peek("k")  # the second Peek hits the cache

    assert fx.run(main(), Both()) == (1, 2, 2)


def test_inner_handler_of_a_base_effect_shadows_outer_handler_of_the_subclass() -> None:
    """Innermost first holds for subclass effects: an inner catch-all beats an outer exact match."""

    class Everything(fx.Handler):
        @fx.handles(fx.Effect)
        def any(self, e: fx.Effect[object]) -> int:
            return -1

    class Peeker(fx.Handler):
        @fx.handles(Peek)
        def peek(self, e: Peek) -> int:
            return 2

    async def main() -> tuple[int, int]:
        return await Peek("k"), await Get("k")

    assert fx.run(main(), Everything(), Peeker(), Memory()) == (-1, -1)
    assert fx.run(main(), Peeker(), Memory()) == (2, 0)
    assert fx.run(main(), Memory(), Peeker()) == (0, 0)


def test_handler_repr_names_the_class() -> None:
    """A handler's default repr is its class name with empty parentheses."""
    assert repr(Memory()) == "Memory()"


def test_async_method_is_allowed_and_checked_like_a_sync_one() -> None:
    """@fx.handles accepts async methods and checks their signature too."""
    with pytest.raises(TypeError, match=r"\.H\.bad\(self\) -> 'int' must take \(self, effect\)"):

        class H(fx.Handler):
            @fx.handles(Get)
            async def bad(self) -> int:
                return 0


def _line_of(text: str) -> int:
    """The line of this file on which ``text`` first appears."""
    with open(__file__) as f:
        for number, line in enumerate(f, start=1):
            if text in line:
                return number
    raise AssertionError(f"{text!r} not in {__file__}")
