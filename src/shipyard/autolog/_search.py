"""What a parameter search adds to its run: best result, ``cv_results.csv``, a child run per candidate.

A search (``GridSearchCV``, ``RandomizedSearchCV``, the halving searches) fits its
candidates unrecorded, inside its own fit; afterwards its ``cv_results_`` has a row
per candidate, and each of the best-ranked rows becomes a child run of the search's
run: the seed estimator's parameters with the candidate's on top, and the row's
means, spreads and ranks as metrics.
"""

from __future__ import annotations

import csv
import tempfile
from numbers import Number
from pathlib import Path
from typing import Any

from shipyard.autolog._describe import class_tags, clipped, params_of, render
from shipyard.client import Client

__all__ = ["is_search", "record_search"]


def is_search(estimator: Any) -> bool:
    """Whether ``estimator`` is a fitted parameter search."""
    results = getattr(estimator, "cv_results_", None)
    return isinstance(results, dict) and "params" in results and hasattr(estimator, "estimator")


def record_search(client: Client, run_id: str, experiment_id: str, search: Any, max_tuning_runs: int | None) -> None:
    """Log the best parameters and score, ``cv_results.csv`` and the candidates' child runs."""
    best_params = getattr(search, "best_params_", None) or {}
    limit = client.tracking.limits.param
    client.log_params(run_id, clipped({f"best_{key}": render(value) for key, value in best_params.items()}, limit))
    if hasattr(search, "best_score_"):
        client.log_metric(run_id, "best_cv_score", float(search.best_score_))
    results = search.cv_results_
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cv_results.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(list(results))
            writer.writerows(zip(*(list(column) for column in results.values()), strict=True))
        client.log_artifact(run_id, path)
    _record_candidates(client, run_id, experiment_id, search, max_tuning_runs)


def _record_candidates(client: Client, parent_id: str, experiment_id: str, search: Any,
                       max_tuning_runs: int | None) -> None:
    results = search.cv_results_
    seed = search.estimator
    rank = results.get(_rank_column(search, results))
    indices = range(len(results["params"]))
    ordered = sorted(indices, key=lambda i: (rank[i], i)) if rank is not None else list(indices)
    if max_tuning_runs is not None:
        ordered = ordered[:max_tuning_runs]
    # A row holds only the parameters that vary; the candidate is the seed with those set.
    base = params_of(seed) if hasattr(seed, "get_params") else {}
    for index in ordered:
        child = client.create_run(experiment_id=experiment_id, name=f"autolog-{type(seed).__name__}-candidate-{index}",
                                  tags={**class_tags(seed), "candidate_index": str(index)},
                                  parent_run_id=parent_id, capture_env=False)
        params = {**base, **{key: render(value) for key, value in results["params"][index].items()}}
        client.log_params(child.id, clipped(params, client.tracking.limits.param))
        # Per-split scores stay in cv_results.csv: the child carries means, spreads and ranks.
        client.log_metrics(child.id, {
            key: float(column[index]) for key, column in results.items()
            if not key.startswith(("param", "split")) and isinstance(column[index], Number)
        })
        client.end_run(child.id)


def _rank_column(search: Any, results: dict[str, Any]) -> str | None:
    refit = getattr(search, "refit", True)
    if isinstance(refit, str) and f"rank_test_{refit}" in results:
        return f"rank_test_{refit}"
    if "rank_test_score" in results:
        return "rank_test_score"
    return next((key for key in results if key.startswith("rank_test_")), None)
