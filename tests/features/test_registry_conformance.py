"""The feature registry contract on SQLite, PostgreSQL and through a server."""

from shipyard.testing.features import FeatureRegistryConformance


class TestFeatureRegistry(FeatureRegistryConformance):
    pass
