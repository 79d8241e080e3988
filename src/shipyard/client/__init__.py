"""The explicit client: one object that assembles the stores from a configuration.

Everything the fluent API (``shipyard.start_run``…) does goes through a
:class:`Client`; tests and services can hold several side by side. Its methods are
grouped by domain in the modules of this package.

>>> client = Client(home="/tmp/shipyard-doc")                  # doctest: +SKIP
>>> run = client.create_run("churn", tags={"team": "growth"})  # doctest: +SKIP
>>> client.log_metric(run.id, "loss", 0.3, step=1)             # doctest: +SKIP
>>> client.end_run(run.id)                                     # doctest: +SKIP
"""

from shipyard.client.alerts import AlertsMixin
from shipyard.client.datasets import DatasetsMixin
from shipyard.client.features import FeaturesMixin
from shipyard.client.models import ModelsMixin
from shipyard.client.monitoring import MonitoringMixin
from shipyard.client.tracking import TrackingMixin

__all__ = ["Client"]


class Client(TrackingMixin, ModelsMixin, DatasetsMixin, MonitoringMixin, AlertsMixin, FeaturesMixin):
    """Access to tracking, models, the registry and datasets for one configuration.

    With ``url`` set (argument, ``SHIPYARD_URL`` or ``shipyard.toml``) the client talks
    to a ``shipyard server``; otherwise it opens the metadata database and artifact
    store itself. Nothing is opened until first use.
    """
