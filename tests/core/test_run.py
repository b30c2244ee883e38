"""Tests of `effectus.core._run`: running programs, interpreters, errors and scoped handlers."""

from __future__ import annotations

import asyncio
import gc
import os
import traceback
import types
import warnings
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from returns.result import Failure, Success

import effectus as fx
from effectus.core import _run

CORE_DIR = str(Path(_run.__file__).resolve().parent)
THIS_FILE = os.path.relpath(__file__)
HINT = (
    "Hint: are you using a library written for asyncio? effectus programs may only await "
    "effects, tool calls and other effectus programs; run asyncio code inside a handler."
)


# --- the effects and handlers of DESIGN.md, and a few more --------------------------------


@dataclass(frozen=True)
class Get(fx.Effect[int]):
    key: str


@dataclass(frozen=True)
class Put(fx.Effect[None]):
    key: str
    value: int


@dataclass(frozen=True)
class Missing(fx.Effect[int]):
    what: str


@dataclass(frozen=True)
class Fail(fx.Effect[int]):
    message: str


async def bump(key: str) -> int:
    v = await Get(key)
    await Put(key, v + 1)
    return v + 1


class Memory(fx.Handler):
    def __init__(self) -> None:
        self.data: dict[str, int] = {}

    @fx.handles(Get)
    def get(self, e: Get) -> int:
        return self.data.get(e.key, 0)

    @fx.handles(Put)
    def put(self, e: Put) -> None:
        self.data[e.key] = e.value


class Constant(fx.Handler):
    """Answers every Get with one value; handles nothing else."""

    def __init__(self, value: int) -> None:
        self.value = value

    @fx.handles(Get)
    def get(self, e: Get) -> int:
        return self.value


class Failing(fx.Handler):
    @fx.handles(Fail)
    def fail(self, e: Fail) -> int:
        raise ValueError(e.message)  # handler-raise


def frames_of(err: BaseException) -> list[traceback.FrameSummary]:
    return traceback.extract_tb(err.__traceback__)


def core_frames(err: BaseException) -> list[traceback.FrameSummary]:
    return [f for f in frames_of(err) if str(Path(f.filename).resolve()).startswith(CORE_DIR)]


def line_of(marker: str) -> int:
    """The line of this file that ends with the comment ``marker``."""
    lines = Path(__file__).read_text().splitlines()
    found = [n for n, line in enumerate(lines, start=1) if line.endswith(marker)]
    assert len(found) == 1, f"{marker!r} ends {len(found)} lines of {__file__}"
    return found[0]


@pytest.fixture
def no_runtime_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Record warnings (including 'coroutine ... was never awaited') and fail on any."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []


# --- running ---------------------------------------------------------------------------------


def test_design_example_returns_one() -> None:
    """DESIGN.md's example: bump("x") under Memory() returns 1 and stores 1."""
    memory = Memory()
    assert fx.run(bump("x"), memory) == 1
    assert memory.data == {"x": 1}


def test_program_without_effects_returns_its_value() -> None:
    """A program that performs no effect runs with no handlers."""

    async def main() -> str:
        return "done"

    assert fx.run(main()) == "done"


def test_nested_plain_coroutines_share_the_handlers() -> None:
    """A program may await another async def; its effects reach the same handlers."""

    async def twice() -> int:
        await bump("x")
        return await bump("x")

    assert fx.run(twice(), Memory()) == 2


def test_an_effect_may_be_run_as_the_whole_program() -> None:
    """fx.run(effect, ...) performs the single effect and returns its answer."""
    memory = Memory()
    memory.data["k"] = 3
    assert fx.run(Get("k"), memory) == 3


def test_innermost_handler_wins() -> None:
    """Handlers are listed innermost first: the first that handles an effect answers it."""

    async def main() -> int:
        return await Get("x")

    assert fx.run(main(), Constant(1), Constant(2)) == 1
    assert fx.run(main(), Constant(2), Constant(1)) == 2
    assert fx.run(main(), Constant(7), Memory()) == 7


def test_effects_the_inner_handler_does_not_handle_reach_the_outer_one() -> None:
    """A Put under (Constant, Memory) goes to Memory; the Get is answered by Constant."""
    memory = Memory()
    assert fx.run(bump("x"), Constant(10), memory) == 11
    assert memory.data == {"x": 11}


def test_handler_instances_keep_state_across_runs() -> None:
    """The same handler instance passed to two runs carries its state between them."""
    memory = Memory()
    fx.run(bump("x"), memory)
    assert fx.run(bump("x"), memory) == 2


def test_program_error_propagates_unchanged() -> None:
    """An exception the program raises comes out of fx.run as is."""

    async def main() -> int:
        await Get("x")
        raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        fx.run(main(), Memory())


# --- Interpreter -----------------------------------------------------------------------------


def test_interpreter_runs_programs() -> None:
    """Interpreter(*handlers).run(program) is fx.run(program, *handlers)."""
    memory = Memory()
    interp = fx.Interpreter(memory)
    assert interp.run(bump("x")) == 1
    assert interp.run(bump("x")) == 2
    assert interp.handlers == (memory,)


def test_with_handlers_returns_a_new_interpreter_and_leaves_the_old_one() -> None:
    """with_handlers puts handlers inside and returns a new interpreter; the old is unchanged."""
    memory = Memory()
    base = fx.Interpreter(memory)
    inner = Constant(5)
    extended = base.with_handlers(inner)

    async def main() -> int:
        return await Get("x")

    assert extended is not base
    assert extended.handlers == (inner, memory)
    assert base.handlers == (memory,)
    assert extended.run(main()) == 5
    assert base.run(main()) == 0


def test_interpreter_has_no_settable_attributes() -> None:
    """An Interpreter has __slots__ only: new attributes cannot be set on it."""
    interp = fx.Interpreter(Memory())
    with pytest.raises(AttributeError):
        interp.extra = 1  # type: ignore[attr-defined]  # the point of the test


def test_interpreter_is_spliced_into_run_and_other_interpreters() -> None:
    """An Interpreter given as a handler contributes its handlers in place, in order."""
    memory = Memory()
    c = Constant(3)
    inner = fx.Interpreter(c)
    outer = fx.Interpreter(inner, memory)
    assert outer.handlers == (c, memory)
    assert fx.run(bump("x"), inner, memory) == 4
    assert memory.data == {"x": 4}


def test_handler_lookup_returns_the_innermost_instance() -> None:
    """Interpreter.handler(cls) gives the innermost installed instance of cls."""
    first, second = Constant(1), Constant(2)
    memory = Memory()
    interp = fx.Interpreter(first, memory, second)
    assert interp.handler(Constant) is first
    assert interp.handler(Memory) is memory
    assert interp.handler(fx.Handler) is first


def test_handler_lookup_of_a_missing_class_is_a_lookup_error() -> None:
    """Interpreter.handler(cls) raises LookupError naming cls when none is installed."""
    interp = fx.Interpreter(Memory())
    with pytest.raises(LookupError) as info:
        interp.handler(Constant)
    assert str(info.value) == "no Constant is installed in Interpreter(Memory())"


def test_interpreter_repr_groups_named_handlers() -> None:
    """repr shows each handler, or the name given to a group of them."""
    assert repr(fx.Interpreter(Memory(), Constant(1))) == "Interpreter(Memory(), Constant())"
    named = fx.Interpreter(Memory(), Constant(1), name="testing()")
    assert repr(fx.Interpreter(Failing(), named)) == "Interpreter(Failing(), testing())"


# --- misuse: not a program, not a handler ----------------------------------------------------


def test_handler_class_instead_of_instance_is_a_type_error(
    no_runtime_warnings: list[warnings.WarningMessage],
) -> None:
    """Passing Memory instead of Memory() raises TypeError with the fix; the program is closed."""
    with pytest.raises(TypeError) as info:
        fx.run(bump("x"), Memory)  # type: ignore[arg-type]  # the point of the test
    assert str(info.value).splitlines() == [
        "fx.Interpreter() takes handler instances; got the class Memory.",
        "Fix: pass Memory() instead of Memory.",
    ]


def test_non_handler_is_a_type_error(no_runtime_warnings: list[warnings.WarningMessage]) -> None:
    """Passing something that is not a Handler raises TypeError naming it and its type."""
    with pytest.raises(TypeError) as info:
        fx.run(bump("x"), {"x": 1})  # type: ignore[arg-type]  # the point of the test
    assert str(info.value) == (
        "fx.Interpreter() takes fx.Handler instances or fx.Interpreter objects as handlers; "
        "got {'x': 1} (type=dict)."
    )


def test_run_result_with_a_non_handler_raises(
    no_runtime_warnings: list[warnings.WarningMessage],
) -> None:
    """run_result does not turn a misuse (a handler class) into a Failure: it raises."""
    with pytest.raises(TypeError, match="takes handler instances; got the class Memory"):
        fx.run_result(bump("x"), Memory)  # type: ignore[arg-type]  # the point of the test


def test_run_result_with_a_non_program_raises() -> None:
    """run_result(42) is a misuse, raised as TypeError, not returned as a Failure."""
    with pytest.raises(TypeError, match=r"run_result\(\) takes a program"):
        fx.run_result(42)  # type: ignore[arg-type]  # the point of the test


def test_uncalled_async_function_is_a_type_error(
    no_runtime_warnings: list[warnings.WarningMessage],
) -> None:
    """fx.run(bump) (the function, not bump(...)) raises TypeError showing the fix."""
    with pytest.raises(TypeError) as info:
        fx.run(bump, Memory())  # type: ignore[arg-type]  # the point of the test
    assert str(info.value).splitlines() == [
        "run() takes a program — the coroutine you get by calling an async def — but got the "
        "function bump itself.",
        "Fix: run(bump(...), ...)",
    ]


def test_int_program_is_a_type_error(no_runtime_warnings: list[warnings.WarningMessage]) -> None:
    """fx.run(42) raises TypeError naming the value and its type."""
    with pytest.raises(TypeError) as info:
        fx.run(42)  # type: ignore[arg-type]  # the point of the test
    assert str(info.value).splitlines() == [
        "run() takes a program — the coroutine you get by calling an async def — but got 42 "
        "(type=int).",
        "Fix: define `async def main(): ...` that awaits effects, and pass main().",
    ]


def test_generator_program_is_a_type_error(
    no_runtime_warnings: list[warnings.WarningMessage],
) -> None:
    """A generator is not a program: fx.run raises TypeError naming its type."""

    def numbers() -> Generator[int, None, None]:
        yield 1

    with pytest.raises(TypeError) as info:
        fx.run(numbers())  # type: ignore[arg-type]  # the point of the test
    message = str(info.value)
    assert message.startswith("run() takes a program — the coroutine you get by calling an async")
    assert "but got <generator object" in message and "(type=generator)." in message


def test_interpreter_run_of_a_non_program_is_a_type_error(
    no_runtime_warnings: list[warnings.WarningMessage],
) -> None:
    """Interpreter.run checks its program the same way fx.run does."""
    with pytest.raises(TypeError, match=r"^run\(\) takes a program .* got the function bump"):
        fx.Interpreter(Memory()).run(bump)  # type: ignore[arg-type]  # the point of the test


# --- run_result ------------------------------------------------------------------------------


def test_run_result_gives_success() -> None:
    """run_result returns Success(value) when the program returns."""
    assert fx.run_result(bump("x"), Memory()) == Success(1)


def test_run_result_gives_failure() -> None:
    """run_result returns Failure(error) carrying the very exception the program raised."""

    async def main() -> int:
        raise ValueError("no")

    result = fx.run_result(main())
    assert isinstance(result, Failure)
    err = result.failure()
    assert type(err) is ValueError and str(err) == "no"


def test_run_result_gives_failure_for_an_unhandled_effect() -> None:
    """An unhandled effect becomes Failure(UnhandledEffect)."""
    result = fx.Interpreter(Memory()).run_result(Missing("m"))
    assert isinstance(result.failure(), fx.UnhandledEffect)


def test_run_result_lets_keyboard_interrupt_through() -> None:
    """A BaseException that is not an Exception (KeyboardInterrupt) is raised, not wrapped."""

    class Interrupting(fx.Handler):
        @fx.handles(Get)
        def get(self, e: Get) -> int:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fx.run_result(bump("x"), Interrupting())


# --- a handler that raises -------------------------------------------------------------------


def test_handler_error_is_thrown_into_the_program_which_may_continue() -> None:
    """A handler's exception is raised at the program's await; caught there, the program goes on."""

    async def main() -> int:
        try:
            await Fail("first")
        except ValueError as err:
            assert str(err) == "first"
        return await bump("x")

    assert fx.run(main(), Failing(), Memory()) == 1


def test_uncaught_handler_error_traceback_shows_the_user_frames_only() -> None:
    """The traceback holds the program's await and the handler's raise; of core frames, only run."""

    async def main() -> int:
        return await Fail("boom")  # program-await

    with pytest.raises(ValueError, match="^boom$") as info:
        fx.run(main(), Failing())
    frames = frames_of(info.value)
    assert [(f.name, f.lineno) for f in frames[-2:]] == [
        ("main", line_of("# program-await")),
        ("fail", line_of("# handler-raise")),
    ]
    assert all(f.filename == __file__ for f in frames[-2:])
    assert [f.name for f in core_frames(info.value)] == ["run"]
    assert frames[1].name == "run"  # if present, run is the single frame at the top


def test_uncaught_handler_error_under_interpreter_run_is_trimmed_too() -> None:
    """Interpreter.run trims its traceback the same way as fx.run."""

    async def main() -> int:
        return await Fail("boom")

    with pytest.raises(ValueError) as info:
        fx.Interpreter(Failing()).run(main())
    assert [f.name for f in core_frames(info.value)] == ["run"]
    assert [f.name for f in frames_of(info.value)[-2:]] == ["main", "fail"]


def test_handler_error_in_a_nested_coroutine_is_raised_at_the_innermost_await() -> None:
    """An error from a handler surfaces at the await of the nested coroutine that performed it."""

    async def leaf() -> int:
        return await Fail("deep")  # leaf-await

    async def main() -> int:
        return await leaf()  # main-await

    with pytest.raises(ValueError) as info:
        fx.run(main(), Failing())
    assert [(f.name, f.lineno) for f in frames_of(info.value)[-3:]] == [
        ("main", line_of("# main-await")),
        ("leaf", line_of("# leaf-await")),
        ("fail", line_of("# handler-raise")),
    ]
    assert [f.name for f in core_frames(info.value)] == ["run"]


# --- unhandled effects -----------------------------------------------------------------------


def test_unhandled_effect_message_is_pinned() -> None:
    """UnhandledEffect says what, where (the user's await), what is installed, and the fix."""

    async def load() -> int:
        return await Missing("cfg")  # unhandled-await

    with pytest.raises(fx.UnhandledEffect) as info:
        fx.run(load(), Memory(), Constant(1))
    assert str(info.value).splitlines() == [
        "no handler for Missing(what='cfg')",
        f"  at {THIS_FILE}:{line_of('# unhandled-await')} in load",
        "  installed: Memory() — handles Get, Put",
        "             Constant() — handles Get",
        "Fix: add a handler with a method marked @fx.handles(Missing) to the handlers you run "
        "with, e.g. fx.run(program, YourHandler(), fx.testing()).",
    ]
    frames = frames_of(info.value)
    assert (frames[-1].name, frames[-1].lineno) == ("load", line_of("# unhandled-await"))
    assert [f.name for f in core_frames(info.value)] == ["run"]


def test_unhandled_effect_with_no_handlers_says_so() -> None:
    """With no handlers at all, the 'installed' line says nothing was given."""
    with pytest.raises(fx.UnhandledEffect) as info:
        fx.run(bump("x"))
    assert str(info.value).splitlines()[2] == "  installed: nothing (no handlers were given)"


def test_unhandled_effect_names_a_named_interpreter_group() -> None:
    """Handlers of a named interpreter are listed under its name, long lists cut with '...'."""
    effects: list[type[fx.Effect[Any]]] = [
        dataclass(frozen=True)(type(f"E{i}", (fx.Effect,), {"__module__": __name__}))
        for i in range(10)
    ]
    handlers = [_handler_for(e) for e in effects]
    named = fx.Interpreter(*handlers, name="testing()")
    with pytest.raises(fx.UnhandledEffect) as info:
        fx.run(Missing("m"), named)
    assert str(info.value).splitlines()[2] == (
        "  installed: testing() — handles E0, E1, E2, E3, E4, E5, E6, E7, ..."
    )


def test_unhandled_effect_is_a_lookup_error_catchable_in_the_program() -> None:
    """The program may catch UnhandledEffect (or LookupError) at its await and go on."""

    async def main() -> str:
        try:
            await Missing("x")
        except LookupError as err:
            assert isinstance(err, fx.UnhandledEffect)
            assert isinstance(err, fx.EffectusError)
            return "recovered " + str(await Get("k"))
        return "not reached"

    assert fx.run(main(), Memory()) == "recovered 0"


# --- awaiting something that is not an effect ------------------------------------------------


def test_awaiting_asyncio_sleep_is_a_type_error_at_the_users_await() -> None:
    """asyncio.sleep(0) yields None: TypeError names None and the user's await, not asyncio's."""

    async def main() -> None:
        await asyncio.sleep(0)  # sleep-await

    with pytest.raises(TypeError) as info:
        fx.run(main())
    assert str(info.value).splitlines() == [
        "a program awaited None (type=NoneType), which is not an effect",
        f"  at {THIS_FILE}:{line_of('# sleep-await')} in main",
        HINT,
    ]
    assert any(
        (f.name, f.lineno) == ("main", line_of("# sleep-await")) for f in frames_of(info.value)
    )
    assert [f.name for f in core_frames(info.value)] == ["run"]


def test_awaiting_an_asyncio_future_is_a_type_error() -> None:
    """An asyncio future yields itself: TypeError names the future and the user's await."""
    loop = asyncio.new_event_loop()
    try:
        future = loop.create_future()

        async def main() -> None:
            await future  # future-await

        with pytest.raises(TypeError) as info:
            fx.run(main())
    finally:
        loop.close()
    assert str(info.value).splitlines() == [
        "a program awaited <Future pending> (type=Future), which is not an effect",
        f"  at {THIS_FILE}:{line_of('# future-await')} in main",
        HINT,
    ]
    frames = frames_of(info.value)
    assert (frames[-1].name, frames[-1].lineno) == ("main", line_of("# future-await"))


def test_awaiting_a_custom_types_coroutine_is_a_type_error() -> None:
    """A @types.coroutine yielding 42: TypeError names 42 and the user code that yielded it."""

    @types.coroutine
    def raw() -> Generator[int, None, None]:
        yield 42  # raw-yield

    async def main() -> None:
        await raw()  # raw-await

    with pytest.raises(TypeError) as info:
        fx.run(main())
    # The site is the innermost user frame: here the user's own generator, where 42 came from.
    assert str(info.value).splitlines() == [
        "a program awaited 42 (type=int), which is not an effect",
        f"  at {THIS_FILE}:{line_of('# raw-yield')} in raw",
        HINT,
    ]
    assert [(f.name, f.lineno) for f in frames_of(info.value)[-2:]] == [
        ("main", line_of("# raw-await")),
        ("raw", line_of("# raw-yield")),
    ]


def test_non_effect_error_is_catchable_in_the_program() -> None:
    """The TypeError for a foreign await is raised in the program, which may catch it."""

    async def main() -> str:
        try:
            await asyncio.sleep(0)
        except TypeError:
            return "caught"
        return "not reached"

    assert fx.run(main()) == "caught"


# --- async handler methods: forwarding and interposition -------------------------------------


class Cache(fx.Handler):
    """An async handler over a state handler: answers repeated Gets from its cache."""

    def __init__(self) -> None:
        self.cache: dict[str, int] = {}
        self.misses = 0

    @fx.handles(Get)
    async def get(self, e: Get) -> int:
        if e.key not in self.cache:
            self.misses += 1
            self.cache[e.key] = await e  # forwards the same effect outward
        return self.cache[e.key]


class Log(fx.Handler):
    """Logs each Get and Put before and after forwarding it."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    @fx.handles(Get, Put)
    async def around(self, e: Get | Put) -> Any:
        self.log.append(f"{self.name}>{type(e).__name__}")
        answer = await e
        self.log.append(f"{self.name}<{type(e).__name__}")
        return answer


def test_async_handler_forwards_to_the_handler_outside() -> None:
    """A cache over state: `await e` in the handler reaches Memory; repeats come from the cache."""
    cache, memory = Cache(), Memory()
    memory.data["k"] = 5

    async def main() -> list[int]:
        return [await Get("k"), await Get("k"), await Get("j")]

    assert fx.run(main(), cache, memory) == [5, 5, 0]
    assert cache.misses == 2
    assert cache.cache == {"k": 5, "j": 0}


def test_async_handler_runs_against_the_handlers_outside_it_only() -> None:
    """Effects awaited in an async handler skip the handlers inside it (here, an inner Memory)."""

    class Audit(fx.Handler):
        @fx.handles(Get)
        async def get(self, e: Get) -> int:
            await Put("audit", 1)  # goes to the outer Memory, not the inner one
            return await e

    inner, outer = Memory(), Memory()
    outer.data["k"] = 9

    class PutsOnly(fx.Handler):
        def __init__(self, memory: Memory) -> None:
            self.memory = memory

        @fx.handles(Put)
        def put(self, e: Put) -> None:
            self.memory.put(e)

    async def main() -> int:
        return await Get("k")

    assert fx.run(main(), PutsOnly(inner), Audit(), outer) == 9
    assert inner.data == {}
    assert outer.data == {"k": 9, "audit": 1}


def test_interposed_async_handlers_nest_in_stack_order() -> None:
    """Two logging handlers wrap each effect like nested calls: inner enters first, leaves last."""
    log: list[str] = []
    memory = Memory()
    assert fx.run(bump("x"), Log("inner", log), Log("outer", log), memory) == 1
    assert log == [
        "inner>Get", "outer>Get", "outer<Get", "inner<Get",
        "inner>Put", "outer>Put", "outer<Put", "inner<Put",
    ]
    assert memory.data == {"x": 1}


def test_forwarding_an_unhandled_effect_raises_in_the_handler_then_the_program() -> None:
    """An async handler forwarding to nobody gets UnhandledEffect, which reaches the program."""

    async def main() -> str:
        try:
            await Get("k")
        except fx.UnhandledEffect as err:
            return str(err).splitlines()[0]
        return "not reached"

    assert fx.run(main(), Cache()) == "no handler for Get(key='k')"


def test_async_handler_error_is_thrown_into_the_program() -> None:
    """An exception raised by an async handler method reaches the program's await."""

    class Refuse(fx.Handler):
        @fx.handles(Get)
        async def get(self, e: Get) -> int:
            await Put("tried", 1)
            raise PermissionError(e.key)  # async-raise

    async def main() -> int:
        return await Get("secret")  # refused-await

    memory = Memory()
    with pytest.raises(PermissionError) as info:
        fx.run(main(), Refuse(), memory)
    assert memory.data == {"tried": 1}
    assert [(f.name, f.lineno) for f in frames_of(info.value)[-2:]] == [
        ("main", line_of("# refused-await")),
        ("get", line_of("# async-raise")),
    ]
    assert [f.name for f in core_frames(info.value)] == ["run"]


def test_async_handler_may_call_a_tool() -> None:
    """A tool called from an async handler method runs against the handlers outside it."""

    @fx.tool
    async def lookup(key: str) -> int:
        return await Get(key)

    class ViaTool(fx.Handler):
        @fx.handles(Get)
        async def get(self, e: Get) -> int:
            return 1 + await lookup(e.key)

    async def main() -> int:
        return await Get("k")

    assert fx.run(main(), ViaTool(), Constant(41)) == 42


# --- scoped handlers -------------------------------------------------------------------------


def test_scoped_handlers_are_visible_only_inside() -> None:
    """fx.handle(p, H): H answers inside p; after the scope the outer handlers answer."""

    async def main() -> tuple[int, int]:
        inside = await fx.handle(bump("x"), Constant(100))
        return inside, await Get("x")

    memory = Memory()
    assert fx.run(main(), memory) == (101, 101)
    assert memory.data == {"x": 101}


def test_outer_handlers_are_reachable_from_a_scope() -> None:
    """Effects the scoped handlers do not handle go to the handlers outside the scope."""
    scoped, outer = Memory(), Memory()

    async def inner() -> int:
        await Put("a", 1)
        return await Missing("m")

    async def main() -> int:
        return await fx.handle(inner(), scoped)

    class Answers(fx.Handler):
        @fx.handles(Missing)
        def missing(self, e: Missing) -> int:
            return 7

    assert fx.run(main(), outer, Answers()) == 7
    assert scoped.data == {"a": 1} and outer.data == {}


def test_nested_scoped_handlers() -> None:
    """Nested fx.handle scopes stack innermost first and unwind in order."""

    async def get() -> int:
        return await Get("k")

    async def main() -> list[int]:
        async def middle() -> list[int]:
            deep = await fx.handle(get(), Constant(3))
            return [deep, await Get("k")]

        return [*await fx.handle(middle(), Constant(2)), await Get("k")]

    assert fx.run(main(), Constant(1)) == [3, 2, 1]


def test_handle_accepts_an_interpreter() -> None:
    """fx.handle(p, interpreter) installs that interpreter's handlers for the scope."""
    scoped = Memory()
    interp = fx.Interpreter(Constant(10), scoped)

    async def main() -> int:
        return await fx.handle(bump("x"), interp)

    outer = Memory()
    assert fx.run(main(), outer) == 11
    assert scoped.data == {"x": 11} and outer.data == {}


def test_handle_is_a_program_by_itself() -> None:
    """fx.run(fx.handle(p, H)) equals fx.run(p, H)."""
    assert fx.run(fx.handle(bump("x"), Constant(4)), Memory()) == 5


def test_handle_of_a_tool_call() -> None:
    """A tool call can be run under scoped handlers."""

    @fx.tool
    async def read(key: str) -> int:
        return await Get(key)

    async def main() -> int:
        return await fx.handle(read("k"), Constant(8))

    assert fx.run(main(), Memory()) == 8


def test_error_in_a_scope_propagates_out_and_can_be_caught_outside() -> None:
    """An error raised under scoped handlers reaches the program awaiting fx.handle."""

    async def main() -> str:
        try:
            await fx.handle(Fail("scoped"), Failing())
        except ValueError as err:
            return f"caught {err}"
        return "not reached"

    assert fx.run(main()) == "caught scoped"


def test_async_handler_in_a_scope_forwards_outside_the_scope() -> None:
    """A scoped cache forwards its misses to the handlers outside the scope."""
    cache, memory = Cache(), Memory()
    memory.data["k"] = 6

    async def main() -> int:
        return await fx.handle(Get("k"), cache) + await fx.handle(Get("k"), cache)

    assert fx.run(main(), memory) == 12
    assert cache.misses == 1


def test_handle_with_a_handler_class_is_a_type_error(
    no_runtime_warnings: list[warnings.WarningMessage],
) -> None:
    """fx.handle(p, Memory) raises TypeError at once and closes p (no 'never awaited')."""
    with pytest.raises(TypeError) as info:
        fx.handle(bump("x"), Memory)  # type: ignore[arg-type]  # the point of the test
    assert str(info.value).splitlines() == [
        "fx.handle() takes handler instances; got the class Memory.",
        "Fix: pass Memory() instead of Memory.",
    ]


def test_handle_of_a_non_program_is_a_type_error() -> None:
    """fx.handle(bump, H) (the function itself) raises TypeError naming fx.handle."""
    with pytest.raises(TypeError, match=r"^fx\.handle\(\) takes a program .* function bump"):
        fx.handle(bump, Memory())  # type: ignore[arg-type]  # the point of the test


# --- dispatch is one dict hit, whatever the depth --------------------------------------------


def _handler_for(effect_type: type[fx.Effect[Any]]) -> fx.Handler:
    """A fresh handler class handling only ``effect_type``, and an instance of it."""

    def answer(self: fx.Handler, e: fx.Effect[Any]) -> str:
        return type(e).__name__

    namespace = {"answer": fx.handles(effect_type)(answer)}
    cls = type(f"Only{effect_type.__name__}", (fx.Handler,), namespace)
    handler: fx.Handler = cls()
    return handler


def test_dispatch_entry_does_not_depend_on_the_handlers_outside() -> None:
    """With 10 unrelated handlers outside, Get's entry is the same one dict value as with none."""
    unrelated = [
        _handler_for(dataclass(frozen=True)(type(f"U{i}", (fx.Effect,), {}))) for i in range(10)
    ]
    memory = Memory()
    alone = fx.Interpreter(memory)._stack.table
    crowded = fx.Interpreter(memory, *unrelated)._stack.table
    assert type(alone) is dict and type(crowded) is dict
    assert alone[Get] == crowded[Get] == memory.get  # the handler's own bound method
    assert crowded[Get].__self__ is memory  # type: ignore[attr-defined]  # bound method
    assert len(crowded) == len(alone) + 10


def test_exact_effect_types_never_reach_the_slow_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose effects are all exactly handled never calls the table-miss resolver."""

    def refuse(*args: object) -> Callable[[object], object]:
        raise AssertionError("resolve called for an exactly handled effect")

    monkeypatch.setattr(_run.Stack, "resolve", refuse)
    assert fx.run(bump("x"), *[Constant(i) for i in range(10)], Memory()) == 1


def test_subclass_effect_entry_is_cached_after_the_first_lookup() -> None:
    """The first subclass effect resolves through its bases once; later ones are one dict hit."""

    @dataclass(frozen=True)
    class Peek(Get):
        pass

    interp = fx.Interpreter(Memory())
    assert Peek not in interp._stack.table
    assert interp.run(Peek("k")) == 0
    assert interp._stack.table[Peek] == interp._stack.table[Get]


def test_a_result_is_freed_by_reference_counting_alone() -> None:
    """Once the caller drops a run's result, it is gone without waiting for the cyclic GC (a large
    array would otherwise hold its memory until the next collection)."""
    import gc
    import weakref

    class Result:
        pass

    async def program() -> Result:
        await fx.Now()
        return Result()

    enabled = gc.isenabled()
    gc.disable()
    try:
        for interpreter in (fx.testing(), fx.production()):
            result = interpreter.run(program())
            ref = weakref.ref(result)
            del result
            assert ref() is None, interpreter
    finally:
        if enabled:
            gc.enable()
