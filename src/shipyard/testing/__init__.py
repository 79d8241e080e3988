"""Conformance suites that every backend passes, shipped with the library.

A backend's test module subclasses a suite and provides its fixture; see
:mod:`shipyard.testing.artifacts` and :mod:`shipyard.testing.tracking`. The suites need
pytest; the simulation modules beside them (``closed_loop``…, which the demo runs) do
not, so the suites load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard._lazy import lazy_exports

if TYPE_CHECKING:
    from shipyard.testing.artifacts import ArtifactStoreConformance
    from shipyard.testing.tracking import TrackingStoreConformance

__all__ = ["ArtifactStoreConformance", "TrackingStoreConformance"]

_WHERE = {"ArtifactStoreConformance": "artifacts", "TrackingStoreConformance": "tracking"}
__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__, globals())
