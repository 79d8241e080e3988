"""Model packages: save any model as a verified folder, load it back behind one interface.

A package is a folder with ``model.yaml`` (flavor, versions, pinned requirements,
signature, input example, sha256 of every file) and the model's own files. Flavors:
``sklearn``, ``xgboost``, ``lightgbm``, ``torch``, ``onnx`` and ``python`` (your class
around any model). Loading verifies every hash before anything is unpickled, against
digests recorded outside the folder; a bare folder loads only with ``trust=True``.

>>> import shipyard.models as sm                                   # doctest: +SKIP
>>> sm.save_model(clf, "pkg", input_example=X[:5])                 # doctest: +SKIP
>>> model = sm.load_model("pkg", trust=True)                       # doctest: +SKIP
>>> model.predict(X[:2]), model.predict_proba([{"f0": 1.0, ...}])  # doctest: +SKIP
"""

from shipyard.models._convert import convert_to_onnx
from shipyard.models._integrity import UntrustedPackage
from shipyard.models._manifest import ModelManifest
from shipyard.models._model import Model
from shipyard.models._package import load_model, save_model
from shipyard.models._signature import ColumnSpec, Signature, infer_signature
from shipyard.models.flavors import Flavor, Predictor, PythonModelContext, flavor_for_model, get_flavor

__all__ = [
    "ColumnSpec",
    "Flavor",
    "Model",
    "ModelManifest",
    "Predictor",
    "PythonModelContext",
    "Signature",
    "UntrustedPackage",
    "convert_to_onnx",
    "flavor_for_model",
    "get_flavor",
    "infer_signature",
    "load_model",
    "save_model",
]
