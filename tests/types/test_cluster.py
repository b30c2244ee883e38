"""The cluster model and placement problem files: figures in base units, the topology's
distances, this machine as a cluster, and `effectus place FILE` end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from effectus import PlacementError
from effectus.cli import main
from effectus.types import Cluster, Node, distance, quantity

PROBLEM = """
timeout = 5
[[nodes]]
name = "a"
cpu = 16
memory = "64GB"
rack = "r1"
[[nodes]]
name = "b"
cpu = 16
gpu = 2
memory = "64GB"
rack = "r1"
cost = 2
[[requests]]
name = "api"
placement = "on(cpu>=2, memory>=4GB).replicas(2)"
talks = { model = 3 }
[[requests]]
name = "model"
placement = "on(gpu>=1, memory>=8GB)"
work = 4
"""


def test_quantities_read_units_in_base_units() -> None:
    """Sizes are 1024-based bytes, times milliseconds, percentages fractions."""
    assert quantity("1.5GB", "size") == 1.5 * 1024**3
    assert quantity("512", "size") == 512.0
    assert quantity("2min", "time") == 120_000.0
    assert quantity("99.9%", "percent") == pytest.approx(0.999)
    assert quantity(8, "count") == 8.0
    with pytest.raises(PlacementError, match="unit 'ms' does not fit"):
        quantity("10ms", "size")
    with pytest.raises(PlacementError, match=">= 0"):
        quantity(-1, "count")


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False), st.sampled_from(["KB", "MB", "GB", "TB"]))
def test_a_size_scales_by_its_unit(number: float, unit: str) -> None:
    """Every size unit multiplies by its power of 1024."""
    power = ["KB", "MB", "GB", "TB"].index(unit) + 1
    assert quantity(f"{number:.6f}{unit}", "size") == pytest.approx(float(f"{number:.6f}") * 1024**power)


def test_the_topology_distances() -> None:
    """Same node 0, same rack 1, same datacenter 5, across datacenters 10; no rack is its own."""
    a = Node("a", rack="r1", datacenter="eu")
    assert distance(a, a) == 0
    assert distance(a, Node("b", rack="r1", datacenter="eu")) == 1
    assert distance(a, Node("c", rack="r2", datacenter="eu")) == 5
    assert distance(Node("x", datacenter="eu"), Node("y", datacenter="eu")) == 5
    assert distance(a, Node("d", rack="r1", datacenter="us")) == 10


def test_nodes_and_clusters_refuse_bad_figures() -> None:
    """Negative capacities, availability past 1, unnamed and repeated nodes are errors."""
    with pytest.raises(PlacementError, match="cpu=-1"):
        Node("a", cpu=-1)
    with pytest.raises(PlacementError, match="availability"):
        Node("a", availability=1.5)
    with pytest.raises(PlacementError, match="two nodes are named 'a'"):
        Cluster([Node("a"), Node("a")])
    with pytest.raises(KeyError, match="no node named 'z'"):
        Cluster([Node("a")]).without("z")


def test_this_machine_is_a_cluster_of_its_devices() -> None:
    """The local cluster has the host's CPUs and memory as node cpu:0 on jax's cpu device."""
    import os

    local = Cluster.local()
    host = local["cpu:0"]
    assert host.cpu == os.cpu_count()
    assert host.memory > 2**30 and host.device == "cpu:0"
    assert all(n.rack == "local" for n in local)


def test_place_prints_the_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`effectus place FILE` prints each request's nodes and the cost; exit 0."""
    path = tmp_path / "problem.toml"
    path.write_text(PROBLEM)
    assert main(["place", str(path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:4]}
    assert rows["model"] == ["b", "-"]
    assert "optimal" in out


def test_place_reads_json_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same problem as JSON gives the same plan."""
    import tomllib

    toml_path, json_path = tmp_path / "p.toml", tmp_path / "p.json"
    toml_path.write_text(PROBLEM)
    json_path.write_text(json.dumps(tomllib.loads(PROBLEM)))
    assert main(["place", str(toml_path)]) == 0
    first = capsys.readouterr().out.splitlines()[:4]
    assert main(["place", str(json_path)]) == 0
    assert capsys.readouterr().out.splitlines()[:4] == first


def test_place_explains_an_infeasible_problem_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No node has 4 GPUs: exit 1, with the clause and the closest nodes."""
    path = tmp_path / "problem.toml"
    path.write_text(PROBLEM.replace("gpu>=1, memory>=8GB", "gpu>=4, memory>=8GB"))
    assert main(["place", str(path)]) == 1
    out = capsys.readouterr().out
    assert "model: gpu>=4  (column 4 of 'on(gpu>=4, memory>=8GB)')" in out
    assert "b: gpu>=4: has gpu 2, needs 4" in out


def test_place_replans_after_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With failed = [...], the plan is re-made without those nodes."""
    path = tmp_path / "problem.toml"
    spare = "[[nodes]]\nname = \"c\"\ncpu = 8\nmemory = \"32GB\"\ncost = 3\n"
    path.write_text("failed = [\"b\"]\n" + PROBLEM.replace("gpu>=1, memory>=8GB", "memory>=8GB") + spare)
    assert main(["place", str(path)]) == 0
    before, after = capsys.readouterr().out.split("after b failed:")
    assert "b" in before.split("cost")[0].split("-------")[-1]
    rows = after.split("cost")[0].split("-------")[-1]
    assert " b" not in rows and "c" in rows


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[nodes]]\nname = 'a'\ncpu = 'lots'\n[[requests]]\nname = 'x'\n", "nodes[0] 'a': cpu: cannot read 'lots'"),
        ("[[nodes]]\nname = 'a'\n[[requests]]\nname = 'x'\nplacement = 'on(gpu>=1'\n", "requests[0] 'x'"),
        ("[[nodes]]\nname = 'a'\nspeed = 3\n[[requests]]\n", "unknown key 'speed'"),
        ("[[nodes]\nname = 'a'\n", "not valid TOML"),
        ("requests = []\n", "'nodes' must be a non-empty list"),
        ("failed = ['zz']\n[[nodes]]\nname = 'a'\n[[requests]]\nname = 'x'\n", "failed names 'zz'"),
    ],
)
def test_bad_problem_files_exit_2_naming_the_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str) -> None:
    """A malformed file is exit 2 with the file, the entry and what is wrong on stderr."""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["place", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err


def test_a_placement_string_error_in_a_file_keeps_its_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The parser's column and caret reach the user through the problem file."""
    path = tmp_path / "bad.toml"
    path.write_text("[[nodes]]\nname = 'a'\n[[requests]]\nname = 'x'\nplacement = 'on(gpu>=1, memry>=2GB)'\n")
    assert main(["place", str(path)]) == 2
    err = capsys.readouterr().err
    assert "column 12: unknown resource 'memry'" in err and "did you mean 'memory'" in err


@given(st.binary(max_size=200))
def test_problem_files_never_crash_the_reader(data: bytes) -> None:
    """Fuzz: any bytes either load as a problem or raise PlacementError."""
    import tempfile

    from effectus.proofs._problem import load_problem

    with tempfile.NamedTemporaryFile(suffix=".toml", delete=False) as f:
        f.write(data)
    try:
        load_problem(f.name)
    except PlacementError:
        pass
    finally:
        Path(f.name).unlink()


def test_infinite_throughput_is_the_default() -> None:
    """A node with no throughput figure serves any rate."""
    assert Node("a").throughput == math.inf
