"""Autologging for scikit-learn: every top-level ``fit`` records itself.

``shipyard.autolog()`` wraps ``fit`` (and ``fit_transform``, ``fit_predict``) of
every estimator class in ``sklearn.utils.all_estimators()``. A call then records the
estimator's parameters, training metrics, a hash of the training data and the fitted
model with its signature — into the active run, or into a run it starts and ends
around the call. A fit made inside another fit (a forest's trees, a Pipeline's steps,
a search's candidates) belongs to the outer one: one ``fit`` call, one run. A
parameter search also records its best parameters and score, and a child run per
candidate.

Modules: ``_patch`` wraps the classes and knows which fit is the outermost;
``_record`` records that fit into a run; ``_describe`` turns an estimator and its
data into params, tags and metrics; ``_search`` adds a search's candidates.
"""

from __future__ import annotations

import functools

from shipyard.autolog._patch import install, uninstall
from shipyard.autolog._record import Settings, fit_and_record
from shipyard.client import Client
from shipyard.errors import InvalidInput, MissingExtra

__all__ = ["autolog"]


def autolog(*, client: Client | None = None, log_models: bool = True, max_tuning_runs: int | None = 5,
            disable: bool = False) -> None:
    """Record every scikit-learn ``fit`` (``disable=True`` undoes it).

    Runs started by autologging go to ``client`` (default: the fluent API's current
    client, looked up at each fit); inside ``shipyard.start_run()`` the fit records
    into that run. ``log_models=False`` skips the model packages. A parameter search
    records its ``max_tuning_runs`` best-ranked candidates as child runs (None: all).
    Calling ``autolog`` again replaces the earlier settings.

    >>> import shipyard
    >>> shipyard.autolog()                      # doctest: +SKIP
    >>> LogisticRegression().fit(X, y)          # doctest: +SKIP  (a run appears)
    """
    if max_tuning_runs is not None and (not isinstance(max_tuning_runs, int) or max_tuning_runs < 0):
        raise InvalidInput(f"max_tuning_runs must be a non-negative integer or None, got {max_tuning_runs!r}",
                           field="max_tuning_runs")
    if disable:
        uninstall()
        return
    try:
        classes = _estimator_classes()
    except ImportError:
        raise MissingExtra("scikit-learn", "sklearn") from None
    settings = Settings(client=client, log_models=log_models, max_tuning_runs=max_tuning_runs)
    install(classes, functools.partial(fit_and_record, settings))


def _estimator_classes() -> list[type]:
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.utils import all_estimators

    # all_estimators() has left out meta-estimators in some versions.
    classes = {cls for _, cls in all_estimators()} | {GridSearchCV, Pipeline, RandomizedSearchCV}
    return sorted(classes, key=lambda c: f"{c.__module__}.{c.__qualname__}")
