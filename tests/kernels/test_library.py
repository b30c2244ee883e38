"""The kernel library against its numpy references, on inputs drawn from each kernel's signature.

Every kernel of ``fk.LIBRARY`` runs under `fk.Reference` (jitted kernel and numpy reference,
compared within the kernel's tolerance) on `fk.arguments` draws, in float32 and, for some,
bfloat16; a deliberately wrong kernel shows the comparison catches a small error and says where;
then properties that a reference comparison alone would not state (quantization round trips,
exact integer accumulation, top-k order, causal masking, dropout's mask).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import effectus as fx
from effectus import kernels as fk
from effectus.kernels import Array, Float
from effectus.kernels._kernel import Kernel
from effectus.kernels._signature import evaluate

# Each new shape compiles the kernel again (XLA), so examples are few and shapes small.
DRAWS = settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# One handler for the whole module: it keeps the compiled kernels between examples.
REFERENCE = fk.Reference()

BF16_KERNELS = ["add", "layer_norm", "matmul", "relu", "softmax"]


def _run(call: fk.KernelCall[Any]) -> Any:
    """``call``'s result under `REFERENCE`, checking that it was compared with the reference."""
    before = REFERENCE.compared
    out = fx.run(call, REFERENCE)
    assert REFERENCE.compared == before + (call.kernel.reference is not None)
    return out


def _promised_shapes(kernel: Kernel[..., Any], arrays: tuple[Any, ...], static: dict[str, Any]) -> list[tuple[int, ...]]:
    """The shape of each result as ``kernel``'s signature (or shape rule) says, from the inputs."""
    env = kernel.check(arrays, tuple(static[n] for n in kernel.static_names))
    ruled: list[tuple[Any, ...]] = []
    if kernel.shape_rule is not None:
        ruled, _ = kernel.shape_rule([tuple(a.shape) for a in arrays], static)
    shapes: list[tuple[int, ...]] = []
    for i, out in enumerate(kernel.outputs):
        shape: list[int] = []
        for d in out.dims:
            if d.kind == "ellipsis":
                shape.extend(int(s) for s in ruled[i])
            elif d.kind == "variadic":
                shape.extend(env[d.text])
            else:
                shape.append(int(evaluate(d, env)))
        shapes.append(tuple(shape))
    return shapes


def _results(kernel: Kernel[..., Any], out: Any) -> tuple[Any, ...]:
    return tuple(out) if kernel.multiple else (out,)


# ---------------------------------------------------------------- every kernel, its reference


@pytest.mark.parametrize("name", sorted(fk.LIBRARY))
@DRAWS
@given(data=st.data())
def test_every_kernel_agrees_with_its_reference(name: str, data: st.DataObject) -> None:
    """Each library kernel, on arguments drawn from its signature, returns results of the shapes
    and dtypes its signature promises and agrees with its numpy reference (or Reference raises)."""
    kernel = fk.LIBRARY[name]
    arrays, static = data.draw(fk.arguments(kernel), label="arguments")
    out = _run(kernel(*arrays, **static))
    results = _results(kernel, out)
    assert [tuple(r.shape) for r in results] == _promised_shapes(kernel, arrays, static)
    for spec, r in zip(kernel.outputs, results):
        assert r.dtype.name in spec.spec.dtypes


def test_every_library_kernel_has_a_reference() -> None:
    """The parametrized test above compares every kernel: none lacks a reference, and the list
    of kernels is the library's public kernels (dropout, a program over dropout_mask, aside)."""
    assert all(k.reference is not None for k in fk.LIBRARY.values())
    kernels = {n for n in fk.__all__ if isinstance(getattr(fk, n), Kernel)}
    assert kernels == set(fk.LIBRARY)


@pytest.mark.parametrize("name", BF16_KERNELS)
@DRAWS
@given(data=st.data())
def test_float_kernels_agree_with_their_reference_in_bfloat16(name: str, data: st.DataObject) -> None:
    """In bfloat16 the kernels return bfloat16 and stay within the bfloat16 tolerance of the
    float64 reference computed from the same (rounded) inputs."""
    kernel = fk.LIBRARY[name]
    arrays, static = data.draw(fk.arguments(kernel, dtypes=("bfloat16",)), label="arguments")
    assert all(a.dtype.name == "bfloat16" for a in arrays)
    out = _run(kernel(*arrays, **static))
    assert out.dtype.name == "bfloat16"
    assert tuple(out.shape) == _promised_shapes(kernel, arrays, static)[0]


def test_layer_norm_keeps_a_bfloat16_mean_that_cancels() -> None:
    """Two close bfloat16 values: their mean, taken in bfloat16, rounds badly (the output was
    -0.92 for -1); layer_norm takes its statistics in float32, so the result is +-1 to bf16 rounding."""
    import ml_dtypes

    bf16 = ml_dtypes.bfloat16
    x = np.array([1.1015625, 1.0], bf16)
    out = np.asarray(_run(fk.layer_norm(x, np.ones(2, bf16), np.zeros(2, bf16)))).astype(np.float64)
    np.testing.assert_allclose(out, [1.0, -1.0], atol=1e-2)


def test_cosine_topk_scores_bfloat16_inputs_in_float32() -> None:
    """Identical bfloat16 vectors score 1 to float32 precision (normalising in bfloat16 gave 0.9998)."""
    import ml_dtypes

    v = np.array([[1.0, 1.0]], ml_dtypes.bfloat16)
    scores, index = _run(fk.cosine_topk(v, v, 1))
    assert abs(float(np.asarray(scores)[0, 0]) - 1.0) < 1e-6 and np.asarray(index).tolist() == [[0]]


def test_importing_the_kernels_imports_neither_hypothesis_nor_jax() -> None:
    """The strategies added to the library import Hypothesis only when drawn, and kernels import
    jax only when they run."""
    code = "import sys, effectus.kernels; print('hypothesis' in sys.modules, 'jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------- the comparison catches bugs


def _relu_reference(x: Any) -> Any:
    return np.maximum(np.asarray(x, np.float64), 0.0)


@fk.kernel(reference=_relu_reference)
def relu_off_at_two(x: Float[Array, "n"]) -> Float[Array, "n"]:
    """relu, wrong by 2**-8 at element 1 and by 2**-6 at element 2 (exact in float32)."""
    import jax.numpy as jnp

    return jnp.maximum(x, 0).at[1].add(2.0**-8).at[2].add(2.0**-6)


@fk.kernel(reference=_relu_reference)
def relu_off_by_rounding(x: Float[Array, "n"]) -> Float[Array, "n"]:
    """relu, off by 1e-6 everywhere: within the float32 tolerance (2e-5 + 2e-5 |x|)."""
    import jax.numpy as jnp

    return jnp.maximum(x, 0) + 1e-6


def _stats_reference(x: Any) -> Any:
    v = np.asarray(x, np.float64)
    return v.mean(axis=0), v.var(axis=0)


@fk.kernel(reference=_stats_reference)
def stats_with_unbiased_variance(x: Float[Array, "batch d"]) -> tuple[Float[Array, "d"], Float[Array, "d"]]:
    """batch_stats with the unbiased variance: the second result disagrees."""
    import jax.numpy as jnp

    return jnp.mean(x, axis=0), jnp.var(x, axis=0, ddof=1)


def test_a_kernel_wrong_at_two_elements_is_caught_at_the_larger_error() -> None:
    """Reference raises KernelMismatch naming the call, the largest error, its index, both values
    there, how many elements are out and the tolerance; the traceback reaches the program's await."""
    x = np.array([1.0, -2.0, 3.0], np.float32)

    async def layer() -> Any:
        return await relu_off_at_two(x)

    with pytest.raises(fk.KernelMismatch) as caught:
        fx.run(layer(), fk.Reference())
    message = str(caught.value)
    assert message.splitlines()[:2] == [
        "relu_off_at_two disagrees with its numpy reference on relu_off_at_two(f32[3])",
        "  max error 0.015625 at index (2,): kernel 3.015625, reference 3.0; "
        "2 of 3 elements out of tolerance (rtol=2e-05, atol=2e-05 for float32)",
    ]
    assert isinstance(caught.value, AssertionError)
    assert any(entry.frame.code.name == "layer" for entry in caught.traceback)


def test_an_error_within_tolerance_passes_and_the_kernel_result_is_returned() -> None:
    """An error of 1e-6 is rounding for float32: no mismatch, and the kernel's own result comes back."""
    x = np.array([1.0, -2.0, 3.0], np.float32)
    out = fx.run(relu_off_by_rounding(x), fk.Reference())
    np.testing.assert_array_equal(np.asarray(out), np.maximum(x, 0) + np.float32(1e-6))


def test_a_wrong_second_result_is_named() -> None:
    """For a kernel with several results the message says which one disagrees."""
    x = np.array([[0.0, 1.0], [2.0, 1.0]], np.float32)
    with pytest.raises(fk.KernelMismatch) as caught:
        fx.run(stats_with_unbiased_variance(x), fk.Reference())
    assert caught.value.args[0].splitlines()[1] == (
        "  result[1]: max error 1 at index (0,): kernel 2.0, reference 1.0; "
        "1 of 2 elements out of tolerance (rtol=2e-05, atol=2e-05 for float32)"
    )


def test_a_library_kernel_refuses_mismatched_shapes_before_running() -> None:
    """matmul with inner dims 3 and 4: KernelError names the dim and where k came from."""
    with pytest.raises(fk.KernelError, match=r"matmul: b.shape\[0\] = 4 but k = 3 \(from a.shape\[1\]\)"):
        fk.matmul(np.ones((2, 3), np.float32), np.ones((4, 5), np.float32))


# ---------------------------------------------------------------- properties of single kernels


def _round_trip_bound(scale: Any) -> Any:
    """scale/2 per element, plus float32 rounding of x/scale and q*scale (a few ulps of a step),
    plus the smallest normal float32: XLA flushes subnormal inputs to zero."""
    return np.asarray(scale, np.float64) * (0.5 + 2.0**-15) + np.finfo(np.float32).tiny


@pytest.mark.parametrize("bits", [8, 4])
@DRAWS
@given(data=st.data())
def test_quantize_then_dequantize_is_within_half_a_step(bits: int, data: st.DataObject) -> None:
    """Per tensor: |q| <= 2**(bits-1) - 1, the scale is positive, and dequantize(quantize(x))
    is within scale/2 of x at every element."""
    (x,), _ = data.draw(fk.arguments(fk.quantize), label="arguments")

    async def round_trip() -> tuple[Any, Any, Any]:
        q, scale = await fk.quantize(x, bits)
        return q, scale, await fk.dequantize(q, scale)

    q, scale, back = fx.run(round_trip(), REFERENCE)
    q, scale, back = np.asarray(q), np.asarray(scale), np.asarray(back)
    assert q.dtype == np.int8 and np.abs(q.astype(np.int64)).max(initial=0) <= 2 ** (bits - 1) - 1
    assert scale.shape == () and scale > 0
    error = np.abs(x.astype(np.float64) - back.astype(np.float64))
    assert (error <= _round_trip_bound(scale)).all(), (error, scale)


@pytest.mark.parametrize("bits", [8, 4])
@DRAWS
@given(data=st.data())
def test_quantize_channels_then_dequantize_is_within_half_a_step_per_column(bits: int, data: st.DataObject) -> None:
    """Per channel: one positive scale per column, and every element of column j comes back
    within scale[j]/2."""
    (w,), _ = data.draw(fk.arguments(fk.quantize_channels), label="arguments")

    async def round_trip() -> tuple[Any, Any, Any]:
        q, scale = await fk.quantize_channels(w, bits)
        return q, scale, await fk.dequantize_channels(q, scale)

    q, scale, back = (np.asarray(a) for a in fx.run(round_trip(), REFERENCE))
    assert q.dtype == np.int8 and np.abs(q.astype(np.int64)).max() <= 2 ** (bits - 1) - 1
    assert scale.shape == (w.shape[1],) and (scale > 0).all()
    error = np.abs(w.astype(np.float64) - back.astype(np.float64))
    assert (error <= _round_trip_bound(scale)[None, :]).all(), (error, scale)


def test_quantize_of_tiny_values_keeps_a_usable_scale() -> None:
    """A tensor whose largest value would give a subnormal scale (which XLA flushes to zero,
    making q = x/0 saturate) gets scale 1 and q = 0: the round trip is still within half a step."""
    for x in (np.array(1e-45, np.float32), np.array([[np.finfo(np.float32).tiny]], np.float32)):
        q, scale = fx.run(fk.quantize(x), REFERENCE)
        assert np.asarray(scale) == 1.0 and not np.asarray(q).any()


@DRAWS
@given(data=st.data())
def test_quantized_matmul_is_the_exact_integer_product_times_the_scales(data: st.DataObject) -> None:
    """(xq @ wq) is accumulated exactly: the result is the int64 product times xs * ws, to
    float32 rounding of the scales' product and of the result (two roundings)."""
    (xq, xs, wq, ws), _ = data.draw(fk.arguments(fk.quantized_matmul), label="arguments")
    out = np.asarray(_run(fk.quantized_matmul(xq, xs, wq, ws)), np.float64)
    exact = (xq.astype(np.int64) @ wq.astype(np.int64)) * np.float64(xs) * ws.astype(np.float64)
    assert (np.abs(out - exact) <= 2.5e-7 * np.abs(exact)).all(), (out, exact)


def test_quantized_matmul_accumulates_past_the_int16_range() -> None:
    """300 products of 127 * -127 sum to -4,838,700 exactly: int32 accumulation, no wrap-around."""
    xq = np.full((1, 300), 127, np.int8)
    wq = np.full((300, 2), -127, np.int8)
    out = _run(fk.quantized_matmul(xq, np.float32(1.0), wq, np.array([1.0, 0.5], np.float32)))
    assert np.asarray(out).tolist() == [[-4838700.0, -2419350.0]]


@DRAWS
@given(data=st.data())
def test_cosine_topk_returns_the_k_best_distinct_keys_sorted_by_score(data: st.DataObject) -> None:
    """Each query gets k distinct valid indices, scores non-increasing, each score the cosine
    similarity of its key, and no key left out scores above the k-th."""
    (queries, keys), static = data.draw(fk.arguments(fk.cosine_topk), label="arguments")
    k = static["k"]
    scores, index = (np.asarray(a) for a in _run(fk.cosine_topk(queries, keys, k)))
    assert scores.shape == index.shape == (queries.shape[0], k)
    qn = queries / np.maximum(np.linalg.norm(queries.astype(np.float64), axis=-1, keepdims=True), 1e-12)
    kn = keys / np.maximum(np.linalg.norm(keys.astype(np.float64), axis=-1, keepdims=True), 1e-12)
    sims = qn @ kn.T
    for row in range(queries.shape[0]):
        chosen = index[row].tolist()
        assert len(set(chosen)) == k and all(0 <= i < keys.shape[0] for i in chosen)
        assert (np.diff(scores[row]) <= 0).all()
        np.testing.assert_allclose(scores[row], sims[row, chosen], rtol=1e-5, atol=1e-5)
        left_out = np.delete(sims[row], chosen)
        assert (left_out <= scores[row, -1] + 1e-5).all()


@DRAWS
@given(data=st.data())
def test_causal_attention_lets_the_first_query_see_only_the_first_key(data: st.DataObject) -> None:
    """With causal=True the first query's softmax has a single term, so its output is v[..., 0, :]."""
    (q, k, v), _ = data.draw(fk.arguments(fk.attention), label="arguments")
    out = np.asarray(_run(fk.attention(q, k, v, causal=True)))
    np.testing.assert_allclose(out[..., 0, :], v[..., 0, :], rtol=1e-6, atol=1e-7)


@DRAWS
@given(data=st.data())
def test_dropout_at_half_keeps_exact_doubles_and_repeats_its_mask_for_a_seed(data: st.DataObject) -> None:
    """rate=0.5: every element is 0 or exactly 2x the input; the same seed gives the same result,
    and its mask is the one drawn for an all-ones input of that shape (it depends on the seed only)."""
    (x, seed), _ = data.draw(fk.arguments(fk.dropout_mask), label="arguments")
    out = np.asarray(_run(fk.dropout_mask(x, seed, 0.5)))
    kept = np.asarray(_run(fk.dropout_mask(np.ones_like(x), seed, 0.5))) != 0
    assert np.array_equal(out, np.where(kept, 2 * x, np.float32(0)))
    assert np.array_equal(np.asarray(_run(fk.dropout_mask(x, seed, 0.5))), out)


def test_dropout_masks_differ_between_seeds_and_keep_about_half() -> None:
    """On 4000 elements two seeds give different masks, each keeping close to half of them."""
    ones = np.ones(4000, np.float32)
    masks = [np.asarray(_run(fk.dropout_mask(ones, np.uint32(s), 0.5))) != 0 for s in (1, 2)]
    assert not np.array_equal(masks[0], masks[1])
    assert all(1800 < m.sum() < 2200 for m in masks)
