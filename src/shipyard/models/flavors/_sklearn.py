"""The scikit-learn flavor: estimators and Pipelines, stored with joblib.

joblib is a pickle, so the package hashes are checked before it is read. A model
fitted on a DataFrame (it has ``feature_names_in_``) gets a DataFrame with those
columns; any other model gets the validated ndarray straight through, so a
single-row ``predict`` on a tensor signature builds no DataFrame at all.

Loading also reads ``"pickle"`` (and cloudpickle) and ``"skops"`` files, the layouts
MLflow writes, so other package formats can reuse this flavor by recording ``file``
and ``serialization`` (and ``trusted_types`` for skops).

>>> from sklearn.linear_model import LinearRegression
>>> SklearnFlavor().matches(LinearRegression())
True
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shipyard.models.flavors._base import Predictor, defined_in, pinned, reject_options, require

if TYPE_CHECKING:
    from shipyard.models._manifest import ModelManifest

__all__ = ["SklearnFlavor"]

_FILE = "model.joblib"
# Import names whose distribution is named differently; others are looked up as is.
_DISTRIBUTIONS = {"sklearn": "scikit-learn", "imblearn": "imbalanced-learn"}


class SklearnFlavor:
    """Saves any scikit-learn estimator (Pipelines included) with joblib."""

    name = "sklearn"
    framework = "scikit-learn"

    def matches(self, model: Any) -> bool:
        return defined_in(model, "sklearn")

    def requirements(self, model: Any) -> list[str]:
        # A Pipeline may hold estimators from other libraries (an XGBClassifier
        # step): the pickle needs them installed too, at the same versions.
        packages = {"sklearn"}
        get_params = getattr(model, "get_params", None)
        params = get_params(deep=True) if callable(get_params) else {}
        for value in params.values():
            top = type(value).__module__.split(".")[0]
            if top not in ("builtins", "numpy", "shipyard") and hasattr(value, "fit"):
                packages.add(top)
        names = []
        for top in sorted(packages):
            name = _DISTRIBUTIONS.get(top, top)
            try:
                metadata.version(name)
            except metadata.PackageNotFoundError:  # a local module, not an installed library
                continue
            names.append(name)
        return pinned(*names, "joblib")

    def save(
        self, model: Any, directory: Path, *, input_example: Any = None, **options: Any
    ) -> dict[str, Any]:
        reject_options(self.name, options)
        joblib = require("joblib", "sklearn")
        joblib.dump(model, Path(directory) / _FILE)
        return {"file": _FILE, "serialization": "joblib"}

    def load(self, directory: Path, manifest: ModelManifest) -> Predictor:
        require("sklearn", "sklearn")
        options = manifest.flavor_options
        path = Path(directory) / options.get("file", _FILE)
        serialization = options.get("serialization", "joblib")
        if serialization == "joblib":
            model = require("joblib", "sklearn").load(path)
        elif serialization == "skops":  # MLflow 3's default: only trusted types are rebuilt
            skops_io = require("skops.io", "mlflow")
            model = skops_io.load(path, trusted=options.get("trusted_types") or None)
        else:
            # Only reached after verify_files has checked this file's sha256.
            with open(path, "rb") as handle:
                model = pickle.load(handle)
        return _predictor(model)


def _predictor(model: Any) -> Predictor:
    proba = model.predict_proba if hasattr(model, "predict_proba") else None
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return Predictor(native=model, predict=_arrays(model.predict), predict_proba=_arrays(proba))
    columns = list(names)
    return Predictor(
        native=model, predict=_frames(model.predict, columns), predict_proba=_frames(proba, columns)
    )


def _arrays(method: Callable[[Any], Any] | None) -> Any:
    """The method itself when input is an ndarray; DataFrames lose their names first."""
    if method is None:
        return None

    def call(data: Any) -> Any:
        if type(data) is np.ndarray:
            return method(data)
        if isinstance(data, pd.DataFrame):
            # Fitted without names: passing names would make scikit-learn warn.
            return method(data.to_numpy())
        if isinstance(data, dict):
            return method(pd.DataFrame(data).to_numpy())
        return method(data)

    return call


def _frames(method: Callable[[Any], Any] | None, columns: list[str]) -> Any:
    """Wrap ``method`` so it always sees a DataFrame with the fitted column names."""
    if method is None:
        return None

    def call(data: Any) -> Any:
        if isinstance(data, pd.DataFrame):
            frame = data if list(data.columns) == columns else data[columns]
        elif isinstance(data, dict):
            frame = pd.DataFrame(data)[columns]
        else:
            frame = pd.DataFrame(np.asarray(data), columns=columns, copy=False)
        return method(frame)

    return call
