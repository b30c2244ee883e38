"""Quantized MLP inference as a tool: a 784-128-64-10 classifier, its weights quantized to int8
or int4 per output channel, run on batches of images.

Every step is a kernel call, so the same tool is compiled by XLA in production, checked against
numpy references under test, proved shape-correct for every batch size by z3 and replayed from
a trace with its outputs verified by hash.  The images are synthetic (ten noisy prototypes):
the point is the agreement of quantized with float inference, not accuracy.
"""

from __future__ import annotations

from typing import Any

import effectus as fx
from effectus import kernels as fk
from effectus.kernels import Array, Float, Int32, nn

__all__ = ["MODEL", "QUANTIZED", "classify", "images", "predict", "quantize_weights", "quantized_classify"]

#: the classifier: 784 inputs, hidden layers of 128 and 64 with ReLU, 10 logits
MODEL = nn.build_classifier(784, [128, 64], 10)


def _predict_ref(logits: Any) -> Any:
    import numpy as np

    return np.argmax(np.asarray(logits), axis=-1).astype(np.int32)


@fk.kernel(reference=_predict_ref)
def predict(logits: Float[Array, "batch classes"]) -> Int32[Array, "batch"]:
    """The class with the largest logit, for each row."""
    import jax.numpy as jnp

    return jnp.argmax(logits, axis=-1).astype(jnp.int32)


@fx.tool(effects=[fk.KernelCall])
async def classify(params: list[Any], images: Float[Array, "batch 784"]) -> tuple[Any, Any]:
    """Float inference: ``(labels, logits)`` for a batch of flattened 28x28 images."""
    logits = await MODEL(params, images)
    return await predict(logits), logits


#: the classifier with every Linear layer quantized, by bits
QUANTIZED = {bits: MODEL.quantized(bits) for bits in (8, 4)}


@fx.tool(effects=[fk.KernelCall], requires=lambda bits: bits in (4, 8))
async def quantize_weights(params: list[Any], bits: int) -> list[Any]:
    """The float parameters of `MODEL` quantized per output channel to ``bits`` (8 or 4), for
    `quantized_classify`; done once, offline."""
    _, qparams = await MODEL.quantize(params, bits)
    return qparams


@fx.tool(effects=[fk.KernelCall], requires=lambda bits: bits in (4, 8))
async def quantized_classify(qparams: list[Any], images: Float[Array, "batch 784"], bits: int) -> tuple[Any, Any]:
    """Quantized inference: int8 or int4 weights (`quantize_weights`), activations quantized per
    tensor on the fly, int32 accumulation; ``(labels, logits)``."""
    logits = await QUANTIZED[bits](qparams, images)
    return await predict(logits), logits


def images(batch: int, seed: int = 0) -> Any:
    """``batch`` synthetic 784-pixel images: ten fixed prototypes plus noise, float32 in [0, 1]."""
    import numpy as np

    prototypes = np.random.default_rng(1234).uniform(0.0, 1.0, (10, 784))
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, batch)
    noisy = prototypes[labels] + rng.normal(0.0, 0.25, (batch, 784))
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)
