"""Shape proofs: a pipeline of kernels checked by z3 for every size, before anything compiles.

`prove_shapes` runs the program itself with symbolic arrays (`symbolic`): each dim is an
integer z3 term, and a handler answers every kernel call abstractly, binding the kernel's
signature to the argument's terms and collecting what must hold (``k == 784``).  z3 then looks
for sizes (every dim at least 1) under which something fails.  None: the pipeline is proved for
all sizes, and the proof says the result's shapes in the input's symbols.  One: `ShapeMismatch`
names the kernel call (file:line), the dims that conflict, in symbols, and the sizes that
break it.

Guarantees: the program's own code decides which kernels run (loops and helpers included); only
shapes and dtypes are computed, never values.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from effectus.core import Handler, effect, handles, run
from effectus.kernels._kernel import Kernel, KernelCall
from effectus.kernels._signature import (
    KernelError,
    Obligation,
    dtype_name,
    evaluate,
    holds,
    parse_dims,
    preferred_dtype,
    shapes_of,
    spec_of_hint,
    unify,
    violation,
)

__all__ = ["ShapeMismatch", "ShapeProof", "Symbolic", "prove_shapes", "symbolic", "symbolic_call"]


class ShapeMismatch(KernelError):
    """A kernel pipeline fails for some sizes: ``counterexample`` holds sizes that break it."""

    def __init__(self, message: str, *, kernel: str = "", site: str = "", conflict: tuple[str, str] = ("", ""), counterexample: Mapping[str, int] | None = None) -> None:
        super().__init__(message)
        self.kernel = kernel
        self.site = site
        #: the two sides that must agree, in the inputs' symbols (``("m", "784")``)
        self.conflict = conflict
        #: input symbol -> size, for sizes under which the pipeline fails
        self.counterexample = dict(counterexample or {})


class Symbolic:
    """An array whose dims are z3 integer terms: what `prove_shapes` runs a program on."""

    __slots__ = ("shape", "dtype", "name")

    def __init__(self, shape: tuple[Any, ...], dtype: str, name: str) -> None:
        self.shape = shape
        self.dtype = dtype
        self.name = name

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"Symbolic({self.name}: {self.dtype}[{' '.join(_show(s) for s in self.shape)}])"

    def _refuse(self, *_: object) -> Any:
        raise KernelError(
            f"{self!r} has no values: a program proved by prove_shapes may compute on arrays only "
            f"through kernels.\nFix: wrap the computation in a @kernel (with a signature), or "
            f"prove the part of the program that only calls kernels."
        )

    # What `Array` promises, so that tools whose parameters are annotated as arrays accept it.
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = _refuse
    __getitem__ = astype = __array__ = _refuse


def _z3() -> Any:
    import z3  # type: ignore[import-untyped]

    return z3


def _show(term: Any) -> str:
    if isinstance(term, int):
        return str(term)
    z3 = _z3()
    return str(z3.simplify(term)).replace(" ", "")


def symbolic(dims: str, dtype: str = "float32", name: str = "x") -> Symbolic:
    """A symbolic array of ``dims`` (``"batch 784"``): each name is a size z3 ranges over, shared
    by every symbolic array that writes it; ints are fixed sizes.

    >>> symbolic("batch 784")
    Symbolic(x: float32[batch 784])
    """
    z3 = _z3()
    shape: list[Any] = []
    for d in parse_dims(dims, f"symbolic({dims!r})"):
        if d.kind == "int":
            shape.append(int(d.text))
        elif d.kind in ("name", "expr"):
            shape.append(evaluate(d, {n: z3.Int(n) for n in d.names}))
        else:
            raise KernelError(f"symbolic({dims!r}): {d.text} is not allowed here; give every dim a name or a size")
    return Symbolic(tuple(shape), dtype, name)


@effect
class SymbolicCall(KernelCall[Any]):
    """A kernel called on symbolic arrays (inside `prove_shapes`), with the caller's line."""

    site: str


def symbolic_call(kernel: Kernel[..., Any], arrays: tuple[Any, ...], static: tuple[Any, ...], frame: FrameType | None) -> SymbolicCall:
    """The effect of calling ``kernel`` on arrays of which some are `Symbolic`."""
    site = f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}" if frame is not None else "?"
    return SymbolicCall(kernel, arrays, static, site)


@dataclass
class _Step:
    kernel: str
    site: str
    obligation: Obligation


class _Prover(Handler):
    """Answers kernel calls on symbolic arrays with symbolic results, collecting obligations."""

    def __init__(self) -> None:
        self.steps: list[_Step] = []
        self.calls = 0

    @handles(SymbolicCall)
    def call(self, call: SymbolicCall) -> Any:
        kernel = call.kernel
        self.calls += 1
        where = f"{kernel.name} at {call.site}"
        static = kernel.kwargs(call.static)
        try:
            shapes = shapes_of(kernel.name, kernel.params, call.args)
            env, obligations = unify(kernel.name, shapes, static)
            outputs: list[tuple[Any, ...]]
            if kernel.shape_rule is not None:
                outputs, more = kernel.shape_rule([s for _, s in shapes], static)
                obligations = [*obligations, *more]
            else:
                z3 = _z3()
                outputs = []
                for o in kernel.outputs:
                    dims: list[Any] = []
                    for d in o.dims:
                        if d.kind == "variadic":
                            dims.extend(env[d.text])
                        elif d.kind in ("any", "ellipsis"):
                            dims.append(z3.FreshInt("_"))
                        else:
                            dims.append(evaluate(d, env))
                    outputs.append(tuple(dims))
        except ShapeMismatch:
            raise
        except KernelError as err:  # not an array, a dtype, a rank or a static error: wrong for every size
            head, _, fix = str(err).partition("\n")
            head = head.partition(": ")[2] or head
            raise ShapeMismatch(f"{where}: {head} (for every size)" + (f"\n{fix}" if fix else ""), kernel=kernel.name, site=call.site) from None
        for ob in obligations:
            self.steps.append(_Step(kernel.name, call.site, ob))
        dtype = next((dtype_name(getattr(a, "dtype")) for a in call.args), "float32")
        results = [
            Symbolic(out, dtype if dtype in p.spec.dtypes else preferred_dtype(p.spec.dtypes), f"{kernel.name}.{p.name}")
            for out, p in zip(outputs, kernel.outputs)
        ]
        return tuple(results) if kernel.multiple else results[0]


@dataclass(frozen=True)
class ShapeProof:
    """A pipeline proved for all sizes: its result (with `Symbolic` arrays), how many kernel calls
    and obligations were checked, and the input symbols."""

    result: Any
    calls: int
    obligations: int
    symbols: tuple[str, ...]

    def shapes(self) -> Any:
        """The result with each symbolic array written as its dims, e.g. ``"batch 10"``."""
        return _render(self.result)


def _render(value: Any) -> Any:
    if isinstance(value, Symbolic):
        return " ".join(_show(s) for s in value.shape)
    if isinstance(value, tuple):
        return tuple(_render(v) for v in value)  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    if isinstance(value, list):
        return [_render(v) for v in value]  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    if isinstance(value, dict):
        return {k: _render(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    return value


def _from_annotations(fn: Callable[..., Any]) -> dict[str, Symbolic]:
    target = inspect.unwrap(fn)
    hints = typing.get_type_hints(target, include_extras=True)
    out: dict[str, Symbolic] = {}
    for name in inspect.signature(target).parameters:
        spec = spec_of_hint(hints.get(name))
        if spec is None:
            raise KernelError(
                f"prove_shapes({getattr(fn, '__qualname__', fn)!r}): parameter {name} is not annotated as an array.\n"
                f'Fix: annotate it (Float[Array, "batch n"]), or pass the arguments: prove_shapes(fn, x=symbolic("batch n"), ...).'
            )
        out[name] = symbolic(spec.dims, preferred_dtype(spec.dtypes), name)
    return out


def prove_shapes(program: Callable[..., Any], /, *args: Any, **kwargs: Any) -> ShapeProof:
    """Prove that ``program(*args, **kwargs)`` calls every kernel with agreeing shapes, for all sizes.

    ``program`` is an async function or a tool; pass it `symbolic` arrays (and any concrete
    values), or nothing, to take each parameter's ``Float[Array, "..."]`` annotation.  Other
    effects the program performs are answered by ``fx.testing()``.

    Returns:
        A `ShapeProof`: ``proof.shapes()`` is the result in the inputs' symbols.

    Raises:
        ShapeMismatch: sizes exist under which a kernel call's shapes disagree; the message names
            the call (file:line), the dims in conflict and a counterexample.

    >>> from effectus.kernels import Array, Float, matmul, relu
    >>> async def layer(x: Float[Array, "batch 784"], w: Float[Array, "784 h"]) -> object:
    ...     return await relu(await matmul(x, w))
    >>> prove_shapes(layer).shapes()
    'batch h'
    """
    from effectus.effects import testing

    if not args and not kwargs:
        kwargs = dict(_from_annotations(program))
    inputs: dict[str, Any] = {}
    for v in _symbolic_leaves([*args, *kwargs.values()]):
        for s in v.shape:
            if not isinstance(s, int):
                inputs.update((str(t), t) for t in _z3_vars(s))
    prover = _Prover()
    result = run(program(*args, **kwargs), prover, testing())
    _check(prover, inputs)
    return ShapeProof(result, prover.calls, len(prover.steps), tuple(sorted(inputs)))


def _symbolic_leaves(value: object) -> list[Symbolic]:
    if isinstance(value, Symbolic):
        return [value]
    if isinstance(value, dict):
        return _symbolic_leaves(list(typing.cast(dict[object, object], value).values()))
    if isinstance(value, (list, tuple)):
        return [leaf for v in typing.cast(Sequence[object], value) for leaf in _symbolic_leaves(v)]
    return []


def _z3_vars(term: Any) -> list[Any]:
    z3 = _z3()
    out: list[Any] = []
    todo = [term]
    while todo:
        t = todo.pop()
        if z3.is_const(t) and t.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            out.append(t)
        else:
            todo.extend(t.children())
    return out


def _check(prover: _Prover, inputs: Mapping[str, Any]) -> None:
    from effectus.proofs._isolated import solve

    z3 = _z3()
    facts: list[Any] = []
    variables: dict[str, Any] = dict(inputs)
    for step in prover.steps:
        for side in (step.obligation[1], step.obligation[3]):
            if not isinstance(side, int):
                for v in _z3_vars(side):
                    variables[str(v)] = v
    facts += [v >= 1 for v in variables.values()]
    conditions: list[Any] = []
    for step in prover.steps:
        _, actual, op, expected, _ = step.obligation
        cond = holds(op, actual, expected)
        if cond is False:
            _refute(step, {})
        if cond is not True:
            conditions.append(cond)
    if not conditions:
        return
    solved = solve([*facts, z3.Not(z3.And(*conditions))], rlimit=5_000_000)
    if solved.answer == "unsat":
        return
    if solved.answer == "unknown":
        raise ShapeMismatch(f"z3 could not decide the pipeline's shapes ({solved.reason}); nothing was proved or refuted")
    values = {name: solved.eval(v).as_long() for name, v in sorted(variables.items())}
    for step in prover.steps:
        _, actual, op, expected, _ = step.obligation
        cond = holds(op, actual, expected)
        if cond is True:
            continue
        if not z3.is_true(solved.eval(cond)):
            _refute(step, values, solved)
    raise ShapeMismatch("z3 found sizes that break the pipeline, but no single step fails under them")  # defensive


def _refute(step: _Step, values: Mapping[str, int], solved: Any = None) -> typing.NoReturn:
    _, actual, op, expected, _ = step.obligation
    a, e = _show(actual), _show(expected)
    if solved is not None:
        got = solved.eval(actual).as_long() if not isinstance(actual, int) else actual
        want = solved.eval(expected).as_long() if not isinstance(expected, int) else expected
        sizes = ", ".join(f"{k}={v}" for k, v in values.items())
        tail = f"  counterexample: {sizes} (then {a} = {got} and {e} = {want})"
        always = False
    else:
        tail = "  for every size"
        always = True
    message = (
        f"the shapes of the pipeline do not agree{' for every size' if always else ' for some sizes'}\n"
        f"  at {step.site}\n"
        f"  {violation(step.kernel, step.obligation, a)}\n"
        f"  conflict: {a} {op} {e} does not hold{' for all sizes' if not always else ''}\n{tail}\n"
        f"Fix: make the dims agree (transpose or reshape an operand, or give the inputs the same symbol)."
    )
    raise ShapeMismatch(message, kernel=step.kernel, site=step.site, conflict=(a, e), counterexample=dict(values))
