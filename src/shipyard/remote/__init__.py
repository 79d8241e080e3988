"""Clients of a remote ``shipyard server``: the same interfaces as the local stores, over HTTP."""

from shipyard.remote._datasets import RemoteDatasetStore
from shipyard.remote._http import HttpTransport, RetryPolicy
from shipyard.remote._registry import RemoteRegistryStore
from shipyard.remote._tracking import RemoteTrackingStore

__all__ = ["HttpTransport", "RemoteDatasetStore", "RemoteRegistryStore", "RemoteTrackingStore", "RetryPolicy"]
