"""Countdown: the effect-handlers-bench state loop, written once per library.

The program reads a counter ``n`` from state; when it is 0 it returns it, otherwise it writes
``n - 1`` and loops.  Counting down from ``n`` performs exactly ``n + 1`` reads and ``n``
writes: ``2n + 1`` effects, and the result is always 0.

Every variant is a *builder* ``build(n, counter)`` that does all the set-up (effect classes,
handlers, interpreters, dispatch tables) and returns a thunk; calling the thunk runs one
countdown from ``n`` and returns its result.  Only the thunk is timed.

``counter`` is for the correctness test, never for timing: when it is a one-element list,
the builder wraps the variant's handlers so that each effect that reaches a handler adds 1
to ``counter[0]``.  For effectus that wrapper is itself a handler (an ``async`` method that
counts and forwards), so the count proves the effects went through the interpreter.  With
``counter=None`` (what the runner uses) nothing extra is installed.

A builder raises `Unavailable` when its library is not installed.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, NamedTuple

import effectus as fx

__all__ = [
    "VARIANTS",
    "Unavailable",
    "Variant",
    "effects_for",
]

Thunk = Callable[[], int]
Counter = list[int] | None


class Unavailable(Exception):
    """The library a variant needs is not installed (or cannot express the loop)."""


class Variant(NamedTuple):
    key: str
    label: str
    build: Callable[[int, Counter], Thunk]


def effects_for(n: int) -> int:
    """The number of effects a countdown from ``n`` performs: ``n + 1`` reads, ``n`` writes."""
    return 2 * n + 1


def _counted(fn: Callable[..., Any], counter: Counter) -> Callable[..., Any]:
    """``fn`` itself, or ``fn`` that also counts its calls when counting."""
    if counter is None:
        return fn

    @functools.wraps(fn)
    def counting(*args: Any, **kwargs: Any) -> Any:
        counter[0] += 1
        return fn(*args, **kwargs)

    return counting


def _counting_handler(types: tuple[type[fx.Effect[Any]], ...], counter: list[int]) -> fx.Handler:
    """A handler that counts ``types`` and forwards them to the handlers outside it."""

    async def forward(self: fx.Handler, e: fx.Effect[Any]) -> Any:
        counter[0] += 1
        return await e

    namespace = {"forward": fx.handles(*types)(forward)}
    cls: type[fx.Handler] = type("Counting", (fx.Handler,), namespace)
    return cls()


def _interpreter(state: fx.Handler, types: tuple[type[fx.Effect[Any]], ...], counter: Counter,
                 *outside: fx.Handler) -> fx.Interpreter:
    if counter is None:
        return fx.Interpreter(state, *outside)
    return fx.Interpreter(_counting_handler(types, counter), state, *outside)


# --- (1) and (2): user effects, frozen dataclasses --------------------------------------------


@dataclass(frozen=True)
class Get(fx.Effect[int]):
    """Read the counter (a user effect: a plain frozen dataclass)."""


@dataclass(frozen=True)
class Put(fx.Effect[None]):
    """Write the counter (a user effect: a plain frozen dataclass)."""

    value: int


class UserState(fx.Handler):
    """Holds the counter; the floor uses the same bound methods as its dispatch table."""

    def __init__(self) -> None:
        self.n = 0

    @fx.handles(Get)
    def get(self, e: Get) -> int:
        return self.n

    @fx.handles(Put)
    def put(self, e: Put) -> None:
        self.n = e.value


def countdown_generator() -> Generator[Get | Put, Any, int]:
    """The floor's program: the same loop as a plain generator."""
    while True:
        n: int = yield Get()
        if n == 0:
            return n
        yield Put(n - 1)


async def countdown_user() -> int:
    while True:
        n = await Get()
        if n == 0:
            return n
        await Put(n - 1)


def _bare_loop(program: Callable[[], Any], n: int, counter: Counter) -> Thunk:
    """A thunk driving ``program()`` with the floor's loop: ``send``, one lookup, one call."""
    state = UserState()
    table: dict[type, Callable[[Any], Any]] = {
        Get: _counted(state.get, counter),
        Put: _counted(state.put, counter),
    }

    def thunk() -> int:
        state.n = n
        gen = program()
        send = gen.send
        value: Any = None
        try:
            while True:
                e = send(value)
                value = table[type(e)](e)
        except StopIteration as stop:
            result: int = stop.value
            return result

    return thunk


def build_floor(n: int, counter: Counter = None) -> Thunk:
    """(1) The CPython floor: a generator and a ``table[type(e)](e)`` loop, nothing else."""
    return _bare_loop(countdown_generator, n, counter)


def build_floor_await(n: int, counter: Counter = None) -> Thunk:
    """(1b) The floor with ``await``: the effectus program, driven by the floor's bare loop.

    Not a bar, an anchor: awaiting an object costs more than a bare ``yield`` (``__await__``
    makes a generator per await), so this row separates what the language charges for
    ``await`` from what the effectus interpreter adds on top.
    """
    return _bare_loop(countdown_user, n, counter)


def build_user(n: int, counter: Counter = None) -> Thunk:
    """(2) effectus: user frozen-dataclass effects and an `fx.Handler`."""
    state = UserState()
    interp = _interpreter(state, (Get, Put), counter)

    def thunk() -> int:
        state.n = n
        return interp.run(countdown_user())

    return thunk


# --- (3): effects declared with @fx.effect ----------------------------------------------------


@fx.effect
class FastGet(fx.Effect[int]):
    """Read the counter (declared with ``@fx.effect``: frozen, slotted, fast ``__init__``)."""


@fx.effect
class FastPut(fx.Effect[None]):
    """Write the counter (declared with ``@fx.effect``)."""

    value: int


class FastState(fx.Handler):
    def __init__(self) -> None:
        self.n = 0

    @fx.handles(FastGet)
    def get(self, e: FastGet) -> int:
        return self.n

    @fx.handles(FastPut)
    def put(self, e: FastPut) -> None:
        self.n = e.value


async def countdown_fast() -> int:
    while True:
        n = await FastGet()
        if n == 0:
            return n
        await FastPut(n - 1)


def build_fast(n: int, counter: Counter = None) -> Thunk:
    """(3) effectus: effects declared with ``@fx.effect``."""
    state = FastState()
    interp = _interpreter(state, (FastGet, FastPut), counter)

    def thunk() -> int:
        state.n = n
        return interp.run(countdown_fast())

    return thunk


# --- (4): the library's standard state effects ------------------------------------------------


async def countdown_standard() -> int:
    while True:
        n = await fx.Get("n", 0)
        if n == 0:
            return n
        await fx.Put("n", n - 1)


def build_standard(n: int, counter: Counter = None) -> Thunk:
    """(4) effectus: the standard ``fx.Get``/``fx.Put`` handled by `MemoryState`."""
    try:
        from effectus.effects import MemoryState

        get_type, put_type = fx.Get, fx.Put
    except (ImportError, AttributeError) as err:
        raise Unavailable(f"effectus standard state effects are not there yet ({err})") from err

    def thunk() -> int:
        # A fresh handler holding {"n": n} per run: building it costs microseconds, the run
        # tens of milliseconds.
        interp = _interpreter(MemoryState({"n": n}), (get_type, put_type), counter)
        return interp.run(countdown_standard())

    return thunk


# --- (5): (2) with ten unrelated handlers installed outside -----------------------------------


def _unrelated(i: int) -> tuple[type[fx.Effect[int]], fx.Handler]:
    effect_type: type[fx.Effect[int]] = dataclass(frozen=True)(
        types.new_class(f"Unrelated{i}", (fx.Effect[int],))
    )

    def answer(self: fx.Handler, e: Any) -> int:
        return i

    handler_type = type(
        f"UnrelatedHandler{i}", (fx.Handler,), {"answer": fx.handles(effect_type)(answer)}
    )
    return effect_type, handler_type()


UNRELATED = [_unrelated(i) for i in range(10)]


def build_user_ten(n: int, counter: Counter = None) -> Thunk:
    """(5) = (2) with ten handlers of unrelated effects installed outside the state handler."""
    state = UserState()
    interp = _interpreter(state, (Get, Put), counter, *(h for _, h in UNRELATED))

    def thunk() -> int:
        state.n = n
        return interp.run(countdown_user())

    return thunk


# --- (6): python-effect ("effect" on PyPI) ----------------------------------------------------


@dataclass(frozen=True)
class EGet:
    """python-effect intent: read the counter."""


@dataclass(frozen=True)
class EPut:
    """python-effect intent: write the counter."""

    value: int


def _effect_dispatcher(state: UserState, counter: Counter) -> Any:
    try:
        from effect import TypeDispatcher, base_dispatcher, sync_performer
    except ImportError as err:
        raise Unavailable(f"python-effect is not installed: pip install effect ({err})") from err

    def get(intent: EGet) -> int:
        return state.n

    def put(intent: EPut) -> None:
        state.n = intent.value

    get, put = _counted(get, counter), _counted(put, counter)

    @sync_performer
    def perform_get(dispatcher: Any, intent: EGet) -> int:
        return get(intent)

    @sync_performer
    def perform_put(dispatcher: Any, intent: EPut) -> None:
        put(intent)

    # One TypeDispatcher that also holds the standard performers (``@do`` needs Func): faster
    # than the textbook ComposedDispatcher([ours, base_dispatcher]).
    return TypeDispatcher({**base_dispatcher.mapping, EGet: perform_get, EPut: perform_put})


def build_effect_do(n: int, counter: Counter = None) -> Thunk:
    """(6a) python-effect: a ``@do`` generator performed by ``sync_perform``."""
    state = UserState()
    dispatcher = _effect_dispatcher(state, counter)
    from effect import Effect, sync_perform
    from effect.do import do

    @do
    def countdown() -> Generator[Any, Any, int]:
        while True:
            n: int = yield Effect(EGet())
            if n == 0:
                return n
            yield Effect(EPut(n - 1))

    def thunk() -> int:
        state.n = n
        result: int = sync_perform(dispatcher, countdown())
        return result

    return thunk


def build_effect_callbacks(n: int, counter: Counter = None) -> Thunk:
    """(6b) python-effect: callbacks bound with ``Effect.on`` (its trampoline keeps it flat)."""
    state = UserState()
    dispatcher = _effect_dispatcher(state, counter)
    from effect import Effect, sync_perform

    def countdown() -> Any:
        return Effect(EGet()).on(success=step)

    def step(n: int) -> Any:
        if n == 0:
            return n
        return Effect(EPut(n - 1)).on(success=again)

    def again(_: object) -> Any:
        return countdown()

    def thunk() -> int:
        state.n = n
        result: int = sync_perform(dispatcher, countdown())
        return result

    return thunk


# --- (7): effectful (BasisResearch) -----------------------------------------------------------


def _effectful_ops() -> tuple[Any, Any]:
    try:
        from effectful.ops.syntax import defop
    except ImportError as err:
        raise Unavailable(f"effectful is not installed: pip install effectful ({err})") from err

    @defop
    def get() -> int:
        raise NotImplementedError

    @defop
    def put(value: int) -> None:
        raise NotImplementedError

    return get, put


def _effectful_build(n: int, counter: Counter, install: Callable[[dict[Any, Any]], Any]) -> Thunk:
    get, put = _effectful_ops()
    state = UserState()

    def handle_get() -> int:
        return state.n

    def handle_put(value: int) -> None:
        state.n = value

    interpretation = {get: _counted(handle_get, counter), put: _counted(handle_put, counter)}

    def countdown() -> int:
        while True:
            m: int = get()
            if m == 0:
                return m
            put(m - 1)

    def thunk() -> int:
        state.n = n
        with install(interpretation):
            return countdown()

    return thunk


def build_effectful(n: int, counter: Counter = None) -> Thunk:
    """(7a) effectful: ``defop`` operations, handled by ``with handler({...})`` (public API)."""
    _effectful_ops()
    from effectful.ops.semantics import handler

    return _effectful_build(n, counter, handler)


def build_effectful_interpreter(n: int, counter: Counter = None) -> Thunk:
    """(7b) effectful: the same, installed with the internal ``interpreter`` (no ``fwd``)."""
    _effectful_ops()
    from effectful.internals.runtime import interpreter

    return _effectful_build(n, counter, interpreter)


# --- (8): returns' RequiresContext ------------------------------------------------------------


def build_returns(n: int, counter: Counter = None) -> Thunk:
    """(8) returns: one ``RequiresContext`` step (read, then write or stop) run per iteration."""
    try:
        from returns.context import RequiresContext
    except ImportError as err:
        raise Unavailable(f"returns is not installed ({err})") from err

    def read(env: dict[str, int]) -> int:
        return env["n"]

    def write(env: dict[str, int], value: int) -> None:
        env["n"] = value

    read, write = _counted(read, counter), _counted(write, counter)
    get: RequiresContext[int, dict[str, int]] = RequiresContext(read)

    def put(value: int) -> RequiresContext[None, dict[str, int]]:
        return RequiresContext(lambda env: write(env, value))

    done: RequiresContext[bool, dict[str, int]] = RequiresContext.from_value(True)

    def not_done(_: None) -> bool:
        return False

    def after_get(m: int) -> RequiresContext[bool, dict[str, int]]:
        return done if m == 0 else put(m - 1).map(not_done)

    step = get.bind(after_get)  # a value, built once: RequiresContext[bool, dict]

    def thunk() -> int:
        env = {"n": n}
        while not step(env):
            pass
        return env["n"]

    return thunk


VARIANTS: list[Variant] = [
    Variant("floor", "CPython floor: generator + `table[type(e)](e)`", build_floor),
    Variant("floor_await", "CPython floor with `await`: coroutine + the same loop",
            build_floor_await),
    Variant("user", "effectus, user `@dataclass(frozen=True)` effects", build_user),
    Variant("fast", "effectus, `@fx.effect` effects", build_fast),
    Variant("standard", "effectus, standard `fx.Get`/`fx.Put` + `MemoryState`", build_standard),
    Variant("user_ten", "effectus, user effects + 10 unrelated handlers outside", build_user_ten),
    Variant("effect_do", "python-effect, `@do` generator + `sync_perform`", build_effect_do),
    Variant("effect_cb", "python-effect, `Effect.on` callbacks + `sync_perform`",
            build_effect_callbacks),
    Variant("effectful", "effectful, `defop` + `with handler({...})`", build_effectful),
    Variant("effectful_raw", "effectful, `defop` + internal `interpreter({...})`",
            build_effectful_interpreter),
    Variant("returns", "returns, `RequiresContext` step per iteration", build_returns),
]
