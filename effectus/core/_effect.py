"""Effects: immutable requests that a program awaits and an interpreter answers.

Awaiting an `Effect` suspends the program and hands the effect to the interpreter, which
resumes the program with the handler's answer.  `Effect[R]` is typed so that ``await e`` has
type ``R`` under mypy and pyright without plugins.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator
from types import CodeType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, dataclass_transform, overload

if TYPE_CHECKING:
    from effectus.core._loop import Loop

__all__ = ["Effect", "Trap", "effect"]

R = TypeVar("R", covariant=True)
E = TypeVar("E", bound=type[Any])


class Effect(Generic[R]):
    """An effect whose answer has type ``R``.

    Subclass it with a frozen dataclass; awaiting an instance performs it.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Ask(Effect[str]):
    ...     question: str
    >>> Ask("name?")
    Ask(question='name?')
    """

    __slots__ = ()

    def __await__(self) -> Generator[Effect[R], Any, R]:
        # The interpreter receives `self` and sends the handler's answer back in.  (A typed
        # local rather than `return (yield self)`: mypy --strict, no-any-return.)
        answer: R = yield self
        return answer


class Trap(Effect[R]):
    """An effect the scheduler answers itself (spawn, join, channels) unless a handler takes it.

    `perform` runs with the scheduler's loop; it may park the running task (raise what
    ``loop.park(...)`` returns) and wake it later with the answer.  Replay performs traps
    again instead of answering them from the trace, since other tasks depend on them.
    """

    __slots__ = ()

    def perform(self, loop: Loop) -> R:
        """Answer this trap in ``loop`` (the running task is ``loop.current``)."""
        raise NotImplementedError(f"{type(self).__qualname__} must define perform(loop)")

    def discard(self) -> None:
        """Called when this trap is dropped unperformed (its task was cancelled or the run
        ended): release what it holds, e.g. close the program a `Spawn` would have run."""


# The code object of `Effect.__await__`: the interpreter recognises this frame when it throws an
# error into a program, so that the traceback ends on the user's `await`, not in here.
# (Read through `vars`: pyright sees `Effect.__await__` of the bare class as partially unknown.)
AWAIT_CODE: CodeType = vars(Effect)["__await__"].__code__


@overload
def effect(cls: E, /) -> E: ...
@overload
def effect(*, validate: bool = ...) -> Callable[[E], E]: ...


@dataclass_transform(frozen_default=True)
def effect(cls: E | None = None, /, *, validate: bool = True) -> E | Callable[[E], E]:
    """Declare an effect class: a frozen, slotted dataclass that is cheap to build.

    The same as ``@dataclass(frozen=True, slots=True)``, with an ``__init__`` that stores
    fields through their slot descriptors instead of ``object.__setattr__``, which makes
    construction about 1.6x faster.  ``__post_init__`` still runs (when ``validate`` is true),
    so fields can be validated on the user's line.

    >>> @effect
    ... class Ping(Effect[int]):
    ...     host: str
    ...     port: int = 80
    >>> Ping("example.org")
    Ping(host='example.org', port=80)
    >>> Ping("example.org").port = 1
    Traceback (most recent call last):
    dataclasses.FrozenInstanceError: cannot assign to field 'port'
    """

    def wrap(c: E) -> E:
        if not is_effect_type(c):
            raise TypeError(
                f"@effect decorates subclasses of Effect[R]; got {c!r}.\n"
                f"Fix: declare it as `class {getattr(c, '__name__', 'X')}(fx.Effect[ResultType]): ...`"
            )
        # mypy types the dataclass decorator's result as type[Any], not E.
        made = cast(E, dataclasses.dataclass(frozen=True, slots=True)(c))
        _install_fast_init(made, validate=validate)
        return made

    return wrap if cls is None else wrap(cls)


def is_effect_type(obj: object) -> bool:
    """Whether ``obj`` is a subclass of `Effect`.

    The run-time check behind ``@effect`` and ``@handles``, for callers that are not
    type-checked.  It returns a plain ``bool``, not a type guard, so that the checked value
    keeps its declared type (a type variable, say) in the caller.

    >>> is_effect_type(Effect), is_effect_type(int), is_effect_type(Effect())
    (True, False, False)
    """
    return isinstance(obj, type) and issubclass(obj, Effect)


# Field annotations checked inline by the generated __init__: a `type(x) is T` test costs a
# few nanoseconds, where a __post_init__ call costs about sixty.
_INLINE_CHECKED: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "bytes": (bytes,),
    "bool": (bool,),
    "int": (int,),
    "float": (float, int),
}


def _bad_field(cls_name: str, name: str, value: object, expected: str) -> TypeError:
    return TypeError(
        f"{cls_name}({name}={value!r}): {name} must be {'an' if expected[0] in 'aeiou' else 'a'} {expected} "
        f"(type={type(value).__name__}).\n"
        f"Fix: pass {'an' if expected[0] in 'aeiou' else 'a'} {expected} as {name}."
    )


def _install_fast_init(cls: type[Any], *, validate: bool) -> None:
    fields = [f for f in dataclasses.fields(cls) if f.init]
    if any(f.default_factory is not dataclasses.MISSING for f in fields):
        return  # keep the dataclass __init__: factories need its machinery
    namespace: dict[str, Any] = {"_bad_field": _bad_field}
    has_post_init = hasattr(cls, "__post_init__")
    params: list[str] = []
    body: list[str] = []
    for f in fields:
        namespace[f"_set_{f.name}"] = getattr(cls, f.name).__set__
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        annotation = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        # A class with its own __post_init__ keeps full control of its validation messages.
        checked = _INLINE_CHECKED.get(annotation) if validate and not has_post_init else None
        if checked is not None:
            namespace[f"_types_{f.name}"] = checked
            # Accepts what type checkers accept: subclasses, and an int where a float goes.
            body.append(
                f"    if type({f.name}) is not {checked[0].__name__} and "
                f"not isinstance({f.name}, _types_{f.name}):\n"
                f"        raise _bad_field({cls.__name__!r}, {f.name!r}, {f.name}, {annotation!r})"
            )
        body.append(f"    _set_{f.name}(self, {f.name})")
    if validate and has_post_init:
        body.append("    self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "    pass")
    exec(source, namespace)  # the dataclass module builds __init__ the same way
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init
    # On 3.11 the frozen __setattr__ of a slotted dataclass refers to the class from before
    # slots were added, and fails with a TypeError for non-field names (typing sets
    # `__orig_class__` on `Get[int](...)`).  Every assignment is refused the same way here.
    setattr(cls, "__setattr__", _refuse_setattr)
    setattr(cls, "__delattr__", _refuse_delattr)


def _refuse_setattr(self: object, name: str, value: object) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _refuse_delattr(self: object, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
