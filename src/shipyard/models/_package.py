"""Writing and reading model packages: a folder with ``model.yaml`` and the model's files.

``save_model`` builds the package in a temporary folder beside ``path``, hashes every
file, writes ``model.yaml`` last and renames the folder into place, so a package is
either complete or absent. ``load_model`` checks every file against its recorded
sha256 before the flavor reads anything, so a tampered pickle is never unpickled; the
record must come from outside the folder (``manifest_sha256``), or the caller must
vouch for the folder (``trust=True``).

>>> from sklearn.linear_model import LogisticRegression
>>> X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
>>> manifest = save_model(LogisticRegression().fit(X, y), "/tmp/lr", input_example=X)  # doctest: +SKIP
>>> load_model("/tmp/lr", manifest_sha256=manifest.digest()).predict([[2.5]])  # doctest: +SKIP
array([1])
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.models._example import save_example
from shipyard.models._integrity import hash_files, untrusted, verify_files
from shipyard.models._manifest import MANIFEST_FILE, ModelManifest, check_entity_keys, check_feature_refs
from shipyard.models._model import Model
from shipyard.models._signature import Signature, as_table_or_tensor, infer_signature
from shipyard.models.flavors import Flavor, flavor_for_model, get_flavor

__all__ = ["feature_columns", "load_model", "save_model"]


def save_model(
    model: Any,
    path: str | Path,
    *,
    flavor: str | Flavor | None = None,
    input_example: Any = None,
    signature: Signature | None = None,
    requirements: Iterable[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    features: Sequence[str] | None = None,
    entity_keys: Sequence[str] | None = None,
    source_run_id: str | None = None,
    artifacts: Mapping[str, str | Path] | None = None,
    options: Mapping[str, Any] | None = None,
) -> ModelManifest:
    """Write ``model`` as a package at ``path`` (which must not exist); return its manifest.

    ``flavor`` is found from the model unless given (a name or a :class:`Flavor`).
    Without ``signature``, one is inferred from ``input_example`` and the saved
    model's own output on it, which also proves the package loads. ``requirements``
    are added to the flavor's pins (yours win on a clash); ``artifacts`` are for the
    python flavor; ``options`` are flavor-specific (e.g. ``{"format": "json"}``).

    ``features`` (``["user_stats:avg_spend_7d", ...]``) declares that the model reads
    those feature-store features, looked up at serving time for the ``entity_keys``
    each request carries; each must name a column of the (column) signature, as
    ``feature`` or ``view__feature``. Other signature columns come with the request.
    """
    target = Path(path)
    if target.exists():
        raise InvalidInput(
            f"{target} already exists; model packages are immutable, save to a new path", field="path"
        )
    refs, keys = _feature_declaration(features, entity_keys)
    chosen = _flavor(flavor, model)
    flavor_options = dict(options or {})
    if artifacts is not None:
        flavor_options["artifacts"] = artifacts
    example = None if input_example is None else as_table_or_tensor(input_example, field_name="input_example")
    if signature is not None and example is not None:
        signature.validate(example)  # a signature the example breaks would break serving too
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        manifest = ModelManifest(
            flavor=chosen.name,
            framework=chosen.framework,
            framework_version=_version(chosen.framework),
            flavor_options=chosen.save(model, staging, input_example=example, **flavor_options),
            requirements=_merge(chosen.requirements(model), requirements or ()),
            signature=signature,
            input_example=None if example is None else save_example(example, staging),
            source_run_id=source_run_id,
            metadata=dict(metadata or {}),
            features=refs,
            entity_keys=keys,
        )
        if signature is None and example is not None:
            manifest = replace(manifest, signature=_infer(chosen, staging, manifest, example))
        if refs:
            feature_columns(manifest.signature, refs)
        manifest = replace(manifest, files=hash_files(staging))
        manifest.write(staging)
        os.rename(staging, target)  # atomic: the package appears complete or not at all
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _feature_declaration(features: Sequence[str] | None,
                         entity_keys: Sequence[str] | None) -> tuple[list[str], list[str]]:
    if not features:
        if entity_keys:
            raise InvalidInput("entity_keys are for a model that declares features=[...]", field="entity_keys")
        return [], []
    refs = check_feature_refs(list(features) if not isinstance(features, str) else features)
    if entity_keys is None:
        raise InvalidInput("a model that declares features must say which entity keys a request carries: "
                           "entity_keys=[...] (an empty list for request-time features only)",
                           field="entity_keys")
    return refs, check_entity_keys(list(entity_keys) if not isinstance(entity_keys, str) else entity_keys)


def feature_columns(signature: Signature | None, refs: Sequence[str]) -> dict[str, str]:
    """``{signature column: feature reference}``: where each declared feature enters the model.

    A reference ``"view:feature"`` fills the column named ``feature`` or, failing that,
    ``view__feature`` (the training set's full feature names). ``InvalidInput`` when a
    reference fills no column, or the model has no column signature to fill.
    """
    if signature is None or signature.kind != "columns":
        raise InvalidInput("a model that declares features needs a column signature (train it on a DataFrame, "
                           "or give input_example= a DataFrame of the training set's columns)", field="signature")
    names = set(signature.names)
    columns: dict[str, str] = {}
    for ref in refs:
        view, feature = ref.split(":", 1)
        column = feature if feature in names else f"{view}__{feature}"
        if column not in names:
            raise InvalidInput(f"feature {ref!r} is not an input of the model: its signature has no column "
                               f"{feature!r} or {column!r} (columns: {signature.names})", field="features")
        if column in columns:
            raise InvalidInput(f"features {columns[column]!r} and {ref!r} both fill column {column!r}; "
                               "train on full feature names (view__feature)", field="features")
        columns[column] = ref
    return columns


def load_model(path: str | Path, *, manifest_sha256: str | None = None, trust: bool = False) -> Model:
    """Load the package at ``path``: verify every file, then let its flavor read it.

    The files are checked against ``model.yaml``, and ``model.yaml`` against
    ``manifest_sha256``, its sha256 as recorded outside the folder (the registry's record
    of a version, :meth:`ModelManifest.digest` kept at save). Without that record the
    folder vouches for itself, which a rewritten ``model.yaml`` defeats, so the load is
    refused with :class:`~shipyard.models.UntrustedPackage` unless ``trust=True`` says
    the caller trusts everyone who can write the folder (a package it saved itself).

    Raises ``InvalidInput`` "no model at …" without a readable ``model.yaml``,
    ``IntegrityError`` naming the file when one is modified, missing or unlisted (or
    when ``manifest_sha256`` is given and ``model.yaml`` differs), and ``MissingExtra``
    naming the ``pip install`` when the flavor's library is absent.
    """
    folder = Path(path)
    manifest = ModelManifest.read(folder, sha256=manifest_sha256)
    flavor = get_flavor(manifest.flavor)
    verify_files(folder, manifest.files)  # before any flavor code opens a file
    if manifest_sha256 is None and not trust:  # the files match a model.yaml nothing else vouches for
        raise untrusted(folder, MANIFEST_FILE)
    return Model(manifest, flavor.load(folder, manifest), folder)


def _flavor(flavor: str | Flavor | None, model: Any) -> Flavor:
    if flavor is None:
        return flavor_for_model(model)
    if isinstance(flavor, str):
        return get_flavor(flavor)
    if isinstance(flavor, Flavor):
        return flavor
    raise InvalidInput(f"flavor must be a name or a Flavor, got {type(flavor).__name__}", field="flavor")


def _version(framework: str) -> str:
    if framework == "python":
        return platform.python_version()
    try:
        return importlib_metadata.version(framework)
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def _merge(pins: list[str], extra: Iterable[str]) -> list[str]:
    def key(requirement: str) -> str:
        for separator in ("==", ">=", "<=", "~=", "!=", ">", "<", "[", ";", " "):
            requirement = requirement.split(separator)[0]
        return requirement.strip().lower().replace("_", "-")

    merged = {key(r): r for r in pins}
    merged.update({key(r): r for r in extra})
    return sorted(merged.values(), key=key)


def _infer(flavor: Flavor, staging: Path, manifest: ModelManifest, example: Any) -> Signature:
    inputs = infer_signature(example)
    predictor = flavor.load(staging, replace(manifest, signature=inputs))
    output = predictor.predict(inputs.validate(example))
    return infer_signature(example, output)
