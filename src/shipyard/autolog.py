"""Autologging for scikit-learn: every ``fit`` records itself.

``shipyard.autolog()`` wraps ``fit`` of every scikit-learn estimator class. A call to
``fit`` then records the estimator's parameters, training metrics, a hash of the
training data and the fitted model with its signature — into the active run, or into
a run it starts and ends around the call. Nested fits (a Pipeline fitting its steps,
a search fitting candidates) are recorded once, by the outermost call.

The only state is on the patched classes themselves (the original ``fit`` is kept as
an attribute, so ``autolog(disable=True)`` restores it exactly).
"""

from __future__ import annotations

import functools
import hashlib
from contextvars import ContextVar
from typing import Any

from shipyard.client import Client
from shipyard.errors import MissingExtra
from shipyard.fluent import active_run, get_client, start_run

__all__ = ["autolog"]

_ORIGINAL = "_shipyard_original_fit"
_inside_fit: ContextVar[bool] = ContextVar("shipyard_autolog_inside_fit", default=False)


def _data_hash(*arrays: Any) -> str:
    import numpy as np

    digest = hashlib.sha256()
    for data in arrays:
        if data is None:
            continue
        if hasattr(data, "to_numpy"):
            import pandas as pd

            digest.update(pd.util.hash_pandas_object(data, index=True).to_numpy().tobytes())
            digest.update(",".join(map(str, getattr(data, "columns", []))).encode())
        else:
            array = np.ascontiguousarray(np.asarray(data))
            digest.update(str((array.dtype, array.shape)).encode())
            digest.update(array.tobytes() if array.dtype != object else repr(array.tolist()).encode())
    return digest.hexdigest()


def _params(estimator: Any) -> dict[str, str]:
    out = {}
    for key, value in estimator.get_params(deep=True).items():
        if isinstance(value, (int, float, str, bool, type(None))):
            out[key] = str(value)
        elif hasattr(value, "get_params"):
            out[key] = type(value).__name__
    return dict(list(out.items())[:100])


def _training_metrics(estimator: Any, x: Any, y: Any) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor

    if y is None:
        return {}
    out: dict[str, float] = {}
    predicted = estimator.predict(x)
    if is_classifier(estimator):
        out["training_accuracy"] = metrics.accuracy_score(y, predicted)
        for name in ("precision", "recall", "f1"):
            scorer = getattr(metrics, f"{name}_score")
            out[f"training_{name}"] = scorer(y, predicted, average="weighted", zero_division=0)
        if hasattr(estimator, "predict_proba"):
            proba = estimator.predict_proba(x)
            out["training_log_loss"] = metrics.log_loss(y, proba, labels=estimator.classes_)
            if len(estimator.classes_) == 2:
                out["training_roc_auc"] = metrics.roc_auc_score(y, proba[:, 1])
    elif is_regressor(estimator):
        out["training_mse"] = metrics.mean_squared_error(y, predicted)
        out["training_rmse"] = float(np.sqrt(out["training_mse"]))
        out["training_mae"] = metrics.mean_absolute_error(y, predicted)
        out["training_r2"] = metrics.r2_score(y, predicted)
    return {k: float(v) for k, v in out.items()}


def _record(client: Client, run_id: str, estimator: Any, x: Any, y: Any, log_models: bool) -> None:
    client.log_params(run_id, _params(estimator))
    client.set_tags(run_id, {"estimator_class": f"{type(estimator).__module__}.{type(estimator).__name__}",
                             "training_data_hash": _data_hash(x, y)})
    client.log_metrics(run_id, _training_metrics(estimator, x, y))
    if log_models:
        example = x[:5] if hasattr(x, "__getitem__") else None
        client.log_model(run_id, estimator, "model", input_example=example)


def _wrap(cls: type, client: Client | None, log_models: bool) -> None:
    original = cls.__dict__["fit"]

    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _inside_fit.get():
            return original(self, *args, **kwargs)
        x = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        token = _inside_fit.set(True)
        try:
            run = active_run()
            if run is not None:
                result = original(self, *args, **kwargs)
                _record(run.client, run.id, self, x, y, log_models)
                return result
            with start_run(run_name=f"autolog-{type(self).__name__}", client=client or get_client()) as run:
                result = original(self, *args, **kwargs)
                _record(run.client, run.id, self, x, y, log_models)
                return result
        finally:
            _inside_fit.reset(token)

    setattr(fit, _ORIGINAL, original)
    cls.fit = fit  # type: ignore[attr-defined]


def _estimator_classes() -> list[type]:
    from sklearn.pipeline import Pipeline
    from sklearn.utils import all_estimators

    classes = {cls for _, cls in all_estimators()} | {Pipeline}
    return sorted((c for c in classes if "fit" in c.__dict__), key=lambda c: c.__qualname__)


def autolog(*, client: Client | None = None, log_models: bool = True, disable: bool = False) -> None:
    """Record every scikit-learn ``fit`` (``disable=True`` undoes it).

    >>> import shipyard
    >>> shipyard.autolog()                      # doctest: +SKIP
    >>> LogisticRegression().fit(X, y)          # doctest: +SKIP  (a run appears)
    """
    try:
        classes = _estimator_classes()
    except ImportError:
        raise MissingExtra("scikit-learn", "sklearn") from None
    for cls in classes:
        current = cls.__dict__["fit"]
        patched = hasattr(current, _ORIGINAL)
        if patched:
            cls.fit = getattr(current, _ORIGINAL)  # type: ignore[attr-defined]
        if not disable:
            _wrap(cls, client, log_models)
