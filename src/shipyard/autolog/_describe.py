"""What describes a fit: the estimator's parameters, its training data and metrics.

Parameters are ``get_params(deep=True)`` as strings, so a Pipeline's ``lr__C`` sits
beside its ``steps``; nested estimators appear by class and callables by name (never
by a memory address, which would differ between two identical runs).
"""

from __future__ import annotations

import hashlib
import inspect
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FitInputs", "class_tags", "clipped", "data_hash", "example_rows", "params_of", "render",
           "training_metrics"]

_EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class FitInputs:
    """X, y and sample_weight of one fit call (None where the call has none)."""

    x: Any
    y: Any
    sample_weight: Any


def params_of(estimator: Any) -> dict[str, str]:
    """``get_params(deep=True)``, each value rendered by :func:`render`."""
    return {key: render(value) for key, value in estimator.get_params(deep=True).items()}


def render(value: Any) -> str:
    """A parameter value as a param string: estimators by class, callables by qualified name."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        text = type(value).__name__
    elif callable(value) and hasattr(value, "__qualname__"):
        text = f"{getattr(value, '__module__', None) or ''}.{value.__qualname__}".lstrip(".")
    else:
        text = str(value)
    return text


def clipped(params: Mapping[str, str], limit: int) -> dict[str, str]:
    """``params`` with each value cut to ``limit`` characters: the tracking store's limit (a
    server's own, for a remote client), so that a long value (a big array's repr) is recorded
    shortened rather than refused."""
    return {key: value[:limit] for key, value in params.items()}


def class_tags(estimator: Any) -> dict[str, str]:
    cls = type(estimator)
    return {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__name__}"}


def data_hash(*arrays: Any) -> str:
    """A sha256 of the training data: equal data, equal hash (whatever object holds it)."""
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


def example_rows(x: Any) -> Any:
    """The first rows of the training data, when they are a kind a model package takes."""
    import numpy as np
    import pandas as pd

    if isinstance(x, pd.DataFrame | pd.Series):
        return x.iloc[:_EXAMPLE_ROWS]
    if isinstance(x, np.ndarray | list | tuple):
        return x[:_EXAMPLE_ROWS]
    return None  # a sparse matrix, a generator: the model is stored without a signature


def training_metrics(estimator: Any, inputs: FitInputs) -> dict[str, float]:
    """Metrics of the fitted estimator on its own training data.

    Classifiers: accuracy, weighted precision/recall/F1, log loss and (binary) ROC AUC;
    rows labelled -1 (unlabelled, for semi-supervised classifiers) are left out.
    Regressors: MSE, RMSE, MAE, R². Any estimator with ``score``: ``training_score``.
    Metrics that cannot be computed for this estimator are left out with a
    ``RuntimeWarning``: they never fail the fit.
    """
    from sklearn.base import is_classifier, is_regressor

    data = _labelled(estimator, inputs) if is_classifier(estimator) else inputs
    families: list[Callable[[Any, FitInputs], dict[str, Any]]] = []
    if data.y is not None and hasattr(estimator, "predict"):
        if is_classifier(estimator):
            families += [_label_metrics, _probability_metrics]
        elif is_regressor(estimator):
            families.append(_regression_metrics)
    if hasattr(estimator, "score") and (data.y is not None or _score_needs_no_y(estimator)):
        families.append(_score)
    out: dict[str, float] = {}
    for family in families:
        try:
            out.update({name: float(value) for name, value in family(estimator, data).items()})
        except Exception as error:  # one estimator's quirk must not cost the user a finished fit
            warnings.warn(f"autolog: {family.__name__.strip('_').replace('_', ' ')} of "
                          f"{type(estimator).__name__} not recorded: {error}", RuntimeWarning, stacklevel=2)
    return out


def _labelled(estimator: Any, inputs: FitInputs) -> FitInputs:
    import numpy as np

    labels = np.asarray(inputs.y) if inputs.y is not None else None
    if labels is None or labels.ndim != 1 or -1 in getattr(estimator, "classes_", [-1]):
        return inputs
    keep = labels != -1
    if keep.all():
        return inputs
    x = inputs.x
    rows = [row for row, kept in zip(x, keep, strict=True) if kept] if isinstance(x, list) else x[keep]
    weight = None if inputs.sample_weight is None else np.asarray(inputs.sample_weight)[keep]
    return FitInputs(rows, labels[keep], weight)


def _label_metrics(estimator: Any, data: FitInputs) -> dict[str, Any]:
    import numpy as np
    from sklearn import metrics

    if np.ndim(data.y) > 1:  # multi-output: weighted per-class scores are undefined
        return {}
    y, weight = data.y, data.sample_weight
    predicted = estimator.predict(data.x)
    out = {"training_accuracy": metrics.accuracy_score(y, predicted, sample_weight=weight)}
    for name in ("precision", "recall", "f1"):
        scorer = getattr(metrics, f"{name}_score")
        out[f"training_{name}"] = scorer(y, predicted, average="weighted", zero_division=0, sample_weight=weight)
    return out


def _probability_metrics(estimator: Any, data: FitInputs) -> dict[str, Any]:
    import numpy as np
    from sklearn import metrics

    if np.ndim(data.y) > 1 or not hasattr(estimator, "predict_proba"):
        return {}
    proba = estimator.predict_proba(data.x)
    out = {"training_log_loss": metrics.log_loss(data.y, proba, labels=estimator.classes_,
                                                 sample_weight=data.sample_weight)}
    if proba.shape[1] == 2:
        out["training_roc_auc"] = metrics.roc_auc_score(data.y, proba[:, 1], sample_weight=data.sample_weight)
    return out


def _regression_metrics(estimator: Any, data: FitInputs) -> dict[str, Any]:
    import numpy as np
    from sklearn import metrics

    y, weight = data.y, data.sample_weight
    predicted = estimator.predict(data.x)
    mse = metrics.mean_squared_error(y, predicted, sample_weight=weight)
    return {
        "training_mse": mse,
        "training_rmse": np.sqrt(mse),
        "training_mae": metrics.mean_absolute_error(y, predicted, sample_weight=weight),
        "training_r2": metrics.r2_score(y, predicted, sample_weight=weight),
    }


def _score(estimator: Any, data: FitInputs) -> dict[str, Any]:
    args = (data.x,) if data.y is None else (data.x, data.y)
    if data.sample_weight is not None and "sample_weight" in inspect.signature(estimator.score).parameters:
        return {"training_score": estimator.score(*args, sample_weight=data.sample_weight)}
    return {"training_score": estimator.score(*args)}


def _score_needs_no_y(estimator: Any) -> bool:
    """Whether ``score(X)`` alone is a valid call (KMeans, PCA, GaussianMixture)."""
    parameters = list(inspect.signature(estimator.score).parameters.values())
    return len(parameters) < 2 or parameters[1].default is not inspect.Parameter.empty
