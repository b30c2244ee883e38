"""The kernel benchmarks measure what they claim to (correctness only: no timing bar).

Run with tiny sizes, ``benchmarks.kernels`` must check every variant of every case against a
float64 reference (and refuse a wrong one), time them all, and print a row per case and
variant, a speed-up row per case with positive finite ratios, the dispatch table and the
targets.  ``benchmarks.gpu_kernels`` must exit 0 with its "no gpu device" message where jax has
no GPU, run its code path on the CPU when asked, and know the nominal peaks of its table.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import math
import re
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `benchmarks` lives at the repository root, next to `effectus`
    sys.path.insert(0, str(ROOT))

from benchmarks import gpu_kernels, kernels  # noqa: E402

RATIO = r"[0-9,]+\.[0-9]{2}x"
NUMBER = r"[0-9,]+(\.[0-9]+)?"


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def _has_gpu() -> bool:
    try:
        return bool(jax.devices("gpu"))
    except RuntimeError:
        return False


@pytest.fixture(scope="module")
def out() -> str:
    """``python -m benchmarks.kernels --quick --rounds 1 --sample-ms 1``, its report (run once)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert kernels.main(["--quick", "--rounds", "1", "--sample-ms", "1"]) == 0
    return buffer.getvalue()


def test_every_case_has_its_variants_and_agrees_with_float64() -> None:
    """Each case has numpy, eager, jit and an effectus row (the MLP and the chain their extra
    ones); every variant is within tolerance of the float64 reference."""
    cases = kernels.build_cases(kernels.QUICK)
    assert [c.name for c in cases] == list(kernels.CASES)
    for case in cases:
        assert list(case.variants)[:3] == ["numpy", "eager", "jit"], case.name
        assert set(case.variants) <= set(kernels.VARIANTS), case.name
        errors = kernels.verify(case)
        assert set(errors) == set(case.variants)
        assert all(math.isfinite(e) and e >= 0 for e in errors.values()), errors
    by_name = {c.name: c for c in cases}
    assert {"effectus", "effectus-numpy-in", "effectus-fresh-jit"} <= set(by_name["mlp"].variants)
    assert {"effectus-3-calls", "effectus-fused-kernel"} <= set(by_name["gelu_chain"].variants)


def test_a_variant_that_computes_something_else_stops_the_run() -> None:
    """verify raises rather than time a variant that disagrees with the reference."""
    case = kernels.build_cases(kernels.QUICK)[1]  # softmax
    wrong = case.variants["numpy"]
    case.variants["numpy"] = lambda: wrong() * 1.01
    with pytest.raises(AssertionError, match=r"softmax / numpy: off the float64 reference"):
        kernels.verify(case)


def test_dispatch_times_every_variant_every_round() -> None:
    """One time per round for each dispatch variant, all positive; the added µs are finite."""
    times = kernels.measure_dispatch(kernels.QUICK._replace(calls=20), rounds=2)
    assert set(times) == set(kernels.DISPATCH)
    assert all(len(t) == 2 and all(v > 0 for v in t) for t in times.values())
    added = kernels.dispatch_added(times)
    assert set(added) == {"jit", "jit-device", "production"}
    assert all(math.isfinite(v) for v in added.values())


def test_paired_is_the_median_of_the_ratios() -> None:
    assert kernels.paired([2.0, 9.0, 4.0], [1.0, 3.0, 1.0]) == 3.0


def test_the_report_has_every_case_variant_ratio_and_target(out: str) -> None:
    """Heading and versions; a row per case and variant with a positive time and error; a
    speed-up row per case with positive finite ratios; the dispatch rows; the target rows."""
    assert out.startswith("## Kernels (CPU)\n")
    assert re.search(r"- Python 3\.\d+.*, \d+ CPUs; effectus \d.*, jax \d.*, numpy \d", out)
    assert "- thread settings in the environment (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, XLA_FLAGS): " in out
    cases = kernels.build_cases(kernels.QUICK)
    rows = [_cells(r) for r in out.splitlines() if re.match(r"\| \d+ \|", r)]
    assert [(r[1], r[2]) for r in rows] == [(c.title, kernels._LABELS[v]) for c in cases for v in c.variants]
    for row in rows:
        assert re.fullmatch(NUMBER, row[3]) and float(row[3].replace(",", "")) > 0, row
        assert re.fullmatch(rf"{NUMBER} – {NUMBER}", row[4]), row
        assert int(row[5].replace(",", "")) >= 1, row
        assert math.isfinite(float(row[6])), row

    ratios = {r[0]: r[1:] for r in (_cells(line) for line in out.splitlines()) if r[0] in kernels.CASES}
    assert list(ratios) == list(kernels.CASES)
    for case, cells in ratios.items():
        assert len(cells) == 5 and all(re.fullmatch(rf"{RATIO} \({RATIO}\)", c) for c in cells), (case, cells)
        values = [float(v.replace(",", "")) for c in cells for v in re.findall(r"([0-9,.]+)x", c)]
        assert len(values) == 10
        assert all(math.isfinite(v) and v > 0 for v in values), (case, cells)

    dispatch = {r[0]: r[1:] for r in (_cells(line) for line in out.splitlines()) if r[0] in kernels._DISPATCH_LABELS.values()}
    assert list(dispatch) == [kernels._DISPATCH_LABELS[v] for v in kernels.DISPATCH]
    for label, cells in dispatch.items():
        assert float(cells[0].replace(",", "")) > 0, label
    assert re.fullmatch(r"-?" + NUMBER, dispatch[kernels._DISPATCH_LABELS["jit"]][2])

    targets = [_cells(r) for r in out.splitlines() if r.startswith(("| MLP:", "| `gelu", "| dispatch:"))]
    assert len(targets) == 8, targets
    assert all(t[2] in ("yes", "**no**") for t in targets), targets


def test_gpu_script_without_a_gpu_says_so_and_exits_0() -> None:
    """``python -m benchmarks.gpu_kernels`` on a machine without a GPU measures nothing, cleanly."""
    if _has_gpu():
        pytest.skip("jax has a GPU here: the script would measure it")
    done = subprocess.run([sys.executable, "-m", "benchmarks.gpu_kernels"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("benchmarks.gpu_kernels: no gpu device: jax "), done.stdout
    assert "Nothing measured" in done.stdout


def test_gpu_script_code_path_runs_on_the_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    """With ``--device cpu`` and tiny sizes, every matmul dtype and memory kernel gets a raw and an
    effectus row with a positive figure, and the peaks table lists each."""
    assert gpu_kernels.main(["--device", "cpu", "--matmul-sizes", "32", "--memory-sizes", "1024", "--rounds", "1"]) == 0
    text = capsys.readouterr().out
    rows = [_cells(r) for r in text.splitlines() if r.startswith(("| matmul |", "| memory |")) and r.count("|") == 10]
    expected = ([("matmul", k, "32", v) for k in gpu_kernels.MATMUL_DTYPES for v in gpu_kernels.VARIANTS]
                + [("memory", k, "2**10", v) for k in gpu_kernels.MEMORY_KERNELS for v in gpu_kernels.VARIANTS])
    assert [tuple(r[:4]) for r in rows] == expected
    assert all(float(r[4].replace(",", "")) > 0 and r[6].endswith("%") for r in rows), rows
    lines = text.splitlines()
    start = lines.index("| peak | measured (best of the sweep) | nominal |") + 2
    peaks = [_cells(r)[0] for r in itertools.takewhile(lambda line: line.startswith("|"), lines[start:])]
    assert peaks == [*gpu_kernels.MATMUL_DTYPES, "memory"]
    assert "Effect overhead (effectus): effectus - raw per call" in text
    assert "Effect overhead (effectus, default device): " in text


@pytest.mark.parametrize(("name", "row", "memory"), [
    ("NVIDIA H200", "H200", 4.8),
    ("NVIDIA H100 80GB HBM3", "H100", 3.35),
    ("NVIDIA H100 PCIe", "H100 PCIe", 2.0),
    ("NVIDIA A100-SXM4-80GB", "A100-SXM4-80GB", 2.039),
    ("NVIDIA A100-SXM4-40GB", "A100", 1.555),
])
def test_nominal_peaks_by_device_name(name: str, row: str, memory: float) -> None:
    found = gpu_kernels.nominal_peak(name)
    assert found is not None and found[0] == row and found[1].memory_tbs == memory
    assert found[1].bf16_tflops in (989.0, 756.0, 312.0)


def test_a_device_outside_the_table_has_no_nominal_peak() -> None:
    assert gpu_kernels.nominal_peak("NVIDIA GeForce RTX 4090") is None
    assert gpu_kernels.nominal_peak("cpu") is None


def test_result_rates_are_tflops_and_gbs() -> None:
    """2 n**3 flops in 1 ms is 2 n**3 / 1e9 TFLOP/s; 12 bytes per element of 2**20 in 1 ms, GB/s."""
    mm = gpu_kernels.Result("matmul", "bf16", 1024, "raw", [1e-3, 2e-3, 1e-3], 2.0 * 1024**3)
    assert mm.rate() == pytest.approx(2.0 * 1024**3 / 1e-3 / 1e12)
    mem = gpu_kernels.Result("memory", "add: a + b", 1 << 20, "raw", [1e-3], 12.0 * (1 << 20))
    assert mem.rate() == pytest.approx(12.0 * (1 << 20) / 1e-3 / 1e9)
    assert np.isfinite(mem.rate())
