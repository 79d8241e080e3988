"""Conformance suites that every backend passes, shipped with the library.

A backend's test module subclasses a suite and provides its fixture; see
:mod:`shipyard.testing.artifacts` and :mod:`shipyard.testing.tracking`.
"""

from shipyard.testing.artifacts import ArtifactStoreConformance
from shipyard.testing.tracking import TrackingStoreConformance

__all__ = ["ArtifactStoreConformance", "TrackingStoreConformance"]
