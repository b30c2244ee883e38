"""Kernels as effects: signatures and their errors, the three handlers, replay, devices, sharding."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import effectus as fx
from effectus import kernels as fk
from effectus.kernels import Array, Float, nn

ROOT = Path(__file__).resolve().parents[2]


def f32(*shape: int, seed: int = 0) -> np.ndarray[Any, Any]:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


async def two_layers(x: Any, w1: Any, w2: Any) -> Any:
    return await fk.matmul(await fk.relu(await fk.matmul(x, w1)), w2)


# ---------------------------------------------------------------- signatures


def test_a_call_checks_dims_before_anything_runs_and_names_the_symbol() -> None:
    """A mismatched dim is refused when the kernel is called, naming the argument, the dim, the
    symbol and where the symbol got its value."""
    with pytest.raises(fk.KernelError) as err:
        fk.matmul(f32(2, 3), f32(4, 5))
    assert "matmul: b.shape[0] = 4 but k = 3 (from a.shape[1])" in str(err.value)


def test_wrong_rank_and_dtype_are_refused_with_the_signature() -> None:
    """Rank and dtype errors name the argument, what it has and the signature it breaks."""
    with pytest.raises(fk.KernelError, match=r'softmax: x has 0 dims .* needs at least 1'):
        fk.softmax(np.float32(1.0))
    with pytest.raises(fk.KernelError, match=r"relu: x has dtype int32, but its signature .*Float.* takes"):
        fk.relu(np.ones(3, np.int32))
    with pytest.raises(fk.KernelError, match=r"relu: x is list, not an array"):
        fk.relu([1.0, 2.0])  # type: ignore[arg-type]


def test_variadic_dims_must_agree_everywhere_they_are_written() -> None:
    """``*s`` binds a run of dims once: add(a, b) needs the same shape for both."""
    fk.add(f32(2, 3), f32(2, 3))
    with pytest.raises(fk.KernelError, match=r"add: b.shape\[1\] = 4 but \*s\[1\] = 3"):
        fk.add(f32(2, 3), f32(2, 4))
    with pytest.raises(fk.KernelError, match="different numbers of dims"):
        fk.add(f32(2, 3), f32(2, 3, 1))


def test_arithmetic_dims_and_static_ints_in_signatures() -> None:
    """A dim may be an expression (``n+1``) and may name a static int parameter."""

    @fk.kernel(reference=lambda x, extra: np.concatenate([x, np.zeros(extra, x.dtype)]))
    def pad(x: Float[Array, "n"], extra: int) -> Float[Array, "n+extra"]:
        import jax.numpy as jnp

        return jnp.concatenate([x, jnp.zeros(extra, x.dtype)])

    @fk.kernel
    def pairs(x: Float[Array, "n"], y: Float[Array, "n+1"]) -> Float[Array, "n"]:
        return x + y[1:]  # type: ignore[index, operator]

    out = fx.run(pad(f32(3), 2), fk.Reference())
    assert out.shape == (5,)
    pairs(f32(3), f32(4))
    with pytest.raises(fk.KernelError, match=r"y.shape\[0\] = 3 but n\+1 = 4 \(n = 3 \(from x.shape\[0\]\)\)"):
        pairs(f32(3), f32(3))


def test_bad_declarations_are_refused_where_they_are_written() -> None:
    """A dim that does not parse, a missing result signature or an unannotated parameter is a
    `KernelError` at decoration time, saying how to write it."""
    with pytest.raises(fk.KernelError, match="is not a dim"):
        Float[Array, "n + 1"]
    with pytest.raises(fk.KernelError, match="its result has no signature"):

        @fk.kernel
        def no_result(x: Float[Array, "n"]):  # type: ignore[no-untyped-def]
            return x

    with pytest.raises(fk.KernelError, match="parameter scale has no annotation"):

        @fk.kernel
        def unannotated(x: Float[Array, "n"], scale) -> Float[Array, "n"]:  # type: ignore[no-untyped-def]
            return x

    with pytest.raises(fk.KernelError, match="at most one per array"):
        Float[Array, "*a *b"]


def test_kernel_results_are_checked_against_their_own_signature() -> None:
    """A kernel that returns another shape than it promises is caught by the test handler."""

    @fk.kernel
    def liar(x: Float[Array, "n"]) -> Float[Array, "n"]:
        import jax.numpy as jnp

        return jnp.concatenate([x, x])

    with pytest.raises(fk.KernelError, match=r"liar: result.shape\[0\] = 6 but n = 3 .*breaks its own signature"):
        fx.run(liar(f32(3)), fk.Reference())


# ---------------------------------------------------------------- handlers


def test_production_and_testing_include_the_kernel_handlers() -> None:
    """``fx.production()`` runs kernels compiled; ``fx.testing()`` compares them with references."""
    x, w1, w2 = f32(4, 8), f32(8, 5, seed=1), f32(5, 3, seed=2)
    want = np.maximum(x.astype(np.float64) @ w1, 0) @ w2
    prod = fx.production().run(two_layers(x, w1, w2))
    test = fx.testing().run(two_layers(x, w1, w2))
    np.testing.assert_allclose(np.asarray(prod), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(test), want, rtol=1e-4, atol=1e-4)


def test_jit_compiles_once_per_static_parameters_shapes_and_dtypes() -> None:
    """Repeated calls reuse the compiled kernel; a new shape, dtype or static value compiles a
    variant; a fresh handler (a new fx.production()) compiles nothing again."""

    @fk.kernel
    def scaled(x: Float[Array, "*s"], factor: float) -> Float[Array, "*s"]:
        return x * factor

    async def calls() -> None:
        for _ in range(3):
            await scaled(f32(4, 6), 2.0)
        await scaled(f32(5, 6), 2.0)
        await scaled(f32(5, 6).astype(np.float16), 2.0)
        await scaled(f32(3), 3.0)

    jit = fk.Jit()
    fx.run(calls(), jit)
    assert jit.compiled() == {"scaled": 4}
    again = fk.Jit()
    fx.run(calls(), again)
    assert again.compiled() == {"scaled": 4}


def test_a_device_that_is_not_present_is_refused_before_compiling() -> None:
    """Asking for a TPU on a machine without one is a `PlacementError` listing what there is."""
    with pytest.raises(fx.PlacementError, match=r"no tpu device \(it has [a-z]+:0") as err:
        fk.Jit(device="tpu")
    assert "Fix:" in str(err.value)
    with pytest.raises(fx.PlacementError, match="there are 1 cpu devices"):
        fk.Jit(device="cpu:3")
    assert fx.run(fk.relu(f32(2)), fk.Jit(device="cpu")).shape == (2,)


def test_non_finite_inputs_are_refused_by_kernels_that_forbid_them() -> None:
    """quantize refuses NaN, naming the argument and the index; relu lets NaN through."""
    x = f32(2, 3)
    x[1, 2] = np.nan
    for handler in (fk.Jit(), fk.Reference()):
        with pytest.raises(fk.KernelError, match=r"quantize: x\[1, 2\] = nan, and quantize refuses NaN"):
            fx.run(fk.quantize(x), handler)
    assert np.isnan(np.asarray(fx.run(fk.relu(x), fk.Jit()))[1, 2])


def test_reference_mismatch_reports_the_largest_error_and_where() -> None:
    """A kernel that disagrees with its reference fails with the max error, its index and values."""

    def off_by_one_place(x: Any) -> Any:
        out = np.asarray(x, np.float64) * 2
        out.flat[-1] += 0.5
        return out

    @fk.kernel(reference=off_by_one_place)
    def double(x: Float[Array, "n m"]) -> Float[Array, "n m"]:
        return x * 2  # type: ignore[operator]

    x = np.ones((2, 3), np.float32)
    with pytest.raises(fk.KernelMismatch) as err:
        fx.run(double(x), fk.Reference())
    message = str(err.value)
    assert "max error 0.5 at index (1, 2): kernel 2.0, reference 2.5" in message
    assert "1 of 6 elements out of tolerance" in message


def test_dropout_takes_its_seed_from_the_random_effect() -> None:
    """The same test seed gives the same mask, another seed another; kept elements are scaled."""
    x = np.ones((16, 16), np.float32)
    a = np.asarray(fx.testing(seed=1).run(fk.dropout(x, 0.5)))
    b = np.asarray(fx.testing(seed=1).run(fk.dropout(x, 0.5)))
    c = np.asarray(fx.testing(seed=2).run(fk.dropout(x, 0.5)))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert set(np.unique(a).tolist()) == {0.0, 2.0}
    assert 0.3 < (a == 0).mean() < 0.7


# ---------------------------------------------------------------- record and replay


def test_a_recorded_kernel_run_replays_without_recomputing(tmp_path: Path) -> None:
    """The replay returns the recorded outputs; with live=(KernelCall,) it recomputes and compares."""
    model = nn.build_classifier(16, [8], 4, dropout=0.5)
    params = model.init(3)
    x = f32(5, 16)
    path = tmp_path / "mlp.jsonl"
    recorded = np.asarray(fx.record(fx.testing(seed=7), path).run(model(params, x, train=True)))
    replayed = fx.replay(model(params, x, train=True), path)
    assert np.array_equal(np.asarray(replayed), recorded)
    live = fx.replay(model(params, x, train=True), path, interpreter=fx.production(), live=(fk.KernelCall,))
    np.testing.assert_allclose(np.asarray(live), recorded, rtol=1e-5, atol=1e-5)


def test_replay_detects_a_changed_recorded_output(tmp_path: Path) -> None:
    """An output changed in the trace no longer matches its SHA-256 and is refused."""
    path = tmp_path / "relu.jsonl"
    x = f32(3, 4)
    fx.record(fx.testing(), path).run(fk.relu(x))
    lines = path.read_bytes().splitlines()
    for i, line in enumerate(lines):
        record = json.loads(line)
        value = record.get("value")
        if isinstance(value, dict) and "$array" in value:
            data = bytearray(base64.b64decode(value["$array"]["data"]))
            data[0] ^= 0xFF  # a changed element, with the line's CRC made to match again
            value["$array"]["data"] = base64.b64encode(bytes(data)).decode()
            del record["crc"]
            body = json.dumps(record, separators=(",", ":")).encode()
            lines[i] = b'%s,"crc":"%08x"}' % (body[:-1], zlib.crc32(body))
            break
    else:
        pytest.fail("no recorded array output in the trace")
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(fx.TraceError, match="does not hash to its recorded SHA-256"):
        fx.replay(fk.relu(x), path)


def test_recomputing_reports_a_kernel_that_changed_since_the_recording(tmp_path: Path) -> None:
    """Replayed live against a changed kernel, the divergence names the max error."""
    path = tmp_path / "run.jsonl"
    x = f32(4)
    fx.record(fx.testing(), path).run(fk.relu(x))

    class Broken(fk.Jit):
        def run(self, call: fk.KernelCall[Any]) -> Any:
            return np.asarray(super().run(call)) + 1.0

    with pytest.raises(fx.ReplayDivergence, match=r"max error 1 at index"):
        fx.replay(fk.relu(x), path, interpreter=fx.Interpreter(Broken()), live=(fk.KernelCall,))


def test_large_arrays_go_to_the_blob_store_once(tmp_path: Path) -> None:
    """Weights used by several calls are stored once, by hash, beside the trace."""
    w = f32(64, 64)
    path = tmp_path / "big.jsonl"

    async def twice() -> Any:
        a = await fk.matmul(w, w)
        return await fk.matmul(w, a)

    fx.record(fx.testing(), path).run(twice())
    blobs = sorted(p.name for p in Path(str(path) + ".blobs").iterdir())
    assert len(blobs) == 3  # w, a (input of the second call) and the result
    assert np.allclose(np.asarray(fx.replay(twice(), path)), w.astype(np.float64) @ (w.astype(np.float64) @ w), rtol=1e-3, atol=1e-3)


# ---------------------------------------------------------------- strategies


@settings(max_examples=30, deadline=None)
@given(fk.arguments(fk.attention))
def test_drawn_arguments_satisfy_the_signature(drawn: tuple[tuple[Any, ...], dict[str, Any]]) -> None:
    """Every draw for attention has consistent dims and finite float32 values."""
    (q, k, v), static = drawn
    assert q.shape[:-2] == k.shape[:-2] == v.shape[:-2]
    assert q.shape[-1] == k.shape[-1] and k.shape[-2] == v.shape[-2]
    assert all(a.dtype == np.float32 and np.isfinite(a).all() for a in (q, k, v))
    fk.attention(q, k, v, **static)  # accepted by the signature


@settings(max_examples=20, deadline=None)
@given(fk.arguments(fk.quantized_matmul), st.data())
def test_drawn_int8_arguments_have_int8_dtype(drawn: tuple[tuple[Any, ...], dict[str, Any]], data: st.DataObject) -> None:
    """Int8 parameters are drawn as int8 and float32 scales from the kernel's own strategy."""
    (xq, xs, wq, ws), _ = drawn
    assert xq.dtype == np.int8 and wq.dtype == np.int8 and xs.dtype == np.float32
    assert xs.shape == () and ws.shape == (wq.shape[1],) and (ws > 0).all()


# ---------------------------------------------------------------- the network builder


def test_the_classifier_has_the_documented_parameter_count() -> None:
    """build_classifier(784, [128, 64], 10) has 784*128+128 + 128*64+64 + 64*10+10 parameters,
    and init makes exactly that many numbers."""
    model = nn.build_classifier(784, [128, 64], 10)
    assert model.parameter_count() == 109_386
    counted = sum(a.size for layer in model.init(0) for a in layer.values())
    assert counted == 109_386


def test_quantized_inference_stays_close_to_float_inference() -> None:
    """int8 per-channel weights with per-tensor activations keep logits within a few percent;
    int4 drifts further but stays bounded."""
    model = nn.build_classifier(64, [32], 10)
    params = model.init(0)
    x = f32(128, 64, seed=5)

    async def both(bits: int) -> tuple[Any, Any]:
        qmodel, qparams = await model.quantize(params, bits)
        return await model(params, x), await qmodel(qparams, x)

    for bits, bound in ((8, 0.05), (4, 0.6)):
        ref, got = fx.testing().run(both(bits))
        scale = float(np.abs(np.asarray(ref)).max())
        assert float(np.abs(np.asarray(got) - np.asarray(ref)).max()) < bound * scale
    ref8, got8 = fx.testing().run(both(8))
    assert (np.asarray(ref8).argmax(1) == np.asarray(got8).argmax(1)).mean() > 0.9


def test_batch_norm_uses_batch_statistics_only_in_training() -> None:
    """In training the output of each feature has mean 0; at inference the running stats apply."""
    model = nn.Sequential(nn.BatchNorm(4))
    params = model.init(0)
    params[0]["mean"] = np.full(4, 10.0, np.float32)
    x = f32(32, 4) + 3.0
    train = np.asarray(fx.testing().run(model(params, x, train=True)))
    infer = np.asarray(fx.testing().run(model(params, x)))
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(infer, (x - 10.0) / np.sqrt(1.0 + 1e-5), rtol=1e-5, atol=1e-5)


def test_network_builder_refuses_bad_layers() -> None:
    """Bad widths, rates and activations are refused where the model is built."""
    with pytest.raises(fk.KernelError, match="in_features must be an int >= 1"):
        nn.Linear(0, 3)
    with pytest.raises(fk.KernelError, match=r"rate must be in \[0, 1\)"):
        nn.Dropout(1.5)
    with pytest.raises(fk.KernelError, match="activation='swish'"):
        nn.build_mlp(3, [2], 1, activation="swish")


# ---------------------------------------------------------------- separate processes


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300,
        cwd=ROOT, env={**os.environ, **(env or {})},
    )


@pytest.mark.slow
def test_importing_kernels_does_not_import_jax() -> None:
    """Declaring kernels is cheap: jax loads when a kernel first runs."""
    done = _python("""
        import sys
        import effectus.kernels as fk
        assert "jax" not in sys.modules, "jax imported by effectus.kernels"
        assert "hypothesis" not in sys.modules and "z3" not in sys.modules
        print("ok")
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


@pytest.mark.slow
def test_sharded_jit_splits_the_batch_across_devices() -> None:
    """With two (host) devices, a large input is split along its batch dim and the result agrees."""
    done = _python("""
        import numpy as np, effectus as fx
        from effectus import kernels as fk
        x = np.random.default_rng(0).normal(size=(64, 32)).astype(np.float32)
        w = np.random.default_rng(1).normal(size=(32, 8)).astype(np.float32)
        b = np.zeros(8, np.float32)
        y = fx.run(fk.linear(x, w, b), fk.Jit(shard=True, shard_above=0))
        print(len(y.sharding.device_set), float(np.abs(np.asarray(y) - x @ w).max()))
        small = fx.run(fk.linear(x, w, b), fk.Jit(shard=True))
        print(len(small.sharding.device_set))
    """, {"XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"})
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.split("\n")[:2]
    devices, error = first.split()
    assert devices == "2" and float(error) < 1e-4
    assert second == "1"  # below shard_above: one device


@pytest.mark.slow
def test_persistent_compilation_cache_is_written_on_request(tmp_path: Path) -> None:
    """Jit(cache_dir=...) turns on XLA's persistent cache: compiled kernels land in the directory."""
    done = _python(f"""
        import numpy as np, effectus as fx
        from effectus import kernels as fk
        fx.run(fk.softmax(np.ones((3, 5), np.float32)), fk.Jit(cache_dir={str(tmp_path / "xla")!r}))
    """)
    assert done.returncode == 0, done.stderr
    assert any((tmp_path / "xla").iterdir())
