"""JSON form of registry entities, shared by the server and the remote client."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from shipyard.lineage import Edge, LineageGraph, Node
from shipyard.registry._entities import AuditEvent, ModelVersion, RegisteredModel

__all__ = ["to_json", "model_from_json", "version_from_json", "event_from_json", "lineage_from_json"]


def to_json(entity: RegisteredModel | ModelVersion | AuditEvent) -> dict[str, Any]:
    return asdict(entity)


def model_from_json(data: dict[str, Any]) -> RegisteredModel:
    return RegisteredModel(**{**data, "aliases": {k: int(v) for k, v in data.get("aliases", {}).items()}})


def version_from_json(data: dict[str, Any]) -> ModelVersion:
    return ModelVersion(**data)


def event_from_json(data: dict[str, Any]) -> AuditEvent:
    return AuditEvent(**data)


def _node(text: str) -> Node:
    kind, _, ident = text.partition(":")
    return Node(kind, ident)


def lineage_from_json(data: dict[str, Any]) -> LineageGraph:
    def edge(e: dict[str, str]) -> Edge:
        return Edge(_node(e["src"]), e["relation"], _node(e["dst"]))

    return LineageGraph(_node(data["root"]), [edge(e) for e in data["upstream"]],
                        [edge(e) for e in data["downstream"]])
