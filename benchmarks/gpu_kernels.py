"""Kernels on an NVIDIA GPU: achieved TFLOP/s of matmul and GB/s of memory-bound kernels.

Needs jax with a GPU backend (``pip install 'jax[cuda12]'``); without a GPU it says so and exits
with status 0, measuring nothing.

**Cases.**

- *matmul*: square ``n x n @ n x n`` for ``n`` in 1024, 2048, 4096, 8192, in bfloat16 (XLA's
  default precision: tensor cores), float32 with ``precision="highest"`` (true fp32, the
  kernel's default) and float32 with ``precision="default"`` (TF32 tensor cores on Ampere and
  later).  ``2 n**3`` flops per call.
- *memory-bound*: ``a + b`` (`fk.add`; 3 arrays of bytes moved: two read, one written) and
  ``2 * a`` (`scale2`, a kernel defined here; 2 arrays moved) on float32 arrays of 2**24,
  2**26 and 2**28 elements (64 MiB to 1 GiB each), drawn on the device.

**Variants of each case**, side by side:

- *raw*: the jitted function `fk.Jit(device="gpu")` compiled for the kernel (from
  ``Jit()._jitted``), called in a loop;
- *effectus*: a program awaiting the kernel ``reps`` times under ``fx.run(program, jit)``, the
  same handler reused;
- *effectus, default device*: the same under a reused ``fk.Jit()`` (no device named: jax's
  default, the GPU when there is one), which does not place the arguments at every call.

All get device-resident inputs and run ``reps`` calls back to back (the launches queue on
the GPU, as a real pipeline's do) with one ``block_until_ready`` at the end; the figure is
``reps`` calls over the wall time (``reps``: about 50 ms of raw calls, 3 to 2000).  One call of
each variant to compile, an untimed batch of each, then ``--rounds`` rounds, the variants'
order rotated by one per round; figures are medians over rounds.  The effect overhead is the
paired median of (variant - raw) per call, summarised over the cases.

**Peaks.**  The *measured peak* is the best figure this run achieves over its sweep (matmul per
dtype; memory over every size and kernel), and every figure is also given as a fraction of it.
Where the device's name matches the small table of datasheet figures (`NOMINAL`: dense, no
sparsity; H100/H200 SXM and PCIe, A100), the nominal peak and the fraction of it are given too.  The datasheet
figures are boost-clock ceilings: a well-tuned matmul reaches 60-80% of them, a stream kernel
80-90% of the HBM bandwidth.

    python -m benchmarks.gpu_kernels                 # 5 rounds, the sizes above
    python -m benchmarks.gpu_kernels --quick         # 1024 and 2048, 2**24 elements, 2 rounds
    python -m benchmarks.gpu_kernels --device cpu --matmul-sizes 64 --memory-sizes 4096
                                                     # the code path on the CPU (smoke test only)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

if __package__ in (None, ""):  # `python benchmarks/gpu_kernels.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from effectus import kernels as fk  # noqa: E402  (does not import jax)
from effectus.kernels import Array, Float  # noqa: E402

__all__ = ["NOMINAL", "Nominal", "Result", "main", "measure", "nominal_peak", "report", "scale2"]


class Nominal(NamedTuple):
    """Datasheet peaks (dense): TFLOP/s per dtype, TB/s of device memory."""

    bf16_tflops: float
    tf32_tflops: float
    fp32_tflops: float
    memory_tbs: float


#: device-name fragment -> datasheet peaks; the first fragment found in the name wins
NOMINAL: tuple[tuple[str, Nominal], ...] = (
    ("H200", Nominal(989.0, 494.0, 67.0, 4.8)),
    ("H100 PCIe", Nominal(756.0, 378.0, 51.0, 2.0)),
    ("H100", Nominal(989.0, 494.0, 67.0, 3.35)),  # SXM
    ("A100-SXM4-80GB", Nominal(312.0, 156.0, 19.5, 2.039)),
    ("A100 80GB PCIe", Nominal(312.0, 156.0, 19.5, 1.935)),
    ("A100-PCIE-40GB", Nominal(312.0, 156.0, 19.5, 1.555)),
    ("A100", Nominal(312.0, 156.0, 19.5, 1.555)),  # 40 GB; the 80 GB boards have 1.9-2.0 TB/s
)

MATMUL_DTYPES = ("bf16", "fp32 (precision=highest)", "fp32 (precision=default: tf32)")
MEMORY_KERNELS = ("add: a + b", "scale: 2 * a")
VARIANTS = ("raw", "effectus", "effectus, default device")


def nominal_peak(device_name: str) -> tuple[str, Nominal] | None:
    """The table's entry whose fragment the device's name contains, or None."""
    for fragment, peaks in NOMINAL:
        if fragment.lower() in device_name.lower():
            return fragment, peaks
    return None


class Result(NamedTuple):
    case: str  # "matmul" or "memory"
    kind: str  # the dtype, or the memory kernel
    size: int  # n for matmul, elements for memory
    variant: str
    #: seconds per call, one per round
    seconds: list[float]
    #: flops (matmul) or bytes moved (memory) per call
    work: float

    def rate(self) -> float:
        """TFLOP/s (matmul) or GB/s (memory) of the median round."""
        per = statistics.median(self.seconds)
        return self.work / per / (1e12 if self.case == "matmul" else 1e9)


@fk.kernel
def scale2(x: Float[Array, "*s"]) -> Float[Array, "*s"]:
    """``2 * x``: one array read, one written."""
    return 2 * x  # type: ignore[no-any-return]


async def _repeat(kernel: Any, args: tuple[Any, ...], reps: int) -> Any:
    out = None
    for _ in range(reps):
        out = await kernel(*args)
    return out


def measure(device: str, matmul_sizes: Sequence[int], memory_sizes: Sequence[int], rounds: int,
            min_seconds: float = 0.05, log: Callable[[str], None] = lambda _: None) -> list[Result]:
    """Every case on ``device`` (``"gpu"``, or ``"cpu"`` for a smoke run); see the docstring."""
    import jax
    import jax.numpy as jnp

    import effectus as fx

    handler = fk.Jit(device=device)
    dev = handler.device
    plain = fk.Jit()  # device=None: jax's default device, arguments not placed at each call
    if plain.device != dev:
        plain = handler
    results: list[Result] = []
    keys = iter(jax.random.split(jax.random.key(0), 4 * (len(matmul_sizes) + len(memory_sizes))))

    def normal(*shape: int) -> Any:
        """Standard normal float32 drawn on the device itself (no host copy of a 1 GiB array)."""
        with jax.default_device(dev):
            return jax.device_put(jax.random.normal(next(keys), shape, dtype=jnp.float32), dev)

    def timed(call: Callable[[int], Any], reps: int) -> float:
        start = time.perf_counter()
        jax.block_until_ready(call(reps))
        return (time.perf_counter() - start) / reps

    def run_case(case: str, kind: str, size: int, work: float, kernel: Any, args: tuple[Any, ...]) -> None:
        call = kernel(*args)
        jax.block_until_ready(fx.run(_repeat(kernel, args, 1), handler))  # compiles
        jax.block_until_ready(fx.run(_repeat(kernel, args, 1), plain))
        fn = handler._jitted[(call.kernel, call.static)]  # pyright: ignore[reportPrivateUsage]
        arrays = call.args

        def raw(reps: int) -> Any:
            out = None
            for _ in range(reps):
                out = fn(*arrays)
            return out

        calls = {
            "raw": raw,
            "effectus": lambda reps: fx.run(_repeat(kernel, args, reps), handler),
            "effectus, default device": lambda reps: fx.run(_repeat(kernel, args, reps), plain),
        }
        once = timed(raw, 1)
        reps = max(3, min(2000, int(min_seconds / max(once, 1e-7))))
        timed(raw, reps)  # the calibration batch, untimed
        for variant in VARIANTS[1:]:
            timed(calls[variant], reps)
        seconds: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for r in range(rounds):
            for variant in VARIANTS[r % len(VARIANTS):] + VARIANTS[: r % len(VARIANTS)]:
                seconds[variant].append(timed(calls[variant], reps))
        for variant in VARIANTS:
            results.append(Result(case, kind, size, variant, seconds[variant], work))
        log(f"{case} {kind} {size}: {reps} calls per round")

    for n in matmul_sizes:
        a32, b32 = normal(n, n), normal(n, n)
        a16, b16 = a32.astype(jnp.bfloat16), b32.astype(jnp.bfloat16)
        flops = 2.0 * n**3
        for kind, args in ((MATMUL_DTYPES[0], (a16, b16, "default")), (MATMUL_DTYPES[1], (a32, b32, "highest")),
                           (MATMUL_DTYPES[2], (a32, b32, "default"))):
            run_case("matmul", kind, n, flops, fk.matmul, args)
        del a32, b32, a16, b16

    for size in memory_sizes:
        a, b = normal(size), normal(size)
        run_case("memory", MEMORY_KERNELS[0], size, 3.0 * 4 * size, fk.add, (a, b))
        run_case("memory", MEMORY_KERNELS[1], size, 2.0 * 4 * size, scale2, (a,))
        del a, b
    return results


def _fig(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.3g}"


def report(results: Sequence[Result], device_name: str) -> list[str]:
    """The results as markdown lines: figures, fraction of the measured and the nominal peak."""
    nominal = nominal_peak(device_name)
    peak_of: dict[str, float] = {}
    for r in results:
        key = r.kind if r.case == "matmul" else "memory"
        peak_of[key] = max(peak_of.get(key, 0.0), r.rate())

    def nominal_for(r: Result) -> float | None:
        if nominal is None:
            return None
        p = nominal[1]
        if r.case == "memory":
            return p.memory_tbs * 1000
        return {MATMUL_DTYPES[0]: p.bf16_tflops, MATMUL_DTYPES[1]: p.fp32_tflops, MATMUL_DTYPES[2]: p.tf32_tflops}[r.kind]

    lines = [
        f"Nominal peaks: {'`' + nominal[0] + '` row of the table: ' + ', '.join(f'{k} {v}' for k, v in nominal[1]._asdict().items()) if nominal else 'none (the device is not in the table)'}.",
        "",
        "| case | kind | size | variant | figure (median) | unit | % of measured peak | % of nominal peak | µs per call |",
        "|---|---|---:|---|---:|---|---:|---:|---:|",
    ]
    for r in results:
        key = r.kind if r.case == "matmul" else "memory"
        nom = nominal_for(r)
        unit = "TFLOP/s" if r.case == "matmul" else "GB/s"
        size = f"{r.size}" if r.case == "matmul" else f"2**{r.size.bit_length() - 1}" if r.size & (r.size - 1) == 0 else f"{r.size:,}"
        lines.append(
            f"| {r.case} | {r.kind} | {size} | {r.variant} | {_fig(r.rate())} | {unit} | "
            f"{100 * r.rate() / peak_of[key]:.0f}% | {'' if nom is None else f'{100 * r.rate() / nom:.0f}%'} | "
            f"{statistics.median(r.seconds) * 1e6:,.1f} |"
        )
    lines += ["", "| peak | measured (best of the sweep) | nominal |", "|---|---:|---:|"]
    for key, value in peak_of.items():
        unit = "GB/s" if key == "memory" else "TFLOP/s"
        if nominal is None:
            cell = ""
        elif key == "memory":
            cell = f"{nominal[1].memory_tbs * 1000:,.0f} GB/s"
        else:
            p = nominal[1]
            tflops = {MATMUL_DTYPES[0]: p.bf16_tflops, MATMUL_DTYPES[1]: p.fp32_tflops, MATMUL_DTYPES[2]: p.tf32_tflops}
            cell = f"{tflops[key]:,.0f} TFLOP/s"
        lines.append(f"| {key} | {_fig(value)} {unit} | {cell} |")
    raw = {(r.case, r.kind, r.size): r for r in results if r.variant == "raw"}
    for variant in VARIANTS[1:]:
        overheads = [
            statistics.median(e - w for e, w in zip(r.seconds, raw[(r.case, r.kind, r.size)].seconds, strict=True))
            for r in results if r.variant == variant
        ]
        if overheads:
            lines += ["", f"Effect overhead ({variant}): {variant} - raw per call, the median over cases of the "
                          f"paired medians: {statistics.median(overheads) * 1e6:,.2f} µs (smallest case "
                          f"{min(overheads) * 1e6:,.2f} µs, largest {max(overheads) * 1e6:,.2f} µs)."]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_kernels", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1024 and 2048, 2**24 elements, 2 rounds")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 5)")
    parser.add_argument("--device", default="gpu", help="gpu (default), or cpu to try the code path")
    parser.add_argument("--matmul-sizes", type=int, nargs="+", default=None, help="n of the n x n matmuls")
    parser.add_argument("--memory-sizes", type=int, nargs="+", default=None, help="elements of the memory-bound arrays")
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 5)
    matmul_sizes = args.matmul_sizes or ([1024, 2048] if args.quick else [1024, 2048, 4096, 8192])
    memory_sizes = args.memory_sizes or ([1 << 24] if args.quick else [1 << 24, 1 << 26, 1 << 28])

    import jax

    try:
        found = jax.devices(args.device)
    except RuntimeError:
        found = []
    if not found:
        present = ", ".join(f"{d.platform}:{d.id}" for d in jax.devices())
        print(f"benchmarks.gpu_kernels: no {args.device} device: jax {jax.__version__} sees only {present}. "
              f"Nothing measured (install jax with CUDA, e.g. pip install 'jax[cuda12]', on a machine with an "
              f"NVIDIA GPU).")
        return 0

    import effectus as fx
    from benchmarks._machine import machine, progress

    device = found[0]
    name = str(getattr(device, "device_kind", device))
    print(f"## Kernels ({args.device.upper()})\n")
    print(f"- {machine()}; effectus {fx.__version__}, jax {jax.__version__}; device: {name} "
          f"({len(found)} {args.device} device(s); the first measured)\n")
    print(f"{rounds} rounds; per round and variant, a batch of calls back to back, one block_until_ready at the end; "
          "figures are medians over rounds.  raw: the jitted function `fk.Jit` compiled, called directly; "
          f"effectus: `await kernel(...)` in a program under `fx.run(program, fk.Jit(device={args.device!r}))`; "
          "effectus, default device: the same under `fk.Jit()`.\n")
    results = measure(args.device, matmul_sizes, memory_sizes, rounds, log=progress)
    print("\n".join(report(results, name)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
