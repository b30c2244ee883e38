"""Effects: immutable requests that a program awaits and an interpreter answers.

Awaiting an `Effect` suspends the program and hands the effect to the interpreter, which
resumes the program with the handler's answer.  `Effect[R]` is typed so that ``await e`` has
type ``R`` under mypy and pyright without plugins.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator
from typing import Any, Generic, TypeVar, dataclass_transform, overload

__all__ = ["Effect", "effect"]

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
        # The interpreter receives `self` and sends the handler's answer back in.
        return (yield self)


# The code object of `Effect.__await__`: the interpreter recognises this frame when it throws an
# error into a program, so that the traceback ends on the user's `await`, not in here.
AWAIT_CODE = Effect.__await__.__code__


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
        if not (isinstance(c, type) and issubclass(c, Effect)):
            raise TypeError(
                f"@effect decorates subclasses of Effect[R]; got {c!r}.\n"
                f"Fix: declare it as `class {getattr(c, '__name__', 'X')}(fx.Effect[ResultType]): ...`"
            )
        made: E = dataclasses.dataclass(frozen=True, slots=True)(c)
        _install_fast_init(made, validate=validate)
        return made

    return wrap if cls is None else wrap(cls)


def _install_fast_init(cls: type[Any], *, validate: bool) -> None:
    fields = [f for f in dataclasses.fields(cls) if f.init]
    if any(f.default_factory is not dataclasses.MISSING for f in fields):
        return  # keep the dataclass __init__: factories need its machinery
    namespace: dict[str, Any] = {}
    params: list[str] = []
    body: list[str] = []
    for f in fields:
        namespace[f"_set_{f.name}"] = getattr(cls, f.name).__set__
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        body.append(f"    _set_{f.name}(self, {f.name})")
    if validate and hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "    pass")
    exec(source, namespace)  # the dataclass module builds __init__ the same way
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init
