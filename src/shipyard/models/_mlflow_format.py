"""Loading packages in MLflow's model format (a folder with an ``MLmodel`` file).

``mlflow.sklearn.log_model`` writes ``MLmodel`` (flavors, signature) beside the
serialised estimator: ``model.skops`` (MLflow 3's default), ``model.pkl``
(pickle or cloudpickle). Shipyard loads the ``sklearn`` flavor of such a package into
the same :class:`~shipyard.models.Model` as its own packages, so it predicts, serves
and is monitored the same way. Other MLflow flavors are refused by name.

An MLflow package records no hashes of its own, so the caller passes the digests it
recorded when the files were stored (the registry's per-file list, or a run's
artifact listing): every file is checked against them before anything is
deserialised. ``files=None`` loads the folder as it is, which only ``trust=True``
allows (a local folder whose writers you trust).

>>> model = load_mlflow_model("mlruns/…/model", files=None, trust=True)  # doctest: +SKIP
>>> model.predict([[0.1, 0.2, 0.3]])                         # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from shipyard.errors import InvalidInput
from shipyard.models._integrity import untrusted, verify_files
from shipyard.models._manifest import ModelManifest
from shipyard.models._model import Model
from shipyard.models._signature import ColumnSpec, Signature
from shipyard.models.flavors import get_flavor
from shipyard.store.artifacts import safe_relpath

__all__ = ["MLMODEL_FILE", "is_mlflow_package", "load_mlflow_model", "signature_from_mlflow"]

MLMODEL_FILE = "MLmodel"
_SERIALIZATIONS = ("skops", "pickle", "cloudpickle")
# MLflow's column types as numpy dtypes (mlflow.types.DataType).
_DTYPES = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32", "boolean": "bool",
           "string": "string", "binary": "object", "datetime": "datetime64[ns]"}  # fmt: skip


def is_mlflow_package(folder: str | Path) -> bool:
    """Whether ``folder`` holds an MLflow model (``MLmodel``) rather than a Shipyard one."""
    folder = Path(folder)
    return (folder / MLMODEL_FILE).is_file() and not (folder / "model.yaml").exists()


def _spec(item: Mapping[str, Any], index: int) -> tuple[str, ColumnSpec]:
    if item.get("type") == "tensor":
        tensor = item.get("tensor-spec") or {}
        return "tensor", ColumnSpec(str(item.get("name") or "input"), str(tensor["dtype"]),
                                    shape=tuple(int(d) for d in tensor["shape"]))
    return "columns", ColumnSpec(str(item["name"]), _DTYPES[str(item["type"])],
                                 optional=item.get("required") is False)


def signature_from_mlflow(data: Mapping[str, Any] | None) -> Signature | None:
    """Shipyard's signature for MLflow's (JSON strings of column or tensor specs); None when
    there is none or it uses what Shipyard cannot check (unnamed columns, objects, arrays)."""
    if not data or not data.get("inputs"):
        return None
    inputs = _specs(data["inputs"])
    kinds = {kind for kind, _ in inputs or []}
    if not inputs or len(kinds) != 1:
        return None
    outputs = _specs(data.get("outputs"))  # MLflow often leaves output columns unnamed: then none
    try:
        return Signature(inputs=[spec for _, spec in inputs],
                         outputs=None if outputs is None else [spec for _, spec in outputs],
                         kind=kinds.pop())  # type: ignore[arg-type]
    except InvalidInput:  # e.g. an optional integer column, which cannot hold a missing value
        return None


def _specs(text: Any) -> list[tuple[str, ColumnSpec]] | None:
    """MLflow's JSON list of specs as (kind, spec) pairs; None when absent or not convertible."""
    if not text:
        return None
    try:
        return [_spec(item, i) for i, item in enumerate(json.loads(text))]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _read_mlmodel(folder: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load((folder / MLMODEL_FILE).read_bytes())
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"no MLflow model at {folder}: cannot read {MLMODEL_FILE} ({exc})", field="path") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"no MLflow model at {folder}: {MLMODEL_FILE} is not a mapping", field="path")
    return data


def load_mlflow_model(path: str | Path, *, files: Mapping[str, str] | None, trust: bool = False) -> Model:
    """Load the scikit-learn flavor of the MLflow model at ``path``.

    With ``files`` (relative path → sha256, ``MLmodel`` included) every file is verified
    first: ``IntegrityError`` names one that is modified, missing or unlisted. Without
    them nothing vouches for the files, and the load is refused (``UntrustedPackage``)
    unless ``trust=True``. Raises ``InvalidInput`` when the package has no ``sklearn``
    flavor or an unknown serialisation, and ``MissingExtra`` when skops or scikit-learn
    is absent.
    """
    folder = Path(path)
    if files is not None:
        verify_files(folder, files)  # before a byte is deserialised
    meta = _read_mlmodel(folder)
    flavors = meta.get("flavors") or {}
    conf = flavors.get("sklearn")
    if not isinstance(conf, dict):
        raise InvalidInput(
            f"the MLflow model at {folder} has flavors {sorted(flavors)}; Shipyard loads MLflow's sklearn flavor only",
            field="flavor",
        )
    serialization = str(conf.get("serialization_format") or "cloudpickle")
    if serialization not in _SERIALIZATIONS:
        raise InvalidInput(f"unknown sklearn serialization_format {serialization!r} in {folder / MLMODEL_FILE}",
                           field="serialization_format")
    options: dict[str, Any] = {"file": safe_relpath(str(conf.get("pickled_model") or "model.pkl")),
                               "serialization": serialization}
    if serialization == "skops":
        options["trusted_types"] = list(conf.get("skops_trusted_types") or [])
    manifest = ModelManifest(
        flavor="sklearn", framework="scikit-learn", framework_version=str(conf.get("sklearn_version", "unknown")),
        flavor_options=options, signature=signature_from_mlflow(meta.get("signature")),
        files=dict(files or {}), source_run_id=meta.get("run_id"),
        metadata={"format": "mlflow", "mlflow_version": meta.get("mlflow_version"),
                  "model_id": meta.get("model_id")},
    )
    if files is None and not trust:  # the last step before anything is deserialised
        raise untrusted(folder, MLMODEL_FILE)
    return Model(manifest, get_flavor("sklearn").load(folder, manifest), folder)
