"""Tests of `effectus.core._effect`: declaring effects and awaiting them."""

from __future__ import annotations

import dataclasses
import traceback
from dataclasses import dataclass

import pytest

import effectus as fx


@dataclass(frozen=True)
class Get(fx.Effect[int]):
    key: str


class Memory(fx.Handler):
    def __init__(self) -> None:
        self.data: dict[str, int] = {}

    @fx.handles(Get)
    def get(self, e: Get) -> int:
        return self.data.get(e.key, 0)


@fx.effect
class Ping(fx.Effect[str]):
    host: str
    port: int = 80


@fx.effect
class Positive(fx.Effect[int]):
    n: int

    def __post_init__(self) -> None:
        if self.n <= 0:
            raise ValueError(f"n must be positive; got n={self.n}")


class Pinger(fx.Handler):
    @fx.handles(Ping)
    def ping(self, e: Ping) -> str:
        return f"{e.host}:{e.port}"


def test_plain_frozen_dataclass_effect_is_performed() -> None:
    """A plain @dataclass(frozen=True) subclass of fx.Effect[R] is awaited and answered."""

    async def main() -> int:
        return await Get("x") + 1

    memory = Memory()
    memory.data["x"] = 41
    assert fx.run(main(), memory) == 42


def test_effect_decorator_makes_a_frozen_slotted_dataclass() -> None:
    """@fx.effect gives a frozen dataclass with __slots__ and no instance __dict__."""
    assert [f.name for f in dataclasses.fields(Ping)] == ["host", "port"]
    assert Ping.__dataclass_params__.frozen  # type: ignore[attr-defined]  # dataclass internals
    assert "__slots__" in vars(Ping)
    assert not hasattr(Ping("h"), "__dict__")


def test_effect_decorator_keeps_defaults_repr_and_equality() -> None:
    """@fx.effect fields take defaults; repr, equality and hashing are the dataclass ones."""
    assert Ping("h") == Ping("h", 80)
    assert Ping("h", port=81) != Ping("h")
    assert repr(Ping("h")) == "Ping(host='h', port=80)"
    assert hash(Ping("h")) == hash(Ping("h", 80))
    assert Ping(port=1, host="k").port == 1


def test_effect_decorator_result_is_awaitable_effect() -> None:
    """An @fx.effect instance is performed like any other effect."""

    async def main() -> str:
        return await Ping("example.org", 8080)

    assert fx.run(main(), Pinger()) == "example.org:8080"


def test_effect_decorator_with_parentheses() -> None:
    """@fx.effect() with parentheses works the same as bare @fx.effect."""

    @fx.effect()
    class Echo(fx.Effect[int]):
        n: int = 3

    assert Echo().n == 3
    assert "__slots__" in vars(Echo)


def test_post_init_validation_fails_on_the_users_line() -> None:
    """__post_init__ runs at construction, so a bad effect raises where it is built."""
    with pytest.raises(ValueError, match=r"^n must be positive; got n=0$") as info:
        Positive(0)
    frames = traceback.extract_tb(info.value.__traceback__)
    assert frames[0].name == "test_post_init_validation_fails_on_the_users_line"
    assert frames[0].line == "Positive(0)"
    assert frames[-1].name == "__post_init__"
    assert Positive(1).n == 1


def test_post_init_validation_can_be_switched_off() -> None:
    """@fx.effect(validate=False) skips __post_init__."""

    @fx.effect(validate=False)
    class Loose(fx.Effect[int]):
        n: int

        def __post_init__(self) -> None:
            raise AssertionError("not called")

    assert Loose(0).n == 0


def test_effect_decorator_keeps_default_factories() -> None:
    """A field with default_factory keeps working (the dataclass __init__ is kept)."""

    @fx.effect
    class Batch(fx.Effect[int]):
        items: tuple[int, ...] = dataclasses.field(default_factory=tuple)

    assert Batch().items == ()
    assert Batch((1, 2)).items == (1, 2)


def test_assigning_a_field_raises_frozen_instance_error() -> None:
    """Both kinds of effect are immutable: assignment raises FrozenInstanceError."""
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'port'"):
        Ping("h").port = 1  # type: ignore[misc]  # the point of the test
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'key'"):
        Get("x").key = "y"  # type: ignore[misc]  # the point of the test


def test_effect_decorator_on_a_non_effect_class_is_a_type_error() -> None:
    """@fx.effect on a class that does not subclass fx.Effect raises TypeError with a fix."""
    with pytest.raises(TypeError) as info:

        @fx.effect
        class NotAnEffect:
            x: int

    assert str(info.value).startswith("@effect decorates subclasses of Effect[R]; got <class ")
    assert "Fix: declare it as `class NotAnEffect(fx.Effect[ResultType]): ...`" in str(info.value)


def test_effect_decorator_on_a_function_is_a_type_error() -> None:
    """@fx.effect on something that is not a class at all raises TypeError."""

    def f() -> None: ...

    with pytest.raises(TypeError, match=r"^@effect decorates subclasses of .*; got <function"):
        fx.effect(f)  # type: ignore[call-overload]  # the point of the test


def test_awaiting_an_effect_outside_an_interpreter_yields_it() -> None:
    """Effect.__await__ yields the effect itself and returns what is sent back."""
    e = Get("x")
    gen = e.__await__()
    assert next(gen) is e
    with pytest.raises(StopIteration) as stop:
        gen.send(7)
    assert stop.value.value == 7
