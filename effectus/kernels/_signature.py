"""Shape/dtype signatures of kernels, jaxtyping style: ``Float[Array, "batch m k"]``.

A dim is an int (``3``), a name (``m``), an expression of names and ints with ``+ - * //`` and
no spaces (``n+1``, ``2*k``), ``_`` (any size, unnamed), ``*name`` (any number of dims, the same
ones wherever ``*name`` is written) or ``...`` (any number of dims, unnamed).  A name takes its
value where it first stands alone as a dim, arguments in order; a name may also be an int
static parameter of the kernel (``k`` in top-k's ``"q k"``).

Guarantees: `bind` checks rank, every dim and the dtype category of every array argument before
anything compiles, and its errors name the kernel, the argument, the dim and the symbol.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, cast, runtime_checkable

from effectus.core import EffectusError

__all__ = [
    "Array", "Bool", "DTYPES", "Dim", "Float", "Float32", "Int", "Int8", "Int32", "KernelError",
    "Num", "Shaped", "TensorSpec", "UInt32", "bind", "dtype_name", "parse_dims", "preferred_dtype", "shapes_of",
]


class KernelError(EffectusError, ValueError):
    """A kernel was called with arguments its signature refuses (rank, dim, dtype, values)."""


@runtime_checkable
class Array(Protocol):
    """What a kernel takes and returns: anything with a ``.shape`` and a ``.dtype`` (numpy and
    jax arrays).  Annotate with ``Float[Array, "batch n"]`` and friends."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> Any: ...

    # Arithmetic as numpy and jax arrays have it (results typed loosely: their own array types).
    def __add__(self, other: Any, /) -> Any: ...
    def __radd__(self, other: Any, /) -> Any: ...
    def __sub__(self, other: Any, /) -> Any: ...
    def __rsub__(self, other: Any, /) -> Any: ...
    def __mul__(self, other: Any, /) -> Any: ...
    def __rmul__(self, other: Any, /) -> Any: ...
    def __truediv__(self, other: Any, /) -> Any: ...
    def __getitem__(self, index: Any, /) -> Any: ...
    def astype(self, dtype: Any, /) -> Any: ...


#: dtype categories, as jaxtyping names them, and the dtypes each admits
DTYPES: dict[str, frozenset[str]] = {
    "Float": frozenset({"float16", "bfloat16", "float32", "float64"}),
    "Int": frozenset({"int8", "int16", "int32", "int64"}),
    "UInt": frozenset({"uint8", "uint16", "uint32", "uint64"}),
    "Bool": frozenset({"bool"}),
    "Float32": frozenset({"float32"}),
    "Int8": frozenset({"int8"}),
    "Int32": frozenset({"int32"}),
    "UInt32": frozenset({"uint32"}),
}
DTYPES["Num"] = DTYPES["Float"] | DTYPES["Int"] | DTYPES["UInt"]
DTYPES["Shaped"] = DTYPES["Num"] | DTYPES["Bool"]


def dtype_name(dtype: object) -> str:
    """``float32`` for any spelling of a dtype (numpy's, jax's, ml_dtypes')."""
    name = getattr(dtype, "name", None)
    return name if isinstance(name, str) else str(dtype)


@dataclass(frozen=True)
class Dim:
    """One dim of a signature, parsed: its text and what kind of dim it is."""

    text: str
    kind: str  # "int" | "name" | "expr" | "any" | "variadic" | "ellipsis"
    node: ast.expr | None = None  # int, name, expr: the parsed expression

    @property
    def names(self) -> tuple[str, ...]:
        """The names the dim reads (a variadic's own name included)."""
        if self.kind == "variadic":
            return (self.text[1:],)
        if self.node is None:
            return ()
        return tuple(n.id for n in ast.walk(self.node) if isinstance(n, ast.Name))


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EXPR_NODES = (ast.Expression, ast.Name, ast.Load, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.FloorDiv)


def parse_dims(dims: str, where: str) -> tuple[Dim, ...]:
    """The dims of a signature string; `KernelError` (naming ``where``) for one that does not parse."""
    if not isinstance(dims, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise KernelError(f"{where}: the dims are one string such as \"batch n\"; got {dims!r}")
    out: list[Dim] = []
    for text in dims.split():
        if text == "...":
            out.append(Dim(text, "ellipsis"))
        elif text == "_":
            out.append(Dim(text, "any"))
        elif text.startswith("*") and _NAME.fullmatch(text[1:]):
            out.append(Dim(text, "variadic"))
        else:
            try:
                tree = ast.parse(text, mode="eval")
            except SyntaxError:
                tree = None
            ok = tree is not None and all(
                isinstance(n, _EXPR_NODES) or (isinstance(n, ast.Constant) and type(n.value) is int)
                for n in ast.walk(tree)
            )
            if tree is None or not ok:
                raise KernelError(
                    f"{where}: {text!r} in {dims!r} is not a dim.\n"
                    f"Fix: write each dim as an int, a name, an expression of them with + - * // and no "
                    f'spaces inside it, _, *name or ..., separated by spaces (e.g. "batch n+1").'
                )
            body = tree.body
            kind = "int" if isinstance(body, ast.Constant) else "name" if isinstance(body, ast.Name) else "expr"
            out.append(Dim(text, kind, body))
    if sum(d.kind in ("variadic", "ellipsis") for d in out) > 1:
        raise KernelError(f"{where}: {dims!r} has more than one *name or ...; at most one per array.")
    return tuple(out)


@dataclass(frozen=True)
class TensorSpec:
    """The shape and dtype category of one array: the metadata of ``Float[Array, "n m"]``."""

    category: str
    dims: str

    def __post_init__(self) -> None:
        if self.category not in DTYPES:
            raise KernelError(f"unknown dtype category {self.category!r}; one of {sorted(DTYPES)}")
        parse_dims(self.dims, f"{self.category}[Array, {self.dims!r}]")

    @property
    def parsed(self) -> tuple[Dim, ...]:
        return parse_dims(self.dims, f"{self.category}[Array, {self.dims!r}]")

    @property
    def dtypes(self) -> frozenset[str]:
        return DTYPES[self.category]

    def __repr__(self) -> str:
        return f'{self.category}[Array, "{self.dims}"]'


class _Category:
    """``Float[Array, "n m"]`` at run time: ``Annotated[Array, TensorSpec("Float", "n m")]``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __getitem__(self, item: tuple[object, str]) -> object:
        from typing import Annotated

        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], str)):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise KernelError(f'{self.name}[...] takes an array type and a dims string: {self.name}[Array, "batch n"]')
        return Annotated[item[0], TensorSpec(self.name, item[1])]  # pyright: ignore[reportInvalidTypeForm]


# Type checkers read `Float[Array, "n m"]` as `Annotated[Array, "n m"]` (an `Array`), as with
# jaxtyping; at run time each is a `_Category` that builds the annotation with a `TensorSpec`.
if TYPE_CHECKING:
    from typing import Annotated as Bool, Annotated as Float, Annotated as Float32, Annotated as Int
    from typing import Annotated as Int8, Annotated as Int32, Annotated as Num, Annotated as Shaped
    from typing import Annotated as UInt32
else:
    Bool, Float, Float32, Int = _Category("Bool"), _Category("Float"), _Category("Float32"), _Category("Int")
    Int8, Int32, Num, Shaped = _Category("Int8"), _Category("Int32"), _Category("Num"), _Category("Shaped")
    UInt32 = _Category("UInt32")


Env: TypeAlias = dict[str, Any]  # name -> int, *name -> tuple of ints

#: (what, its size, "==" / "<=" / ">=", the size it must have, where that size comes from):
#: ``("b.shape[0]", 4, "==", 3, "k = 3 (from a.shape[1])")``; sizes are ints, or z3 terms in proofs
Obligation: TypeAlias = tuple[str, Any, str, Any, str]


def holds(op: str, actual: Any, expected: Any) -> Any:
    """``actual op expected``: a bool for ints, a z3 formula for z3 terms."""
    if op == "==":
        return actual == expected
    if op == "<=":
        return actual <= expected
    return actual >= expected


def violation(kernel: str, o: Obligation, actual: Any = None) -> str:
    """The sentence for a broken obligation, e.g. ``matmul: b.shape[0] = 4 but k = 3 (from a.shape[1])``."""
    what, a, op, _, source = o
    a = a if actual is None else actual
    return f"{kernel}: {what} = {a} but {'' if op == '==' else f'it must be {op} '}{source}"


@dataclass(frozen=True)
class Param:
    name: str
    spec: TensorSpec
    dims: tuple[Dim, ...]


def _origin(env_from: Mapping[str, str], name: str) -> str:
    return f" (from {env_from[name]})" if name in env_from else ""


def _evaluate(node: ast.expr, env: Mapping[str, Any]) -> Any:
    """The value of a dim expression over ``env`` (ints, or z3 terms for proofs)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, env), _evaluate(node.right, env)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        return left / right if not isinstance(left, int) or not isinstance(right, int) else left // right
    raise KernelError(f"cannot evaluate the dim {ast.unparse(node)}")


def evaluate(dim: Dim, env: Mapping[str, Any]) -> Any:
    """The size ``dim`` stands for in ``env``."""
    assert dim.node is not None
    return _evaluate(dim.node, env)


def unify(
    where: str, args: Sequence[tuple[Param, Sequence[Any]]], static: Mapping[str, Any],
) -> tuple[Env, list[Obligation]]:
    """Bind the names of ``args``' signatures to the dims of their shapes (ints, or z3 terms).

    Returns the bindings and an `Obligation` for each dim that must equal what its signature
    says; whether they hold is the caller's question.  Rank errors are raised at once.
    """
    env: Env = {k: v for k, v in static.items() if isinstance(v, int) and not isinstance(v, bool)}
    origin: dict[str, str] = {}
    todo: list[tuple[str, Any, Dim]] = []
    obligations: list[Obligation] = []
    for arg, shape in args:
        dims = arg.dims
        rest = next((i for i, d in enumerate(dims) if d.kind in ("variadic", "ellipsis")), None)
        fixed = len(dims) - (rest is not None)
        if (rest is None and len(shape) != fixed) or len(shape) < fixed:
            want = f"{fixed}" if rest is None else f"at least {fixed}"
            raise KernelError(
                f"{where}: {arg.name} has {len(shape)} dims (shape {_show(shape)}) but its signature "
                f"{arg.spec!r} needs {want}.\nFix: reshape {arg.name}, or check that you passed the arguments in order."
            )
        extra = len(shape) - fixed
        i = 0
        for d in dims:
            if d.kind == "variadic":
                got = tuple(shape[i:i + extra])
                if d.text not in env:
                    env[d.text] = got
                    origin[d.text] = f"{arg.name}.shape[{i}:{i + extra}]"
                else:
                    before = env[d.text]
                    if len(before) != len(got):
                        raise KernelError(
                            f"{where}: {arg.name}.shape[{i}:{i + extra}] = {_show(got)} but {d.text} = "
                            f"{_show(before)}{_origin(origin, d.text)}: they have different numbers of dims.\n"
                            f"Fix: give every {d.text} the same dims."
                        )
                    for j, (a, b) in enumerate(zip(got, before)):
                        obligations.append((f"{arg.name}.shape[{i + j}]", a, "==", b, f"{d.text}[{j}] = {b}{_origin(origin, d.text)}"))
            elif d.kind == "name" and d.text not in env:
                env[d.text] = shape[i]
                origin[d.text] = f"{arg.name}.shape[{i}]"
            elif d.kind not in ("any", "ellipsis"):
                todo.append((f"{arg.name}.shape[{i}]", shape[i], d))
            i += extra if d.kind in ("variadic", "ellipsis") else 1
    for what, actual, d in todo:
        missing = [n for n in d.names if n not in env]
        if missing:
            raise KernelError(
                f"{where}: the dim {d.text} uses {', '.join(missing)}, which no dim or int parameter gives a value.\n"
                f"Fix: write {missing[0]} alone as a dim of an argument, or make it a static int parameter."
            )
        expected = evaluate(d, env)
        if d.kind == "int":
            source = f"the signature says {d.text}"
        elif d.kind == "name":
            source = f"{d.text} = {_show1(expected)}{_origin(origin, d.text)}"
        else:
            given = ", ".join(f"{n} = {_show1(env[n])}{_origin(origin, n)}" for n in dict.fromkeys(d.names))
            source = f"{d.text} = {_show1(expected)} ({given})"
        obligations.append((what, actual, "==", expected, source))
    return env, obligations


def _show1(v: object) -> str:
    return _show(cast(tuple[object, ...], v)) if isinstance(v, tuple) else str(v)


def _show(shape: Sequence[Any]) -> str:
    items = [str(s) for s in shape]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def bind(
    kernel: str, args: Sequence[Param], values: Sequence[object], static: Mapping[str, Any],
) -> Env:
    """Check ``values`` against the signatures ``args``; the binding of every name, or `KernelError`."""
    env, obligations = unify(kernel, shapes_of(kernel, args, values), static)
    for o in obligations:
        if not holds(o[2], o[1], o[3]):
            raise KernelError(f"{violation(kernel, o)}.\nFix: pass arrays whose dims agree with the kernel's signature.")
    return env


def shapes_of(kernel: str, args: Sequence[Param], values: Sequence[object]) -> list[tuple[Param, tuple[Any, ...]]]:
    """Each value's shape beside its parameter, or `KernelError` for a value that is not an array
    or whose dtype its signature does not take."""
    shapes: list[tuple[Param, tuple[Any, ...]]] = []
    for arg, value in zip(args, values):
        shape = getattr(value, "shape", None)
        dtype = getattr(value, "dtype", None)
        if shape is None or dtype is None:
            raise KernelError(
                f"{kernel}: {arg.name} is {type(value).__qualname__}, not an array (it has no .shape and .dtype).\n"
                f"Fix: pass a numpy or jax array, e.g. np.asarray({arg.name}, np.float32)."
            )
        name = dtype_name(dtype)
        if name not in arg.spec.dtypes:
            raise KernelError(
                f"{kernel}: {arg.name} has dtype {name}, but its signature {arg.spec!r} takes "
                f"{', '.join(sorted(arg.spec.dtypes))}.\nFix: convert it, e.g. {arg.name}.astype(np.{preferred_dtype(arg.spec.dtypes)})."
            )
        shapes.append((arg, tuple(cast(Sequence[Any], shape))))
    return shapes


def preferred_dtype(dtypes: frozenset[str]) -> str:
    """The dtype to use among ``dtypes`` when nothing else says: float32, else int32, int8,
    uint32, bool, else the first by name."""
    for preferred in ("float32", "int32", "int8", "uint32", "bool"):
        if preferred in dtypes:
            return preferred
    return sorted(dtypes)[0]


def spec_of_hint(hint: object) -> TensorSpec | None:
    """The `TensorSpec` in an ``Annotated`` hint, if any."""
    for m in getattr(hint, "__metadata__", ()):
        if isinstance(m, TensorSpec):
            return m
    return None
