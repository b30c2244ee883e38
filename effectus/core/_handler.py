"""Handlers: classes whose ``@handles`` methods give effects their meaning.

A method's return value resumes the program (the fast path).  A method written ``async def``
runs as a program against the handlers *outside* its own handler, which is how a handler
forwards, wraps or interposes.  Everything here is checked when the class is defined, so a
wrong signature fails on the user's line, not in the middle of a run.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from effectus.core._effect import Effect, is_effect_type
from effectus.core._site import relative

__all__ = ["Handler", "handles"]

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__effectus_handles__"
_BLOCKING = "__effectus_blocking__"


def handles(*effect_types: type[Effect[Any]], blocking: bool = False) -> Callable[[F], F]:
    """Mark a `Handler` method as the handler of one or more effect types.

    The method takes the effect and returns its answer.  An ``async def`` method is run as a
    program against the handlers outside this one: awaiting an effect there forwards it.
    ``blocking=True`` says the method blocks (file or network I/O, real sleeps): when other
    tasks could run meanwhile, a scheduler with threads (``fx.production()``) runs it on a
    worker thread and parks only the task that asked.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Now(Effect[float]):
    ...     pass
    >>> class FixedClock(Handler):
    ...     @handles(Now)
    ...     def now(self, e: Now) -> float:
    ...         return 0.0
    >>> [t.__name__ for t in FixedClock.handled()]
    ['Now']

    Raises:
        TypeError: when given no types, something that is not an `Effect` subclass, or when
            used without parentheses.
    """
    if len(effect_types) == 1 and inspect.isfunction(effect_types[0]):
        raise TypeError(
            f"@handles needs the effect types it handles: write @handles(SomeEffect) above "
            f"{effect_types[0].__qualname__}, not bare @handles."
        )
    if not effect_types:
        raise TypeError("@handles() needs at least one Effect subclass, e.g. @handles(ReadFile).")
    for t in effect_types:
        if not is_effect_type(t):
            raise TypeError(
                f"@handles takes Effect subclasses; got {t!r} (type={type(t).__name__}).\n"
                f"Fix: declare the effect as `@dataclass(frozen=True) class X(fx.Effect[R])`."
            )

    def mark(fn: F) -> F:
        if not callable(fn):
            raise TypeError(f"@handles decorates a method; got {fn!r}")
        _check_signature(fn, effect_types)
        existing: tuple[type[Effect[Any]], ...] = getattr(fn, _MARK, ())
        setattr(fn, _MARK, existing + effect_types)
        if blocking:
            if inspect.iscoroutinefunction(fn):
                raise TypeError(
                    f"@handles(..., blocking=True) marks a plain method that blocks; "
                    f"{fn.__qualname__} is async def, which never blocks the scheduler.\n"
                    f"Fix: drop blocking=True."
                )
            setattr(fn, _BLOCKING, True)
        return fn

    return mark


def _check_signature(fn: Callable[..., Any], effect_types: tuple[type[Any], ...]) -> None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature: trust them
        return
    positional = [
        p
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    required_other = [
        p
        for p in sig.parameters.values()
        if p.default is p.empty
        and p.kind in (p.KEYWORD_ONLY,)
    ]
    variadic = any(p.kind is p.VAR_POSITIONAL for p in sig.parameters.values())
    required_positional = [p for p in positional if p.default is p.empty]
    if required_other or len(required_positional) > 2 or (len(positional) < 2 and not variadic):
        names = ", ".join(t.__name__ for t in effect_types)
        where = _where(fn)
        raise TypeError(
            f"handler method {fn.__qualname__}{sig} must take (self, effect): the effect "
            f"({names}) is its only argument.\n  at {where}\n"
            f"Fix: def {fn.__name__}(self, e: {effect_types[0].__name__}) -> ..."
        )


def _where(fn: Callable[..., Any]) -> str:
    code = getattr(fn, "__code__", None)
    if code is None:
        return "<unknown>"
    return f"{relative(code.co_filename)}:{code.co_firstlineno}"


class Handler:
    """Base class of handlers: subclasses mark their methods with `handles`.

    A handler instance may keep state (an in-memory store, a virtual clock); an `Interpreter`
    holds instances, so the same instance seen from two interpreters shares that state.
    """

    #: every plain method of this handler blocks (I/O): see ``handles(..., blocking=True)``
    blocking: ClassVar[bool] = False

    #: effect type -> name of the method that handles it (inherited entries included)
    _effectus_methods: ClassVar[Mapping[type[Effect[Any]], str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        methods: dict[type[Effect[Any]], str] = dict(cls._effectus_methods)
        own: dict[type[Effect[Any]], str] = {}
        for name, attr in vars(cls).items():
            # Unwraps staticmethod/classmethod (a plain attribute read: pyright types `__func__` of
            # an isinstance-narrowed value as partially unknown).
            fn: object = getattr(attr, "__func__", attr)
            for t in getattr(fn, _MARK, ()):
                if t in own:
                    raise TypeError(
                        f"{cls.__qualname__} handles {t.__name__} twice: in {own[t]}() and "
                        f"{name}(). Fix: keep one method per effect type."
                    )
                own[t] = name
        methods.update(own)
        cls._effectus_methods = methods

    @classmethod
    def handled(cls) -> tuple[type[Effect[Any]], ...]:
        """The effect types this handler class handles, in definition order."""
        return tuple(cls._effectus_methods)

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}()"


def bound_methods(handler: Handler) -> list[tuple[type[Effect[Any]], Callable[[Any], Any], bool, bool]]:
    """The handler's (effect type, bound method, is_async, blocking) quadruples."""
    out: list[tuple[type[Effect[Any]], Callable[[Any], Any], bool, bool]] = []
    # The table is Handler's own, read by this module's helper: not a use from outside.
    table = type(handler)._effectus_methods  # pyright: ignore[reportPrivateUsage]
    for effect_type, name in table.items():
        method = getattr(handler, name)
        blocking = handler.blocking or bool(getattr(getattr(method, "__func__", method), _BLOCKING, False))
        out.append((effect_type, method, inspect.iscoroutinefunction(method), blocking))
    return out
