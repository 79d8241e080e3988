"""Converting scikit-learn packages to ONNX, so production serves them without pickles.

The converted package must reproduce the original on the stored input example, or
the conversion fails and nothing is written. The check is honest: both models run
through ``load_model`` on the same example, exactly as serving would call them, and
``predict_proba`` (classifiers) or ``predict`` (regressors) must agree within
``tolerance`` (labels must agree exactly).

Precision follows the signature. float32 inputs give a float32 graph. Anything else
numeric (float64, ints, bools) gives a float64 graph (skl2onnx ``DoubleTensorType``),
which matches scikit-learn's float64 arithmetic: a float32 graph drifts by about
1e-7 relative to the output, which breaks 1e-5 as soon as a regressor predicts values
in the hundreds. Comparing against the original on float32-cast inputs would hide
that drift; serving would still show it.

>>> convert_to_onnx("models/churn", "models/churn-onnx", trust=True)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.models._manifest import ModelManifest
from shipyard.models._package import load_model, save_model
from shipyard.models.flavors._base import require

__all__ = ["convert_to_onnx"]

# Opset 18 and ai.onnx.ml 3 (double-precision trees) run on onnxruntime >= 1.15.
_TARGET_OPSET = {"": 18, "ai.onnx.ml": 3}


def convert_to_onnx(
    model_path: str | Path, dest_path: str | Path, *, tolerance: float = 1e-5,
    manifest_sha256: str | None = None, trust: bool = False,
) -> ModelManifest:
    """Convert the scikit-learn package at ``model_path`` into an ONNX package at ``dest_path``.

    The source loads as :func:`~shipyard.models.load_model` loads it: checked against
    ``manifest_sha256`` (its ``model.yaml`` as recorded elsewhere), or, with ``trust``,
    against its own ``model.yaml``; neither is refused (``UntrustedPackage``).

    Raises ``InvalidInput`` (``field="model"``) when the package is not scikit-learn,
    has no input example, has non-numeric inputs, when skl2onnx cannot convert the
    estimator, or when the converted model differs from the original by more than
    ``tolerance`` (the message gives the measured difference).
    """
    source_path, target = Path(model_path), Path(dest_path)
    if target.exists():
        raise InvalidInput(f"{target} already exists; choose a new path", field="path")
    source = load_model(source_path, manifest_sha256=manifest_sha256, trust=trust)
    if source.flavor != "sklearn":
        raise InvalidInput(
            f"only scikit-learn packages convert to ONNX; {source_path} has flavor {source.flavor!r}",
            field="model",
        )
    example, signature = source.input_example, source.signature
    if example is None or signature is None:
        raise InvalidInput(
            f"{source_path} has no input example, which the conversion is checked on; "
            "save the model with input_example=",
            field="model",
        )
    matrix = _numeric_matrix(signature.validate(example))
    estimator = source.unwrap()
    skl2onnx = require("skl2onnx", "onnx")
    try:
        graph = skl2onnx.to_onnx(
            estimator,
            matrix[:1],
            options={"zipmap": False} if source.has_predict_proba else None,
            target_opset=_TARGET_OPSET,
        )
    except Exception as exc:  # skl2onnx raises bare RuntimeErrors and more for unknown models
        raise InvalidInput(
            f"skl2onnx cannot convert {type(estimator).__name__} from {source_path}: {exc}", field="model"
        ) from exc

    original = source.predict(example)
    staging = target.parent / f".{target.name}.{uuid.uuid4().hex}.converting"
    manifest = save_model(
        graph,
        staging,
        flavor="onnx",
        input_example=example,
        signature=signature,
        source_run_id=source.manifest.source_run_id,
        metadata=source.manifest.metadata,
        options={"ravel_output": np.ndim(original) == 1},
    )
    try:
        converted = load_model(staging, manifest_sha256=manifest.digest())  # the manifest just written
        difference = _check(source, converted, example, original, tolerance, source_path)
        manifest = replace(
            manifest,
            metadata={
                **manifest.metadata,
                "converted_from": {
                    "flavor": source.flavor,
                    "manifest_sha256": source.manifest.digest(),
                    "max_abs_diff": difference,
                    "tolerance": tolerance,
                    "onnx_input_dtype": str(matrix.dtype),
                },
            },
        )
        manifest.write(staging)  # model.yaml is not among the hashed files
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _numeric_matrix(validated: Any) -> np.ndarray:
    if isinstance(validated, pd.DataFrame):
        validated = validated.to_numpy()
    if not isinstance(validated, np.ndarray) or validated.dtype.kind not in "biuf" or validated.ndim != 2:
        raise InvalidInput(
            "ONNX conversion supports models whose inputs form one numeric matrix", field="model"
        )
    return validated if validated.dtype == np.float32 else validated.astype(np.float64)


def _check(source: Any, converted: Any, example: Any, original: Any, tolerance: float, path: Path) -> float:
    labels = converted.predict(example)
    if source.has_predict_proba:
        if not converted.has_predict_proba:
            raise InvalidInput(f"the ONNX graph for {path} lost predict_proba", field="model")
        if not np.array_equal(np.asarray(original), np.asarray(labels)):
            raise InvalidInput(
                f"ONNX conversion of {path} failed: predicted labels differ on the input example",
                field="model",
            )
        expected, actual = source.predict_proba(example), converted.predict_proba(example)
    else:
        expected, actual = original, labels
    expected, actual = np.asarray(expected, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    if expected.shape != actual.shape:
        raise InvalidInput(
            f"ONNX conversion of {path} failed: output shape {actual.shape} != {expected.shape}",
            field="model",
        )
    difference = float(np.max(np.abs(expected - actual))) if expected.size else 0.0
    if not difference <= tolerance:  # also catches NaN
        raise InvalidInput(
            f"ONNX conversion of {path} failed: outputs differ by up to {difference:.3g} on the input "
            f"example (tolerance {tolerance:g})",
            field="model",
            max_abs_diff=difference,
        )
    return difference
