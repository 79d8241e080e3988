"""The run a framework's autologged call records into, and the writes every framework shares.

As for scikit-learn (:mod:`shipyard.autolog._record`): inside ``shipyard.start_run()``
the call records into that run; otherwise a run is started around the call, ended
FINISHED when it returns and FAILED when it raises (the error propagates).
"""

from __future__ import annotations

import json
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shipyard.autolog._describe import render
from shipyard.autolog._record import Settings, _log_params
from shipyard.client import Client
from shipyard.errors import InvalidInput
from shipyard.fluent import ActiveRun, active_run, get_client, start_run

__all__ = ["log_json", "log_metrics", "log_params", "recording"]


@contextmanager
def recording(settings: Settings, name: str) -> Iterator[ActiveRun]:
    """The active run, or a run named ``autolog-<name>`` started for the ``with`` block."""
    run = active_run()
    if run is not None:
        yield run
        return
    with start_run(run_name=f"autolog-{name}", client=settings.client or get_client()) as started:
        yield started


def log_params(client: Client, run_id: str, params: Mapping[str, Any]) -> None:
    """Log ``params`` rendered as strings; clashing or illegal keys are left out with a warning."""
    _log_params(client, run_id, {str(key): render(value) for key, value in params.items()})


def log_metrics(client: Client, run_id: str, metrics: Mapping[str, Any], step: int) -> None:
    """Log the numeric ``metrics`` at ``step``; a key the run refuses is left out with a warning."""
    for key, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):  # a framework may report strings or arrays: not a metric
            continue
        try:
            client.log_metric(run_id, key, number, step)
        except InvalidInput as error:
            warnings.warn(f"autolog: metric {key!r} not recorded: {error}", RuntimeWarning, stacklevel=2)


def log_json(client: Client, run_id: str, name: str, content: Any, artifact_path: str | None = None) -> None:
    """Store ``content`` as the JSON artifact ``artifact_path/name``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_text(json.dumps(content, indent=2, sort_keys=True))
        client.log_artifact(run_id, path, artifact_path)
