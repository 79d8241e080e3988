"""The Keras 3 flavor: models saved in Keras's own ``.keras`` format, on any backend.

A model is written with ``model.save("model.keras")`` (architecture, weights and
optimizer state in one zip, no pickle) and read back with
``keras.saving.load_model``. The format does not depend on the backend, so a model
trained on TensorFlow loads on PyTorch and the reverse; the backend it was saved
with is recorded, and pinned in the requirements.

Keras chooses its backend once, when first imported, from ``KERAS_BACKEND``
(TensorFlow by default). When Shipyard imports Keras first, with no backend chosen and no
TensorFlow installed but PyTorch there, it chooses ``torch`` (:func:`choose_backend`); set
``KERAS_BACKEND`` yourself for another.

For prediction, a DataFrame is passed as its 2-D array and a dict of arrays as the
model's named inputs; the model is called directly (``training=False``, without
autograd on PyTorch) rather than through ``predict``'s dataset machinery.

>>> KerasFlavor().matches(object())
False
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shipyard.errors import ConfigError, InvalidInput, MissingExtra
from shipyard.models.flavors._base import Predictor, defined_in, pinned, reject_options

if TYPE_CHECKING:
    from shipyard.models._manifest import ModelManifest

__all__ = ["KerasFlavor"]

_FILE = "model.keras"
_BACKEND_DISTRIBUTIONS = {"torch": "torch", "tensorflow": "tensorflow", "jax": "jax"}


class KerasFlavor:
    """Saves Keras 3 models (``Sequential``, functional and subclassed ``keras.Model``)."""

    name = "keras"
    framework = "keras"

    def matches(self, model: Any) -> bool:
        return defined_in(model, "keras")

    def requirements(self, model: Any) -> list[str]:
        backend = _import_keras(None).backend.backend()
        return pinned("keras", _BACKEND_DISTRIBUTIONS.get(backend, backend))

    def save(
        self, model: Any, directory: Path, *, input_example: Any = None, **options: Any
    ) -> dict[str, Any]:
        reject_options(self.name, options)
        keras = _import_keras(None)
        if not isinstance(model, keras.Model):
            raise InvalidInput(f"the keras flavor cannot save a {type(model).__name__}", field="model")
        with _arrays_without_copy_keyword():
            model.save(str(Path(directory) / _FILE))
        return {"file": _FILE, "backend": keras.backend.backend(), "keras_version": keras.__version__}

    def load(self, directory: Path, manifest: ModelManifest) -> Predictor:
        options = manifest.flavor_options
        keras = _import_keras(options.get("backend"))
        model = keras.saving.load_model(str(Path(directory) / options.get("file", _FILE)), compile=False)
        return Predictor(native=model, predict=_forward(keras, model))


def _forward(keras: ModuleType, model: Any) -> Callable[[Any], Any]:
    """``model(x, training=False)`` as numpy: no per-call dataset machinery, as serving wants."""
    if keras.backend.backend() != "torch":
        return lambda data: _to_numpy(model(_inputs(data), training=False))
    import torch

    def predict(data: Any) -> Any:
        with torch.no_grad():  # no autograd graph for a prediction
            return _to_numpy(model(_inputs(data), training=False))

    return predict


@contextmanager
def _arrays_without_copy_keyword() -> Iterator[None]:
    # Keras reads its variables with np.array(tensor), which warns under NumPy 2 (the values are right).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept a copy keyword",
                                category=DeprecationWarning)
        yield


def choose_backend() -> None:
    """Pick PyTorch as Keras's backend when none is chosen and TensorFlow (Keras's default) is
    missing but PyTorch is there: the Keras extra needs no TensorFlow. Only before Keras is
    first imported; an explicit ``KERAS_BACKEND`` always wins."""
    if "KERAS_BACKEND" in os.environ or "keras" in sys.modules:
        return
    if not _importable("tensorflow") and _importable("torch"):
        os.environ["KERAS_BACKEND"] = "torch"


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ValueError, AttributeError):  # a module blocked in sys.modules (set to None)
        return False


def _import_keras(saved_with: str | None) -> ModuleType:
    """Keras, or an error naming the fix: the pip install, or the backend to choose."""
    choose_backend()
    try:
        import keras
    except ImportError as error:
        if error.name is None or error.name.partition(".")[0] == "keras":
            raise MissingExtra("keras", "keras") from None
        backend = error.name.partition(".")[0]
        raise ConfigError(
            f"keras could not import its backend {backend!r}: set KERAS_BACKEND=torch (or jax) before keras "
            f"is first imported, or install {backend}"
            + (f" (the model was saved with the {saved_with} backend)" if saved_with else ""),
            module=backend,
        ) from None
    return keras


def _inputs(data: Any) -> Any:
    if isinstance(data, pd.DataFrame):
        return data.to_numpy()
    if isinstance(data, dict):
        return {name: np.asarray(values) for name, values in data.items()}
    return data


def _to_numpy(output: Any) -> Any:
    if isinstance(output, dict):
        return {name: _to_numpy(value) for name, value in output.items()}
    if isinstance(output, tuple | list):
        return tuple(_to_numpy(value) for value in output)
    if hasattr(output, "detach"):  # a torch tensor
        return output.detach().cpu().numpy()
    if hasattr(output, "numpy"):  # a TensorFlow tensor
        return output.numpy()
    return np.asarray(output)
