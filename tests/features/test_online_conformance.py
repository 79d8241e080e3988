"""The online-store contract on SQLite, the real Redis and the server's store over HTTP."""

from shipyard.testing.features import OnlineStoreConformance


class TestOnlineStore(OnlineStoreConformance):
    pass
