"""jax, jax.numpy and numpy, imported when first used and typed ``Any``.

Importing effectus.kernels must not import jax (it takes a second); and jax's own annotations
leave much of its API partially unknown to a strict type checker, so kernel code reaches it
through these handles.
"""

from __future__ import annotations

from typing import Any

__all__ = ["items", "jax", "jnp", "np"]


def jax() -> Any:
    import jax as module

    return module


def jnp() -> Any:
    import jax.numpy as module

    return module


def np() -> Any:
    import numpy as module

    return module


def items(value: object) -> tuple[object, ...]:
    """A tuple or list's items, or ``(value,)``: the results of a kernel as a tuple."""
    if isinstance(value, (tuple, list)):
        return tuple(value)  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
    return (value,)
