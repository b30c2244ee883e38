"""The command line: `effectus demo` runs end to end; bad usage exits 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


def _effectus(*args: str, proof_cache: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if proof_cache is not None:
        env["EFFECTUS_PROOF_CACHE"] = str(proof_cache)
    return subprocess.run(
        [sys.executable, "-m", "effectus", *args], capture_output=True, text=True, timeout=300, env=env
    )


@pytest.mark.slow
def test_demo_runs_all_nine_parts(tmp_path: Path) -> None:
    """`python -m effectus demo` exits 0 and prints production, testing and exploration results,
    then the proofs of the pricing specs, then the generated tests that find the seeded bug, then
    quantized inference on JAX kernels, then the example tools placed on this machine by z3.

    Part 5's trace path, timings and oversold seeds vary with the machine and the scheduler,
    so only its stable lines are checked.
    """
    done = _effectus("demo", proof_cache=tmp_path / "proofs")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "1. production" in out and "2. testing" in out and "3. every carrier choice" in out
    assert out.count("total 4435 cents for 3 parcels") == 3  # production + two test runs
    assert "9 branches, 6 feasible; cheapest total 4275 cents, dearest 8950 cents" in out
    assert "4. record a run, replay it" in out
    assert "run_batch_v2 replayed against the same trace:" in out
    part5 = out[out.index("== 5. a three-role service over session-typed channels, explored") : out.index("== 6.")]
    assert "  with client: rec serve . &{quote: ?str . !Quote . serve, done: end}\n" in part5
    assert "  with db: rec serve . +{lookup: !str . ?Stock . serve, stop: end}\n" in part5
    assert (
        "production: lamp 4800c held, desk 30000c held, lamp 4800c (none left); "
        'db wrote inventory.json {"desk": 2, "lamp": 0}\n'
    ) in part5
    assert "the same quotes under each: True\n" in part5
    found = "fails with Oversold: 'lamp' does not balance: 2 held + 0 left, but 1 in stock\n"
    assert found in part5 and "  trace: " in part5 and "rush.jsonl" in part5
    assert "replayed with no handlers: Oversold: 'lamp' does not balance" in part5
    assert "holding with one fx.Modify instead: explored 200 schedules" in part5
    assert part5.rstrip().endswith("no failure within the budget")
    part6 = out[out.index("== 6. specs proved with z3: fx.check over examples/orders.py") : out.index("== 7.")]
    assert "  rates = pipe(billable, fan_out(postal, courier, freight))\n" in part6
    assert "rates(2450) = (525, 475, 2100)\n" in part6
    assert "postal(150) raises PreconditionError: precondition of tool postal failed: grams % 100 == 0\n" in part6
    lines = part6.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split() == ["tool", "check", "verdict"])
    counts = next(i for i, line in enumerate(lines) if line.endswith(" unknown"))
    rows = [line.split() for line in lines[header + 1 : counts]]
    assert {row[0] for row in rows} == {"billable", "postal", "courier", "freight", "rates", "offers"}
    assert ["rates", "call", "of", "postal", "after", "billable", "proved"] in rows
    assert ["offers", "body", "meets", "postconditions", "proved"] in rows
    assert [row for row in rows if row[-1] != "proved"] == []  # nothing refuted, nothing unknown
    assert f"{len(rows)} proved, 0 refuted, 0 unknown\n" in part6
    assert part6.rstrip().endswith("nothing refuted")
    assert any((tmp_path / "proofs").iterdir())  # verdicts were cached where the variable says
    # The same table as `effectus check examples/orders.py` (which now reads the cache).
    orders = Path(__file__).resolve().parents[1] / "examples" / "orders.py"
    checked = _effectus("check", str(orders), proof_cache=tmp_path / "proofs")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.replace(" (cached)", "").splitlines() == lines[header : counts + 1]
    part7 = out[out.index("== 7. tests generated from specs") : out.index("== 8.")]
    assert "the smallest with grams >= 10 and boxes >= 3 is (10, 3)\n" in part7
    assert "FAILED effectus.examples.packing:fill_boxes contract\n" in part7
    assert re.search(r"falsifying arguments \(shrunk\): grams=\d+, boxes=\d+\n", part7)
    assert "weigh_and_split  effects" in part7 and "relation:order does not matter" in part7
    assert re.search(r"packing_desk\s+protocol\s+passed", part7)  # the state machine played the desk
    assert "21 of 22 properties hold; 1 did not\n" in part7
    assert re.search(r"the same failure: PostconditionError: result = \[[0-9, ]+\]$", part7.rstrip())
    part8 = out[out.index("== 8. quantized MLP inference on JAX kernels") : out.index("== 9.")]
    assert "build_classifier(784, [128, 64], 10): 109,386 parameters\n" in part8
    assert "images (batch 784) -> labels (batch), logits (batch 10)" in part8
    assert "  linear: w.shape[0] = 64 but i = 128 (from x.shape[1])\n" in part8
    agreement = {m[0]: float(m[1]) for m in re.findall(r"  (float32|int8|int4) .* agrees with float32 on\s+([0-9.]+)%", part8)}
    assert agreement["float32"] == 100.0 and agreement["int8"] >= 95.0 and agreement["int4"] < agreement["int8"]
    assert re.search(r"each of the \d+ kernel calls also ran its numpy reference: all within tolerance", part8)
    assert "replayed without recomputing: labels identical" in part8 and part8.rstrip().endswith("agrees")
    part9 = out[out.index("== 9. placement") :]
    table = part9[part9.index("request ") : part9.index("cost ")]
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[2:]}
    assert rows == {name: ["cpu:0", "cpu:0"] for name in ("sample", "combine", "classify")}  # CI: one CPU device
    assert re.search(r"cost \d+ \(optimal, ", part9)
    assert "    trainer: gpu>=8  (column 4 of 'on(gpu>=8, memory>=2TB).replicas(2)')\n" in part9
    assert "    cpu:0: gpu>=8: has gpu 0, needs 8; memory>=2TB: has memory" in part9
    assert "on(gpu>=2, memory>=8GB, gpu<2) -> gpu>=2 and gpu<2\n" in part9
    assert "classify ran its kernels on cpu:0" in part9 and ": 256 labels\n" in part9
    assert re.search(r"estimate_pi with 4 sample shards, here: 3\.\d\d", part9)


@pytest.mark.slow
def test_demo_reads_its_verdicts_back_from_the_cache(tmp_path: Path) -> None:
    """A second demo with the same proof cache marks every row cached, with the same verdicts."""
    first = _effectus("demo", proof_cache=tmp_path)
    second = _effectus("demo", proof_cache=tmp_path)
    assert first.returncode == second.returncode == 0, second.stderr

    def verdicts(out: str) -> list[str]:
        part6 = out[out.index("== 6.") : out.index("== 7.")]
        return [line for line in part6.splitlines() if line.startswith(("billable ", "rates ", "offers "))]

    assert verdicts(first.stdout) and not any(line.endswith("(cached)") for line in verdicts(first.stdout))
    assert verdicts(second.stdout) == [line + " (cached)" for line in verdicts(first.stdout)]


def test_no_command_is_usage_error() -> None:
    """Running `effectus` without a command exits 2 and says a command is required."""
    done = _effectus()
    assert done.returncode == 2
    assert "a command is required" in done.stderr


def test_unknown_command_is_usage_error() -> None:
    """An unknown command exits 2 with argparse's message naming the bad choice."""
    done = _effectus("frobnicate")
    assert done.returncode == 2
    assert "invalid choice: 'frobnicate'" in done.stderr


def test_version() -> None:
    """`effectus --version` prints the package version."""
    import effectus

    done = _effectus("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"effectus {effectus.__version__}"
