"""The custom Python flavor: your own class around any model, for pre/post-processing.

The model is an instance of a class with ``load(context)`` and ``predict(inputs)``
(``predict_proba(inputs)`` too, if it has one). ``artifacts`` (name → a local file or
folder) are copied into the package; at load time ``context.artifacts[name]`` is the
local path of the copy. A nested Shipyard model package is just such an artifact,
opened with ``load_model(context.artifacts[name], trust=True)`` inside ``load``: its
files, ``model.yaml`` included, were checked against the outer package's record
before ``load`` runs.

How the instance is stored:

* **by import path** (``module:qualname`` plus constructor parameters) when the class
  can be imported and the instance is fully described by its ``__init__`` keyword
  arguments, stored under the same names with plain YAML values (the scikit-learn
  contract). Nothing is pickled; loading imports the class and calls it.
* **with cloudpickle** otherwise (a class defined in ``__main__`` or in a function,
  state beyond the constructor): ``python_model.pkl``, which needs cloudpickle and
  the same Python to load.

``predict`` receives a DataFrame when the signature has columns, otherwise the
validated ndarray or dict of arrays.

>>> class Shout:
...     def load(self, context): pass
...     def predict(self, inputs): return inputs
>>> PythonFlavor().matches(Shout())
True
"""

from __future__ import annotations

import importlib
import inspect
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.models.flavors._base import Predictor, pinned, reject_options, require

if TYPE_CHECKING:
    from shipyard.models._manifest import ModelManifest

__all__ = ["PythonFlavor", "PythonModelContext"]

_PICKLE = "python_model.pkl"
_ARTIFACT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class PythonModelContext:
    """What ``load(context)`` receives: the package folder and its artifacts' local paths."""

    directory: Path
    artifacts: Mapping[str, str] = field(default_factory=dict)


class PythonFlavor:
    """Saves an instance of any class with ``load(context)`` and ``predict(inputs)``."""

    name = "python"
    framework = "python"

    def matches(self, model: Any) -> bool:
        return callable(getattr(model, "load", None)) and callable(getattr(model, "predict", None))

    def requirements(self, model: Any) -> list[str]:
        return [] if _import_path(model) else pinned("cloudpickle")

    def save(
        self,
        model: Any,
        directory: Path,
        *,
        input_example: Any = None,
        artifacts: Mapping[str, str | Path] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        reject_options(self.name, options)
        if not self.matches(model):
            raise InvalidInput(
                f"a python-flavor model needs load(context) and predict(inputs); "
                f"{type(model).__name__} lacks them",
                field="model",
            )
        recorded: dict[str, Any] = {"artifacts": _copy_artifacts(artifacts or {}, Path(directory))}
        found = _import_path(model)
        if found is not None:
            recorded.update({"loader": "import", "class": found[0], "params": found[1]})
        else:
            cloudpickle = require("cloudpickle", "python")
            (Path(directory) / _PICKLE).write_bytes(cloudpickle.dumps(model))
            recorded.update({"loader": "cloudpickle", "file": _PICKLE})
        return recorded

    def load(self, directory: Path, manifest: ModelManifest) -> Predictor:
        directory = Path(directory)
        options = manifest.flavor_options
        if options.get("loader") == "import":
            model = _instantiate(options["class"], options.get("params") or {})
        else:
            cloudpickle = require("cloudpickle", "python")
            # Only reached after verify_files has checked this file's sha256.
            with open(directory / options.get("file", _PICKLE), "rb") as handle:
                model = cloudpickle.load(handle)
        artifacts = {name: str(directory / rel) for name, rel in (options.get("artifacts") or {}).items()}
        model.load(PythonModelContext(directory=directory, artifacts=artifacts))
        signature = manifest.signature
        columns = signature.names if signature is not None and signature.kind == "columns" else None
        proba = getattr(model, "predict_proba", None)
        return Predictor(
            native=model,
            predict=_framed(model.predict, columns),
            predict_proba=_framed(proba, columns) if callable(proba) else None,
        )


def _framed(method: Callable[[Any], Any], columns: list[str] | None) -> Callable[[Any], Any]:
    if columns is None:
        return method

    def call(data: Any) -> Any:
        if isinstance(data, np.ndarray):
            data = pd.DataFrame(data, columns=columns, copy=False)
        elif not isinstance(data, pd.DataFrame):
            data = pd.DataFrame(data)
        return method(data)

    return call


def _copy_artifacts(artifacts: Mapping[str, str | Path], directory: Path) -> dict[str, str]:
    recorded = {}
    for name, source in artifacts.items():
        if not _ARTIFACT_NAME.fullmatch(name) or name in (".", ".."):
            raise InvalidInput(f"artifact name {name!r} must be a plain file name", field="artifacts")
        source = Path(source)
        target = directory / "artifacts" / name
        if source.is_dir():
            shutil.copytree(source, target)
            recorded[name] = f"artifacts/{name}"
        elif source.is_file():
            target.mkdir(parents=True)
            shutil.copyfile(source, target / source.name)
            recorded[name] = f"artifacts/{name}/{source.name}"
        else:
            raise InvalidInput(f"artifact {name!r}: {source} does not exist", field="artifacts")
    return recorded


def _plain(value: Any) -> bool:
    """Whether YAML round-trips ``value`` unchanged (tuples would come back as lists)."""
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _resolve(path: str) -> Any:
    module, _, qualname = path.partition(":")
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def _import_path(model: Any) -> tuple[str, dict[str, Any]] | None:
    """``(module:qualname, params)`` when the instance can be rebuilt from them, else None."""
    cls = type(model)
    path = f"{cls.__module__}:{cls.__qualname__}"
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        return None
    try:
        if _resolve(path) is not cls:
            return None
        parameters = inspect.signature(cls).parameters
    except (ImportError, AttributeError, TypeError, ValueError):
        return None
    state = getattr(model, "__dict__", None)
    if state is None:  # __slots__: we cannot see the whole state
        return None
    params = {}
    for name, parameter in parameters.items():
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            return None
        if name in state:
            params[name] = state[name]
        elif parameter.default is parameter.empty:
            return None
    if set(state) - set(params) or not all(_plain(v) for v in params.values()):
        return None  # state the constructor does not rebuild, or values YAML would change
    return path, params


def _instantiate(path: str, params: Mapping[str, Any]) -> Any:
    try:
        cls = _resolve(path)
    except (ImportError, AttributeError) as exc:
        raise InvalidInput(
            f"cannot import the model class {path} ({exc}); install the code that defines it",
            field="flavor_options",
        ) from None
    if not inspect.isclass(cls) or not PythonFlavor().matches(cls):
        raise InvalidInput(f"{path} is not a class with load() and predict()", field="flavor_options")
    return cls(**params)
