"""The kernel library: linear algebra, elementwise ops, activations, normalisation, dropout,
quantization, attention and similarity search, each with a numpy reference.

Every kernel here is compared with its reference on generated inputs by the test suite
(``tests/kernels/test_library.py``).  References compute in float64 (exact integers for the
quantized ones), so they measure the kernel's rounding rather than sharing it.
"""

# Kernel bodies compute with jax through untyped handles (`_jnp`, `_jax`: jax loads lazily), so
# their results are Any where the signatures promise an `Array`.
# mypy: disable-error-code="no-any-return"
# The numpy references are lambdas over the kernel's arrays, which pyright cannot type.
# pyright: reportUnknownLambdaType=false, reportUnknownArgumentType=false

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from effectus.effects import RandomInt
from effectus.kernels._kernel import kernel
from effectus.kernels._lazy import jax as _jax
from effectus.kernels._lazy import jnp as _jnp
from effectus.kernels._lazy import np as _np
from effectus.kernels._signature import (
    Array,
    Float,
    Float32,
    Int8,
    Int32,
    KernelError,
    Num,
    Obligation,
    Shaped,
    UInt32,
)

__all__ = [
    "add", "attention", "batch_norm", "batch_stats", "bias_add", "concat", "cosine_topk", "dequantize",
    "dequantize_channels", "div", "dropout", "dropout_mask", "einsum", "gelu", "layer_norm",
    "linear", "matmul", "mul", "quantize", "quantize_channels", "quantized_matmul", "relu", "reshape",
    "sigmoid", "slice_axis", "softmax", "sub", "tanh", "transpose",
]


def _f64(x: Any) -> Any:
    return _np().asarray(x, dtype=_np().float64)


def _elements(lo: float, hi: float) -> Any:
    from hypothesis import strategies as st

    # width=32 refuses bounds a float32 cannot hold exactly (1e-3): round them inwards
    np = _np()
    lo32, hi32 = np.float32(lo), np.float32(hi)
    lo32 = lo32 if lo32 >= lo else np.nextafter(lo32, np.float32(np.inf))
    hi32 = hi32 if hi32 <= hi else np.nextafter(hi32, np.float32(-np.inf))
    return st.floats(float(lo32), float(hi32), allow_nan=False, allow_infinity=False, width=32)


# ---------------------------------------------------------------- linear algebra

Precision = Literal["default", "high", "highest"]


def _matmul_ref(a: Any, b: Any, precision: str = "highest") -> Any:
    return _f64(a) @ _f64(b)


@kernel(reference=_matmul_ref, tolerance={"float32": (1e-4, 1e-4)})
def matmul(a: Float[Array, "*batch m k"], b: Float[Array, "*batch k n"], precision: Precision = "highest") -> Float[Array, "*batch m n"]:
    """``a @ b`` over matching leading batch dims.  ``precision``: XLA's ``"default"`` (fastest;
    on GPUs bf16/tf32 passes), ``"high"`` or ``"highest"`` (full float32)."""
    return _jnp().matmul(a, b, precision=precision)


def _letters(spec: str, ranks: Sequence[int]) -> tuple[list[str], str]:
    if "->" not in spec or "." in spec:
        raise KernelError(f"einsum: spec {spec!r} must be explicit, like 'ij,jk->ik' (with ->, without ...)")
    inputs, out = spec.replace(" ", "").split("->")
    parts = inputs.split(",")
    if len(parts) != len(ranks):
        raise KernelError(f"einsum: spec {spec!r} names {len(parts)} operands; it takes {len(ranks)}")
    for i, (p, r) in enumerate(zip(parts, ranks)):
        if len(p) != r or not p.isalpha():
            raise KernelError(f"einsum: operand {i} of spec {spec!r} is {p!r}, but the array has {r} dims")
    if not set(out) <= set("".join(parts)) or len(set(out)) != len(out):
        raise KernelError(f"einsum: the output {out!r} of spec {spec!r} must use each input letter at most once")
    return parts, out


def _einsum_rule(shapes: Sequence[tuple[Any, ...]], static: Mapping[str, Any]) -> tuple[list[tuple[Any, ...]], list[Obligation]]:
    parts, out = _letters(str(static["spec"]), [len(s) for s in shapes])
    seen: dict[str, tuple[Any, str]] = {}
    obligations: list[Obligation] = []
    for name, part, shape in zip("ab", parts, shapes):
        for i, (letter, size) in enumerate(zip(part, shape)):
            if letter in seen:
                obligations.append((f"{name}.shape[{i}]", size, "==", seen[letter][0], f"{letter} = {seen[letter][0]} (from {seen[letter][1]})"))
            else:
                seen[letter] = (size, f"{name}.shape[{i}]")
    return [tuple(seen[c][0] for c in out)], obligations


def _einsum_ref(a: Any, b: Any, spec: str) -> Any:
    return _np().einsum(spec, _f64(a), _f64(b))


def _einsum_b_shape(env: Mapping[str, Any]) -> Any:
    """b's shape for `arguments`: each dim one of a's (so it can contract) or a new size."""
    from hypothesis import strategies as st

    dim = st.one_of(st.sampled_from(env["a"]), st.integers(1, 5))
    return st.lists(dim, min_size=1, max_size=2).map(tuple)


def _einsum_spec(env: Mapping[str, Any]) -> Any:
    """A spec for `arguments` that fits the drawn shapes: b's dims reuse a's letters where the
    sizes agree (contracted, or kept as a batch dim), and the output is any order of some letters."""
    from hypothesis import strategies as st

    a, b = tuple(env["a"]), tuple(env["b"])

    @st.composite
    def spec(draw: Any) -> str:
        letters = iter("ijklmnop")
        pa = [next(letters) for _ in a]
        pb: list[str] = []
        for size in b:
            shared = [c for c, s in zip(pa, a) if s == size and c not in pb]
            pb.append(draw(st.sampled_from(shared)) if shared and draw(st.booleans()) else next(letters))
        used = list(dict.fromkeys(pa + pb))
        out = draw(st.permutations(used).flatmap(lambda p: st.integers(0, len(p)).map(lambda n: p[:n])))
        return f"{''.join(pa)},{''.join(pb)}->{''.join(out)}"

    return spec()


@kernel(
    reference=_einsum_ref, tolerance={"float32": (1e-4, 1e-4)}, shape_rule=_einsum_rule,
    strategies={"b.shape": _einsum_b_shape, "spec": _einsum_spec},
)
def einsum(a: Float[Array, "..."], b: Float[Array, "..."], spec: str) -> Float[Array, "..."]:
    """Einstein summation of two operands, e.g. ``einsum(a, b, spec="bij,bjk->bik")``; sums are
    accumulated in float32 for narrower inputs."""
    jnp = _jnp()
    out = jnp.einsum(spec, a, b, precision="highest", preferred_element_type=jnp.promote_types(a.dtype, jnp.float32))
    return out.astype(jnp.result_type(a, b))


# ---------------------------------------------------------------- elementwise


@kernel(reference=lambda a, b: _f64(a) + _f64(b))
def add(a: Num[Array, "*s"], b: Num[Array, "*s"]) -> Num[Array, "*s"]:
    """``a + b`` (same shapes)."""
    return a + b


@kernel(reference=lambda a, b: _f64(a) - _f64(b))
def sub(a: Num[Array, "*s"], b: Num[Array, "*s"]) -> Num[Array, "*s"]:
    """``a - b`` (same shapes)."""
    return a - b


@kernel(reference=lambda a, b: _f64(a) * _f64(b), tolerance={"int32": (0.0, 0.0)})
def mul(a: Num[Array, "*s"], b: Num[Array, "*s"]) -> Num[Array, "*s"]:
    """``a * b`` (same shapes)."""
    return a * b


def _nonzero(dims: Mapping[str, Any]) -> Any:
    return _elements(0.25, 4.0).map(lambda v: v if int(v * 1e6) % 2 else -v)


@kernel(reference=lambda a, b: _f64(a) / _f64(b), strategies={"b": _nonzero})
def div(a: Float[Array, "*s"], b: Float[Array, "*s"]) -> Float[Array, "*s"]:
    """``a / b`` (same shapes; IEEE results where ``b`` is 0)."""
    return a / b


def _transpose_rule(shapes: Sequence[tuple[Any, ...]], static: Mapping[str, Any]) -> tuple[list[tuple[Any, ...]], list[Obligation]]:
    (shape,) = shapes
    axes = tuple(static["axes"])
    if sorted(axes) != list(range(len(shape))):
        raise KernelError(f"transpose: axes={axes} is not a permutation of the {len(shape)} dims of x (shape rank {len(shape)})")
    return [tuple(shape[a] for a in axes)], []


def _permutations(env: Mapping[str, Any]) -> Any:
    from hypothesis import strategies as st

    return st.permutations(range(len(env["x"]))).map(tuple)


@kernel(
    reference=lambda x, axes: _np().transpose(_np().asarray(x), axes), shape_rule=_transpose_rule,
    strategies={"axes": _permutations},
)
def transpose(x: Shaped[Array, "..."], axes: tuple[int, ...]) -> Shaped[Array, "..."]:
    """``x`` with its dims permuted: result dim ``i`` is ``x``'s dim ``axes[i]``."""
    return _jnp().transpose(x, axes)


def _product(sizes: Sequence[Any]) -> Any:
    out: Any = 1
    for s in sizes:
        out = out * s
    return out


def _reshape_rule(shapes: Sequence[tuple[Any, ...]], static: Mapping[str, Any]) -> tuple[list[tuple[Any, ...]], list[Obligation]]:
    (shape,) = shapes
    target = tuple(static["shape"])
    if sum(1 for t in target if t == -1) > 1 or any((not isinstance(t, int)) or t < -1 for t in target):
        raise KernelError(f"reshape: shape={target} may hold non-negative ints and at most one -1")
    total = _product(shape)
    known = _product([t for t in target if t != -1])
    if -1 in target:
        rest = total // known if isinstance(total, int) else total / known
        out = tuple(rest if t == -1 else t for t in target)
        return [out], [("x.size", total, "==", rest * known, f"a multiple of {known} (the product of shape={target} without -1)")]
    return [target], [("x.size", total, "==", known, f"{known} (the product of shape={target})")]


def _reshape_targets(env: Mapping[str, Any]) -> Any:
    """A shape for `arguments` with as many elements as x: x's size split into factors, in any
    order, one of them perhaps written -1."""
    from hypothesis import strategies as st

    size = _product(env["x"])

    @st.composite
    def target(draw: Any) -> tuple[int, ...]:
        left, out = size, list[int]()
        while left > 1 and len(out) < 3:
            f = draw(st.sampled_from([d for d in range(2, left + 1) if left % d == 0]))
            out.append(f)
            left //= f
        out += [left] if left > 1 or not out else []
        out += [1] * draw(st.integers(0, 1))
        out = list(draw(st.permutations(out)))
        if draw(st.booleans()):
            out[draw(st.integers(0, len(out) - 1))] = -1
        return tuple(out)

    return target()


@kernel(
    reference=lambda x, shape: _np().reshape(_np().asarray(x), shape), shape_rule=_reshape_rule,
    strategies={"shape": _reshape_targets},
)
def reshape(x: Shaped[Array, "..."], shape: tuple[int, ...]) -> Shaped[Array, "..."]:
    """``x`` with the same elements in ``shape`` (one entry may be -1: whatever is left)."""
    return _jnp().reshape(x, shape)


def _slice_rule(shapes: Sequence[tuple[Any, ...]], static: Mapping[str, Any]) -> tuple[list[tuple[Any, ...]], list[Obligation]]:
    (shape,) = shapes
    start, stop, axis = static["start"], static["stop"], static["axis"]
    if not 0 <= axis < len(shape):
        raise KernelError(f"slice_axis: axis={axis} but x has {len(shape)} dims")
    if not 0 <= start <= stop:
        raise KernelError(f"slice_axis: start={start}, stop={stop}: need 0 <= start <= stop (negative indices are not supported)")
    out = tuple(stop - start if i == axis else s for i, s in enumerate(shape))
    return [out], [(f"x.shape[{axis}]", shape[axis], ">=", stop, f"stop = {stop}")]


# start, stop and axis for `arguments`, drawn in that order: 0 <= start <= stop <= x.shape[axis]
def _slice_start(env: Mapping[str, Any]) -> Any:
    from hypothesis import strategies as st

    return st.integers(0, max(env["x"]))


def _slice_stop(env: Mapping[str, Any]) -> Any:
    from hypothesis import strategies as st

    return st.integers(env["start"], max(env["x"]))


def _slice_axis(env: Mapping[str, Any]) -> Any:
    from hypothesis import strategies as st

    return st.sampled_from([i for i, size in enumerate(env["x"]) if size >= env["stop"]])


@kernel(
    reference=lambda x, start, stop, axis=0: _np().take(_np().asarray(x), range(start, stop), axis=axis), shape_rule=_slice_rule,
    strategies={"start": _slice_start, "stop": _slice_stop, "axis": _slice_axis},
)
def slice_axis(x: Shaped[Array, "..."], start: int, stop: int, axis: int = 0) -> Shaped[Array, "..."]:
    """``x[start:stop]`` along ``axis``."""
    return _jax().lax.slice_in_dim(x, start, stop, axis=axis)


def _concat_rule(shapes: Sequence[tuple[Any, ...]], static: Mapping[str, Any]) -> tuple[list[tuple[Any, ...]], list[Obligation]]:
    a, b = shapes
    axis = static["axis"]
    if len(a) != len(b):
        raise KernelError(f"concat: a has {len(a)} dims and b {len(b)}; they need the same number")
    if not 0 <= axis < len(a):
        raise KernelError(f"concat: axis={axis} but the arrays have {len(a)} dims")
    obligations: list[Obligation] = [
        (f"b.shape[{i}]", b[i], "==", a[i], f"a.shape[{i}] = {a[i]}") for i in range(len(a)) if i != axis
    ]
    return [tuple(a[i] + b[i] if i == axis else a[i] for i in range(len(a)))], obligations


def _concat_b_shape(env: Mapping[str, Any]) -> Any:
    """b's shape for `arguments`: a's, with one dim (the one to join along) of any size."""
    from hypothesis import strategies as st

    a = tuple(env["a"])
    return st.tuples(st.integers(0, len(a) - 1), st.integers(1, 5)).map(lambda p: a[:p[0]] + (p[1],) + a[p[0] + 1:])


def _concat_axis(env: Mapping[str, Any]) -> Any:
    """An axis `concat` accepts for the drawn shapes: one outside which a and b agree."""
    from hypothesis import strategies as st

    a, b = env["a"], env["b"]
    return st.sampled_from([i for i in range(len(a)) if all(a[j] == b[j] for j in range(len(a)) if j != i)])


@kernel(
    reference=lambda a, b, axis=0: _np().concatenate([_np().asarray(a), _np().asarray(b)], axis=axis), shape_rule=_concat_rule,
    strategies={"b.shape": _concat_b_shape, "axis": _concat_axis},
)
def concat(a: Shaped[Array, "..."], b: Shaped[Array, "..."], axis: int = 0) -> Shaped[Array, "..."]:
    """``a`` and ``b`` joined along ``axis`` (their other dims equal)."""
    return _jnp().concatenate([a, b], axis=axis)


# ---------------------------------------------------------------- activations


@kernel(reference=lambda x: _np().maximum(_f64(x), 0.0))
def relu(x: Float[Array, "*s"]) -> Float[Array, "*s"]:
    """``max(x, 0)``."""
    return _jnp().maximum(x, 0)


@kernel(reference=lambda x: 1.0 / (1.0 + _np().exp(-_f64(x))))
def sigmoid(x: Float[Array, "*s"]) -> Float[Array, "*s"]:
    """``1 / (1 + exp(-x))``."""
    return _jax().nn.sigmoid(x)


@kernel(reference=lambda x: _np().tanh(_f64(x)))
def tanh(x: Float[Array, "*s"]) -> Float[Array, "*s"]:
    """Hyperbolic tangent."""
    return _jnp().tanh(x)


def _gelu_ref(x: Any, approximate: bool = True) -> Any:
    np = _np()
    v = _f64(x)
    if approximate:
        return 0.5 * v * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (v + 0.044715 * v**3)))
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return 0.5 * v * (1.0 + erf(v / math.sqrt(2.0)))


@kernel(reference=_gelu_ref)
def gelu(x: Float[Array, "*s"], approximate: bool = True) -> Float[Array, "*s"]:
    """Gaussian error linear unit: exact (erf) or the tanh approximation."""
    return _jax().nn.gelu(x, approximate=approximate)


def _softmax_ref(x: Any) -> Any:
    np = _np()
    v = _f64(x)
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@kernel(reference=_softmax_ref)
def softmax(x: Float[Array, "*batch n"]) -> Float[Array, "*batch n"]:
    """Softmax over the last dim, fused and stable (the max is subtracted first)."""
    jnp = _jnp()
    e = jnp.exp(x - jnp.max(x, axis=-1, keepdims=True))
    return e / jnp.sum(e, axis=-1, keepdims=True)


# ---------------------------------------------------------------- normalisation


def _layer_norm_ref(x: Any, gamma: Any, beta: Any, eps: float = 1e-5) -> Any:
    v = _f64(x)
    mean = v.mean(axis=-1, keepdims=True)
    var = ((v - mean) ** 2).mean(axis=-1, keepdims=True)
    return (v - mean) / _np().sqrt(var + eps) * _f64(gamma) + _f64(beta)


@kernel(reference=_layer_norm_ref, tolerance={"float32": (1e-4, 1e-3)})
def layer_norm(x: Float[Array, "*batch d"], gamma: Float[Array, "d"], beta: Float[Array, "d"], eps: float = 1e-5) -> Float[Array, "*batch d"]:
    """Normalise each row over its last dim, then scale by ``gamma`` and shift by ``beta``.
    The statistics are computed in at least float32 (bf16 inputs lose the mean to cancellation)."""
    jnp = _jnp()
    v = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    mean = jnp.mean(v, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(v - mean), axis=-1, keepdims=True)
    return ((v - mean) * jnp.reciprocal(jnp.sqrt(var + eps)) * gamma + beta).astype(x.dtype)


@kernel(reference=lambda x: (_f64(x).mean(axis=0), _f64(x).var(axis=0)), tolerance={"float32": (1e-4, 1e-4)})
def batch_stats(x: Float[Array, "batch d"]) -> tuple[Float[Array, "d"], Float[Array, "d"]]:
    """The mean and (biased) variance of each feature over the batch."""
    jnp = _jnp()
    mean = jnp.mean(x, axis=0)
    return mean, jnp.mean(jnp.square(x - mean), axis=0)


def _batch_norm_ref(x: Any, gamma: Any, beta: Any, mean: Any, var: Any, eps: float = 1e-5) -> Any:
    return (_f64(x) - _f64(mean)) / _np().sqrt(_f64(var) + eps) * _f64(gamma) + _f64(beta)


@kernel(
    reference=_batch_norm_ref, tolerance={"float32": (1e-4, 1e-4)},
    strategies={"var": lambda dims: _elements(0.0, 4.0)},
)
def batch_norm(
    x: Float[Array, "batch d"], gamma: Float[Array, "d"], beta: Float[Array, "d"],
    mean: Float[Array, "d"], var: Float[Array, "d"], eps: float = 1e-5,
) -> Float[Array, "batch d"]:
    """Normalise each feature with the given ``mean`` and ``var`` (running or batch statistics)."""
    jnp = _jnp()
    return (x - mean) * jnp.reciprocal(jnp.sqrt(var + eps)) * gamma + beta


# ---------------------------------------------------------------- dropout


def _keep(seed: Any, rate: float, shape: tuple[int, ...]) -> Any:

    return _jax().random.bernoulli(_jax().random.key(seed), 1.0 - rate, shape)


def _dropout_ref(x: Any, seed: Any, rate: float) -> Any:
    # The random bits are jax's counter-based PRNG (threefry) by definition: the reference draws
    # them the same way and checks the masking and scaling.
    np = _np()
    keep = np.asarray(_keep(int(np.asarray(seed)), rate, tuple(np.shape(x))))
    return np.where(keep, _f64(x) / (1.0 - rate), 0.0) if rate < 1.0 else np.zeros(np.shape(x))


def _rates(dims: Mapping[str, Any] | None = None) -> Any:
    from hypothesis import strategies as st

    return st.sampled_from([0.0, 0.1, 0.5, 0.9])


@kernel(reference=_dropout_ref, strategies={"rate": _rates})
def dropout_mask(x: Float[Array, "*s"], seed: UInt32[Array, ""], rate: float) -> Float[Array, "*s"]:
    """Zero each element with probability ``rate`` (from the PRNG key ``seed``) and scale the rest
    by ``1 / (1 - rate)``.  Use `dropout`, which takes ``seed`` from the random effect."""
    jnp = _jnp()
    if rate >= 1.0:
        return jnp.zeros_like(x)
    return jnp.where(_keep(seed, rate, x.shape), x / (1.0 - rate), 0).astype(x.dtype)


async def dropout(x: Any, rate: float) -> Any:
    """Dropout whose randomness is the random effect: the seed is a `RandomInt`, so a seeded test
    run repeats it and a replay answers it from the trace (the same mask, exactly)."""
    if not 0.0 <= rate <= 1.0:
        raise KernelError(f"dropout: rate={rate!r} must be between 0 and 1")
    if rate == 0.0:
        return x
    seed = await RandomInt(0, 2**32 - 1)
    return await dropout_mask(x, _np().asarray(seed, dtype=_np().uint32), rate)


# ---------------------------------------------------------------- quantization


def _qmax(bits: int) -> int:
    if bits not in (4, 8):
        raise KernelError(f"quantize: bits={bits!r}; symmetric quantization supports 8 (int8) and 4 (int4 in int8 storage)")
    return 2 ** (bits - 1) - 1


def _smallest_amax(q: int) -> Any:
    """The least ``max|x|`` given its own scale: below it ``amax / q`` would be subnormal, which
    XLA flushes to zero (a zero scale, and ``x / scale`` infinite), so such tensors get scale 1."""
    np = _np()
    return np.float32(q) * np.finfo(np.float32).tiny


def _quantize_ref(x: Any, bits: int = 8, axis: int | None = None) -> Any:
    np = _np()
    q = _qmax(bits)
    v = np.asarray(x, dtype=np.float32)
    amax = np.abs(v).max() if axis is None else np.abs(v).max(axis=0)
    scale = np.where(amax >= _smallest_amax(q), amax / np.float32(q), np.float32(1.0)).astype(np.float32)
    return np.clip(np.round(v / scale), -q, q).astype(np.int8), scale


def _quantize(x: Any, bits: int, per_channel: bool) -> Any:
    jnp = _jnp()
    q = _qmax(bits)
    v = x.astype(jnp.float32)
    amax = jnp.max(jnp.abs(v), axis=0) if per_channel else jnp.max(jnp.abs(v))
    scale = jnp.where(amax >= _smallest_amax(q), amax / q, 1.0).astype(jnp.float32)
    return jnp.clip(jnp.round(v / scale), -q, q).astype(jnp.int8), scale


_QUANT_TOLERANCE = {"int8": (0.0, 1.0), "float32": (1e-6, 0.0)}


@kernel(reference=lambda x, bits=8: _quantize_ref(x, bits), tolerance=_QUANT_TOLERANCE, finite=True)
def quantize(x: Float[Array, "*s"], bits: int = 8) -> tuple[Int8[Array, "*s"], Float32[Array, ""]]:
    """Symmetric per-tensor quantization: ``(q, scale)`` with ``x ~ q * scale`` and ``|q| <= 2**(bits-1) - 1``.

    ``bits`` is 8 (int8) or 4 (int4 values in int8 storage).  Elements may differ from the
    reference by one step where ``x / scale`` lies on a rounding boundary."""
    return _quantize(x, bits, per_channel=False)


@kernel(reference=lambda w, bits=8: _quantize_ref(w, bits, axis=0), tolerance=_QUANT_TOLERANCE, finite=True)
def quantize_channels(w: Float[Array, "k n"], bits: int = 8) -> tuple[Int8[Array, "k n"], Float32[Array, "n"]]:
    """Symmetric per-channel quantization of a weight matrix: one scale per output column."""
    return _quantize(w, bits, per_channel=True)


@kernel(reference=lambda q, scale: _np().asarray(q, _np().float64) * _f64(scale))
def dequantize(q: Int8[Array, "*s"], scale: Float32[Array, ""]) -> Float32[Array, "*s"]:
    """``q * scale``: the values a per-tensor quantization stands for."""
    return q.astype(_jnp().float32) * scale


@kernel(reference=lambda q, scale: _np().asarray(q, _np().float64) * _f64(scale))
def dequantize_channels(q: Int8[Array, "k n"], scale: Float32[Array, "n"]) -> Float32[Array, "k n"]:
    """``q * scale`` column by column: the weights a per-channel quantization stands for."""
    return q.astype(_jnp().float32) * scale


def _qmatmul_ref(xq: Any, xs: Any, wq: Any, ws: Any) -> Any:
    np = _np()
    acc = np.asarray(xq, np.int64) @ np.asarray(wq, np.int64)
    return acc.astype(np.float64) * _f64(xs) * _f64(ws)


def _scales(dims: Mapping[str, Any]) -> Any:
    return _elements(1e-3, 1.0)


@kernel(reference=_qmatmul_ref, tolerance={"float32": (1e-5, 1e-6)}, strategies={"xs": _scales, "ws": _scales})
def quantized_matmul(
    xq: Int8[Array, "m k"], xs: Float32[Array, ""], wq: Int8[Array, "k n"], ws: Float32[Array, "n"],
) -> Float32[Array, "m n"]:
    """``(xq @ wq) * xs * ws`` with exact int32 accumulation: activations quantized per tensor,
    weights per output channel (`quantize`, `quantize_channels`)."""
    jnp = _jnp()
    acc = _jax().lax.dot(xq, wq, preferred_element_type=jnp.int32)
    return acc.astype(jnp.float32) * (xs * ws)


# ---------------------------------------------------------------- attention and search


def _attention_ref(q: Any, k: Any, v: Any, causal: bool = False) -> Any:
    np = _np()
    qq, kk, vv = _f64(q), _f64(k), _f64(v)
    scores = qq @ np.swapaxes(kk, -1, -2) / math.sqrt(qq.shape[-1])
    if causal:
        s, t = scores.shape[-2:]
        scores = np.where(np.tril(np.ones((s, t), bool)), scores, -np.inf)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)) @ vv


@kernel(reference=_attention_ref, tolerance={"float32": (1e-4, 1e-4)})
def attention(
    q: Float[Array, "*batch s d"], k: Float[Array, "*batch t d"], v: Float[Array, "*batch t e"], causal: bool = False,
) -> Float[Array, "*batch s e"]:
    """Scaled dot-product attention: ``softmax(q k^T / sqrt(d)) v``; ``causal`` lets query ``i``
    see keys ``0..i`` only.  Scores and softmax are computed in float32 for narrower inputs."""
    jnp = _jnp()
    wide = jnp.promote_types(q.dtype, jnp.float32)
    scores = jnp.einsum("...sd,...td->...st", q.astype(wide), k.astype(wide), precision="highest") / math.sqrt(q.shape[-1])
    if causal:
        s, t = scores.shape[-2:]
        scores = jnp.where(jnp.tril(jnp.ones((s, t), bool)), scores, -jnp.inf)
    weights = jnp.exp(scores - jnp.max(scores, axis=-1, keepdims=True))
    weights = weights / jnp.sum(weights, axis=-1, keepdims=True)
    return jnp.einsum("...st,...te->...se", weights, v.astype(wide), precision="highest").astype(q.dtype)


def _cosine_ref(queries: Any, keys: Any, k: int) -> Any:
    np = _np()
    qn = _f64(queries) / np.maximum(np.linalg.norm(_f64(queries), axis=-1, keepdims=True), 1e-12)
    kn = _f64(keys) / np.maximum(np.linalg.norm(_f64(keys), axis=-1, keepdims=True), 1e-12)
    sims = qn @ kn.T
    order = np.argsort(-sims, axis=-1, kind="stable")[:, :k]
    return np.take_along_axis(sims, order, axis=-1), order.astype(np.int32)


def _topk_agree(got: Any, want: Any) -> str | None:
    """Scores within tolerance; an index may differ only where the two candidates tie."""
    from effectus.kernels._compare import array_disagreement

    np = _np()
    tol = {"float32": (1e-5, 1e-5)}
    why = array_disagreement(got[0], want[0], tol, "kernel", "reference")
    if why is not None:
        return f"scores: {why}"
    gi, wi = np.asarray(got[1]), np.asarray(want[1])
    if gi.shape != wi.shape:
        return f"indices: kernel has shape {gi.shape}, reference {wi.shape}"
    for row, (g, w) in enumerate(zip(gi, wi)):
        if sorted(g.tolist()) != sorted(w.tolist()) and not np.allclose(np.sort(np.asarray(got[0])[row]), np.sort(np.asarray(want[0])[row]), rtol=1e-5, atol=1e-5):
            return f"indices of query {row}: kernel {g.tolist()}, reference {w.tolist()}"
        if len(set(g.tolist())) != len(g):
            return f"indices of query {row} repeat: {g.tolist()}"
    return None


def _topk_rule(shapes: Sequence[tuple[Any, ...]], static: Mapping[str, Any]) -> tuple[list[tuple[Any, ...]], list[Obligation]]:
    (q, _), (n, _) = shapes
    k = static["k"]
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise KernelError(f"cosine_topk: k={k!r} must be an int >= 1")
    return [(q, k), (q, k)], [("k", k, "<=", n, f"n = {n} (from keys.shape[0]): there are only n keys")]


def _k_up_to_n(dims: Mapping[str, int]) -> Any:
    from hypothesis import strategies as st

    return st.integers(1, max(1, dims["n"]))


@kernel(
    reference=_cosine_ref, compare=_topk_agree, finite=True, shape_rule=_topk_rule,
    strategies={"k": _k_up_to_n},
)
def cosine_topk(queries: Float[Array, "q d"], keys: Float[Array, "n d"], k: int) -> tuple[Float32[Array, "..."], Int32[Array, "..."]]:
    """The ``k`` keys most cosine-similar to each query: ``(scores, indices)``, best first (ties:
    the lower index first).  Zero vectors have similarity 0 to everything."""
    jnp = _jnp()
    # the scores are float32: normalise in float32 too, not in the inputs' (maybe bf16) precision
    queries, keys = queries.astype(jnp.float32), keys.astype(jnp.float32)
    qn = queries / jnp.maximum(jnp.linalg.norm(queries, axis=-1, keepdims=True), 1e-12)
    kn = keys / jnp.maximum(jnp.linalg.norm(keys, axis=-1, keepdims=True), 1e-12)
    sims = jnp.matmul(qn, kn.T, precision="highest").astype(jnp.float32)
    scores, index = _jax().lax.top_k(sims, k)
    return scores, index.astype(jnp.int32)


# ---------------------------------------------------------------- layers


def _linear_ref(x: Any, w: Any, b: Any, precision: str = "highest") -> Any:
    return _f64(x) @ _f64(w) + _f64(b)


@kernel(reference=_linear_ref, tolerance={"float32": (1e-4, 1e-4)})
def linear(x: Float[Array, "batch i"], w: Float[Array, "i o"], b: Float[Array, "o"], precision: Precision = "highest") -> Float[Array, "batch o"]:
    """``x @ w + b``: a dense layer, fused."""
    return _jnp().matmul(x, w, precision=precision) + b


@kernel(reference=lambda x, b: _f64(x) + _f64(b))
def bias_add(x: Float[Array, "*batch n"], b: Float[Array, "n"]) -> Float[Array, "*batch n"]:
    """``x + b`` with ``b`` added to every row."""
    return x + b
