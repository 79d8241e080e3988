"""The flavor registry: which flavor saves a model, and which one loads a package.

The built-in flavors are listed once below, in the order models are matched
(frameworks first, scikit-learn after XGBoost and LightGBM, whose wrappers derive
from scikit-learn classes, and the custom Python flavor last). The registry is open:
another package adds a flavor under the ``shipyard.flavors`` entry-point group
(name → an object or class implementing :class:`Flavor`), and a flavor object can
also be passed to ``save_model(flavor=...)`` directly.

>>> get_flavor("sklearn").name
'sklearn'
>>> flavor_for_model("model.onnx").name
'onnx'
"""

from __future__ import annotations

from importlib import metadata
from types import MappingProxyType
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.models.flavors._base import Flavor, Predictor
from shipyard.models.flavors._keras import KerasFlavor
from shipyard.models.flavors._lightgbm import LightGBMFlavor
from shipyard.models.flavors._onnx import OnnxFlavor
from shipyard.models.flavors._python import PythonFlavor, PythonModelContext
from shipyard.models.flavors._sklearn import SklearnFlavor
from shipyard.models.flavors._torch import TorchFlavor
from shipyard.models.flavors._xgboost import XGBoostFlavor

__all__ = ["ENTRY_POINT_GROUP", "Flavor", "Predictor", "PythonModelContext", "flavor_for_model", "get_flavor"]

ENTRY_POINT_GROUP = "shipyard.flavors"

_BUILTIN: MappingProxyType[str, Flavor] = MappingProxyType(
    {
        flavor.name: flavor
        for flavor in (
            OnnxFlavor(),
            KerasFlavor(),  # before torch: on the PyTorch backend a Keras model is an nn.Module
            TorchFlavor(),
            XGBoostFlavor(),
            LightGBMFlavor(),
            SklearnFlavor(),
            PythonFlavor(),
        )
    }
)


def _plugins() -> list[metadata.EntryPoint]:
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


def _load_plugin(entry: metadata.EntryPoint) -> Flavor:
    loaded = entry.load()
    flavor = loaded() if isinstance(loaded, type) else loaded
    if not isinstance(flavor, Flavor):
        raise InvalidInput(
            f"entry point {entry.name!r} in {ENTRY_POINT_GROUP} is not a Flavor", field="flavor"
        )
    return flavor


def get_flavor(name: str) -> Flavor:
    """The flavor recorded as ``name`` in a manifest; ``InvalidInput`` if none is known."""
    if name in _BUILTIN:
        return _BUILTIN[name]
    for entry in _plugins():  # read only on a miss: built-in lookups stay free
        if entry.name == name:
            return _load_plugin(entry)
    raise InvalidInput(f"unknown model flavor {name!r}; known: {sorted(_BUILTIN)}", field="flavor")


def flavor_for_model(model: Any) -> Flavor:
    """The first flavor whose ``matches`` accepts ``model``; ``InvalidInput`` if none does."""
    for flavor in _BUILTIN.values():
        if flavor.matches(model):
            return flavor
    for entry in _plugins():
        flavor = _load_plugin(entry)
        if flavor.matches(model):
            return flavor
    raise InvalidInput(
        f"no model flavor saves a {type(model).__module__}.{type(model).__qualname__}; "
        f"pass flavor= one of {sorted(_BUILTIN)} or wrap it in a python-flavor class",
        field="model",
    )
