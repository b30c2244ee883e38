"""The handlers of `KernelCall`: `Jit` runs kernels compiled by XLA, `Reference` also checks them.

``fx.production()`` includes a `Jit` on the default device and ``fx.testing()`` a `Reference`,
once ``effectus.kernels`` is imported; a replay answers kernel calls from the trace (or, with
``live=(KernelCall,)``, recomputes them and compares within the kernel's tolerance).

Guarantees: each kernel is compiled once per static parameters and device, and XLA's own cache
compiles it once per shapes and dtypes; a device that is not present is refused when the
handler is made, before anything compiles; `Reference` returns the kernel's result only when
it has the promised shapes and dtypes and agrees with the numpy reference within tolerance.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from effectus.core import PlacementError, handles
from effectus.core import Handler
from effectus.kernels import _lazy
from effectus.kernels._compare import KernelMismatch, disagreement
from effectus.kernels._kernel import Kernel, KernelCall
from effectus.kernels._signature import KernelError

__all__ = ["Jit", "Reference", "devices"]

#: inputs of at least this many bytes are split across devices by a sharded `Jit`
SHARD_ABOVE = 1 << 24


def devices(platform: str | None = None) -> list[Any]:
    """The jax devices of ``platform`` (``"cpu"``, ``"gpu"``, ``"tpu"``) or of the default backend."""
    jax = _lazy.jax()
    if platform is None:
        return list(jax.devices())
    try:
        return list(jax.devices(platform))
    except RuntimeError:
        return []


def _resolve(request: object) -> Any:
    """The jax device that ``request`` names: a device, ``"gpu"``, ``"gpu:1"``, ``"cpu"``..."""
    jax = _lazy.jax()
    if not isinstance(request, str):
        return request
    platform, _, index = request.partition(":")
    if platform not in ("cpu", "gpu", "tpu", "cuda", "rocm", "metal"):
        raise PlacementError(f"unknown device {request!r}.\nFix: name one as cpu, gpu or tpu, optionally with an index (gpu:1).")
    found = devices(platform)
    available = ", ".join(f"{d.platform}:{d.id}" for d in jax.devices()) or "none"
    if not found:
        raise PlacementError(
            f"kernels cannot run on {request!r}: this machine has no {platform} device (it has {available}).\n"
            f"Fix: run on one of those (Jit(device='cpu')), or leave device=None for the best present."
        )
    i = int(index) if index.isdigit() else 0
    if i >= len(found):
        raise PlacementError(
            f"kernels cannot run on {request!r}: there are {len(found)} {platform} devices (it has {available}).\n"
            f"Fix: pick an index below {len(found)}."
        )
    return found[i]


class Jit(Handler):
    """Production: run each kernel jit-compiled by XLA, on one device or sharded across several.

    Args:
        device: where kernels run: a jax device, or ``"cpu"``, ``"gpu"``, ``"gpu:1"``, ``"tpu"``;
            None for jax's default (the best present: a GPU or TPU when there is one, else CPU).
        shard: split inputs of at least ``shard_above`` bytes along the kernel's ``batch`` dim
            across all devices of ``device``'s platform (when there are several and the dim
            divides evenly); the result is sharded the same way.
        shard_above: the size in bytes from which inputs are sharded.
        cache_dir: turn on XLA's persistent compilation cache in this directory (for the whole
            process: it is jax's global setting), so a later process skips compiling.
        check_finite: refuse NaN and infinities in the arrays of kernels declared ``finite``.

    Raises:
        PlacementError: ``device`` is not present on this machine.
    """

    def __init__(
        self,
        device: object = None,
        *,
        shard: bool = False,
        shard_above: int = SHARD_ABOVE,
        cache_dir: str | os.PathLike[str] | None = None,
        check_finite: bool = True,
    ) -> None:
        self._request = device
        self._device: Any = _resolve(device) if device is not None else None
        self._shard = shard
        self.shard_above = shard_above
        self.check_finite = check_finite
        # the jitted functions this handler used (shared with every Jit through `_JITTED`)
        self._jitted: dict[tuple[Kernel[..., Any], tuple[Any, ...]], Callable[..., Any]] = {}
        self._mesh: Any = None
        self._axes: dict[Kernel[..., Any], list[int | None] | None] = {}
        if cache_dir is not None:
            enable_compilation_cache(cache_dir)
        if shard:
            self._mesh = _mesh(self._device)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({'' if self._request is None else repr(self._request)})"

    @property
    def device(self) -> Any:
        """The device kernels run on (jax's default unless one was asked for)."""
        jax = _lazy.jax()
        return self._device if self._device is not None else jax.devices()[0]

    def compiled(self) -> dict[str, int]:
        """Kernel name -> how many variants (static parameters, shapes, dtypes, devices) XLA has
        compiled in this process, for the kernels this handler ran (every `Jit` shares them)."""
        out: dict[str, int] = {}
        for (k, _), fn in self._jitted.items():
            out[k.name] = out.get(k.name, 0) + int(getattr(fn, "_cache_size")())
        return out

    def _compile(self, kernel: Kernel[..., Any], static: tuple[Any, ...]) -> Callable[..., Any]:
        key = (kernel, static)
        jitted = _JITTED.get(key)
        if jitted is None:
            import functools

            fn = kernel.fn
            if static:
                fn = functools.partial(fn, **kernel.kwargs(static))
            jitted = _JITTED[key] = _lazy.jax().jit(fn)
        self._jitted[key] = jitted
        return jitted

    @handles(KernelCall)
    def run(self, call: KernelCall[Any]) -> Any:
        kernel = call.kernel
        try:
            fn = self._jitted.get((kernel, call.static))
        except TypeError:
            raise KernelError(f"{kernel.name}: its static parameters {call.static!r} must be hashable (tuples, not lists)") from None
        if fn is None:
            fn = self._compile(kernel, call.static)
        args = call.args
        if kernel.finite and self.check_finite:
            _check_finite(kernel, args)
        if self._mesh is not None and kernel.shard is not None:
            args = self._place_sharded(kernel, args)
        elif self._device is not None:
            args = self._place(args)
        return fn(*args)

    def _place(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """``args`` on this handler's device, moving only when one is elsewhere."""
        device = self._device
        if all(getattr(a, "_committed", False) and getattr(a, "device", None) == device for a in args):
            return args
        return tuple(_lazy.jax().device_put(args, device))

    def _place_sharded(self, kernel: Kernel[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
        jax = _lazy.jax()
        sharding = jax.sharding

        size = sum(int(getattr(a, "nbytes", 0)) for a in args)
        count = len(self._mesh.devices)
        if size < self.shard_above or count < 2:
            return args if self._device is None else self._place(args)
        axes = self._axes.get(kernel, _NOT_YET)
        if axes is _NOT_YET:
            axes = self._axes[kernel] = _shard_axes(kernel)
        if axes is None:
            return args
        out: list[Any] = []
        for a, axis in zip(args, axes):
            spec: list[str | None] = [None] * len(a.shape)
            if axis is not None and a.shape[axis] % count == 0:
                spec[axis] = "batch"
            out.append(jax.device_put(a, sharding.NamedSharding(self._mesh, sharding.PartitionSpec(*spec))))
        return tuple(out)


_NOT_YET: Any = object()

# (kernel, static parameters) -> its jitted function, for the whole process: XLA's own cache
# under it holds one executable per shapes, dtypes and device.
_JITTED: dict[tuple[Kernel[..., Any], tuple[Any, ...]], Callable[..., Any]] = {}


def _shard_axes(kernel: Kernel[..., Any]) -> list[int | None] | None:
    """For each array parameter, the axis holding the kernel's shard dim (None: replicated)."""
    axes: list[int | None] = []
    for p in kernel.params:
        texts = [d.text for d in p.dims]
        axis = None
        for i, t in enumerate(texts):
            if t == kernel.shard or t == f"*{kernel.shard}":
                if any(d.kind in ("variadic", "ellipsis") for d in p.dims[:i]):
                    axis = None  # after a variadic: its index is not fixed
                else:
                    axis = i
                break
        axes.append(axis)
    return axes if any(a is not None for a in axes) else None


def _mesh(device: Any) -> Any:
    jax = _lazy.jax()
    np = _lazy.np()

    found = devices(device.platform) if device is not None else list(jax.devices())
    return jax.sharding.Mesh(np.array(found), ("batch",))


def enable_compilation_cache(directory: str | os.PathLike[str]) -> None:
    """Turn on XLA's persistent compilation cache in ``directory`` for this process."""
    jax = _lazy.jax()
    path = os.fspath(directory)
    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


_finite_jitted: list[Callable[[Any], Any]] = []


def _check_finite(kernel: Kernel[..., Any], args: Sequence[Any]) -> None:
    np = _lazy.np()
    for p, a in zip(kernel.params, args):
        if p.name not in kernel.finite:
            continue
        if type(a).__module__.startswith("numpy"):
            ok = bool(np.isfinite(a).all())
        else:
            if not _finite_jitted:
                jax, jnp = _lazy.jax(), _lazy.jnp()
                _finite_jitted.append(jax.jit(lambda x: jnp.isfinite(x).all()))  # pyright: ignore[reportUnknownLambdaType]
            ok = bool(_finite_jitted[0](a))
        if not ok:
            host = np.asarray(a)
            index = tuple(int(i) for i in np.argwhere(~np.isfinite(host))[0])
            raise KernelError(
                f"{kernel.name}: {p.name}{list(index)} = {host[index].item()!r}, and {kernel.name} refuses NaN and infinities "
                f"in {p.name}.\nFix: clean the input (np.nan_to_num, or find where it became non-finite)."
            )


class Reference(Jit):
    """Tests: run each kernel compiled, run its numpy reference too, and compare.

    The kernel's result is returned when it has the shapes and dtypes its signature promises and
    agrees with the reference within the kernel's tolerance; otherwise `KernelMismatch` says
    where the largest error is.  Non-finite inputs of ``finite`` kernels are always refused.
    Kernels without a reference are only checked against their signature.
    """

    def __init__(self, device: object = None) -> None:
        super().__init__(device, check_finite=True)
        #: how many kernel calls were compared with their reference
        self.compared = 0

    @handles(KernelCall)
    def run(self, call: KernelCall[Any]) -> Any:
        kernel = call.kernel
        out = Jit.run(self, call)
        kernel.check_result(call.args, call.static, out)
        if kernel.reference is None:
            return out
        np = _lazy.np()

        want = kernel.reference(*[np.asarray(a) for a in call.args], **kernel.kwargs(call.static))
        why = disagreement(kernel, out, want, "kernel", "reference")
        self.compared += 1
        if why is not None:
            raise KernelMismatch(
                f"{kernel.name} disagrees with its numpy reference on {call!r}\n  {why}\n"
                f"Fix: find the bug in the kernel or the reference, or widen tolerance= on @kernel "
                f"if the difference is rounding."
            )
        return out
