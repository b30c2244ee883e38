"""Kernels on CPU: numpy, eager jax, one ``jax.jit``, and effectus's `Jit` handler, side by side.

**Cases.**  Float32 throughout, inputs drawn once from ``numpy.random.default_rng(0)``:

- *mlp*: the forward pass of ``nn.build_classifier(784, [128, 64], 10)`` (parameters from
  ``.init(0)``) on a batch of 1024: three dense layers, ReLU between them.
- *softmax*: over the rows of a 1024 x 1024 matrix (`fk.softmax`).
- *layer_norm*: of a 1024 x 1024 matrix, with ``gamma`` and ``beta`` (`fk.layer_norm`).
- *attention*: 8 heads, sequence 512, head dim 64, not causal (`fk.attention`).
- *quantized_matmul*: int8 1024 x 784 @ int8 784 x 128, int32 accumulation, a per-tensor
  scale for ``xq`` and per-column scales for ``wq`` (`fk.quantized_matmul`).
- *gelu_chain*: ``gelu(x * y + z)`` (tanh approximation) on 2**20 floats: `fk.mul`, `fk.add`,
  `fk.gelu` composed.

**Variants of each case**, side by side in one run:

- *numpy*: float32 numpy written out by hand (``x @ w + b``, ``np.maximum``, ``np.exp``...), not
  the kernels' references, which compute in float64 and would measure float64 numpy.  For
  *quantized_matmul* the int8 operands are cast to float32 and multiplied with BLAS: exact,
  since every int32 sum is below 2**24 (784 * 127 * 127 < 16,777,216); numpy's own integer
  matmul does not use BLAS.
- *eager jax*: the kernel's pure function (``kernel.fn``) called without jit (jax dispatches
  each primitive on its own; note that ``jax.nn.gelu`` is itself jitted).  For *mlp*, the same
  ``jnp`` ops as *jit*.
- *jit*: one ``jax.jit`` of the kernel's function (for *mlp*: of the whole forward pass; for
  *gelu_chain*: of ``gelu.fn(add.fn(mul.fn(x, y), z))``, which XLA fuses into one loop).
- *effectus*: the program run by ``fx.run(program, jit)``, ``jit = fk.Jit()`` made once and
  reused (each kernel call jitted by the handler, compiled in the warm-up).  For *mlp* the
  program is ``model(params, x)``: 5 kernel calls (linear, relu, linear, relu, linear); for
  the others one kernel call.  Extra rows: *mlp* with the numpy parameters and input exactly
  as ``init`` gives them (converted to device arrays by each call), and with a fresh
  ``fk.Jit()`` per run.  *gelu_chain* has two effectus rows: one user-defined ``@fk.kernel`` of
  the fused chain (`gelu_fma`; the row its ratios use) and the three library kernels awaited
  in turn (unfused: three passes, three dispatches).

The jax variants get their inputs as device arrays (``jax.device_put`` once), numpy its numpy
arrays.  Every jax result is waited for (``jax.block_until_ready``) inside the timed call.

**Method.**  Every variant is run once first and compared with a float64 reference (the
kernels' numpy references, composed; for *mlp* the float64 forward pass): the run stops if one
is off by more than the case's tolerance; the largest absolute error is reported.  That run
also compiles.  Each variant is then timed once to choose its repetitions (a sample is about
``--sample-ms`` long).  Then ``--rounds`` rounds: each times every variant of every case once,
``reps`` calls back to back after a ``gc.collect()``, the GC left on (as a user runs; see
``_time``), the variants' order rotated by one per round.  A
figure is the median over rounds of the time per call; a ratio is paired: the median over
rounds of ``a / b`` measured in the same round.

**Dispatch overhead.**  A program awaits ``fk.relu(y)`` ``--calls`` times (default 2000) on an
8 x 8 device array, each call on the previous result, under a reused ``fk.Jit()``, a reused
``fx.production()`` interpreter (which includes a ``Jit()``), and a reused
``fk.Jit(device="cpu")`` (with a device named, the handler places the arguments on it at every
call).  The anchor calls the same jitted function (``Jit()._jitted``) in a loop the same number
of times.  The result is
waited for once at the end.  The overhead is the paired median of (program - loop) / calls.
The time of only building the ``KernelCall`` (``fk.relu(y)``, its signature check cached) is
reported too.

    python -m benchmarks.kernels                # full sizes, 11 rounds (about 2 min)
    python -m benchmarks.kernels --quick        # tiny sizes, 2 rounds (smoke test)
    python -m benchmarks.kernels --rounds 21 --sample-ms 300
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

if __package__ in (None, ""):  # `python benchmarks/kernels.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import effectus as fx  # noqa: E402
from effectus import kernels as fk  # noqa: E402
from effectus.kernels import Array, Float, nn  # noqa: E402
from benchmarks._machine import machine, progress  # noqa: E402

__all__ = [
    "CASES", "DISPATCH", "FULL", "QUICK", "TARGET_DISPATCH_US", "TARGET_SPEEDUP", "VARIANTS", "Case",
    "Measured", "Sizes", "build_cases", "dispatch_added", "gelu_fma", "main", "measure", "measure_dispatch",
    "paired", "report", "speedups", "targets", "verify",
]

#: what the issue asks: jit at least this many times numpy on the MLP and the elementwise chain
TARGET_SPEEDUP = 2.0
#: ... and one kernel call through the effect system adds less than this many µs
TARGET_DISPATCH_US = 20.0
#: the cases, in the order of the tables
CASES = ("mlp", "softmax", "layer_norm", "attention", "quantized_matmul", "gelu_chain")
#: every variant a case may have, in the order of the tables
VARIANTS = ("numpy", "eager", "jit", "effectus", "effectus-numpy-in", "effectus-fresh-jit",
            "effectus-3-calls", "effectus-fused-kernel")
#: the dispatch variants
DISPATCH = ("direct", "build", "jit", "jit-device", "production")

_LABELS = {
    "numpy": "numpy (float32)",
    "eager": "eager jax (no jit)",
    "jit": "jit (one `jax.jit`)",
    "effectus": "effectus: `fx.run(..., jit)`, `fk.Jit()` reused",
    "effectus-numpy-in": "effectus, numpy params and input as `init` gives them",
    "effectus-fresh-jit": "effectus, a fresh `fk.Jit()` per run",
    "effectus-3-calls": "effectus: `mul`, `add`, `gelu`: 3 kernel calls",
    "effectus-fused-kernel": "effectus: one `@fk.kernel` of the fused chain",
}
_DISPATCH_LABELS = {
    "direct": "the jitted function called in a loop (anchor)",
    "build": "building the `KernelCall` only: `fk.relu(y)`",
    "jit": "`await fk.relu(y)` under `fx.run(..., fk.Jit())`",
    "jit-device": "`await fk.relu(y)` under `fx.run(..., fk.Jit(device=\"cpu\"))`",
    "production": "`await fk.relu(y)` under `fx.production()`",
}


class Sizes(NamedTuple):
    batch: int = 1024  # mlp
    rows: int = 1024  # softmax, layer_norm
    cols: int = 1024
    heads: int = 8  # attention
    seq: int = 512
    dim: int = 64
    qm: int = 1024  # quantized_matmul: (qm x qk) @ (qk x qn)
    qk: int = 784
    qn: int = 128
    chain: int = 1 << 20  # gelu_chain
    calls: int = 2000  # dispatch: kernel calls per program
    side: int = 8  # dispatch: the array is side x side


FULL = Sizes()
QUICK = Sizes(batch=16, rows=8, cols=32, heads=2, seq=8, dim=4, qm=8, qk=16, qn=4, chain=1000, calls=50, side=8)


class Case(NamedTuple):
    name: str
    title: str
    #: variant -> one call: computes the result and waits for it
    variants: dict[str, Callable[[], Any]]
    #: the float64 reference result
    reference: Callable[[], Any]
    #: (rtol, atol): a variant may be off by atol + rtol * max |reference|
    tolerance: tuple[float, float]


@fk.kernel
def gelu_fma(x: Float[Array, "*s"], y: Float[Array, "*s"], z: Float[Array, "*s"]) -> Float[Array, "*s"]:
    """``gelu(x * y + z)`` as one kernel: what a user writes to have the chain fused."""
    return jax.nn.gelu(x * y + z, approximate=True)


async def _one(kernel: fk.Kernel[..., Any], *args: Any) -> Any:
    return await kernel(*args)


async def _chain(x: Any, y: Any, z: Any) -> Any:
    return await fk.gelu(await fk.add(await fk.mul(x, y), z))


def _ready(fn: Callable[[], Any]) -> Callable[[], Any]:
    def call() -> Any:
        return jax.block_until_ready(fn())

    return call


def _gelu_np(v: np.ndarray) -> np.ndarray:
    c = np.float32(math.sqrt(2.0 / math.pi))
    return np.float32(0.5) * v * (np.float32(1.0) + np.tanh(c * (v + np.float32(0.044715) * v * v * v)))


def _softmax_np(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def build_cases(sizes: Sizes = FULL, jit: fk.Jit | None = None) -> list[Case]:
    """Every case with its variants, inputs drawn from ``default_rng(0)`` (nothing run yet).

    ``jit`` is the handler the effectus variants reuse (a fresh ``fk.Jit()`` by default).
    """
    handler = jit if jit is not None else fk.Jit()
    rng = np.random.default_rng(0)
    f32 = np.float32

    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(f32)

    cases: list[Case] = []

    # --- mlp ---
    model = nn.build_classifier(784, [128, 64], 10)
    params = model.init(0)
    x = normal(sizes.batch, 784)
    dense = [(p["w"], p["b"]) for p in params if p]
    params_d, x_d = jax.device_put(params), jax.device_put(x)
    dense_d = [(p["w"], p["b"]) for p in params_d if p]

    def mlp_np() -> np.ndarray:
        (w1, b1), (w2, b2), (w3, b3) = dense
        h = np.maximum(x @ w1 + b1, f32(0))
        h = np.maximum(h @ w2 + b2, f32(0))
        return h @ w3 + b3

    def mlp_jnp(ws: Sequence[tuple[Any, Any]], v: Any) -> Any:
        (w1, b1), (w2, b2), (w3, b3) = ws
        h = jnp.maximum(jnp.matmul(v, w1, precision="highest") + b1, 0)
        h = jnp.maximum(jnp.matmul(h, w2, precision="highest") + b2, 0)
        return jnp.matmul(h, w3, precision="highest") + b3

    mlp_jit = jax.jit(mlp_jnp)

    def mlp_ref() -> np.ndarray:
        v = x.astype(np.float64)
        for i, (w, b) in enumerate(dense):
            v = v @ w.astype(np.float64) + b.astype(np.float64)
            v = np.maximum(v, 0.0) if i < len(dense) - 1 else v
        return v

    cases.append(Case(
        "mlp", f"MLP forward 784-128-64-10, batch {sizes.batch}",
        {
            "numpy": mlp_np,
            "eager": _ready(lambda: mlp_jnp(dense_d, x_d)),
            "jit": _ready(lambda: mlp_jit(dense_d, x_d)),
            "effectus": _ready(lambda: fx.run(model(params_d, x_d), handler)),
            "effectus-numpy-in": _ready(lambda: fx.run(model(params, x), handler)),
            "effectus-fresh-jit": _ready(lambda: fx.run(model(params, x), fk.Jit())),
        },
        mlp_ref, (1e-4, 1e-4),
    ))

    # --- the single kernels: numpy, eager kernel.fn, jax.jit(kernel.fn), one effectus call ---
    def kernel_case(name: str, title: str, kernel: fk.Kernel[..., Any], host: tuple[np.ndarray, ...],
                    numpy_fn: Callable[[], Any], tolerance: tuple[float, float]) -> Case:
        dev = tuple(jax.device_put(a) for a in host)
        jitted = jax.jit(kernel.fn)
        ref = kernel.reference
        assert ref is not None, kernel.name
        return Case(name, title, {
            "numpy": numpy_fn,
            "eager": _ready(lambda: kernel.fn(*dev)),
            "jit": _ready(lambda: jitted(*dev)),
            "effectus": _ready(lambda: fx.run(_one(kernel, *dev), handler)),
        }, lambda: ref(*host), tolerance)

    s = normal(sizes.rows, sizes.cols)
    cases.append(kernel_case("softmax", f"softmax over rows, {sizes.rows} x {sizes.cols}", fk.softmax, (s,),
                             lambda: _softmax_np(s), (1e-4, 1e-6)))

    ln, gamma, beta = normal(sizes.rows, sizes.cols), normal(sizes.cols), normal(sizes.cols)

    def layer_norm_np() -> np.ndarray:
        mean = ln.mean(axis=-1, keepdims=True)
        var = np.square(ln - mean).mean(axis=-1, keepdims=True)
        return (ln - mean) / np.sqrt(var + f32(1e-5)) * gamma + beta

    cases.append(kernel_case("layer_norm", f"layer norm, {sizes.rows} x {sizes.cols}", fk.layer_norm,
                             (ln, gamma, beta), layer_norm_np, (1e-4, 1e-4)))

    shape = (sizes.heads, sizes.seq, sizes.dim)
    q, k, v = normal(*shape), normal(*shape), normal(*shape)
    scale = f32(1.0 / math.sqrt(sizes.dim))

    def attention_np() -> np.ndarray:
        return _softmax_np((q @ k.swapaxes(-1, -2)) * scale) @ v

    cases.append(kernel_case("attention", f"attention, {sizes.heads} heads, seq {sizes.seq}, dim {sizes.dim}",
                             fk.attention, (q, k, v), attention_np, (1e-4, 1e-4)))

    assert sizes.qk * 127 * 127 < 2**24, "the float32 numpy variant of quantized_matmul is exact below 2**24"
    xq = rng.integers(-127, 128, (sizes.qm, sizes.qk)).astype(np.int8)
    wq = rng.integers(-127, 128, (sizes.qk, sizes.qn)).astype(np.int8)
    xs = np.asarray(0.02, f32)
    ws = rng.uniform(1e-3, 1e-2, sizes.qn).astype(f32)

    def quantized_np() -> np.ndarray:
        return (xq.astype(f32) @ wq.astype(f32)) * (xs * ws)

    cases.append(kernel_case(
        "quantized_matmul", f"quantized matmul, int8 {sizes.qm} x {sizes.qk} @ int8 {sizes.qk} x {sizes.qn}",
        fk.quantized_matmul, (xq, xs, wq, ws), quantized_np, (1e-5, 1e-6)))

    # --- gelu(x * y + z) ---
    a, b, c = normal(sizes.chain), normal(sizes.chain), normal(sizes.chain)
    a_d, b_d, c_d = jax.device_put((a, b, c))

    def chain_fn(x: Any, y: Any, z: Any) -> Any:
        return fk.gelu.fn(fk.add.fn(fk.mul.fn(x, y), z))

    chain_jit = jax.jit(chain_fn)
    refs = (fk.gelu.reference, fk.add.reference, fk.mul.reference)
    assert all(r is not None for r in refs)

    def chain_ref() -> np.ndarray:
        g, ad, mu = refs
        return g(ad(mu(a, b), c))  # type: ignore[misc, no-any-return]

    cases.append(Case(
        "gelu_chain", f"`gelu(x * y + z)`, {sizes.chain:,} floats",
        {
            "numpy": lambda: _gelu_np(a * b + c),
            "eager": _ready(lambda: chain_fn(a_d, b_d, c_d)),
            "jit": _ready(lambda: chain_jit(a_d, b_d, c_d)),
            "effectus-fused-kernel": _ready(lambda: fx.run(_one(gelu_fma, a_d, b_d, c_d), handler)),
            "effectus-3-calls": _ready(lambda: fx.run(_chain(a_d, b_d, c_d), handler)),
        },
        chain_ref, (1e-5, 1e-5),
    ))
    return cases


def verify(case: Case) -> dict[str, float]:
    """Run every variant once; variant -> its largest absolute error against the float64 reference.

    Raises:
        AssertionError: a variant is off by more than the case's tolerance, or has another shape.
    """
    want = np.asarray(case.reference(), dtype=np.float64)
    rtol, atol = case.tolerance
    bound = atol + rtol * float(np.abs(want).max())
    errors: dict[str, float] = {}
    for variant, call in case.variants.items():
        got = np.asarray(call(), dtype=np.float64)
        if got.shape != want.shape:
            raise AssertionError(f"{case.name} / {variant}: shape {got.shape}, the reference's {want.shape}")
        err = float(np.abs(got - want).max())
        if not err <= bound:
            raise AssertionError(f"{case.name} / {variant}: off the float64 reference by {err:.3g} (bound {bound:.3g})")
        errors[variant] = err
    return errors


def _time(call: Callable[[], Any], reps: int) -> float:
    """Seconds per call: ``reps`` calls back to back after a full collection, the GC on (a
    program's result is freed by the cyclic GC: with the GC off, every effectus result of a
    sample would stay allocated until its end)."""
    gc.collect()
    start = time.perf_counter()
    for _ in range(reps):
        call()
    return (time.perf_counter() - start) / reps


class Measured(NamedTuple):
    #: (case, variant) -> seconds per call, one per round
    times: dict[tuple[str, str], list[float]]
    #: (case, variant) -> calls per sample
    reps: dict[tuple[str, str], int]
    #: (case, variant) -> largest absolute error against the float64 reference
    errors: dict[tuple[str, str], float]


def measure(cases: Sequence[Case], rounds: int, sample_s: float = 0.2,
            log: Callable[[str], None] = lambda _: None) -> Measured:
    """Verify every variant (warming up), calibrate, then ``rounds`` timed rounds."""
    errors: dict[tuple[str, str], float] = {}
    reps: dict[tuple[str, str], int] = {}
    for case in cases:
        for variant, err in verify(case).items():
            errors[(case.name, variant)] = err
        for variant, call in case.variants.items():
            once = min(_time(call, 1) for _ in range(2))
            reps[(case.name, variant)] = max(1, min(100_000, math.ceil(sample_s / max(once, 1e-9))))
        log(f"{case.name}: verified and calibrated")
    times: dict[tuple[str, str], list[float]] = {(c.name, v): [] for c in cases for v in c.variants}
    for r in range(rounds):
        for case in cases:
            order = list(case.variants)
            order = order[r % len(order):] + order[: r % len(order)]
            for variant in order:
                times[(case.name, variant)].append(_time(case.variants[variant], reps[(case.name, variant)]))
        log(f"round {r + 1}/{rounds} done")
    return Measured(times, reps, errors)


async def _relus(y: Any, n: int) -> Any:
    for _ in range(n):
        y = await fk.relu(y)
    return y


def measure_dispatch(sizes: Sizes, rounds: int, log: Callable[[str], None] = lambda _: None) -> dict[str, list[float]]:
    """Variant -> seconds per kernel call, one per round (see the module docstring)."""
    n = sizes.calls
    x = jax.device_put(np.random.default_rng(0).standard_normal((sizes.side, sizes.side)).astype(np.float32))
    handler = fk.Jit()
    placed = fk.Jit(device="cpu")
    production = fx.production()
    jax.block_until_ready(fx.run(_relus(x, 10), handler))
    jax.block_until_ready(fx.run(_relus(x, 10), placed))
    jax.block_until_ready(production.run(_relus(x, 10)))
    direct = handler._jitted[(fk.relu, ())]  # pyright: ignore[reportPrivateUsage]

    def loop() -> Any:
        y = x
        for _ in range(n):
            y = direct(y)
        return jax.block_until_ready(y)

    def build() -> Any:
        for _ in range(n):
            fk.relu(x)

    calls: dict[str, Callable[[], Any]] = {
        "direct": loop,
        "build": build,
        "jit": lambda: jax.block_until_ready(fx.run(_relus(x, n), handler)),
        "jit-device": lambda: jax.block_until_ready(fx.run(_relus(x, n), placed)),
        "production": lambda: jax.block_until_ready(production.run(_relus(x, n))),
    }
    want = np.asarray(loop())
    for name in ("jit", "jit-device", "production"):
        assert np.array_equal(np.asarray(calls[name]()), want), name
    times: dict[str, list[float]] = {v: [] for v in DISPATCH}
    for r in range(rounds):
        order = list(DISPATCH[r % len(DISPATCH):] + DISPATCH[: r % len(DISPATCH)])
        for variant in order:
            times[variant].append(_time(calls[variant], 1) / n)
    log(f"dispatch: {rounds} rounds of {n} calls done")
    return times


def paired(a: Sequence[float], b: Sequence[float]) -> float:
    """The median over rounds of ``a[i] / b[i]`` (measured in the same round)."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def _us(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us:,.1f}" if us < 100 else f"{us:,.0f}"


def _x(ratio: float) -> str:
    return f"{ratio:,.2f}x"


def report(cases: Sequence[Case], measured: Measured, dispatch: dict[str, list[float]], sizes: Sizes) -> list[str]:
    """The results as markdown lines."""
    rounds = len(next(iter(measured.times.values())))
    lines = [
        f"{rounds} timed rounds after a verifying, compiling run; per variant, a sample is `reps` calls back "
        "to back (about the same wall time for every variant), the GC on; figures are medians over rounds; "
        "ratios are paired per round.  Errors: the largest absolute difference from the float64 reference.",
        "",
        "| # | case | variant | µs per call (median) | min – max | reps | max abs error vs float64 |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    row = 0
    for case in cases:
        for variant in case.variants:
            row += 1
            t = measured.times[(case.name, variant)]
            lines.append(
                f"| {row} | {case.title} | {_LABELS[variant]} | {_us(statistics.median(t))} | "
                f"{_us(min(t))} – {_us(max(t))} | {measured.reps[(case.name, variant)]:,} | "
                f"{measured.errors[(case.name, variant)]:.1e} |"
            )
    lines += [
        "",
        "Speed-ups: the paired median, then in parentheses the ratio of the minimums over rounds (when the "
        "two agree, the figure is stable); above 1 means the right-hand variant is faster.",
        "",
        "| case | numpy ÷ jit | eager ÷ jit | numpy ÷ eager | numpy ÷ effectus | effectus ÷ jit |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    ratios = speedups(cases, measured)
    lows = speedups(cases, measured, of_minimums=True)
    for case in cases:
        r, m = ratios[case.name], lows[case.name]
        cells = [f"{_x(r[k])} ({_x(m[k])})" for k in ("numpy/jit", "eager/jit", "numpy/eager", "numpy/effectus", "effectus/jit")]
        lines.append(f"| {case.name} | {' | '.join(cells)} |")
    added = dispatch_added(dispatch)
    lines += [
        "",
        f"Dispatch: {sizes.calls:,} calls of `fk.relu` on a {sizes.side} x {sizes.side} float32 device array, "
        "each on the previous result, waited for at the end; per call, medians over rounds; added: the paired "
        "median of (variant - anchor) per call.",
        "",
        "| variant | µs per call (median) | min – max | added over the anchor, µs per call |",
        "|---|---:|---:|---:|",
    ]
    for variant in DISPATCH:
        t = dispatch[variant]
        extra = "" if variant in ("direct", "build") else f"{added[variant]:,.2f}"
        lines.append(f"| {_DISPATCH_LABELS[variant]} | {statistics.median(t) * 1e6:,.2f} | "
                     f"{min(t) * 1e6:,.2f} – {max(t) * 1e6:,.2f} | {extra} |")
    lines += [
        "",
        "| target (the issue's) | figure | met |",
        "|---|---:|---|",
    ]
    for text, value, ok in targets(ratios, added):
        lines.append(f"| {text} | {value} | {'yes' if ok else '**no**'} |")
    return lines


def speedups(cases: Sequence[Case], measured: Measured, *, of_minimums: bool = False) -> dict[str, dict[str, float]]:
    """Case -> the paired ratios of the speed-up table ("numpy/jit", ...), or with
    ``of_minimums`` the ratios of the minimums over rounds; "effectus" is the case's main
    effectus row (for gelu_chain: the fused kernel)."""
    out: dict[str, dict[str, float]] = {}
    pair = (lambda a, b: min(a) / min(b)) if of_minimums else paired
    for case in cases:
        t = {v: measured.times[(case.name, v)] for v in case.variants}
        eff = t["effectus"] if "effectus" in t else t["effectus-fused-kernel"]
        out[case.name] = {
            "numpy/jit": pair(t["numpy"], t["jit"]),
            "eager/jit": pair(t["eager"], t["jit"]),
            "numpy/eager": pair(t["numpy"], t["eager"]),
            "numpy/effectus": pair(t["numpy"], eff),
            "effectus/jit": pair(eff, t["jit"]),
        }
        if "effectus-3-calls" in t:
            out[case.name]["numpy/effectus-3-calls"] = pair(t["numpy"], t["effectus-3-calls"])
    return out


def dispatch_added(dispatch: dict[str, list[float]]) -> dict[str, float]:
    """Variant -> µs per call it adds over the anchor (paired median)."""
    return {v: statistics.median((a - d) * 1e6 for a, d in zip(dispatch[v], dispatch["direct"], strict=True))
            for v in ("jit", "jit-device", "production")}


def targets(ratios: dict[str, dict[str, float]], added: dict[str, float]) -> list[tuple[str, str, bool]]:
    """(target, figure, met) for each bar of the issue."""
    bar = TARGET_SPEEDUP
    rows = [
        (f"MLP: jit at least {bar:.0f}x numpy", ratios["mlp"]["numpy/jit"]),
        (f"MLP: effectus (`fk.Jit`) at least {bar:.0f}x numpy", ratios["mlp"]["numpy/effectus"]),
        (f"`gelu(x * y + z)`: jit at least {bar:.0f}x numpy", ratios["gelu_chain"]["numpy/jit"]),
        (f"`gelu(x * y + z)`: effectus, one fused kernel, at least {bar:.0f}x numpy", ratios["gelu_chain"]["numpy/effectus"]),
        (f"`gelu(x * y + z)`: effectus, 3 kernel calls, at least {bar:.0f}x numpy",
         ratios["gelu_chain"]["numpy/effectus-3-calls"]),
    ]
    out = [(text, _x(value), value >= bar) for text, value in rows]
    for variant, where in (("jit", "`fk.Jit()`"), ("jit-device", "`fk.Jit(device=\"cpu\")`"),
                           ("production", "`fx.production()`")):
        out.append((f"dispatch: less than {TARGET_DISPATCH_US:.0f} µs added per kernel call, {where}",
                    f"{added[variant]:,.2f} µs", added[variant] < TARGET_DISPATCH_US))
    return out


_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "XLA_FLAGS")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kernels", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny sizes, 2 rounds")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 11)")
    parser.add_argument("--sample-ms", type=float, default=None, help="wall time of one sample (default 200)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    rounds = args.rounds or (2 if args.quick else 11)
    sample_ms = args.sample_ms if args.sample_ms is not None else (5.0 if args.quick else 200.0)
    if rounds < 1 or sample_ms <= 0:
        parser.error(f"--rounds must be at least 1 and --sample-ms positive (got {rounds} and {sample_ms})")

    import os

    import jaxlib

    threads = ", ".join(f"{k}={os.environ[k]}" for k in _THREAD_VARIABLES if k in os.environ) or "none set"
    print("## Kernels (CPU)\n")
    print(f"- {machine()}; effectus {fx.__version__}, jax {jax.__version__}, jaxlib {jaxlib.__version__}, "
          f"numpy {np.__version__}; jax devices: {', '.join(str(d) for d in jax.devices())}")
    print(f"- thread settings in the environment ({', '.join(_THREAD_VARIABLES)}): {threads}\n")
    if jax.default_backend() != "cpu":
        print(f"(jax's default backend is {jax.default_backend()}; this benchmark measures CPU: run it with "
              "JAX_PLATFORMS=cpu)\n")
    start = time.perf_counter()
    cases = build_cases(sizes)
    measured = measure(cases, rounds, sample_ms / 1000, progress)
    dispatch = measure_dispatch(sizes, max(rounds, 5), progress)
    print("\n".join(report(cases, measured, dispatch, sizes)))
    progress(f"took {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
