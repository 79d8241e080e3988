"""Hyperparameter search: Optuna studies in the metadata database, trials as child runs.

>>> import shipyard
>>> def objective(trial):                                             # doctest: +SKIP
...     model = Ridge(alpha=trial["alpha"]).fit(X_train, y_train)
...     return model.score(X_test, y_test)
>>> result = shipyard.tune(objective, {"alpha": shipyard.loguniform(1e-3, 10)},  # doctest: +SKIP
...                        n_trials=50, direction="maximize", metric="r2")
>>> result.best_params, result.best_run_id                           # doctest: +SKIP

A space is a dict of :func:`uniform`, :func:`loguniform`, :func:`randint` and
:func:`choice` ranges (or the same as YAML: :func:`space_from_mapping`). Samplers:
TPE, random, grid, CMA-ES; pruners: median, Hyperband. One API for both executors:
``executor="local"`` runs trials in this process, ``"ray"`` / ``"ray://host:port"``
as Ray tasks over the same study (why Ray tasks over a shared study rather than Ray
Tune: :mod:`shipyard.tuning._executors`).

Imports ``tracking``, ``pipelines`` (``shipyard tune`` of a pipeline), the client
and the fluent API; needs the ``tune`` extra (Optuna).
"""

from shipyard.tuning._pipeline import pipeline_objective
from shipyard.tuning._result import SearchFailed, SearchResult
from shipyard.tuning._search import tune
from shipyard.tuning._space import Param, check_space, choice, loguniform, randint, space_from_mapping, uniform
from shipyard.tuning._trial import Trial, TrialPruned

__all__ = [
    "Param",
    "SearchFailed",
    "SearchResult",
    "Trial",
    "TrialPruned",
    "check_space",
    "choice",
    "loguniform",
    "pipeline_objective",
    "randint",
    "space_from_mapping",
    "tune",
    "uniform",
]
