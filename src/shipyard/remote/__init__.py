"""Clients of a remote ``shipyard server``: the same interfaces as the local stores, over HTTP."""

from shipyard.remote.datasets import RemoteDatasetStore
from shipyard.remote.http import HttpTransport
from shipyard.remote.registry import RemoteRegistryStore
from shipyard.remote.tracking import RemoteTrackingStore

__all__ = ["HttpTransport", "RemoteDatasetStore", "RemoteRegistryStore", "RemoteTrackingStore"]
