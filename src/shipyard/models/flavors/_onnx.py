"""The ONNX flavor: an ``onnx.ModelProto`` (or ``.onnx`` file) run with onnxruntime.

Inputs are matched to the graph's inputs by name and cast to their element types
(the session's types are read once, at load). One graph input takes the whole
validated matrix; a graph with one input per column gets each column as ``(n, 1)``.
``predict`` returns the first output (or ``predict_output``); ``predict_proba`` is
offered when the graph has a probabilities output (``probabilities``,
``output_probability``, or ``proba_output``). ``ravel_output`` flattens an ``(n, 1)``
result to ``(n,)``, as scikit-learn regressors return.

>>> OnnxFlavor().matches("model.onnx")
True
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.models.flavors._base import Predictor, defined_in, pinned, reject_options, require

if TYPE_CHECKING:
    from shipyard.models._manifest import ModelManifest

__all__ = ["OnnxFlavor"]

_FILE = "model.onnx"
_PROBA_NAMES = ("probabilities", "output_probability", "probability", "proba")
_NUMPY_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}


class OnnxFlavor:
    """Saves ONNX graphs and serves them with onnxruntime (no pickle anywhere)."""

    name = "onnx"
    framework = "onnxruntime"

    def matches(self, model: Any) -> bool:
        if isinstance(model, str | os.PathLike):
            return str(model).endswith(".onnx")
        return defined_in(model, "onnx")

    def requirements(self, model: Any) -> list[str]:
        return pinned("onnx", "onnxruntime")

    def save(
        self,
        model: Any,
        directory: Path,
        *,
        input_example: Any = None,
        predict_output: str | None = None,
        proba_output: str | None = None,
        ravel_output: bool = False,
        **options: Any,
    ) -> dict[str, Any]:
        reject_options(self.name, options)
        onnx = require("onnx", "onnx")
        target = Path(directory) / _FILE
        if isinstance(model, str | os.PathLike):
            shutil.copyfile(model, target)
            model = onnx.load(str(target), load_external_data=False)
        else:
            onnx.save_model(model, str(target))
        outputs = [out.name for out in model.graph.output]
        if proba_output is None:
            proba_output = next((name for name in outputs if name in _PROBA_NAMES), None)
        if predict_output is None:
            predict_output = next((name for name in outputs if name != proba_output), outputs[0])
        for name in (predict_output, proba_output):
            if name is not None and name not in outputs:
                raise InvalidInput(f"the ONNX graph has no output {name!r}; it has {outputs}", field="model")
        return {
            "file": _FILE,
            "predict_output": predict_output,
            "proba_output": proba_output,
            "ravel_output": bool(ravel_output),
        }

    def load(self, directory: Path, manifest: ModelManifest) -> Predictor:
        ort = require("onnxruntime", "onnx")
        options = manifest.flavor_options
        session = ort.InferenceSession(
            str(Path(directory) / options["file"]), providers=["CPUExecutionProvider"]
        )
        feed = _feeder(session, manifest.signature.names if manifest.signature else None)
        ravel = bool(options.get("ravel_output"))

        def output(name: str) -> Callable[[Any], Any]:
            names = [name]

            def run(data: Any) -> Any:
                result = session.run(names, feed(data))[0]
                return result.ravel() if ravel and result.ndim == 2 and result.shape[1] == 1 else result

            return run

        proba = options.get("proba_output")
        return Predictor(
            native=session,
            predict=output(options["predict_output"]),
            predict_proba=output(proba) if proba else None,
        )


def _feeder(session: Any, columns: list[str] | None) -> Callable[[Any], dict[str, np.ndarray]]:
    """Build the function that maps validated input onto the graph's named inputs."""
    inputs = [(i.name, _NUMPY_TYPES.get(i.type), len(i.shape or ())) for i in session.get_inputs()]

    def cast(array: Any, dtype: Any) -> np.ndarray:
        array = np.asarray(array)
        return array if dtype is None or array.dtype == dtype else array.astype(dtype)

    if len(inputs) == 1:
        name, dtype, _ = inputs[0]

        def single(data: Any) -> dict[str, np.ndarray]:
            if isinstance(data, pd.DataFrame):
                data = data.to_numpy()
            elif isinstance(data, Mapping):
                data = data[name] if name in data else next(iter(data.values()))
            return {name: cast(data, dtype)}

        return single

    position = {column: j for j, column in enumerate(columns or [])}

    def many(data: Any) -> dict[str, np.ndarray]:
        feeds = {}
        for name, dtype, rank in inputs:
            if isinstance(data, Mapping | pd.DataFrame):
                value = np.asarray(data[name])
            elif name in position:
                value = np.asarray(data)[:, position[name]]
            else:
                raise InvalidInput(f"the ONNX graph input {name!r} is not in the signature", field=name)
            # One graph input per column: scikit-learn converters declare them (n, 1).
            feeds[name] = cast(value.reshape(-1, 1) if value.ndim == 1 and rank == 2 else value, dtype)
        return feeds

    return many
