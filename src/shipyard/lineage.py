"""Shared value types that several domain packages exchange (base layer: imports nothing internal).

Lineage is a directed graph of typed nodes: ``("dataset", "churn@3") -input->
("run", <id>)``, ``("run", <id>) -produced-> ("model_version", "churn/3")``. Each
domain records its edges; :class:`LineageGraph` is what a lineage query returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Edge", "LineageGraph", "Node"]


@dataclass(frozen=True, order=True)
class Node:
    """A vertex: ``type`` names the domain object (run, model_version, dataset…)."""

    type: str
    id: str

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"


@dataclass(frozen=True, order=True)
class Edge:
    """``src`` —relation→ ``dst`` (data flows from src to dst)."""

    src: Node
    relation: str
    dst: Node


@dataclass
class LineageGraph:
    """The nodes reachable from ``root``, upstream and downstream, and their edges."""

    root: Node
    upstream: list[Edge] = field(default_factory=list)
    downstream: list[Edge] = field(default_factory=list)

    @property
    def nodes(self) -> set[Node]:
        found = {self.root}
        for e in (*self.upstream, *self.downstream):
            found.update((e.src, e.dst))
        return found

    def to_json(self) -> dict[str, object]:
        def edge(e: Edge) -> dict[str, str]:
            return {"src": str(e.src), "relation": e.relation, "dst": str(e.dst)}

        return {"root": str(self.root), "upstream": [edge(e) for e in self.upstream],
                "downstream": [edge(e) for e in self.downstream]}
