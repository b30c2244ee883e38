"""Hypothesis strategies for kernel arguments: consistent shapes, finite values, chosen dtypes.

``arguments(kernel)`` draws ``(arrays, static)``: every named dim once (so ``"m k"`` and
``"k n"`` share ``k``), every ``*name`` once, expressions computed from them; elements finite
and small (floats in [-4, 4]); the kernel's ``strategies=`` override elements, static values
and shapes (``"b.shape"``).  Draws shrink towards small dims and zeros, as Hypothesis does.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from effectus.kernels._kernel import Kernel
from effectus.kernels._signature import DTYPES, KernelError, Param, evaluate, preferred_dtype

if TYPE_CHECKING:
    from hypothesis import strategies as st

__all__ = ["arguments", "DEFAULT_DTYPES"]

#: the dtype drawn for each category unless ``dtypes=`` says otherwise
DEFAULT_DTYPES: dict[str, str] = {category: preferred_dtype(dtypes) for category, dtypes in DTYPES.items()}


def arguments(
    kernel: Kernel[..., Any], *, dtypes: Sequence[str] = (), max_side: int = 5, max_rank: int = 2,
) -> st.SearchStrategy[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Draw ``(arrays, static)`` that ``kernel``'s signature accepts.

    Args:
        dtypes: dtype names to draw from, for each array whose category admits one of them
            (e.g. ``("float32", "bfloat16")``); other arrays get `DEFAULT_DTYPES`.  All float
            arrays of one draw share a dtype.
        max_side: the largest size of a dim.
        max_rank: the most dims a ``*name`` or ``...`` stands for.

    >>> from effectus.kernels import matmul
    >>> from hypothesis import given
    >>> @given(arguments(matmul))
    ... def test(drawn):
    ...     (a, b), _ = drawn
    ...     assert a.shape[-1] == b.shape[-2]
    >>> test()
    """
    from hypothesis import strategies as st

    known = sorted({d for group in DTYPES.values() for d in group})
    for name in dtypes:
        if name not in known:
            raise KernelError(f"arguments: unknown dtype {name!r}; one of {known}")

    @st.composite
    def draw_arguments(draw: st.DrawFn) -> tuple[tuple[Any, ...], dict[str, Any]]:
        env: dict[str, Any] = {}
        chosen: dict[str, str] = {}
        for name in ("Float", "Int"):
            wanted = [d for d in dtypes if d in DTYPES[name]]
            if wanted:
                chosen[name] = draw(st.sampled_from(wanted))
        side = st.integers(1, max_side)
        arrays: list[Any] = []
        for p in kernel.params:
            override = kernel.strategies.get(f"{p.name}.shape")
            if override is not None:
                shape = tuple(draw(_strategy(override, env)))
            else:
                shape = _shape(draw, p, env, side, max_rank, max_side)
            env[p.name] = shape
            dtype = _dtype(p, chosen)
            arrays.append(draw(_array(kernel, p, shape, dtype, env)))
        static: dict[str, Any] = {}
        for name in kernel.static_names:
            if name in kernel.strategies:
                static[name] = draw(_strategy(kernel.strategies[name], {**env, **static}))
            elif name in kernel.static_defaults:
                static[name] = kernel.static_defaults[name]
            else:
                raise KernelError(
                    f"arguments({kernel.name}): the static parameter {name} has no default and no strategy.\n"
                    f"Fix: give it one: @kernel(strategies={{{name!r}: st.integers(1, 4)}})."
                )
        return tuple(arrays), static

    return draw_arguments()


def _strategy(entry: Any, env: Mapping[str, Any]) -> Any:
    from hypothesis import strategies as st

    if isinstance(entry, st.SearchStrategy):
        return typing.cast(Any, entry)
    return entry(env)


def _shape(draw: Any, p: Param, env: dict[str, Any], side: Any, max_rank: int, max_side: int) -> tuple[int, ...]:
    from hypothesis import strategies as st

    out: list[int] = []
    for d in p.dims:
        if d.kind == "variadic":
            if d.text not in env:
                env[d.text] = tuple(draw(st.lists(side, max_size=max_rank)))
            out.extend(env[d.text])
        elif d.kind == "ellipsis":
            out.extend(draw(st.lists(side, min_size=1 if len(p.dims) == 1 else 0, max_size=max_rank)))
        elif d.kind == "any":
            out.append(draw(side))
        elif d.kind == "name" and d.text not in env:
            env[d.text] = draw(side)
            out.append(env[d.text])
        else:
            out.append(int(evaluate(d, env)))
    if any(s < 0 for s in out):
        from hypothesis import reject

        reject()
    return tuple(out)


def _dtype(p: Param, chosen: Mapping[str, str]) -> str:
    for group in ("Float", "Int"):
        if group in chosen and chosen[group] in p.spec.dtypes:
            return chosen[group]
    return DEFAULT_DTYPES[p.spec.category]


def _array(kernel: Kernel[..., Any], p: Param, shape: tuple[int, ...], dtype: str, env: Mapping[str, Any]) -> Any:
    import numpy as np
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    elements = kernel.strategies.get(p.name)
    kind = np.dtype(dtype) if dtype != "bfloat16" else None
    if elements is not None:
        elems = _strategy(elements, env)
    elif kind is None or kind.kind == "f":
        elems = st.floats(-4.0, 4.0, allow_nan=False, allow_infinity=False, width=32)
    elif kind.kind == "b":
        elems = st.booleans()
    elif kind.kind == "u":
        elems = st.integers(0, int(np.iinfo(kind).max))
    else:
        info = np.iinfo(kind)
        elems = st.integers(max(int(info.min) + 1, -1000), min(int(info.max), 1000))
    if kind is None:  # bfloat16: drawn as float32, then rounded
        import ml_dtypes

        convert: Callable[[Any], Any] = lambda a: a.astype(ml_dtypes.bfloat16)  # noqa: E731
        return hnp.arrays(np.float32, shape, elements=elems).map(convert)
    if kind.kind == "f" and kind.itemsize < 4:
        return hnp.arrays(np.float32, shape, elements=elems).map(lambda a: a.astype(kind))
    return hnp.arrays(kind, shape, elements=elems)
