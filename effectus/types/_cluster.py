"""The cluster model placements are solved over: nodes with capacities, labels and a topology.

Guarantees: a `Node`'s figures are in base units (bytes, bytes per second, milliseconds,
device counts), validated when it is made; a `Cluster`'s node names are unique; the distance
between two nodes is the topology's (same node 0, same rack 1, same datacenter 5, else 10).
`Cluster.local()` describes this machine (its jax devices and what the OS reports) and
`Cluster.ray()` the nodes of the Ray cluster this process is connected to; neither import
jax or ray until called.
"""

from __future__ import annotations

import math
import os
import re
from fractions import Fraction
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from effectus.core._errors import PlacementError
from effectus.types._placement import _SIZES, _TIMES  # pyright: ignore[reportPrivateUsage]  # one unit table

__all__ = ["Cluster", "Node", "distance", "quantity"]

_QUANTITY = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z%]*)(/s)?\s*")

#: capacities a node has, and the units its figures are read in
_KINDS = {
    "cpu": "count", "gpu": "count", "npu": "count",
    "memory": "size", "disk": "size", "network": "size",
    "latency": "time", "throughput": "count", "availability": "percent", "cost": "count",
}


def quantity(value: object, kind: str, *, what: str = "value") -> float:
    """A figure in base units: a number, or a string with a unit (``"1.5GB"``, ``"2ms"``, ``"99.9%"``).

    ``kind`` says which units fit: ``"size"`` (B/KB/MB/GB/TB, 1024-based; bytes), ``"time"``
    (ms/s/min/h; milliseconds), ``"percent"`` (``%``; a fraction), ``"count"`` (no unit).

    >>> quantity("1.5GB", "size"), quantity("2min", "time"), quantity("99.9%", "percent")
    (1610612736.0, 120000.0, 0.999)

    Raises:
        PlacementError: an unknown or misfitting unit, a negative or non-numeric value.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PlacementError(f"{what}: expected a number or a string such as '8GB'; got {value!r}")
    if not isinstance(value, str):
        number = float(value)
        if not math.isfinite(number) or number < 0:
            raise PlacementError(f"{what}: expected a finite number >= 0; got {value!r}")
        if kind == "percent" and number > 1:
            raise PlacementError(f"{what}: {value!r} as a fraction must be at most 1; write a percentage as a string ('99.9%')")
        return number
    m = _QUANTITY.fullmatch(value)
    if m is None:
        raise PlacementError(f"{what}: cannot read {value!r} as a quantity (a number >= 0 with a unit, e.g. '8GB')")
    number, unit = float(m.group(1)), m.group(2).lower()
    tables: dict[str, Mapping[str, int]] = {"size": _SIZES, "time": _TIMES, "percent": {"%": 1}, "count": {}}
    units = tables[kind]
    if unit == "":
        return quantity(number, kind, what=what)
    if unit not in units:
        fits = ", ".join(k.upper() if kind == "size" else k for k in units) or "no unit"
        raise PlacementError(f"{what}: unit {m.group(2)!r} does not fit here; expected {fits}")
    exact = Fraction(m.group(1))  # scaled exactly, rounded once: 99.9% is 0.999, not 0.9990000000000001
    return float(exact / 100 if unit == "%" else exact * Fraction(units[unit]))


@dataclass(frozen=True, eq=True)
class Node:
    """One place work can run: a machine, or one accelerator of it.

    Capacities are in base units: ``memory``/``disk`` in bytes, ``network`` in bytes per
    second, ``cpu``/``gpu``/``npu`` as device counts.  ``latency`` is what the node adds to a
    request (ms), ``throughput`` the requests per second it can serve, ``availability`` the
    fraction of time it is up; ``cost`` is the relative price of a unit of work on it.
    ``rack`` and ``datacenter`` place it in the topology (an empty rack is a rack of its own;
    nodes with the same, possibly empty, datacenter share it).  ``device`` names the jax
    device work placed here runs on (``"gpu:0"``), or ``""``; ``ray_id`` the Ray node.

    >>> Node("a", cpu=8, memory=quantity("32GB", "size"), rack="r1").memory
    34359738368.0
    """

    name: str
    cpu: float = 0.0
    gpu: float = 0.0
    npu: float = 0.0
    memory: float = 0.0
    network: float = 0.0
    disk: float = 0.0
    labels: Mapping[str, str] = field(default_factory=lambda: {}, hash=False)
    rack: str = ""
    datacenter: str = ""
    latency: float = 1.0
    throughput: float = math.inf
    availability: float = 1.0
    cost: float = 1.0
    device: str = ""
    ray_id: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise PlacementError(f"Node(name={self.name!r}): a node needs a non-empty name")
        for name in ("cpu", "gpu", "npu", "memory", "network", "disk", "latency", "throughput", "availability", "cost"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
                raise PlacementError(f"node {self.name!r}: {name}={value!r}; expected a number >= 0")
            object.__setattr__(self, name, float(value))
        if self.availability > 1:
            raise PlacementError(f"node {self.name!r}: availability={self.availability!r}; expected a fraction 0..1")
        labels = dict(self.labels)
        for key, value in labels.items():
            if not isinstance(key, str) or not isinstance(value, str):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise PlacementError(f"node {self.name!r}: labels must map str to str; got {key!r}: {value!r}")
        object.__setattr__(self, "labels", labels)

    def capacity(self, resource: str) -> float:
        """The node's total of ``resource`` (``"gpu"``, ``"memory"``, ``"throughput"``...)."""
        return float(getattr(self, resource))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, where: str = "node") -> Node:
        """A node from a problem file's table: figures may carry units (``memory = "64GB"``)."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PlacementError(f"{where}: unknown key {unknown[0]!r}; a node has {', '.join(sorted(known))}")
        name = data.get("name")
        if not isinstance(name, str):
            raise PlacementError(f"{where}: every node needs a name (a string); got {name!r}")
        kwargs: dict[str, Any] = {"name": name}
        for key, value in data.items():
            if key in _KINDS:
                kwargs[key] = quantity(value, _KINDS[key], what=f"{where} {name!r}: {key}")
            elif key == "labels":
                if not isinstance(value, Mapping):
                    raise PlacementError(f"{where} {name!r}: labels must be a table of strings; got {value!r}")
                kwargs[key] = {str(k): str(v) for k, v in cast(Mapping[object, object], value).items()}
            elif key != "name":
                if not isinstance(value, str):
                    raise PlacementError(f"{where} {name!r}: {key} must be a string; got {value!r}")
                kwargs[key] = value
        return cls(**kwargs)


def distance(a: Node, b: Node) -> int:
    """Topology distance: same node 0, same rack 1, same datacenter 5, else 10.

    >>> distance(Node("a", rack="r"), Node("b", rack="r")), distance(Node("a"), Node("b", datacenter="x"))
    (1, 10)
    """
    if a.name == b.name:
        return 0
    if a.datacenter != b.datacenter:
        return 10
    if a.rack and a.rack == b.rack:
        return 1
    return 5


class Cluster:
    """The nodes a placement may use.

    >>> c = Cluster([Node("a", cpu=4), Node("b", cpu=8)])
    >>> [n.name for n in c], c["b"].cpu
    (['a', 'b'], 8.0)
    """

    def __init__(self, nodes: Iterable[Node]) -> None:
        self.nodes: tuple[Node, ...] = tuple(nodes)
        self._by_name: dict[str, Node] = {}
        for node in self.nodes:
            if not isinstance(node, Node):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise TypeError(f"Cluster takes Node values; got {node!r}")
            if node.name in self._by_name:
                raise PlacementError(f"two nodes are named {node.name!r}; node names must be unique")
            self._by_name[node.name] = node
        if not self.nodes:
            raise PlacementError("a cluster needs at least one node")

    def __iter__(self) -> Any:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, name: str) -> Node:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no node named {name!r}; the cluster has {', '.join(self._by_name)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def without(self, *names: str) -> Cluster:
        """The cluster less the named nodes (failed, drained)."""
        for name in names:
            self[name]  # a typo is an error, not a no-op
        return Cluster(n for n in self.nodes if n.name not in names)

    def __repr__(self) -> str:
        return f"Cluster({', '.join(n.name for n in self.nodes)})"

    @classmethod
    def local(cls) -> Cluster:
        """This machine: one node per jax device, sharing the host's memory and network.

        The host's CPU count and memory come from the OS; accelerators from jax (imported
        here).  All nodes share one rack, ``"local"``.  A machine with no accelerator is one
        node, ``"cpu:0"``, holding every core.
        """
        from effectus.kernels._lazy import jax

        memory = _host_memory()
        cpus = float(os.cpu_count() or 1)
        nodes = [Node("cpu:0", cpu=cpus, memory=memory, disk=_free_disk(), rack="local", device="cpu:0")]
        for d in jax().devices():
            if d.platform == "cpu":
                continue
            kind = "gpu" if d.platform in ("gpu", "cuda", "rocm") else "npu"
            stats: dict[str, Any] = {}
            try:
                stats = d.memory_stats() or {}
            except Exception:  # not every backend reports memory
                pass
            nodes.append(Node(
                f"{kind}:{d.id}", gpu=1.0 if kind == "gpu" else 0.0, npu=1.0 if kind == "npu" else 0.0,
                memory=float(stats.get("bytes_limit", 0)),
                rack="local", device=f"{kind}:{d.id}", cost=4.0,
            ))
        return cls(nodes)

    @classmethod
    def ray(cls) -> Cluster:
        """The live nodes of the Ray cluster this process is connected to (``ray.init`` first).

        Each Ray node's CPU, GPU and memory resources become a node; its custom resources
        named ``rack:X``/``datacenter:X`` set its topology and ``label:K=V`` its labels.
        """
        import ray

        _ray: Any = ray  # ray's functions are not all annotated
        if not _ray.is_initialized():
            raise PlacementError("Cluster.ray() needs a connected Ray cluster.\nFix: call ray.init(...) first.")
        nodes: list[Node] = []
        for info in _ray.nodes():
            if not info.get("Alive", False):
                continue
            res: dict[str, float] = info.get("Resources", {})
            labels: dict[str, str] = {}
            rack = datacenter = ""
            for key in res:
                if key.startswith("label:") and "=" in key:
                    k, _, v = key[len("label:"):].partition("=")
                    labels[k] = v
                elif key.startswith("rack:"):
                    rack = key[len("rack:"):]
                elif key.startswith("datacenter:"):
                    datacenter = key[len("datacenter:"):]
            node_id = str(info["NodeID"])
            nodes.append(Node(
                f"ray:{info.get('NodeManagerAddress', '?')}:{node_id[:8]}",
                cpu=float(res.get("CPU", 0.0)), gpu=float(res.get("GPU", 0.0)),
                memory=float(res.get("memory", 0.0)), labels=labels, rack=rack,
                datacenter=datacenter, ray_id=node_id,
            ))
        return cls(nodes)


def _host_memory() -> float:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not on this OS
        return 0.0


def _free_disk() -> float:
    try:
        st = os.statvfs(os.getcwd())
    except (OSError, AttributeError):
        return 0.0
    return float(st.f_bavail * st.f_frsize)
