"""Failure and nondeterminism: `Fail` abandons a computation, `Choose` picks among options.

Guarantees: `outcomes` runs a program once along every path of its `Choose` effects, in
lexicographic order of the option indices, and reports each path's result or error; a
program that does not behave the same when re-run along the same path is reported as a
`ReplayDivergence`, never silently explored wrong.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, NoReturn, TypeVar, cast

from effectus.core import Effect, Handler, Interpreter, ReplayDivergence, effect, handles
from effectus.effects._interpreters import testing
from effectus.effects._random import as_sequence

if TYPE_CHECKING:
    from returns.result import Result

__all__ = [
    "ChoicePolicy",
    "Choose",
    "Fail",
    "Outcome",
    "PolicyChoice",
    "Raise",
    "SeededChoice",
    "outcomes",
]

T = TypeVar("T")

#: How `PolicyChoice` picks: by name, or a function from the options to the chosen index.
ChoicePolicy = Literal["first", "last", "random"] | Callable[[tuple[Any, ...]], int]

_POLICIES = ("first", "last", "random")


@effect
class Fail(Effect[NoReturn]):
    """Abandon the computation with ``error``: the handler raises it at the ``await``.

    Every interpreter raises it (the `Raise` handler, in ``fx.production()`` and
    ``fx.testing()``); under `outcomes` it makes the current branch a ``Failure``.  Use it
    rather than ``raise`` when a failure is part of the program's logic, so that it is
    recorded, can be replayed, and can be intercepted by a handler.  Recorded as the error it
    raises (its type and message).

    Args:
        error: the exception to raise; an instance, not a class.

    Raises:
        TypeError: ``error`` is not an ``Exception`` instance (on the user's line).

    >>> import effectus as fx
    >>> async def parse(text: str) -> int:
    ...     if not text.isdigit():
    ...         await fx.Fail(ValueError(f"not a number: {text!r}"))
    ...     return int(text)
    >>> fx.testing().run_result(parse("x1"))
    <Failure: not a number: 'x1'>
    """

    error: Exception

    def __post_init__(self) -> None:
        err = cast(object, self.error)  # unchecked until here
        if not isinstance(err, Exception):
            raise TypeError(
                f"Fail(error={err!r}): error must be an Exception instance "
                f"(type={type(err).__name__}).\nFix: Fail({_exception_name(err)}('...'))."
            )


def _exception_name(err: object) -> str:
    """The name of ``err`` if it is an exception class (a forgotten call), else ValueError."""
    if isinstance(err, type) and issubclass(err, Exception):
        return err.__name__
    return "ValueError"


@effect
class Choose(Effect[T], Generic[T]):
    """Pick one of ``options``.

    ``fx.production()`` picks by a policy (the first option unless told otherwise,
    `PolicyChoice`); ``fx.testing(seed)`` picks pseudo-randomly from the seed
    (`SeededChoice`); `outcomes` tries every option in turn.  Any sequence is accepted and
    stored as a tuple.  Recorded as its fields and the index of the chosen option; a replay
    answers with the recorded option.

    Args:
        options: what to choose from; at least one.

    Returns:
        One of ``options``.

    Raises:
        TypeError: ``options`` is not a sequence (a str, set or generator is refused).
        ValueError: ``options`` is empty (on the user's line).

    >>> import effectus as fx
    >>> async def pick() -> str:
    ...     return await fx.Choose(["tea", "coffee"])
    >>> fx.production().run(pick())
    'tea'
    """

    options: Sequence[T]

    def __post_init__(self) -> None:
        options: Sequence[object] = self.options
        if type(options) is not tuple:
            options = as_sequence("Choose(options=...)", "options", options)
            object.__setattr__(self, "options", options)
        if not options:
            raise ValueError(
                "Choose(options=()): there must be at least one option.\n"
                "Fix: to abandon this branch when nothing is left to choose, "
                "await Fail(SomeError(...)) instead."
            )


class Raise(Handler):
    """Raises the error of each `Fail` into the program.

    Used by both ``fx.production()`` and ``fx.testing()``.

    >>> import effectus as fx
    >>> fx.run_result(fx.Fail(KeyError("k")), Raise())
    <Failure: 'k'>
    """

    @handles(Fail)
    def fail(self, e: Fail) -> NoReturn:
        raise e.error


class PolicyChoice(Handler):
    """Answers `Choose` by a fixed policy; used by ``fx.production(choice=...)``.

    Args:
        policy: ``"first"`` (the default), ``"last"``, ``"random"`` (uniform), or a function
            taking the options tuple and returning the index to pick.
        seed: seeds the ``"random"`` policy (unseeded: a fresh OS-seeded generator); only
            allowed with ``"random"``.

    Raises:
        ValueError: an unknown policy name, or a seed without ``"random"``.
        TypeError: ``policy`` is neither a name nor callable.

    A policy function that returns something other than a valid index raises ValueError at
    the program's ``await``.

    >>> import effectus as fx
    >>> cheapest = PolicyChoice(lambda options: options.index(min(options)))
    >>> fx.run(fx.Choose([30, 10, 20]), cheapest)
    10
    """

    def __init__(self, policy: ChoicePolicy = "first", seed: int | None = None) -> None:
        given = cast(object, seed)  # unchecked until here
        if isinstance(policy, str):
            if policy not in _POLICIES:
                raise ValueError(
                    f"PolicyChoice(policy={policy!r}): policy must be one of "
                    f"{', '.join(map(repr, _POLICIES))} or a function of the options that "
                    f"returns an index.\nFix: e.g. PolicyChoice('random', seed=1)."
                )
        elif not callable(policy):
            raise TypeError(
                f"PolicyChoice(policy={policy!r}): policy must be a policy name or a callable "
                f"(type={type(policy).__name__}).\n"
                f"Fix: e.g. PolicyChoice(lambda options: len(options) - 1)."
            )
        if seed is not None and policy != "random":
            raise ValueError(
                f"PolicyChoice(policy={policy!r}, seed={seed!r}): a seed only applies to the "
                f"'random' policy.\nFix: drop seed=, or use policy='random'."
            )
        if given is not None and (isinstance(given, bool) or not isinstance(given, int)):
            raise TypeError(
                f"PolicyChoice(seed={seed!r}): seed must be an int or None "
                f"(type={type(seed).__name__})."
            )
        self.policy = policy
        self._rng = random.Random(seed)

    @handles(Choose)
    def choose(self, e: Choose[object]) -> object:
        options = tuple(e.options)
        policy = self.policy
        if policy == "first":
            return options[0]
        if policy == "last":
            return options[-1]
        if policy == "random":
            return options[self._rng.randrange(len(options))]
        assert callable(policy)
        index = cast(object, policy(options))  # unchecked until here
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(options):
            raise ValueError(
                f"choice policy {policy!r} returned {index!r} for {e!r}; it must return an "
                f"index in range({len(options)}).\nFix: return options.index(best), not the "
                f"option itself."
            )
        return options[index]

    def __repr__(self) -> str:
        return f"PolicyChoice({self.policy!r})"


class SeededChoice(Handler):
    """Answers `Choose` pseudo-randomly from ``random.Random(seed)``; used by ``fx.testing``.

    The same seed picks the same options for the same sequence of choices.

    Args:
        seed: the generator's seed.

    Raises:
        TypeError: ``seed`` is not an int.

    >>> import effectus as fx
    >>> pick = fx.Choose(range(100))
    >>> fx.run(pick, SeededChoice(4)) == fx.run(pick, SeededChoice(4))
    True
    """

    def __init__(self, seed: int = 0) -> None:
        given = cast(object, seed)  # unchecked until here
        if isinstance(given, bool) or not isinstance(given, int):
            raise TypeError(
                f"SeededChoice(seed={seed!r}): seed must be an int (type={type(seed).__name__})."
            )
        self.seed = seed
        self._rng = random.Random(seed)

    @handles(Choose)
    def choose(self, e: Choose[object]) -> object:
        options = e.options
        return options[self._rng.randrange(len(options))]

    def __repr__(self) -> str:
        return f"SeededChoice(seed={self.seed!r})"


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """One branch explored by `outcomes`: the option indices chosen, and how it ended.

    >>> from returns.result import Success
    >>> Outcome((0, 2), Success("ok"))
    Outcome(choices=(0, 2), result=<Success: ok>)
    """

    choices: tuple[int, ...]
    result: Result[T, Exception]


class _Forced(Handler):
    """Answers `Choose` along ``prefix``, then with option 0; records the path it took."""

    def __init__(self, prefix: tuple[int, ...], sizes: tuple[int, ...]) -> None:
        self.prefix = prefix
        self.sizes = sizes  # the number of options seen at each prefix position before
        self.path: list[int] = []
        self.counts: list[int] = []
        self.divergence: ReplayDivergence | None = None

    @handles(Choose)
    def choose(self, e: Choose[object]) -> object:
        depth = len(self.path)
        n = len(e.options)
        index = 0
        if depth < len(self.prefix):
            index = self.prefix[depth]
            if n != self.sizes[depth]:
                self.divergence = _divergence(
                    self.prefix,
                    f"at choice #{depth} it offered {n} options where an earlier run along "
                    f"the same choices offered {self.sizes[depth]} ({e!r})",
                )
                raise self.divergence
        self.path.append(index)
        self.counts.append(n)
        return e.options[index]


def _divergence(prefix: tuple[int, ...], what: str) -> ReplayDivergence:
    return ReplayDivergence(
        f"outcomes() re-ran the program along choices {prefix}, but {what}: the program does "
        f"not behave the same when re-run with the same effect answers.\n"
        f"Fix: get time, randomness and I/O only through effects (Now, RandomInt, ReadFile, "
        f"...), keep no state between runs, and pass an interpreter factory that builds "
        f"fresh handlers on every call."
    )


def outcomes(
    program: Callable[[], Awaitable[T]],
    interpreter: Callable[[], Interpreter] = testing,
    *,
    limit: int = 10_000,
) -> list[Outcome[T]]:
    """Run ``program`` along every path of its `Choose` effects and collect each result.

    Multi-shot choice by re-execution: a program is deterministic given its effects'
    answers, so each run builds a fresh interpreter with ``interpreter()``, installs in front
    of it a handler that forces `Choose` along a prefix of option indices (then takes option
    0), and records the path taken.  Paths are explored depth-first, options in index order,
    so outcomes come in lexicographic order of their ``choices``.  A branch that raises (a
    `Fail`, say) becomes a ``Failure`` outcome; exploring goes on.

    Args:
        program: makes the program to run, e.g. ``main`` or ``lambda: main(3)``; called once
            per branch.
        interpreter: makes the interpreter for one run (default: ``fx.testing``).
        limit: the most branches to run.

    Returns:
        One `Outcome` per branch, in lexicographic order of ``choices``.

    Raises:
        TypeError: ``program`` or ``interpreter`` is not a factory of the right thing.
        ValueError: ``limit`` is not a positive int, or more than ``limit`` branches exist.
        ReplayDivergence: a re-run did not follow the path of the earlier run.

    >>> import effectus as fx
    >>> async def two_coins() -> str:
    ...     a = await fx.Choose(["H", "T"])
    ...     b = await fx.Choose(["H", "T"])
    ...     return a + b
    >>> [(o.choices, o.result.unwrap()) for o in fx.outcomes(two_coins)]
    [((0, 0), 'HH'), ((0, 1), 'HT'), ((1, 0), 'TH'), ((1, 1), 'TT')]
    """
    _check_factories(program, interpreter)
    given = cast(object, limit)  # unchecked until here
    if isinstance(given, bool) or not isinstance(given, int) or given < 1:
        raise ValueError(
            f"outcomes(limit={limit!r}): limit must be an int >= 1.\n"
            f"Fix: e.g. outcomes(program, limit=100_000)."
        )
    found: list[Outcome[T]] = []
    prefix: tuple[int, ...] = ()
    sizes: tuple[int, ...] = ()
    while True:
        interp = cast(object, interpreter())  # unchecked until here
        if not isinstance(interp, Interpreter):
            raise TypeError(
                f"outcomes(interpreter=...): the factory returned {interp!r} "
                f"(type={type(interp).__name__}), not an fx.Interpreter.\n"
                f"Fix: pass a function that builds one, e.g. lambda: fx.testing(seed=1)."
            )
        awaitable = program()
        if not inspect.isawaitable(awaitable):
            raise TypeError(
                f"outcomes(program=...): calling {program!r} gave {awaitable!r} "
                f"(type={type(awaitable).__name__}), not a program.\n"
                f"Fix: pass an async def function, or a lambda that calls one."
            )
        forced = _Forced(prefix, sizes)
        result = interp.with_handlers(forced).run_result(awaitable)
        if forced.divergence is not None:
            raise forced.divergence
        if len(forced.path) < len(prefix):
            raise _divergence(
                prefix, f"it finished after {len(forced.path)} choices ({result!r})"
            )
        path = tuple(forced.path)
        found.append(Outcome(path, result))
        depth = len(path) - 1
        while depth >= 0 and path[depth] + 1 >= forced.counts[depth]:
            depth -= 1
        if depth < 0:
            return found
        if len(found) >= limit:
            raise ValueError(
                f"outcomes() explored {len(found)} branches (limit={limit}) and more remain "
                f"(the next would follow choices {path[:depth] + (path[depth] + 1,)}).\n"
                f"Fix: pass a larger limit, e.g. outcomes(program, limit={limit * 10}), or "
                f"make fewer or narrower choices."
            )
        prefix = path[:depth] + (path[depth] + 1,)
        sizes = tuple(forced.counts[: depth + 1])


def _check_factories(program: object, interpreter: object) -> None:
    if inspect.isawaitable(program):
        if inspect.iscoroutine(program):
            program.close()  # it will never run: do not also warn that it was never awaited
        raise TypeError(
            f"outcomes() takes a function that makes the program, because it runs the program "
            f"once per branch; got the program {program!r} itself.\n"
            f"Fix: outcomes(main) or outcomes(lambda: main(...)), not outcomes(main(...))."
        )
    if not callable(program):
        raise TypeError(
            f"outcomes(program={program!r}): program must be an async def function or a "
            f"lambda that calls one (type={type(program).__name__})."
        )
    if isinstance(interpreter, Interpreter) or not callable(interpreter):
        raise TypeError(
            f"outcomes(interpreter={interpreter!r}): pass a function that builds a fresh "
            f"interpreter for each run, not an interpreter.\n"
            f"Fix: outcomes(program, lambda: fx.testing(seed=1)) or outcomes(program, "
            f"fx.production)."
        )
