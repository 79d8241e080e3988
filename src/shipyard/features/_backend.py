"""The feature registry's interface: versioned definitions and materialization state.

:class:`FeatureRegistry` is implemented on the metadata database
(:mod:`shipyard.features._sql_store`) and over HTTP (:mod:`shipyard.remote._features`);
both pass :mod:`shipyard.testing.features`. Objects are stored as JSON specs (see
:mod:`shipyard.features._definitions`), one row per version.
:meth:`~FeatureRegistry.apply` is all or nothing: it adds a version only for
definitions whose fingerprint changed, and refuses the whole batch with
:class:`~shipyard.errors.Conflict` (naming every incompatible change, see
:mod:`shipyard.features._compat`) unless ``force=True``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["KINDS", "Applied", "FeatureObject", "FeatureRegistry", "MaterializationState"]

KINDS = ("entity", "feature_view", "on_demand_view")


@dataclass(frozen=True)
class FeatureObject:
    """One stored version of a definition."""

    kind: str
    name: str
    version: int
    spec: dict[str, Any]
    fingerprint: str
    created_at: int
    forced: bool = False

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "version": self.version, "spec": self.spec,
                "fingerprint": self.fingerprint, "created_at": self.created_at, "forced": self.forced}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureObject:
        return cls(data["kind"], data["name"], int(data["version"]), dict(data["spec"]), data["fingerprint"],
                   int(data["created_at"]), bool(data.get("forced", False)))


@dataclass(frozen=True)
class Applied:
    """What :meth:`FeatureRegistry.apply` did with one definition.

    ``status``: ``created`` (first version), ``updated`` (a compatible change),
    ``forced`` (an incompatible change stored with ``force=True``) or ``unchanged``.
    """

    kind: str
    name: str
    version: int
    status: str
    changes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "version": self.version, "status": self.status,
                "changes": list(self.changes)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Applied:
        return cls(data["kind"], data["name"], int(data["version"]), data["status"], list(data.get("changes", [])))


@dataclass(frozen=True)
class MaterializationState:
    """The last materialization of a view: interval [start, end) in µs since the epoch (UTC)."""

    view: str
    start_us: int | None
    end_us: int
    rows: int
    materialized_at: int  # ms since the epoch

    def to_json(self) -> dict[str, Any]:
        return {"view": self.view, "start_us": self.start_us, "end_us": self.end_us, "rows": self.rows,
                "materialized_at": self.materialized_at}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MaterializationState:
        start = data.get("start_us")
        return cls(data["view"], None if start is None else int(start), int(data["end_us"]), int(data["rows"]),
                   int(data["materialized_at"]))


@runtime_checkable
class FeatureRegistry(Protocol):
    """Versioned feature definitions and per-view materialization state."""

    def apply(self, specs: Sequence[Mapping[str, Any]], force: bool = False) -> list[Applied]:
        """Store a new version of each spec whose definition changed, all in one transaction.

        Refuses the batch with ``Conflict`` (``changes`` lists them) if any change is
        incompatible, unless ``force``; ``InvalidInput``/``NotFound`` for malformed
        specs or on-demand inputs naming unknown views or features.
        """
        ...

    def get(self, kind: str, name: str, version: int | None = None) -> FeatureObject:
        """A version (default: the latest); ``NotFound`` naming the object otherwise."""
        ...

    def list_objects(self, kind: str | None = None) -> list[FeatureObject]:
        """The latest version of every object (of ``kind``), by kind then name."""
        ...

    def versions(self, kind: str, name: str) -> list[FeatureObject]:
        """Every version of one object, newest first."""
        ...

    def record_materialization(self, view: str, start_us: int | None, end_us: int, rows: int) -> MaterializationState:
        ...

    def materialization(self, view: str) -> MaterializationState | None:
        ...

    def record_lineage(self, dataset_ref: str, views: Sequence[tuple[str, int]]) -> None:
        """Record that dataset version ``dataset_ref`` (``"train@2"``) was built from feature view versions."""
        ...

    def close(self) -> None: ...
