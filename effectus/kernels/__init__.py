"""effectus.kernels: JAX tensor kernels as effects, with numpy references and shape proofs.

A kernel is a pure JAX function whose arrays are annotated with their shapes, jaxtyping style
(``Float[Array, "batch m k"]``).  Calling one from a tool performs a `KernelCall`: production
(`Jit`) compiles it with XLA and runs it on the chosen device, tests (`Reference`) also run its
numpy reference and compare, a replay answers from the trace (checked by hash).  `prove_shapes`
checks a pipeline's shapes with z3 for every size; `arguments` draws inputs for Hypothesis.

Importing this package adds `Jit` to ``fx.production()`` and `Reference` to ``fx.testing()``.
It does not import jax: that happens when a kernel first runs.

>>> import effectus as fx
>>> import numpy as np
>>> from effectus.kernels import matmul, relu
>>> async def layer(x, w):
...     return await relu(await matmul(x, w))
>>> y = fx.testing().run(layer(np.ones((2, 3), np.float32), -np.ones((3, 4), np.float32)))
>>> y.shape, float(y.max())
((2, 4), 0.0)
"""

from typing import Any

from effectus.effects import extend_standard
from effectus.kernels import _nn as nn
from effectus.kernels._compare import KernelMismatch
from effectus.kernels._handlers import Jit, Reference, devices, enable_compilation_cache
from effectus.kernels._kernel import DEFAULT_TOLERANCE, Kernel, KernelCall, Tolerance, kernel
from effectus.kernels._library import (
    add,
    attention,
    batch_norm,
    batch_stats,
    bias_add,
    concat,
    cosine_topk,
    dequantize,
    dequantize_channels,
    div,
    dropout,
    dropout_mask,
    einsum,
    gelu,
    layer_norm,
    linear,
    matmul,
    mul,
    quantize,
    quantize_channels,
    quantized_matmul,
    relu,
    reshape,
    sigmoid,
    slice_axis,
    softmax,
    sub,
    tanh,
    transpose,
)
from effectus.kernels._prove import ShapeMismatch, ShapeProof, Symbolic, prove_shapes, symbolic
from effectus.kernels._signature import (
    Array,
    Bool,
    Float,
    Float32,
    Int,
    Int8,
    Int32,
    KernelError,
    Num,
    Shaped,
    TensorSpec,
    UInt32,
)
from effectus.kernels._strategies import arguments

extend_standard("production", Jit)
extend_standard("testing", Reference)

#: every kernel of the library, by name (the test suite compares each with its reference)
LIBRARY: dict[str, Kernel[..., Any]] = {
    k.name: k
    for k in (
        add, attention, batch_norm, batch_stats, bias_add, concat, cosine_topk, dequantize, dequantize_channels,
        div, dropout_mask, einsum, gelu, layer_norm, linear, matmul, mul, quantize, quantize_channels,
        quantized_matmul, relu, reshape, sigmoid, slice_axis, softmax, sub, tanh, transpose,
    )  # type: tuple[Kernel[..., Any], ...]
}

__all__ = [
    "Array",
    "Bool",
    "DEFAULT_TOLERANCE",
    "Float",
    "Float32",
    "Int",
    "Int32",
    "Int8",
    "Jit",
    "Kernel",
    "KernelCall",
    "KernelError",
    "KernelMismatch",
    "LIBRARY",
    "Num",
    "Reference",
    "ShapeMismatch",
    "ShapeProof",
    "Shaped",
    "Symbolic",
    "TensorSpec",
    "Tolerance",
    "UInt32",
    "add",
    "arguments",
    "attention",
    "batch_norm",
    "batch_stats",
    "bias_add",
    "concat",
    "cosine_topk",
    "dequantize",
    "dequantize_channels",
    "devices",
    "div",
    "dropout",
    "dropout_mask",
    "einsum",
    "enable_compilation_cache",
    "gelu",
    "kernel",
    "layer_norm",
    "linear",
    "matmul",
    "mul",
    "nn",
    "prove_shapes",
    "quantize",
    "quantize_channels",
    "quantized_matmul",
    "relu",
    "reshape",
    "sigmoid",
    "slice_axis",
    "softmax",
    "sub",
    "symbolic",
    "tanh",
    "transpose",
]
