"""Autologging: every top-level ``fit`` or ``train`` of a supported framework records itself.

``shipyard.autolog()`` switches on every installed framework of :data:`FRAMEWORKS`
(``frameworks=[...]`` picks some). A call then records its parameters, metrics and
the fitted model with its signature — into the active run, or into a run it starts
and ends around the call. A fit made inside another fit (a forest's trees, a
Pipeline's steps, an XGBoost model inside a recorded Pipeline) belongs to the outer
one: one call, one run.

* scikit-learn: ``fit`` (and ``fit_transform``, ``fit_predict``) of every estimator
  class; training metrics, a data hash, a search's candidates as child runs.
* XGBoost, LightGBM: ``train`` and the scikit-learn wrappers' ``fit``; metrics per
  evaluation set and iteration through the framework's callbacks, feature importance.
* Lightning: ``Trainer.fit`` logs through a :class:`LightningLogger`.
* Keras 3: ``Model.fit`` logs through a :class:`KerasCallback`. Keras picks its
  backend when first imported; with none chosen and no TensorFlow installed,
  PyTorch is used.

Frameworks other than scikit-learn are patched when they are imported, so
``autolog()`` imports none of them. ``LightningLogger`` and ``KerasCallback`` can
also be used by hand (``from shipyard.autolog import KerasCallback``); importing them
imports their framework.

Modules: ``_patch`` (scikit-learn's classes), ``_hooks`` (patching on import),
``_record`` and ``_run`` (which run a call records into), ``_describe``, ``_search``,
``_boosting``, ``_importance`` and one module per framework.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from shipyard._lazy import lazy_exports
from shipyard.autolog import _hooks
from shipyard.autolog._frameworks import FRAMEWORKS, Framework, installed
from shipyard.autolog._patch import install, uninstall
from shipyard.autolog._record import Settings, fit_and_record
from shipyard.client import Client
from shipyard.errors import InvalidInput, MissingExtra

__all__ = ["FRAMEWORKS", "KerasCallback", "LightningLogger", "autolog"]

__getattr__, __dir__ = lazy_exports(__name__, {"KerasCallback": "_keras", "LightningLogger": "_lightning"},
                                    __all__, globals())


def autolog(*, frameworks: Sequence[str] | None = None, client: Client | None = None, log_models: bool = True,
            max_tuning_runs: int | None = 5, disable: bool = False) -> None:
    """Record every training call of ``frameworks`` (``disable=True`` switches all autologging off).

    ``frameworks`` names keys of :data:`FRAMEWORKS` (``"sklearn"``, ``"xgboost"``,
    ``"lightgbm"``, ``"lightning"``, ``"keras"``); None means every one installed, and
    a named one that is not installed raises ``MissingExtra`` with the ``pip install``
    to run. Runs started by autologging go to ``client`` (default: the fluent API's
    current client, looked up at each call); inside ``shipyard.start_run()`` the call
    records into that run. ``log_models=False`` skips the model packages. A
    scikit-learn parameter search records its ``max_tuning_runs`` best-ranked
    candidates as child runs (None: all). Calling ``autolog`` again replaces the
    earlier settings, frameworks included.

    >>> import shipyard
    >>> shipyard.autolog(frameworks=["xgboost"])      # doctest: +SKIP
    >>> xgboost.XGBClassifier().fit(X, y)               # doctest: +SKIP  (a run appears)
    """
    if max_tuning_runs is not None and (not isinstance(max_tuning_runs, int) or max_tuning_runs < 0):
        raise InvalidInput(f"max_tuning_runs must be a non-negative integer or None, got {max_tuning_runs!r}",
                           field="max_tuning_runs")
    if disable:
        uninstall()
        _hooks.uninstall()
        return
    chosen = _chosen(frameworks)
    uninstall()
    _hooks.uninstall()
    settings = Settings(client=client, log_models=log_models, max_tuning_runs=max_tuning_runs)
    if FRAMEWORKS["sklearn"] in chosen:
        try:
            classes = _estimator_classes()
        except ImportError:
            raise MissingExtra("scikit-learn", "sklearn") from None
        install(classes, functools.partial(fit_and_record, settings))
    _hooks.install({framework.module: functools.partial(framework.install, settings)
                    for framework in chosen if framework.install is not None})


def _chosen(frameworks: Sequence[str] | None) -> list[Framework]:
    if frameworks is None:
        return [framework for framework in FRAMEWORKS.values() if installed(framework)]
    if isinstance(frameworks, str) or not all(isinstance(name, str) for name in frameworks):
        raise InvalidInput(f"frameworks must be a list of names, got {frameworks!r}", field="frameworks")
    unknown = sorted(set(frameworks) - set(FRAMEWORKS))
    if unknown:
        raise InvalidInput(f"unknown frameworks {unknown}; known: {sorted(FRAMEWORKS)}", field="frameworks")
    chosen = [FRAMEWORKS[name] for name in dict.fromkeys(frameworks)]
    for framework in chosen:
        if not installed(framework):
            raise MissingExtra(framework.top, framework.extra)
    return chosen


def _estimator_classes() -> list[type]:
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.utils import all_estimators

    # all_estimators() has left out meta-estimators in some versions.
    classes = {cls for _, cls in all_estimators()} | {GridSearchCV, Pipeline, RandomizedSearchCV}
    return sorted(classes, key=lambda c: f"{c.__module__}.{c.__qualname__}")
