"""Comparing a kernel's results with its reference's (tests) or with a recording (replay).

Guarantees: a disagreement is described with the largest error, the index where it occurred,
both values there, how many elements are out of tolerance and the tolerance used; NaN agrees
only with NaN, and an infinity only with the same infinity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from effectus.core import EffectusError
from effectus.kernels import _lazy
from effectus.kernels._lazy import items
from effectus.kernels._signature import dtype_name

if TYPE_CHECKING:
    from effectus.kernels._kernel import Kernel

__all__ = ["KernelMismatch", "disagreement"]


class KernelMismatch(EffectusError, AssertionError):
    """A kernel and its numpy reference (or its recorded result) disagree beyond tolerance."""


def disagreement(kernel: Kernel[..., Any], got: object, want: object, got_label: str, want_label: str) -> str | None:
    """Why ``got`` differs from ``want`` beyond ``kernel``'s tolerance, or None if it does not."""
    if kernel.compare is not None:
        return kernel.compare(got, want)
    gots, wants = items(got), items(want)
    if len(gots) != len(wants):
        return f"{got_label} gave {len(gots)} results, {want_label} {len(wants)}"
    for i, (g, w) in enumerate(zip(gots, wants)):
        where = "" if len(gots) == 1 else f"result[{i}]: "
        why = array_disagreement(g, w, kernel.tolerance, got_label, want_label)
        if why is not None:
            return where + why
    return None


def array_disagreement(
    got: object, want: object, tolerance: dict[str, tuple[float, float]], got_label: str, want_label: str,
) -> str | None:
    """One array's disagreement (see `disagreement`)."""
    np = _lazy.np()
    g = np.asarray(got)
    w = np.asarray(want)
    if g.shape != w.shape:
        return f"{got_label} has shape {g.shape}, {want_label} {w.shape}"
    kind = dtype_name(g.dtype)
    rtol, atol = tolerance.get(kind, (0.0, 0.0))
    if g.size == 0:
        return None
    g64 = g.astype(np.float64) if g.dtype.kind != "c" else g.astype(np.complex128)
    w64 = w.astype(np.float64) if w.dtype.kind != "c" else w.astype(np.complex128)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(g64 - w64)
        bound = atol + rtol * np.abs(w64)
        same_special = (np.isnan(g64) & np.isnan(w64)) | (np.isinf(g64) & (g64 == w64))
        bad = ~same_special & ~(err <= bound)
    count = int(bad.sum())
    if count == 0:
        return None
    score = np.where(bad, np.nan_to_num(err, nan=np.inf, posinf=np.inf), -1.0)
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(score)), g.shape))
    shown = index if index else "()"
    return (
        f"max error {float(err[index]):.6g} at index {shown}: {got_label} {g64[index].item()!r}, {want_label} {w64[index].item()!r}; "
        f"{count} of {g.size} elements out of tolerance (rtol={rtol:g}, atol={atol:g} for {kind})"
    )
