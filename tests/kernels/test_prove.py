"""Shape proofs of kernel pipelines: proved for all sizes, or refuted with a counterexample."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import effectus as fx
from effectus import kernels as fk
from effectus.kernels import Array, Float, nn, symbolic


async def mlp(
    x: Float[Array, "batch 784"], w1: Float[Array, "784 h"], b1: Float[Array, "h"],
    w2: Float[Array, "h 10"], b2: Float[Array, "10"],
) -> Any:
    hidden = await fk.relu(await fk.linear(x, w1, b1))
    return await fk.softmax(await fk.linear(hidden, w2, b2))


async def transposed(
    x: Float[Array, "batch 784"], w1: Float[Array, "784 h"], w2: Float[Array, "10 h"],
) -> Any:
    hidden = await fk.relu(await fk.matmul(x, w1))
    return await fk.matmul(hidden, w2)  # the bug: w2 is (10, h), needs (h, 10)


def test_a_correct_pipeline_is_proved_for_every_size() -> None:
    """The MLP's shapes agree for all batch and hidden sizes; the proof gives the result's shape."""
    proof = fk.prove_shapes(mlp)
    assert proof.shapes() == "batch 10"
    assert proof.calls == 4 and proof.symbols == ("batch", "h")


def test_a_mismatch_is_refuted_with_the_conflicting_dims_and_a_counterexample() -> None:
    """The transposed weight breaks the pipeline: the error names the call's line, the symbolic
    dims in conflict and sizes under which it fails — sizes that really fail when run."""
    with pytest.raises(fk.ShapeMismatch) as err:
        fk.prove_shapes(transposed)
    e = err.value
    assert e.kernel == "matmul" and "test_prove.py:29 in transposed" in e.site
    assert set(e.conflict) == {"10", "h"}
    assert e.counterexample["h"] != 10
    assert "counterexample:" in str(e) and "b.shape[0] = 10 but k = h (from a.shape[1])" in str(e)
    sizes = e.counterexample
    x = np.ones((sizes["batch"], 784), np.float32)
    w1 = np.ones((784, sizes["h"]), np.float32)
    w2 = np.ones((10, sizes["h"]), np.float32)
    with pytest.raises(fk.KernelError):
        fx.testing().run(transposed(x, w1, w2))


def test_a_pipeline_that_works_only_for_some_sizes_is_refuted() -> None:
    """Adding two arrays of independent sizes n and m holds only when n == m."""

    async def pair(a: Float[Array, "n"], b: Float[Array, "m"]) -> Any:
        return await fk.add(a, b)

    with pytest.raises(fk.ShapeMismatch, match="for some sizes") as err:
        fk.prove_shapes(pair)
    assert err.value.counterexample["n"] != err.value.counterexample["m"]

    async def same(a: Float[Array, "n"], b: Float[Array, "n"]) -> Any:
        return await fk.add(a, b)

    assert fk.prove_shapes(same).shapes() == "n"


def test_constant_conflicts_and_rank_errors_fail_for_every_size() -> None:
    """784 against 128 and a matrix where a vector goes are wrong whatever the sizes."""

    async def fixed(x: Float[Array, "b 784"], w: Float[Array, "128 10"]) -> Any:
        return await fk.matmul(x, w)

    with pytest.raises(fk.ShapeMismatch, match="for every size"):
        fk.prove_shapes(fixed)

    async def rank(x: Float[Array, "b d"], g: Float[Array, "d d"]) -> Any:
        return await fk.layer_norm(x, g, g)

    with pytest.raises(fk.ShapeMismatch, match=r"gamma has 2 dims .* needs 1\. \(for every size\)"):
        fk.prove_shapes(rank)


def test_arithmetic_and_shape_rules_are_modelled() -> None:
    """concat adds dims, slice subtracts them, reshape keeps the element count and transpose permutes."""

    async def pipeline(a: Float[Array, "n d"], b: Float[Array, "m d"]) -> Any:
        both = await fk.concat(a, b, axis=0)
        head = await fk.slice_axis(both, 0, 1, axis=0)
        flat = await fk.reshape(head, (-1,))
        return await fk.transpose(both, (1, 0)), flat

    proof = fk.prove_shapes(pipeline)
    assert proof.shapes() in {("d m+n", "d"), ("d n+m", "d")}

    async def too_short(a: Float[Array, "n d"]) -> Any:
        return await fk.slice_axis(a, 0, 3)

    with pytest.raises(fk.ShapeMismatch, match=r"it must be >= stop = 3") as err:
        fk.prove_shapes(too_short)
    assert err.value.counterexample["n"] < 3


def test_top_k_needs_at_least_k_keys() -> None:
    """cosine_topk with k=5 is refuted for fewer than 5 keys, proved when keys are 5 + extra."""

    async def search(q: Float[Array, "a d"], keys: Float[Array, "n d"]) -> Any:
        return await fk.cosine_topk(q, keys, 5)

    with pytest.raises(fk.ShapeMismatch) as err:
        fk.prove_shapes(search)
    assert err.value.counterexample["n"] < 5
    proof = fk.prove_shapes(search, symbolic("a d"), symbolic("n+5 d"))
    assert proof.shapes() == ("a 5", "a 5")


def test_models_prove_their_own_shapes() -> None:
    """A Sequential proves its layers fit for any batch; a mis-built one is refuted."""
    assert nn.build_classifier(784, [128, 64], 10, batch_norm=True).prove_shapes().shapes() == "batch 10"
    broken = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(64, 10))
    with pytest.raises(fk.ShapeMismatch, match=r"linear: w.shape\[0\] = 64 but i = 128"):
        broken.prove_shapes()


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6))
def test_proved_pipelines_run_at_any_size(batch: int, h: int, seed: int) -> None:
    """What the proof promises holds when run: the MLP gives (batch, 10) for drawn sizes."""
    rng = np.random.default_rng(seed)
    arrays = [rng.normal(size=s).astype(np.float32) for s in ((batch, 784), (784, h), (h,), (h, 10), (10,))]
    out = fx.testing().run(mlp(*arrays))
    assert out.shape == (batch, 10)
