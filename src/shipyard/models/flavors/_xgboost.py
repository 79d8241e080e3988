"""The XGBoost flavor: scikit-learn wrappers and Boosters, in XGBoost's own format.

Models are written with ``save_model`` as UBJSON (``format="json"`` for readable
JSON), never pickled, and rebuilt as the same class. A Booster predicts with
``inplace_predict``, which skips building a DMatrix per call.

>>> XGBoostFlavor().matches(object())
False
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput
from shipyard.models.flavors._base import Predictor, defined_in, pinned, reject_options, require

if TYPE_CHECKING:
    from shipyard.models._manifest import ModelManifest

__all__ = ["XGBoostFlavor"]

# Classes a package may name: loading never resolves an arbitrary attribute.
_CLASSES = frozenset(
    {"Booster", "XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor"}
)
_FORMATS = {"ubj": "model.ubj", "json": "model.json"}


class XGBoostFlavor:
    """Saves XGBoost models natively (``XGBClassifier``, ``XGBRegressor``, ``Booster``…)."""

    name = "xgboost"
    framework = "xgboost"

    def matches(self, model: Any) -> bool:
        return defined_in(model, "xgboost")

    def requirements(self, model: Any) -> list[str]:
        return pinned("xgboost")

    def save(
        self, model: Any, directory: Path, *, input_example: Any = None, format: str = "ubj", **options: Any
    ) -> dict[str, Any]:
        reject_options(self.name, options)
        if format not in _FORMATS:
            raise InvalidInput(
                f"xgboost format must be one of {sorted(_FORMATS)}, got {format!r}", field="format"
            )
        cls = next((c.__name__ for c in type(model).__mro__ if c.__name__ in _CLASSES), None)
        if cls is None or not defined_in(model, "xgboost"):
            raise InvalidInput(f"the xgboost flavor cannot save a {type(model).__name__}", field="model")
        model.save_model(str(Path(directory) / _FORMATS[format]))
        return {"class": cls, "file": _FORMATS[format]}

    def load(self, directory: Path, manifest: ModelManifest) -> Predictor:
        xgb = require("xgboost", "xgboost")
        options = manifest.flavor_options
        cls = options.get("class")
        if cls not in _CLASSES:
            raise InvalidInput(f"model.yaml names an unknown xgboost class {cls!r}", field="flavor_options")
        model = getattr(xgb, cls)()
        model.load_model(str(Path(directory) / options["file"]))
        if cls == "Booster":
            return Predictor(native=model, predict=model.inplace_predict)
        proba = model.predict_proba if hasattr(model, "predict_proba") else None
        return Predictor(native=model, predict=model.predict, predict_proba=proba)
