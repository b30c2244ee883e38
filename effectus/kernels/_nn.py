"""A small network builder over the kernel library: layers, `Sequential`, `build_classifier`.

Layers are immutable descriptions; their parameters live apart, in a pytree of numpy arrays made
by ``init(seed)``, so that one model runs with many parameter sets.  Running a model is a program:
``await model(params, x)`` performs one kernel call per layer (and a random effect per dropout
in training), so it is compiled in production, checked against the references in tests,
replayed from a trace, and its shapes are proved by ``model.prove_shapes()``.

>>> model = build_classifier(784, [128, 64], 10)
>>> model.parameter_count()
109386
>>> model.prove_shapes().shapes()
'batch 10'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from effectus.kernels import _library as lib
from effectus.kernels._signature import KernelError

__all__ = [
    "BatchNorm", "Dropout", "GELU", "Layer", "Linear", "QuantizedLinear", "ReLU", "Sequential",
    "Sigmoid", "Softmax", "Tanh", "build_classifier", "build_mlp",
]

Params = Any  # a layer's parameters: a dict of arrays ({} for none); a Sequential's: a list


def _np() -> Any:
    import numpy as np

    return np


class Layer(Protocol):
    """What `Sequential` composes: parameters from ``init``, a forward pass as a program."""

    def init(self, rng: Any) -> Params:
        """Fresh parameters drawn from the numpy generator ``rng``."""
        ...

    def parameter_count(self) -> int:
        """How many trainable numbers the layer has."""
        ...

    async def __call__(self, params: Params, x: Any, *, train: bool = False) -> Any:
        """The layer applied to ``x`` (a program: it performs kernel calls)."""
        ...


@dataclass(frozen=True)
class Linear:
    """A dense layer ``x @ w + b``; ``w`` is Glorot-uniform, ``b`` zero at ``init``."""

    in_features: int
    out_features: int

    def __post_init__(self) -> None:
        for name in ("in_features", "out_features"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise KernelError(f"Linear({self.in_features!r}, {self.out_features!r}): {name} must be an int >= 1")

    def init(self, rng: Any) -> Params:
        np = _np()
        bound = math.sqrt(6.0 / (self.in_features + self.out_features))
        w = rng.uniform(-bound, bound, (self.in_features, self.out_features)).astype(np.float32)
        return {"w": w, "b": np.zeros(self.out_features, np.float32)}

    def parameter_count(self) -> int:
        return self.in_features * self.out_features + self.out_features

    async def __call__(self, params: Params, x: Any, *, train: bool = False) -> Any:
        return await lib.linear(x, params["w"], params["b"])

    def quantized(self, bits: int = 8) -> QuantizedLinear:
        return QuantizedLinear(self.in_features, self.out_features, bits)


@dataclass(frozen=True)
class QuantizedLinear:
    """A dense layer with weights quantized per output channel (int8, or int4 in int8 storage)
    and activations quantized per tensor on the fly; int32 accumulation (`quantized_matmul`)."""

    in_features: int
    out_features: int
    bits: int = 8

    def init(self, rng: Any) -> Params:
        raise KernelError("QuantizedLinear has no init: quantize a trained Linear's parameters with Sequential.quantize")

    def parameter_count(self) -> int:
        return self.in_features * self.out_features + self.out_features

    async def convert(self, params: Params) -> Params:
        """The float layer's ``{"w", "b"}`` quantized (a program: one kernel call)."""
        wq, ws = await lib.quantize_channels(params["w"], self.bits)
        return {"wq": wq, "ws": ws, "b": params["b"]}

    async def __call__(self, params: Params, x: Any, *, train: bool = False) -> Any:
        xq, xs = await lib.quantize(x, self.bits)
        y = await lib.quantized_matmul(xq, xs, params["wq"], params["ws"])
        return await lib.bias_add(y, params["b"])


@dataclass(frozen=True)
class _Activation:
    def init(self, rng: Any) -> Params:
        return {}

    def parameter_count(self) -> int:
        return 0


@dataclass(frozen=True)
class ReLU(_Activation):
    """``max(x, 0)``."""

    async def __call__(self, params: Params, x: Any, *, train: bool = False) -> Any:
        return await lib.relu(x)


@dataclass(frozen=True)
class Sigmoid(_Activation):
    """The logistic function."""

    async def __call__(self, params: Params, x: Any, *, train: bool = False) -> Any:
        return await lib.sigmoid(x)


@dataclass(frozen=True)
class Tanh(_Activation):
    """Hyperbolic tangent."""

    async def __call__(self, params: Params, x: Any, *, train: bool = False) -> Any:
        return await lib.tanh(x)


@dataclass(frozen=True)
class GELU(_Activation):
    """Gaussian error linear unit (tanh approximation unless ``approximate=False``)."""

    approximate: bool = True

    async def __call__(self, params: Params, x: Any, *, train: bool = False) -> Any:
        return await lib.gelu(x, self.approximate)


@dataclass(frozen=True)
class Softmax(_Activation):
    """Softmax over the last dim."""

    async def __call__(self, params: Params, x: Any, *, train: bool = False) -> Any:
        return await lib.softmax(x)


@dataclass(frozen=True)
class Dropout(_Activation):
    """In training, zero each element with probability ``rate`` (seeded by the random effect);
    at inference, the identity."""

    rate: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate < 1.0:
            raise KernelError(f"Dropout(rate={self.rate!r}): rate must be in [0, 1)")

    async def __call__(self, params: Params, x: Any, *, train: bool = False) -> Any:
        return await lib.dropout(x, self.rate) if train else x


@dataclass(frozen=True)
class BatchNorm:
    """Batch normalisation over ``features``: batch statistics in training, the running ones
    (``params["mean"]``, ``params["var"]``, not trained) at inference."""

    features: int
    eps: float = 1e-5

    def init(self, rng: Any) -> Params:
        np = _np()
        n = self.features
        return {
            "gamma": np.ones(n, np.float32), "beta": np.zeros(n, np.float32),
            "mean": np.zeros(n, np.float32), "var": np.ones(n, np.float32),
        }

    def parameter_count(self) -> int:
        return 2 * self.features

    async def __call__(self, params: Params, x: Any, *, train: bool = False) -> Any:
        if train:
            mean, var = await lib.batch_stats(x)
        else:
            mean, var = params["mean"], params["var"]
        return await lib.batch_norm(x, params["gamma"], params["beta"], mean, var, self.eps)


class Sequential:
    """Layers applied in order; its parameters are the list of theirs."""

    def __init__(self, *layers: Layer) -> None:
        if not layers:
            raise KernelError("Sequential() needs at least one layer")
        self.layers: tuple[Layer, ...] = layers

    def __repr__(self) -> str:
        return f"Sequential({', '.join(repr(layer) for layer in self.layers)})"

    def init(self, seed: int = 0) -> list[Params]:
        """Parameters for every layer, drawn from ``numpy.random.default_rng(seed)``."""
        rng = _np().random.default_rng(seed)
        return [layer.init(rng) for layer in self.layers]

    def parameter_count(self) -> int:
        """How many trainable numbers the model has."""
        return sum(layer.parameter_count() for layer in self.layers)

    async def __call__(self, params: Sequence[Params], x: Any, *, train: bool = False) -> Any:
        if len(params) != len(self.layers):
            raise KernelError(f"{len(params)} parameter sets for {len(self.layers)} layers; pass the list model.init() made")
        for layer, p in zip(self.layers, params):
            x = await layer(p, x, train=train)
        return x

    def quantized(self, bits: int = 8) -> Sequential:
        """The same model with every `Linear` replaced by a `QuantizedLinear` of ``bits``."""
        return Sequential(*(layer.quantized(bits) if isinstance(layer, Linear) else layer for layer in self.layers))

    async def quantize(self, params: Sequence[Params], bits: int = 8) -> tuple[Sequential, list[Params]]:
        """The quantized model and its parameters, converted from this model's (a program)."""
        model = self.quantized(bits)
        out: list[Params] = []
        for layer, p in zip(model.layers, params):
            out.append(await layer.convert(p) if isinstance(layer, QuantizedLinear) else p)
        return model, out

    def prove_shapes(self, batch: str = "batch", params: Sequence[Params] | None = None) -> Any:
        """Prove with z3 that the model's layers fit for every batch size (`prove_shapes`)."""
        from effectus.kernels._prove import prove_shapes, symbolic

        first = next((layer for layer in self.layers if isinstance(layer, (Linear, QuantizedLinear))), None)
        if first is None:
            raise KernelError("prove_shapes: the model has no Linear layer to take its input width from")
        given = list(params) if params is not None else self.init(0)
        return prove_shapes(self, given, symbolic(f"{batch} {first.in_features}", name="x"))


def build_mlp(inputs: int, hidden: Sequence[int], outputs: int, *, activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False) -> Sequential:
    """A multi-layer perceptron: ``Linear`` to each hidden width (then optional `BatchNorm`, the
    activation and optional `Dropout`), then a final ``Linear`` to ``outputs`` logits."""
    acts: dict[str, Layer] = {"relu": ReLU(), "gelu": GELU(), "tanh": Tanh(), "sigmoid": Sigmoid()}
    if activation not in acts:
        raise KernelError(f"build_mlp: activation={activation!r}; one of {sorted(acts)}")
    layers: list[Layer] = []
    width = inputs
    for h in hidden:
        layers.append(Linear(width, h))
        if batch_norm:
            layers.append(BatchNorm(h))
        layers.append(acts[activation])
        if dropout:
            layers.append(Dropout(dropout))
        width = h
    layers.append(Linear(width, outputs))
    return Sequential(*layers)


def build_classifier(inputs: int, hidden: Sequence[int], classes: int, **options: Any) -> Sequential:
    """An MLP classifier producing ``classes`` logits: `build_mlp` with ReLU by default.

    ``build_classifier(784, [128, 64], 10)`` has 109,386 parameters."""
    return build_mlp(inputs, hidden, classes, **options)
