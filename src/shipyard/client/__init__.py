"""The explicit client: one object that assembles the stores of a configuration.

Everything the fluent API (``shipyard.start_run``…) does goes through a
:class:`Client`; tests and services can hold several side by side. A client is a
backend (:mod:`~.backend`: the connections, each opened on first use) and one facade
per domain over it — ``client.tracking`` (:mod:`~.tracking`), ``client.registry``
(:mod:`~.models`), ``client.datasets`` (:mod:`~.datasets`), ``client.monitoring``
(:mod:`~.monitoring`), ``client.alerts`` (:mod:`~.alerts`), ``client.automation``
(:mod:`~.automation`) and ``client.features`` —
plus the flat methods (``client.log_metric``…) that forward to them (:mod:`~.client`).

>>> client = Client(home="/tmp/shipyard-doc")                  # doctest: +SKIP
>>> run = client.create_run("churn", tags={"team": "growth"})  # doctest: +SKIP
>>> client.log_metric(run.id, "loss", 0.3, step=1)             # doctest: +SKIP
>>> client.end_run(run.id)                                     # doctest: +SKIP
"""

from shipyard.client._alerts import Alerts
from shipyard.client._automation import Automation
from shipyard.client._backend import Backend, LocalBackend, RemoteBackend
from shipyard.client._client import Client
from shipyard.client._datasets import Datasets
from shipyard.client._models import ModelInfo, ModelRegistry
from shipyard.client._monitoring import Monitoring
from shipyard.client._tracking import Tracking

__all__ = [
    "Alerts",
    "Automation",
    "Backend",
    "Client",
    "Datasets",
    "LocalBackend",
    "ModelInfo",
    "ModelRegistry",
    "Monitoring",
    "RemoteBackend",
    "Tracking",
]
