"""Feature importance as run artifacts: JSON always, a bar plot when matplotlib is installed.

Each importance type is stored as ``feature_importance_<type>.json`` (feature →
value, the features a model never split on included as 0 where the framework
reports them) and ``feature_importance_<type>.png``, the features sorted by
importance. matplotlib is optional: without it only the JSON is stored.
"""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Mapping
from pathlib import Path

from shipyard.autolog._run import log_json
from shipyard.client import Client

__all__ = ["log_importance"]

_MAX_BARS = 30  # past this a plot is unreadable; the JSON holds every feature


def log_importance(client: Client, run_id: str, kind: str, values: Mapping[str, float]) -> None:
    """Store the importance of each feature under the name of its ``kind`` ("gain", "split"…)."""
    scores = {str(feature): float(value) for feature, value in values.items()}
    log_json(client, run_id, f"feature_importance_{kind}.json", scores)
    if scores and importlib.util.find_spec("matplotlib") is not None:
        _log_plot(client, run_id, kind, scores)


def _log_plot(client: Client, run_id: str, kind: str, scores: Mapping[str, float]) -> None:
    # A bare Figure draws to a file without pyplot, leaving the user's backend alone.
    from matplotlib.figure import Figure

    ranked = sorted(scores.items(), key=lambda item: item[1])[-_MAX_BARS:]
    figure = Figure(figsize=(6.4, max(2.0, 0.3 * len(ranked) + 1.0)))
    axes = figure.subplots()
    axes.barh([name for name, _ in ranked], [value for _, value in ranked])
    axes.set_xlabel(f"importance ({kind})")
    axes.set_title("Feature importance")
    figure.tight_layout()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"feature_importance_{kind}.png"
        figure.savefig(path, dpi=100)
        client.log_artifact(run_id, path)
