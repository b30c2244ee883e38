"""Placement problems from files: a TOML or JSON document of nodes and requests.

Guarantees: a problem that loads is well formed — every node and request valid, names
unique, placement strings parsed; anything else is a `PlacementError` naming the file, the
entry (``requests[2] 'api'``) and, for a placement string, its column.

The format (TOML; JSON has the same shape)::

    timeout = 5                 # seconds for the solver (optional, default 10)
    failed = ["gpu-b"]          # optional: nodes that fail after placing; re-plan without them

    [[nodes]]
    name = "gpu-a"
    cpu = 32
    gpu = 4
    memory = "256GB"            # sizes: B, KB, MB, GB, TB (1024-based); or a number of bytes
    network = "10GB"            # bytes per second
    rack = "r1"
    datacenter = "eu-1"
    latency = "2ms"
    cost = 3.0
    labels = { zone = "a" }

    [[requests]]
    name = "classify"
    placement = "on(gpu>=1, memory>=8GB).qos(interactive).replicas(2)"
    work = 2.0
    talks = { store = 5.0 }
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from effectus.core._errors import PlacementError
from effectus.proofs._placement import Request
from effectus.types._cluster import Cluster, Node

__all__ = ["Problem", "load_problem"]

_TOP = {"nodes", "requests", "timeout", "failed"}
_REQUEST = {"name", "placement", "work", "talks"}


@dataclass(frozen=True)
class Problem:
    """A placement problem read from a file."""

    cluster: Cluster
    requests: tuple[Request, ...]
    timeout: float = 10.0
    failed: tuple[str, ...] = ()


def load_problem(path: str | os.PathLike[str]) -> Problem:
    """Read the problem in ``path`` (``.toml`` or ``.json``).

    Raises:
        PlacementError: the file cannot be read or parsed, or an entry is invalid.
    """
    where = os.fspath(path)
    try:
        text = Path(path).read_bytes()
    except OSError as err:
        raise PlacementError(f"{where}: cannot read the problem file: {err.strerror or err}") from None
    try:
        if where.endswith(".json"):
            data: object = json.loads(text)
        else:
            data = tomllib.loads(text.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as err:  # tomllib/json errors carry line and column
        kind = "JSON" if where.endswith(".json") else "TOML"
        raise PlacementError(f"{where}: not valid {kind}: {err}\nFix: a problem file lists [[nodes]] and [[requests]] (see `effectus place --help`).") from None
    return problem_from(data, where=where)


def problem_from(data: object, *, where: str = "problem") -> Problem:
    """A problem from parsed data (a mapping of ``nodes``, ``requests``...)."""
    if not isinstance(data, Mapping):
        raise PlacementError(f"{where}: expected a table with nodes and requests; got {type(data).__name__}")
    top = cast(Mapping[str, Any], data)
    unknown = sorted(set(top) - _TOP)
    if unknown:
        raise PlacementError(f"{where}: unknown key {unknown[0]!r}; a problem has {', '.join(sorted(_TOP))}")
    nodes_data, requests_data = top.get("nodes"), top.get("requests")
    if not isinstance(nodes_data, list) or not nodes_data:
        raise PlacementError(f"{where}: 'nodes' must be a non-empty list of tables ([[nodes]] in TOML)")
    if not isinstance(requests_data, list):
        raise PlacementError(f"{where}: 'requests' must be a list of tables ([[requests]] in TOML)")
    nodes: list[Node] = []
    for i, entry in enumerate(cast(list[object], nodes_data)):
        if not isinstance(entry, Mapping):
            raise PlacementError(f"{where}: nodes[{i}] must be a table; got {entry!r}")
        nodes.append(Node.from_mapping(cast(Mapping[str, Any], entry), where=f"{where}: nodes[{i}]"))
    cluster = Cluster(nodes)
    requests: list[Request] = []
    for i, entry in enumerate(cast(list[object], requests_data)):
        at = f"{where}: requests[{i}]"
        if not isinstance(entry, Mapping):
            raise PlacementError(f"{at} must be a table; got {entry!r}")
        req = cast(Mapping[str, Any], entry)
        bad = sorted(set(req) - _REQUEST)
        if bad:
            raise PlacementError(f"{at}: unknown key {bad[0]!r}; a request has {', '.join(sorted(_REQUEST))}")
        name, placement = req.get("name"), req.get("placement", "replicas(1)")
        if not isinstance(name, str) or not name:
            raise PlacementError(f"{at}: every request needs a name (a string); got {name!r}")
        if not isinstance(placement, str):
            raise PlacementError(f"{at} {name!r}: placement must be a string such as 'on(cpu>=2)'; got {placement!r}")
        talks = req.get("talks", {})
        if not isinstance(talks, Mapping):
            raise PlacementError(f"{at} {name!r}: talks must be a table of request names to volumes; got {talks!r}")
        requests.append(Request(name, placement, work=req.get("work", 1.0), talks=cast(Mapping[str, float], talks), where=f"{at} {name!r}"))
    timeout = top.get("timeout", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or timeout <= 0:
        raise PlacementError(f"{where}: timeout must be a number of seconds > 0; got {timeout!r}")
    failed = top.get("failed", [])
    if not isinstance(failed, list) or not all(isinstance(f, str) for f in cast(list[object], failed)):
        raise PlacementError(f"{where}: failed must be a list of node names; got {failed!r}")
    for name in cast(list[str], failed):
        if name not in cluster:
            raise PlacementError(f"{where}: failed names {name!r}, which is not a node")
    return Problem(cluster, tuple(requests), float(timeout), tuple(cast(list[str], failed)))
