"""The LightGBM flavor: scikit-learn wrappers and Boosters, as LightGBM model text.

The Booster's text model is all that is stored (no pickle). A wrapper is served by
its Booster: ``LGBMClassifier`` records its classes so ``predict`` returns the same
labels and ``predict_proba`` the same two-column probabilities for binary models.

>>> LightGBMFlavor().matches(object())
False
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.errors import InvalidInput
from shipyard.models.flavors._base import Predictor, defined_in, pinned, reject_options, require

if TYPE_CHECKING:
    from shipyard.models._manifest import ModelManifest

__all__ = ["LightGBMFlavor"]

_FILE = "model.txt"


class LightGBMFlavor:
    """Saves LightGBM models (``LGBMClassifier``, ``LGBMRegressor``, ``Booster``…) natively."""

    name = "lightgbm"
    framework = "lightgbm"

    def matches(self, model: Any) -> bool:
        return defined_in(model, "lightgbm")

    def requirements(self, model: Any) -> list[str]:
        return pinned("lightgbm")

    def save(
        self, model: Any, directory: Path, *, input_example: Any = None, **options: Any
    ) -> dict[str, Any]:
        reject_options(self.name, options)
        booster = getattr(model, "booster_", model)  # a fitted wrapper holds its Booster
        if not hasattr(booster, "save_model") or not defined_in(booster, "lightgbm"):
            raise InvalidInput(f"the lightgbm flavor cannot save a {type(model).__name__}", field="model")
        booster.save_model(str(Path(directory) / _FILE))
        recorded: dict[str, Any] = {"class": type(model).__name__, "file": _FILE}
        classes = getattr(model, "classes_", None)
        if classes is not None:
            recorded["classes"] = np.asarray(classes).tolist()
        return recorded

    def load(self, directory: Path, manifest: ModelManifest) -> Predictor:
        lgb = require("lightgbm", "lightgbm")
        options = manifest.flavor_options
        booster = lgb.Booster(model_file=str(Path(directory) / options.get("file", _FILE)))
        if "classes" not in options:
            return Predictor(native=booster, predict=booster.predict)
        classes = np.asarray(options["classes"])

        def predict_proba(data: Any) -> np.ndarray:
            scores = booster.predict(data)
            # A binary Booster returns P(class 1) only; the wrapper shows both columns.
            return np.column_stack([1.0 - scores, scores]) if scores.ndim == 1 else scores

        def predict(data: Any) -> np.ndarray:
            return classes[np.argmax(predict_proba(data), axis=1)]

        return Predictor(native=booster, predict=predict, predict_proba=predict_proba)
