"""The laws every effectus interpreter keeps, checked by Hypothesis on generated programs.

A program is generated as data — a list of operations over a few keys, with nested scoped
handler blocks and (tool or plain) sub-program calls — and turned into an ``async def`` by
`program`.  Handler stacks are drawn from a pool that covers sync and async (forwarding,
caching, interposing, rescuing) handlers, catch-alls, subclass effects and raising handlers.

Laws:
1. `fx.run` agrees with the reference interpreter on the outcome and on every handler's state;
   splicing an `fx.Interpreter` of the same handlers changes nothing.
2. Stacking: the innermost handler of an effect wins; effects it does not handle reach the
   handlers outside it.
3. Forwarding identity: an async handler whose method is ``return await e`` is transparent.
4. Scoping: ``fx.handle(p, *H)`` under ``G`` is ``p`` under ``(*H, *G)``.
5. Tool transparency: running sub-programs as tools, as plain coroutines or inlined gives the
   same outcome; so does running the whole program as a tool.
6. `fx.run_result` agrees with `fx.run`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from returns.result import Failure, Success

import effectus as fx
from effectus.core._reference import reference_run

LAWS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- effects ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Get(fx.Effect[int]):
    key: str


@dataclass(frozen=True)
class Peek(Get):
    """A subclass effect: a handler of Get handles it unless one of Peek is further in."""


@dataclass(frozen=True)
class Put(fx.Effect[None]):
    key: str
    value: int


@dataclass(frozen=True)
class Add(fx.Effect[int]):
    key: str
    delta: int


@dataclass(frozen=True)
class Boom(fx.Effect[int]):
    message: str


@dataclass(frozen=True)
class Missing(fx.Effect[int]):
    """Handled only by catch-alls."""


# --- the handler pool ------------------------------------------------------------------------


class Stateful(fx.Handler):
    def state(self) -> object:
        return None


class Memory(Stateful):
    def __init__(self) -> None:
        self.data: dict[str, int] = {}

    def state(self) -> object:
        return dict(self.data)

    @fx.handles(Get)
    def get(self, e: Get) -> int:
        return self.data.get(e.key, 0)

    @fx.handles(Put)
    def put(self, e: Put) -> None:
        self.data[e.key] = e.value

    @fx.handles(Add)
    def add(self, e: Add) -> int:
        self.data[e.key] = self.data.get(e.key, 0) + e.delta
        return self.data[e.key]


class Fixed(Stateful):
    """Answers Get (and so Peek) with 7."""

    def __init__(self) -> None:
        self.calls = 0

    def state(self) -> object:
        return self.calls

    @fx.handles(Get)
    def get(self, e: Get) -> int:
        self.calls += 1
        return 7


class Peeker(Stateful):
    def __init__(self) -> None:
        self.calls = 0

    def state(self) -> object:
        return self.calls

    @fx.handles(Peek)
    def peek(self, e: Peek) -> int:
        self.calls += 1
        return 1000 + self.calls


class CatchAll(Stateful):
    """Answers every effect with -1 (a sync catch-all)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def state(self) -> object:
        return list(self.seen)

    @fx.handles(fx.Effect)
    def any(self, e: fx.Effect[Any]) -> int:
        self.seen.append(type(e).__name__)
        return -1


class Logger(Stateful):
    """Logs every effect and forwards it (an async catch-all interposer)."""

    def __init__(self) -> None:
        self.log: list[str] = []

    def state(self) -> object:
        return list(self.log)

    @fx.handles(fx.Effect)
    async def around(self, e: fx.Effect[Any]) -> Any:
        self.log.append(f">{type(e).__name__}")
        try:
            return await e
        finally:
            self.log.append(f"<{type(e).__name__}")


class Cache(Stateful):
    """Answers repeated Gets from a cache, forwarding misses."""

    def __init__(self) -> None:
        self.cache: dict[str, int] = {}

    def state(self) -> object:
        return dict(self.cache)

    @fx.handles(Get)
    async def get(self, e: Get) -> int:
        if e.key not in self.cache:
            self.cache[e.key] = await e
        return self.cache[e.key]


class Doubler(Stateful):
    """Performs a different effect outward: Add(k, d) becomes Add(k, 2d)."""

    def __init__(self) -> None:
        self.calls = 0

    def state(self) -> object:
        return self.calls

    @fx.handles(Add)
    async def add(self, e: Add) -> int:
        self.calls += 1
        return await Add(e.key, 2 * e.delta)


class Flaky(Stateful):
    """Raises ValueError for every Boom."""

    @fx.handles(Boom)
    def boom(self, e: Boom) -> int:
        raise ValueError(e.message)


class Rescuer(Stateful):
    """Forwards Boom and turns a ValueError from outside into -2."""

    def __init__(self) -> None:
        self.rescued = 0

    def state(self) -> object:
        return self.rescued

    @fx.handles(Boom)
    async def boom(self, e: Boom) -> int:
        try:
            return await e
        except ValueError:
            self.rescued += 1
            return -2


class Forward(Stateful):
    """The forwarding identity for the state effects: ``return await e``."""

    @fx.handles(Get, Put, Add)
    async def forward(self, e: fx.Effect[Any]) -> Any:
        return await e


class ForwardAll(Stateful):
    """The forwarding identity for every effect."""

    @fx.handles(fx.Effect)
    async def forward(self, e: fx.Effect[Any]) -> Any:
        return await e


POOL: dict[str, Callable[[], Stateful]] = {
    "memory": Memory,
    "fixed": Fixed,
    "peeker": Peeker,
    "catchall": CatchAll,
    "logger": Logger,
    "cache": Cache,
    "doubler": Doubler,
    "flaky": Flaky,
    "rescuer": Rescuer,
    "forward": Forward,
    "forward_all": ForwardAll,
}


def make(specs: Sequence[str]) -> list[Stateful]:
    return [POOL[name]() for name in specs]


# --- programs as data ------------------------------------------------------------------------

Op: TypeAlias = tuple[Any, ...]
Runner: TypeAlias = Callable[..., Any]


async def program(ops: Sequence[Op]) -> list[object]:
    """The program that ``ops`` describes; it returns what it observed."""
    out: list[object] = []
    for op in ops:
        kind = op[0]
        if kind == "get":
            out.append(await Get(op[1]))
        elif kind == "peek":
            out.append(await Peek(op[1]))
        elif kind == "put":
            await Put(op[1], op[2])
        elif kind == "add":
            out.append(await Add(op[1], op[2]))
        elif kind in ("boom", "missing", "foreign"):
            awaitable: Any
            if kind == "boom":
                awaitable = Boom("b")
            elif kind == "missing":
                awaitable = Missing()
            else:
                awaitable = asyncio.sleep(0)  # not an effect: a TypeError at this await
            if op[1]:
                try:
                    out.append(await awaitable)
                except Exception as err:  # record what reached the program
                    out.append(f"caught {type(err).__name__}")
            else:
                out.append(await awaitable)
        elif kind == "raise":
            raise RuntimeError(op[1])
        elif kind == "scope":
            out.extend(await fx.handle(program(op[2]), *make(op[1])))
        elif kind == "call":
            out.extend(await (program_tool(op[2]) if op[1] else program(op[2])))
        else:  # pragma: no cover - the strategy only makes the kinds above
            raise AssertionError(kind)
    return out


@fx.tool
async def program_tool(ops: Sequence[Op]) -> list[object]:
    return await program(ops)


KEYS = st.sampled_from(["a", "b"])
SPECS = st.lists(st.sampled_from(sorted(POOL)), max_size=4)
LEAF: st.SearchStrategy[Op] = st.one_of(
    st.tuples(st.just("get"), KEYS),
    st.tuples(st.just("peek"), KEYS),
    st.tuples(st.just("put"), KEYS, st.integers(-3, 3)),
    st.tuples(st.just("add"), KEYS, st.integers(-3, 3)),
    st.tuples(st.just("boom"), st.booleans()),
    st.tuples(st.just("missing"), st.booleans()),
    st.tuples(st.just("foreign"), st.booleans()),
    st.tuples(st.just("raise"), st.sampled_from(["x", "y"])),
)


def _nest(inner: st.SearchStrategy[list[Op]]) -> st.SearchStrategy[list[Op]]:
    return st.lists(
        st.one_of(
            LEAF,
            st.tuples(st.just("scope"), SPECS, inner),
            st.tuples(st.just("call"), st.booleans(), inner),
        ),
        max_size=6,
    )


OPS: st.SearchStrategy[list[Op]] = st.recursive(st.lists(LEAF, max_size=6), _nest, max_leaves=24)


def outcome(run: Runner, prog: Any, handlers: Sequence[Stateful]) -> tuple[object, list[object]]:
    """The comparable outcome of a run: its result or error, and the handlers' states."""
    try:
        result: object = ("ok", run(prog, *handlers))
    except Exception as err:
        result = ("error", *describe(err))
    return result, [h.state() for h in handlers]


def describe(err: BaseException) -> tuple[str, str]:
    """An error's type and the part of its message both interpreters agree on."""
    if isinstance(err, fx.UnhandledEffect):
        return "UnhandledEffect", str(err).splitlines()[0]  # "no handler for X(...)"
    if isinstance(err, TypeError):
        return "TypeError", ""  # only the real interpreter names the await site
    return type(err).__name__, str(err)


def inline(ops: Sequence[Op]) -> list[Op]:
    """``ops`` with every sub-program call spliced in place."""
    out: list[Op] = []
    for op in ops:
        if op[0] == "call":
            out.extend(inline(op[2]))
        elif op[0] == "scope":
            out.append(("scope", op[1], inline(op[2])))
        else:
            out.append(op)
    return out


def as_tools(ops: Sequence[Op], via_tool: bool) -> list[Op]:
    """``ops`` with every sub-program call made through a tool (or not)."""
    out: list[Op] = []
    for op in ops:
        if op[0] == "call":
            out.append(("call", via_tool, as_tools(op[2], via_tool)))
        elif op[0] == "scope":
            out.append(("scope", op[1], as_tools(op[2], via_tool)))
        else:
            out.append(op)
    return out


# --- the laws --------------------------------------------------------------------------------


@LAWS
@given(ops=OPS, specs=SPECS)
def test_run_agrees_with_the_reference_interpreter(ops: list[Op], specs: list[str]) -> None:
    """Law 1: fx.run and reference_run give the same outcome and leave the same handler states."""
    expected = outcome(reference_run, program(ops), make(specs))
    assert outcome(fx.run, program(ops), make(specs)) == expected


@LAWS
@given(ops=OPS, specs=SPECS, split=st.integers(0, 4))
def test_an_interpreter_argument_is_its_handlers_in_place(
    ops: list[Op], specs: list[str], split: int
) -> None:
    """Law 1': passing some handlers as an fx.Interpreter gives the same outcome as listing them."""
    handlers = make(specs)
    expected = outcome(fx.run, program(ops), handlers)

    def via_interpreter(prog: Any, *hs: Stateful) -> Any:
        return fx.run(prog, *hs[:split], fx.Interpreter(*hs[split:]))

    assert outcome(via_interpreter, program(ops), make(specs)) == expected
    assert outcome(lambda p, *hs: fx.Interpreter(*hs).run(p), program(ops), make(specs)) == expected


@LAWS
@given(ops=OPS)
def test_innermost_handler_wins_and_the_rest_reach_outer_ones(ops: list[Op]) -> None:
    """Law 2: under (Fixed, Memory), Get/Peek give 7 and Put/Add reach Memory, as in one handler."""

    class FixedMemory(Memory):
        @fx.handles(Get)
        def get(self, e: Get) -> int:
            return 7

    fixed, memory = Fixed(), Memory()
    merged = FixedMemory()
    stacked = outcome(fx.run, program(ops), [fixed, memory])
    single = outcome(fx.run, program(ops), [merged])
    assert stacked[0] == single[0]
    assert memory.data == merged.data


@LAWS
@given(ops=OPS, specs=SPECS)
def test_an_inner_handler_hides_the_outer_handler_of_the_same_effects(
    ops: list[Op], specs: list[str]
) -> None:
    """Law 2': of two Memory handlers the inner takes every state effect; the outer sees none."""
    inner, outer = Memory(), Memory()
    alone = Memory()
    rest = make(specs)
    assert outcome(fx.run, program(ops), [inner, outer, *rest])[0] == (
        outcome(fx.run, program(ops), [alone, *make(specs)])[0]
    )
    assert inner.data == alone.data
    assert outer.data == {}


@LAWS
@given(ops=OPS, specs=SPECS, forwarder=st.sampled_from([Forward, ForwardAll]), at=st.integers(0, 4))
def test_a_forwarding_handler_is_transparent(
    ops: list[Op], specs: list[str], forwarder: Callable[[], Stateful], at: int
) -> None:
    """Law 3: adding a handler that only does `return await e` changes neither result nor state."""
    plain = outcome(fx.run, program(ops), make(specs))
    handlers = make(specs)
    with_forwarder = [*handlers[:at], forwarder(), *handlers[at:]]
    result, states = outcome(fx.run, program(ops), with_forwarder)
    del states[min(at, len(handlers))]
    assert (result, states) == plain


@LAWS
@given(ops=OPS, scoped=SPECS, outer=SPECS)
def test_scoped_handle_equals_running_with_the_handlers_innermost(
    ops: list[Op], scoped: list[str], outer: list[str]
) -> None:
    """Law 4: run(fx.handle(p, *H), *G) == run(p, *H, *G), states included."""
    h, g = make(scoped), make(outer)
    by_scope = outcome(fx.run, fx.handle(program(ops), *h), g)
    by_scope_states = [x.state() for x in h]
    h2, g2 = make(scoped), make(outer)
    by_stack = outcome(fx.run, program(ops), [*h2, *g2])
    assert by_scope[0] == by_stack[0]
    assert by_scope_states + by_scope[1] == by_stack[1]


@LAWS
@given(ops=OPS, specs=SPECS)
def test_tools_are_transparent(ops: list[Op], specs: list[str]) -> None:
    """Law 5: sub-programs as tools, plain coroutines or inlined, or the whole as a tool, agree."""
    expected = outcome(fx.run, program(inline(ops)), make(specs))
    assert outcome(fx.run, program(as_tools(ops, True)), make(specs)) == expected
    assert outcome(fx.run, program(as_tools(ops, False)), make(specs)) == expected
    assert outcome(fx.run, program_tool(ops), make(specs)) == expected


@LAWS
@given(ops=OPS, specs=SPECS)
def test_run_result_agrees_with_run(ops: list[Op], specs: list[str]) -> None:
    """Law 6: run_result is Success(v) iff run returns v, Failure(e) iff run raises a like e."""
    try:
        expected: object = Success(fx.run(program(ops), *make(specs)))
    except Exception as err:
        expected = (type(err), str(err))
    got = fx.run_result(program(ops), *make(specs))
    if isinstance(got, Failure):
        failure = got.failure()
        assert (type(failure), str(failure)) == expected
    else:
        assert got == expected
