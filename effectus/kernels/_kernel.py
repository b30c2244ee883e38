"""Kernels: pure JAX functions with a shape/dtype signature and a numpy reference.

Calling a kernel does not compute anything: it checks the arguments against the signature (on
the caller's line, before anything compiles) and returns a `KernelCall` effect; awaiting it
lets the interpreter decide how to run it: `Jit` in production, `Reference` in tests (the kernel
and its reference, compared), the trace's answer in a replay.

Guarantees: a `KernelCall` is only ever built from arguments its kernel's signature accepts
(rank, every dim, dtype category); the check is cached per shapes, dtypes and static
parameters, so a repeated call costs a dict lookup.
"""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, ParamSpec, TypeVar, cast, overload

from effectus.core import Effect, effect, register_codec
from effectus.kernels._lazy import items
from effectus.kernels._signature import (
    KernelError,
    Obligation,
    Param,
    TensorSpec,
    bind,
    dtype_name,
    holds,
    parse_dims,
    spec_of_hint,
    unify,
    violation,
)

__all__ = ["DEFAULT_TOLERANCE", "Kernel", "KernelCall", "ShapeRule", "Tolerance", "kernel", "kernel_named"]

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

#: ``rule(shapes, static) -> (result shapes, obligations)``: the shapes of a kernel whose
#: signature cannot say them (transpose, reshape, einsum); sizes are ints, or z3 terms in proofs
ShapeRule = Callable[[Sequence[tuple[Any, ...]], Mapping[str, Any]], tuple[list[tuple[Any, ...]], list[Obligation]]]

#: (rtol, atol): ``|kernel - reference| <= atol + rtol * |reference|`` elementwise
Tolerance = tuple[float, float]

#: the tolerance of each result dtype unless the kernel says otherwise; other dtypes are exact
DEFAULT_TOLERANCE: dict[str, Tolerance] = {
    "float64": (1e-9, 1e-9),
    "float32": (2e-5, 2e-5),
    "float16": (1e-2, 1e-2),
    "bfloat16": (2e-2, 2e-2),
}

_REGISTRY: dict[str, Kernel[..., Any]] = {}
_CHECKED_MAX = 4096  # cached argument checks per kernel


@effect
class KernelCall(Effect[R_co], Generic[R_co]):
    """Run ``kernel`` on ``args`` with the static parameters ``static`` (in the kernel's order).

    Built by calling a `Kernel`, never directly.  Recorded as the kernel's name, the arrays
    (large ones in the trace's blob store, by hash) and the static values; the answer, an
    array or a tuple of arrays, is recorded with its SHA-256 and checked against it on replay.
    """

    kernel: Kernel[..., R_co]
    args: tuple[Any, ...]
    static: tuple[Any, ...]

    def __repr__(self) -> str:
        k = self.kernel
        parts = [_describe(a) for a in self.args]
        parts += [f"{n}={v!r}" for n, v in zip(k.static_names, self.static) if v != k.static_defaults.get(n, _NONE)]
        return f"{k.name}({', '.join(parts)})"

    def differs(self, recorded: object, live: object) -> str | None:
        """Why ``live`` (recomputed) disagrees with ``recorded`` beyond tolerance, or None."""
        from effectus.kernels._compare import disagreement

        return disagreement(self.kernel, live, recorded, "recomputed", "recorded")


_NONE = object()


def _describe(a: object) -> str:
    shape = getattr(a, "shape", None)
    dtype = getattr(a, "dtype", None)
    if shape is None or dtype is None:
        return repr(a)
    short = dtype_name(dtype).replace("float", "f").replace("uint", "u").replace("int", "i")
    return f"{short}[{','.join(str(s) for s in shape)}]"


class Kernel(Generic[P, R]):
    """A kernel: made by `kernel`; calling it returns the `KernelCall` effect to await."""

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        reference: Callable[..., Any] | None,
        tolerance: Mapping[str, Tolerance],
        finite: bool | Sequence[str],
        compare: Callable[[Any, Any], str | None] | None,
        strategies: Mapping[str, Any],
        shard: str | None,
        name: str | None,
        shape_rule: ShapeRule | None = None,
    ) -> None:
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", "kernel"))
        self.__name__ = self.name
        self.__qualname__ = getattr(fn, "__qualname__", self.__name__)
        self.__module__ = getattr(fn, "__module__", "__main__")
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__wrapped__ = fn
        self.reference = reference
        self.tolerance = {**DEFAULT_TOLERANCE, **tolerance}
        self.compare = compare
        self.strategies = dict(strategies)
        self.shape_rule = shape_rule
        where = f"@kernel on {self.name}"
        try:
            hints = typing.get_type_hints(fn, include_extras=True)
        except Exception as err:
            raise KernelError(f"{where}: its annotations do not resolve ({type(err).__name__}: {err}).\nFix: import Float, Array, ... from effectus.kernels in its module.") from err
        sig = inspect.signature(fn)
        params: list[Param] = []
        static: list[str] = []
        defaults: dict[str, Any] = {}
        for p in sig.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise KernelError(f"{where}: *{p.name} is not supported; a kernel's parameters are named arrays and static values.")
            spec = spec_of_hint(hints.get(p.name))
            if spec is not None:
                if static:
                    raise KernelError(f"{where}: the array {p.name} comes after the static parameter {static[-1]}.\nFix: put array parameters first.")
                params.append(Param(p.name, spec, parse_dims(spec.dims, f"{where}: {p.name}")))
            else:
                if p.name not in hints:
                    raise KernelError(
                        f"{where}: parameter {p.name} has no annotation.\n"
                        f'Fix: annotate arrays as Float[Array, "dims"] (or Int, ...) and static parameters with their type.'
                    )
                static.append(p.name)
                if p.default is not p.empty:
                    defaults[p.name] = p.default
        if not params:
            raise KernelError(f'{where}: it has no array parameter.\nFix: annotate the arrays, e.g. x: Float[Array, "n"].')
        self.params: tuple[Param, ...] = tuple(params)
        self.static_names: tuple[str, ...] = tuple(static)
        self.static_defaults: dict[str, Any] = defaults
        out = hints.get("return")
        outputs = _outputs(out)
        if outputs is None:
            raise KernelError(
                f"{where}: its result has no signature.\n"
                f'Fix: annotate it, e.g. -> Float[Array, "m n"] (or a tuple of them).'
            )
        self.outputs: tuple[Param, ...] = tuple(
            Param("result" if len(outputs) == 1 else f"result[{i}]", s, parse_dims(s.dims, f"{where}: result"))
            for i, s in enumerate(outputs)
        )
        self.multiple = typing.get_origin(out) is tuple
        names = {p.name for p in self.params}
        self.finite: frozenset[str] = frozenset(names if finite is True else () if finite is False else finite)
        if not self.finite <= names:
            raise KernelError(f"{where}: finite= names {sorted(self.finite - names)}, which are not array parameters.")
        if shard is None and any(d.text in ("batch", "*batch") for p in self.params for d in p.dims):
            shard = "batch"
        self.shard = shard
        self._checked: set[object] = set()  # (shapes and dtypes, static values) already checked
        self.key = f"{self.__module__}:{self.__qualname__}"
        _REGISTRY.setdefault(self.key, self)

    def __repr__(self) -> str:
        sig = ", ".join([f"{p.name}: {p.spec!r}" for p in self.params] + [f"{n}" for n in self.static_names])
        outs = ", ".join(repr(o.spec) for o in self.outputs)
        return f"<kernel {self.name}({sig}) -> {outs if not self.multiple else f'({outs})'}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> KernelCall[R]:
        """The effect of running this kernel on these arguments; awaiting it runs the kernel."""
        n = len(self.params)
        if len(args) >= n and not kwargs and len(args) <= n + len(self.static_names):
            arrays = args[:n]
            given = dict(zip(self.static_names, args[n:]))
        else:
            arrays, given = self._split(args, kwargs)
        try:
            static = tuple(given[s] if s in given else self.static_defaults[s] for s in self.static_names)
        except KeyError as err:
            raise TypeError(f"{self.name}() missing the static parameter {err.args[0]!r}") from None
        if any(type(a).__name__ == "Symbolic" for a in arrays):
            from effectus.kernels._prove import symbolic_call

            return cast(KernelCall[R], symbolic_call(self, tuple(arrays), static, sys._getframe(1)))  # pyright: ignore[reportPrivateUsage]
        try:
            key = (tuple([(a.shape, a.dtype) for a in cast(Sequence[Any], arrays)]), static)
            hash(key)
        except (AttributeError, TypeError):
            key = None
        if key is None or key not in self._checked:
            self.check(arrays, static)
            if key is not None:
                if len(self._checked) >= _CHECKED_MAX:
                    self._checked.clear()
                self._checked.add(key)
        return KernelCall(self, tuple(arrays), static)

    def check(self, arrays: Sequence[object], static: Sequence[Any]) -> dict[str, Any]:
        """The binding of the signature's names for these arguments, or `KernelError`."""
        given = self.kwargs(static)
        env = bind(self.name, self.params, arrays, given)
        if self.shape_rule is not None:
            _, obligations = self.shape_rule([tuple(getattr(a, "shape")) for a in arrays], given)
            for o in obligations:
                if not holds(o[2], o[1], o[3]):
                    raise KernelError(f"{violation(self.name, o)}.\nFix: pass arrays and parameters that agree.")
        return env

    def check_result(self, args: Sequence[object], static: Sequence[Any], result: object) -> None:
        """`KernelError` if ``result`` does not have the shapes and dtypes the signature promises."""
        results = items(result) if self.multiple else (result,)
        if len(results) != len(self.outputs):
            raise KernelError(f"{self.name} returned {len(results)} results; its signature promises {len(self.outputs)}")
        shapes: list[tuple[Param, tuple[Any, ...]]] = [(p, tuple(getattr(a, "shape"))) for p, a in zip(self.params, args)]
        for p, r in zip(self.outputs, results):
            shape = getattr(r, "shape", None)
            dtype = getattr(r, "dtype", None)
            if shape is None or dtype is None:
                raise KernelError(f"{self.name} returned {type(r).__qualname__} as {p.name}, not an array")
            if dtype_name(dtype) not in p.spec.dtypes:
                raise KernelError(f"{self.name} returned {p.name} of dtype {dtype_name(dtype)}, but its signature promises {p.spec!r}")
            shapes.append((p, tuple(shape)))
        _, obligations = unify(self.name, shapes, self.kwargs(static))
        if self.shape_rule is not None:
            promised, _ = self.shape_rule([s for _, s in shapes[: len(self.params)]], self.kwargs(static))
            obligations += [
                (f"{p.name}.shape", s, "==", tuple(want), f"the shape rule says {tuple(want)}")
                for (p, s), want in zip(shapes[len(self.params):], promised)
            ]
        for o in obligations:
            if o[0].startswith("result") and not holds(o[2], o[1], o[3]):
                raise KernelError(f"{violation(self.name, o)}: the kernel breaks its own signature.")

    def kwargs(self, static: Sequence[Any]) -> dict[str, Any]:
        """The static parameters as keyword arguments."""
        return dict(zip(self.static_names, static))

    def _split(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        names = [p.name for p in self.params] + list(self.static_names)
        if len(args) > len(names):
            raise TypeError(f"{self.name}() takes {len(names)} arguments ({', '.join(names)}); {len(args)} were given")
        bound = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise TypeError(f"{self.name}() got an unexpected argument {k!r}; it takes {', '.join(names)}")
            if k in bound:
                raise TypeError(f"{self.name}() got two values for {k!r}")
            bound[k] = v
        missing = [p.name for p in self.params if p.name not in bound]
        if missing:
            raise TypeError(f"{self.name}() missing the array argument{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        return tuple(bound[p.name] for p in self.params), {s: bound[s] for s in self.static_names if s in bound}


def _outputs(hint: object) -> tuple[TensorSpec, ...] | None:
    if typing.get_origin(hint) is tuple:
        specs = [spec_of_hint(h) for h in typing.get_args(hint)]
        return None if not specs or any(s is None for s in specs) else tuple(cast(list[TensorSpec], specs))
    one = spec_of_hint(hint)
    return None if one is None else (one,)


@overload
def kernel(fn: Callable[P, R], /) -> Kernel[P, R]: ...
@overload
def kernel(
    *,
    reference: Callable[..., Any] | None = None,
    tolerance: Mapping[str, Tolerance] | None = None,
    finite: bool | Sequence[str] = False,
    compare: Callable[[Any, Any], str | None] | None = None,
    strategies: Mapping[str, Any] | None = None,
    shard: str | None = None,
    name: str | None = None,
    shape_rule: ShapeRule | None = None,
) -> Callable[[Callable[P, R]], Kernel[P, R]]: ...


def kernel(
    fn: Callable[P, R] | None = None,
    /,
    *,
    reference: Callable[..., Any] | None = None,
    tolerance: Mapping[str, Tolerance] | None = None,
    finite: bool | Sequence[str] = False,
    compare: Callable[[Any, Any], str | None] | None = None,
    strategies: Mapping[str, Any] | None = None,
    shard: str | None = None,
    name: str | None = None,
    shape_rule: ShapeRule | None = None,
) -> Kernel[P, R] | Callable[[Callable[P, R]], Kernel[P, R]]:
    """Declare a kernel: a pure JAX function whose arrays are annotated with their shapes.

    Arrays are annotated ``Float[Array, "batch n"]`` (or ``Int``, ``Int8``, ``Bool``, ...);
    the other parameters are static (compiled in: ints, floats, strings, tuples) and come after
    the arrays.  The result is annotated the same way (or as a tuple of them).

    Args:
        reference: a numpy function of the same parameters that `Reference` (tests) runs beside
            the kernel and compares with it.
        tolerance: dtype name -> (rtol, atol) for the comparison, over `DEFAULT_TOLERANCE`.
        finite: refuse NaN and infinities in all arrays (True) or in the named ones.
        compare: ``compare(kernel_result, reference_result)`` -> why they disagree, or None;
            replaces the elementwise comparison (results equal up to ties, say).
        strategies: parameter name -> Hypothesis strategy, or a function of the drawn dims
            (name -> int) returning one, for `arguments`: elements of an array, or the value of
            a static parameter.
        shard: the dim split across devices by `Jit`'s sharded variant (default: ``batch``
            when a signature names it).
        name: the kernel's name in messages (default: the function's).
        shape_rule: ``rule(shapes, static) -> (result shapes, obligations)`` for a kernel whose
            result shape its signature cannot say (annotate that result ``"..."``).

    >>> from effectus.kernels import Array, Float
    >>> @kernel
    ... def scale(x: Float[Array, "n"], factor: float = 2.0) -> Float[Array, "n"]:
    ...     return x * factor
    >>> scale
    <kernel scale(x: Float[Array, "n"], factor) -> Float[Array, "n"]>
    """

    def wrap(f: Callable[P, R]) -> Kernel[P, R]:
        return Kernel(
            f, reference=reference, tolerance=tolerance or {}, finite=finite, compare=compare,
            strategies=strategies or {}, shard=shard, name=name, shape_rule=shape_rule,
        )

    return wrap if fn is None else wrap(fn)


def kernel_named(key: str) -> Kernel[..., Any]:
    """The kernel ``module:qualname`` among those defined in this process (traces name kernels)."""
    try:
        return _REGISTRY[key]
    except KeyError:
        module = key.partition(":")[0]
        hint = "" if module in sys.modules else f"; its module {module!r} is not imported"
        raise KernelError(f"the trace names kernel {key}, which is not defined{hint}.\nFix: import the module that defines it before replaying.") from None


register_codec(Kernel, "kernel", lambda k: cast(Kernel[..., Any], k).key, lambda j: kernel_named(cast(str, j)))
