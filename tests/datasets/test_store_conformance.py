"""Every dataset backend passes the same conformance suite: embedded and remote, disk and S3."""

from __future__ import annotations

from shipyard.testing.datasets import DatasetStoreConformance


class TestDatasetStore(DatasetStoreConformance):
    pass
