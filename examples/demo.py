"""`effectus demo`: the order batch of `orders` run for real, then under test, then explored;
then the three-role quote service of `service`, run and explored over its interleavings; then
the specs of the batch's pricing tools, proved with z3.

Each part prints what it produced, so the output shows the same program meeting three
interpreters: production (real files, clock and entropy), testing (in memory, seeded, virtual
time) and exhaustive exploration of its choices by re-execution. Part 5 does the same for
concurrent tasks talking over session-typed channels: one global protocol projected onto each
role, a race found by `fx.explore`, and its trace replayed to the same failure. Part 6 runs
`fx.check` over `orders`, as ``effectus check examples/orders.py`` does: the spec of each
pricing tool, the composite `rates`, and the bodies, proved for every input. Part 7 runs the
property tests generated from the specs of `orders` and `packing`, as ``effectus test`` does:
arguments drawn to meet each precondition, environment answers drawn from effect types; the
seeded bug in `packing.fill_boxes` is found, shrunk, saved as a trace and replayed. Part 8 runs
the quantized MLP inference of `inference` on JAX kernels: its shapes proved by z3 for every batch
size (and a mis-built model refuted), compiled by XLA on this machine's device, every kernel
checked against its numpy reference under test, and a recorded run replayed. Part 9 places the
example tools (`distributed.REQUESTS`) on this machine's devices with z3, explains a request no
device can meet in its own clauses, runs the classifier's kernels on the device the plan chose
and the Monte Carlo job whose shards the `Distributed` handler would send to Ray.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from returns.pipeline import is_successful

import effectus as fx
from effectus.effects import MemoryFiles, MemoryLog, MemoryState, PolicyChoice, StdlibLog
from effectus.examples import orders as orders_module
from effectus.examples import packing
from effectus.examples.orders import (
    SAMPLE_INBOX,
    Order,
    cheapest,
    postal,
    quote_all,
    rates,
    run_batch,
    run_batch_v2,
)
from effectus.examples.service import SERVICE, Oversold, Quote, run_rush, run_service
from effectus.types import project


def _section(out: Callable[[str], None], title: str) -> None:
    out("")
    out(f"== {title} ".ljust(72, "="))


def _show_stdlib_logs(out: Callable[[str], None]) -> None:
    """Route the production run's stdlib log records (logger "effectus") through ``out``."""
    logger = logging.getLogger("effectus")

    class Echo(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            out(f"  [stdlib log] {record.levelname} {record.getMessage()}")

    if not any(type(h).__name__ == "Echo" for h in logger.handlers):
        logger.addHandler(Echo(logging.INFO))
        logger.setLevel(logging.INFO)
        logger.propagate = False


def main(out: Callable[[str], None] = print) -> int:
    """Run the demo, writing lines through ``out``; return the process exit status."""
    _show_stdlib_logs(out)
    _section(out, "1. production: real files in a temporary folder, real clock, OS entropy")
    with tempfile.TemporaryDirectory(prefix="effectus-demo-") as root:
        for name, text in SAMPLE_INBOX.items():
            path = Path(root, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        live = fx.production(root=root, choice=cheapest)
        report = live.run(run_batch())
        out(f"wrote {report} under {root}")
        out(Path(root, report).read_text(encoding="utf-8").rstrip())
        out(f"state: {live.handler(MemoryState).snapshot()}")
        out(f"metrics: {live.handler(StdlibLog).metrics}")

    _section(out, "2. testing: in-memory files, virtual clock, seeded randomness")
    for attempt in (1, 2):
        # The production choice policy goes in front of the test interpreter's own.
        test = fx.testing(seed=7, files=SAMPLE_INBOX).with_handlers(PolicyChoice(cheapest))
        report = test.run(run_batch())
        files = test.handler(MemoryFiles).snapshot()
        log = test.handler(MemoryLog)
        out(f"run {attempt}: wrote {report}; {len(log.records)} log records, "
            f"first warning: {next(r.message for r in log.records if r.level == 'warning')!r}")
        out(files[report].decode().rstrip())
    out("(the two test runs print the same report: same seed, same answers)")

    _section(out, "3. every carrier choice, explored by re-execution (fx.outcomes)")
    orders = (Order("A1001", "ada", 2.5), Order("A1002", "grace", 45.0))
    results = fx.outcomes(lambda: quote_all(orders))
    for outcome in results:
        out(f"choices {outcome.choices}: {outcome.result}")
    costs = [o.result.unwrap() for o in results if is_successful(o.result)]
    out(f"{len(results)} branches, {len(costs)} feasible; cheapest total {min(costs)} cents, "
        f"dearest {max(costs)} cents")

    _section(out, "4. record a run, replay it, and replay a changed program against it")
    with tempfile.TemporaryDirectory(prefix="effectus-trace-") as folder:
        trace = Path(folder, "batch.jsonl")
        test = fx.testing(seed=7, files=SAMPLE_INBOX).with_handlers(PolicyChoice(cheapest))
        recorded = fx.record(test, trace).run(run_batch())
        size = trace.stat().st_size
        lines = trace.read_text(encoding="utf-8").splitlines()
        out(f"recorded {len(lines) - 2} effects to {trace.name} ({size} bytes, format "
            f"{json.loads(lines[0])['format']}); replaying with no handlers at all...")
        replayed = fx.replay(run_batch(), trace)
        out(f"replay returned {replayed!r} (recorded run returned {recorded!r})")
        try:
            fx.replay(run_batch_v2(), trace)
        except fx.ReplayDivergence as divergence:
            out("run_batch_v2 replayed against the same trace:")
            out(str(divergence).replace(str(trace), "batch.jsonl"))
        else:
            out("run_batch_v2 unexpectedly matched the trace")
            return 1

    _section(out, "5. a three-role service over session-typed channels, explored")
    status = _service(out)

    _section(out, "6. specs proved with z3: fx.check over examples/orders.py")
    status = max(status, _proofs(out))

    _section(out, "7. tests generated from specs: effectus test over orders and packing")
    status = max(status, _generated(out))

    _section(out, "8. quantized MLP inference on JAX kernels: proved, compiled, checked, replayed")
    status = max(status, _inference(out))

    _section(out, "9. placement: the example tools placed on this machine's devices by z3")
    return max(status, _placement(out))


def _quotes(quotes: list[Quote]) -> str:
    return ", ".join(f"{q.item} {q.cents}c {'held' if q.held else '(none left)'}" for q in quotes)


def _service(out: Callable[[str], None]) -> int:
    """Part 5: run `service` for real and under test, then explore its racy variant."""
    out("the server's end of each channel, projected from the global protocol SERVICE:")
    for peer, local in project(SERVICE, "server").items():
        out(f"  with {peer}: {local}")
    basket = ["lamp", "desk", "lamp"]
    with tempfile.TemporaryDirectory(prefix="effectus-demo-") as root:
        quotes = fx.production(root=root).run(run_service(basket))
        stored = Path(root, "inventory.json").read_text(encoding="utf-8")
    out(f"production: {_quotes(quotes)}; db wrote inventory.json {stored}")
    same = all(fx.testing(seed=s).run(run_service(basket)) == quotes for s in range(10))
    out(f"testing: seeds 0-9 interleave the tasks differently; the same quotes under each: {same}")

    def rush(racy: bool) -> fx.Call[list[list[Quote]]]:
        return run_rush([["lamp"], ["lamp"]], racy=racy)  # two clients, one lamp in stock

    oversold: list[int] = []
    for s in range(20):
        try:
            fx.testing(seed=s).run(rush(racy=True))
        except Oversold:
            oversold.append(s)
    out(f"rush: two clients, one lamp, each db holding with a read then a write: "
        f"fx.testing(seed) oversells under seeds {oversold} of 0-19")
    out("fx.explore(rush, mode='random') searches the interleavings for a failure:")
    with tempfile.TemporaryDirectory(prefix="effectus-explore-") as folder:
        report = fx.explore(lambda: rush(racy=True), mode="random", budget=300,
                            trace=Path(folder, "rush.jsonl"))
        out(str(report))
        if report.failure is None or report.trace is None:
            out("the explorer found no race")
            return 1
        try:
            fx.replay(rush(racy=True), report.trace)
        except Oversold as err:
            out(f"replayed with no handlers: Oversold: {err}")
        else:
            out("the replay unexpectedly passed")
            return 1
    atomic = fx.explore(lambda: rush(racy=False), mode="random", budget=200)
    out(f"holding with one fx.Modify instead: {atomic}")
    return 0 if atomic.ok else 1


def _proofs(out: Callable[[str], None]) -> int:
    """Part 6: the pricing tools check their specs on every call; `fx.check` proves them."""
    out("the batch priced each parcel with offers(grams), which awaits the composite")
    out(f"  rates = {rates.__qualname__}")
    out(f"a 2450 g parcel is billed as 2500 g: rates(2450) = {fx.testing().run(rates(2450))}")
    try:
        postal(150)
    except fx.PreconditionError as err:
        out(f"every call checks its spec at run time: postal(150) raises PreconditionError: "
            f"{str(err).splitlines()[0]}")
    else:
        out("postal(150) unexpectedly passed its precondition")
        return 1
    out("fx.check(orders) proves each spec, composite and body with z3, for every input "
        "(as `effectus check`;")
    out("verdicts are cached on disk, so a second run reads them back, marked cached):")
    started = time.perf_counter()
    report = fx.check(orders_module)
    elapsed = time.perf_counter() - started
    out(report.table())
    composites = sum(isinstance(v, fx.Composite) for v in vars(orders_module).values())
    tools = len(dict.fromkeys(row.tool for row in report.rows)) - composites
    out(f"{len(report.rows)} checks of {tools} tools and {composites} composite{'s' * (composites != 1)} "
        f"in {elapsed:.2f} s: " + ("nothing refuted" if report.ok else "refuted rows above"))
    return 0 if report.ok else 1


def _generated(out: Callable[[str], None]) -> int:
    """Part 7: the generated property tests of the pricing and packing tools."""
    from hypothesis import find

    from effectus.specs import recorded_program, run_properties, strategy_for

    sample = find(strategy_for(packing.split), lambda args: args[0] >= 10 and args[1] >= 3)
    out("strategy_for(split) draws (grams, boxes) with 0 < boxes <= grams by construction: "
        f"the smallest with grams >= 10 and boxes >= 3 is {sample}")
    with tempfile.TemporaryDirectory(prefix="effectus-failures-") as folder:
        started = time.perf_counter()
        report = run_properties([orders_module, packing], examples=60, failures=folder)
        elapsed = time.perf_counter() - started
        out(report.render().replace(folder, "effectus-failures"))
        out(f"({sum(r.examples for r in report)} generated runs in {elapsed:.1f} s)")
        failed = [r for r in report if r.outcome == "failed"]
        wanted = [(r.tool.rpartition(":")[2], r.name) for r in failed] == [("fill_boxes", "contract")]
        if not wanted or failed[0].trace is None or any(r.outcome == "error" for r in report):
            out("expected exactly the seeded bug in fill_boxes to fail")
            return 1
        trace = fx.read_trace(failed[0].trace)
        out(f"replaying the saved trace ({trace.header.program}, args {trace.header.args}):")
        try:
            fx.replay(recorded_program(trace), trace)
        except fx.PostconditionError as err:
            out(f"  the same failure: PostconditionError: {str(err).splitlines()[1].strip()}")
        else:
            out("  the replay unexpectedly passed")
            return 1
    return 0


def _inference(out: Callable[[str], None]) -> int:
    """Part 8: quantized inference of a 784-128-64-10 classifier, every step a kernel call."""
    import numpy as np

    from effectus import kernels as fk
    from effectus.examples import inference
    from effectus.kernels import nn

    model = inference.MODEL
    out(f"build_classifier(784, [128, 64], 10): {model.parameter_count():,} parameters")
    params = model.init(0)
    production = fx.production()
    quantized = {bits: production.run(inference.quantize_weights(params, bits)) for bits in (8, 4)}
    proof = fk.prove_shapes(inference.quantized_classify, quantized[8], fk.symbolic("batch 784"), 8)
    labels, logits = proof.shapes()
    out(f"z3 proves quantized_classify for every batch size: images (batch 784) -> labels ({labels}), "
        f"logits ({logits}); {proof.obligations} dim constraints over {proof.calls} kernel calls")
    broken = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(64, 10))
    try:
        broken.prove_shapes()
    except fk.ShapeMismatch as err:
        out("a mis-built model (Linear(784, 128), ReLU, Linear(64, 10)) is refuted before compiling:")
        out(f"  {str(err).splitlines()[2].strip()}")
    else:
        out("the mis-built model was unexpectedly proved")
        return 1

    x = inference.images(1024, seed=7)
    jit = fk.Jit()
    production = fx.production().with_handlers(jit)
    results: dict[str, Any] = {}
    for name, program in (
        ("float32", lambda: inference.classify(params, x)),
        ("int8", lambda: inference.quantized_classify(quantized[8], x, 8)),
        ("int4", lambda: inference.quantized_classify(quantized[4], x, 4)),
    ):
        production.run(program())  # compile
        times = []
        for _ in range(5):
            started = time.perf_counter()
            labels_, logits_ = production.run(program())
            np.asarray(logits_)
            times.append(time.perf_counter() - started)
        results[name] = (np.asarray(labels_), np.asarray(logits_), sorted(times)[2])
    device = jit.device
    out(f"production on {device.platform}:{device.id}, a batch of 1024 images (jit-compiled kernels; "
        f"weights quantized once, per output channel):")
    ref_labels, ref_logits, _ = results["float32"]
    for name, (got_labels, got_logits, seconds) in results.items():
        agree = float((got_labels == ref_labels).mean())
        error = float(np.abs(got_logits - ref_logits).max())
        out(f"  {name:7} {seconds * 1e3:6.1f} ms (median of 5)   top-1 agrees with float32 on {agree:6.1%}   "
            f"max |logit error| {error:.4f}")
    if float((results["int8"][0] == ref_labels).mean()) < 0.95:
        out("int8 inference disagrees with float inference too often")
        return 1

    testing = fx.testing()
    testing.run(inference.quantized_classify(quantized[8], x[:64], 8))
    checked = testing.handler(fk.Reference).compared
    out(f"under fx.testing() each of the {checked} kernel calls also ran its numpy reference: all within tolerance")

    with tempfile.TemporaryDirectory(prefix="effectus-inference-") as folder:
        path = Path(folder) / "int8.jsonl"
        recorded, _ = fx.record(fx.production(), path).run(inference.quantized_classify(quantized[8], x[:256], 8))
        replayed, _ = fx.replay(inference.quantized_classify(quantized[8], x[:256], 8), path)
        live, _ = fx.replay(
            inference.quantized_classify(quantized[8], x[:256], 8), path,
            interpreter=fx.production(), live=(fk.KernelCall,),
        )
        trace = fx.read_trace(path)
        blobs = sum(1 for _ in Path(f"{path}.blobs").iterdir())
        same = np.array_equal(np.asarray(recorded), np.asarray(replayed))
        out(f"recorded the int8 run: {len(trace.records)} kernel calls, {blobs} arrays stored by SHA-256; "
            f"replayed without recomputing: labels {'identical' if same else 'DIFFERENT'}; "
            f"recomputed live and compared within tolerance: "
            f"{'agrees' if np.array_equal(np.asarray(live), np.asarray(recorded)) else 'differs'}")
        if not same:
            return 1
    return 0


def _placement(out: Callable[[str], None]) -> int:
    """Part 9: solve where the example tools run on this machine, and run them there."""
    import numpy as np

    from effectus import kernels as fk
    from effectus.examples import distributed, inference
    from effectus.proofs import Request, Unplaceable, contradictions, place
    from effectus.types import Cluster

    local = Cluster.local()
    for node in local:
        out(f"node {node.name}: {node.cpu:g} cpus, {node.gpu:g} gpus, {node.memory / 2**30:.1f} GB memory (jax device {node.device})")
    plan = place(distributed.REQUESTS, local, timeout=5)
    for request in distributed.REQUESTS:
        out(f"  {request.name}: {request.placement}")
    out(plan.table())
    try:
        place([*distributed.REQUESTS, Request("trainer", "on(gpu>=8, memory>=2TB).replicas(2)")], local, timeout=5)
        out("a request for 8 GPUs and 2 TB was placed on this machine?")
        return 1
    except Unplaceable as err:
        out("adding a trainer that asks for on(gpu>=8, memory>=2TB).replicas(2):")
        out("\n".join(f"  {line}" for line in str(err).splitlines()))
    clash = contradictions("on(gpu>=2, memory>=8GB, gpu<2)")
    out(f"statically contradictory (effectus check): on(gpu>=2, memory>=8GB, gpu<2) -> {' and '.join(c.text for c in clash)}")

    device = plan.device("classify")
    params = inference.MODEL.init(0)
    labels, _ = fx.run(inference.classify(params, inference.images(256)), fk.Jit(device=device), fx.production())
    out(f"classify ran its kernels on {device} (fk.Jit(device=plan.device('classify'))): {len(np.asarray(labels))} labels")
    estimate = fx.run(distributed.estimate_pi(4, 2000), fx.production())
    out(f"estimate_pi with 4 sample shards, here: {estimate:.2f}; the same program on a Ray cluster: "
        f"fx.production().with_handlers(Distributed())")
    return 0
