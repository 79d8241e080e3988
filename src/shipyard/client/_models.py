"""``client.registry``: model packages and the model registry — log, load, register, promote,
audit, lineage, convert, cards.

>>> registry = Client(home="/tmp/shipyard-doc").registry                   # doctest: +SKIP
>>> registry.register_model(f"runs:/{run.id}/model", "churn")                # doctest: +SKIP
>>> registry.set_alias("churn", "production", 1, reason="beats baseline")   # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.client._backend import Backend
from shipyard.client._datasets import Datasets
from shipyard.client._tracking import Tracking
from shipyard.errors import InvalidInput, NotFound
from shipyard.lineage import LineageGraph, Node
from shipyard.registry import (
    AuditEvent,
    ModelVersion,
    PromotionPolicy,
    RegisteredModel,
    RegistryStore,
    TrafficSplit,
    parse_model_uri,
)
from shipyard.registry._cache import ResolveCache
from shipyard.tracking import Page
from shipyard.tracking._entities import current_user

if TYPE_CHECKING:
    from shipyard.models import Model, ModelManifest

__all__ = ["ModelInfo", "ModelRegistry"]

CONVERSION_METRIC = "conversion_max_abs_diff"
"""The metric a converted version records: the largest difference from its source's outputs
on the source's input example."""


@dataclass(frozen=True)
class ModelInfo:
    """Where :meth:`ModelRegistry.log_model` put a model, and what it registered."""

    uri: str
    run_id: str
    manifest: ModelManifest
    registered_version: ModelVersion | None = None


class ModelRegistry:
    """Model packages and the registry. Packages are logged as artifacts of runs of
    ``tracking``; lineage of a dataset reference goes through ``datasets``."""

    def __init__(self, backend: Backend, tracking: Tracking, datasets: Datasets) -> None:
        self._backend = backend
        self._tracking = tracking
        self._datasets = datasets
        self._resolve_cache: ResolveCache | None = None

    @property
    def store(self) -> RegistryStore:
        """The registry store (opened on first use)."""
        return self._backend.registry

    @property
    def cache_dir(self) -> Path:
        """Where verified local copies of model packages are kept."""
        return self._backend.model_cache_dir

    # -- packages ---------------------------------------------------------------------------

    def log_model(self, run_id: str, model: Any, name: str = "model", *, input_example: Any = None,
                  registered_model_name: str | None = None, **save_options: Any) -> ModelInfo:
        """Package ``model`` (see :func:`shipyard.models.save_model`) as artifacts of the run.

        With ``registered_model_name`` the package is also registered as a new version.
        """
        from shipyard.models import save_model

        with tempfile.TemporaryDirectory() as tmp:
            package = Path(tmp) / "package"
            manifest = save_model(model, package, input_example=input_example, source_run_id=run_id, **save_options)
            self._tracking.log_artifacts(run_id, package, artifact_path=name)
        uri = f"runs:/{run_id}/{name}"
        version = self.register_model(uri, registered_model_name) if registered_model_name else None
        return ModelInfo(uri, run_id, manifest, version)

    def load_model(self, uri: str, *, trust: bool = False) -> Model:
        """Load a model from ``models:/name/3``, ``models:/name@alias``, ``runs:/<id>/path``
        or a local package folder; every file's hash is checked before anything is unpickled.

        A URI's package is checked against the digests recorded when its files were stored
        (the registry's record of the version, the run's artifact listing), never against
        the local copy's own ``model.yaml``. A local folder has no such record: it loads
        only with ``trust=True`` (you trust whoever can write it), and is refused with
        :class:`~shipyard.models.UntrustedPackage` otherwise. Packages logged by the
        ``mlflow`` client (an ``MLmodel`` file, sklearn flavor) load the same way."""
        from shipyard.models import load_model
        from shipyard.models._mlflow_format import is_mlflow_package, load_mlflow_model

        path = self.model_path(uri)
        recorded = self._recorded_digests(uri)
        if is_mlflow_package(path):  # logged by the mlflow client: MLmodel, no model.yaml
            return load_mlflow_model(path, files=recorded, trust=trust)
        return load_model(path, manifest_sha256=self._pinned_manifest(uri, recorded), trust=trust)

    @staticmethod
    def _pinned_manifest(uri: str, recorded: dict[str, str] | None) -> str | None:
        """The recorded sha256 of a stored package's ``model.yaml`` (None for a local folder)."""
        if recorded is None:
            return None
        if "model.yaml" not in recorded:
            raise InvalidInput(f"no model at {uri!r}: its stored files hold no model.yaml", field="uri")
        return recorded["model.yaml"]

    def _recorded_digests(self, uri: str) -> dict[str, str] | None:
        """The sha256 of each file of a stored package as recorded when it was stored (None for
        a local folder): what a package without its own hashes is checked against."""
        if not uri.startswith(("models:/", "runs:/")):
            return None
        ref = parse_model_uri(uri)
        if ref.kind == "run":
            prefix = (ref.path or "").rstrip("/") + "/"
            return {f.path[len(prefix):]: f.digest
                    for f in self._tracking.list_artifacts(ref.run_id or "", prefix.rstrip("/"))
                    if f.path.startswith(prefix)}
        version = self.resolve_model(uri)
        return {f.path: f.digest for f in self.store.list_version_files(version.name, version.version)}

    def model_path(self, uri: str) -> Path:
        """A verified local folder holding the package a URI names."""
        if not uri.startswith(("models:/", "runs:/")):
            path = Path(uri)
            if not path.is_dir():
                raise InvalidInput(f"{uri!r} is neither a model URI nor a local model folder", field="uri")
            return path
        ref = parse_model_uri(uri)
        if ref.kind == "run":
            from shipyard.registry._materialize import Materializer
            from shipyard.tracking import ArtifactInfo

            run_id, prefix = ref.run_id or "", (ref.path or "").rstrip("/") + "/"
            tracking = self._tracking.store
            files = [ArtifactInfo(f.path[len(prefix):], f.digest, f.size)
                     for f in tracking.list_artifacts(run_id, prefix.rstrip("/")) if f.path.startswith(prefix)]
            if not files:
                raise NotFound(f"no model at {uri!r}", resource="model", uri=uri)
            # Read through whichever tracking backend this client uses (local or remote).
            return Materializer(self.cache_dir).materialize(
                f"run-{run_id}-{prefix.strip('/')}", files,
                lambda f, dest: tracking.download_artifact(run_id, prefix + f.path, dest))
        version = self.resolve_model(uri)
        return self.store.materialize(version.name, version.version)

    # -- registry ---------------------------------------------------------------------------

    def register_model(self, source: str, name: str, *, description: str | None = None,
                       tags: dict[str, str] | None = None) -> ModelVersion:
        """Register the package at ``source`` (``runs:/<id>/<path>`` or a local folder) as a
        new version of ``name`` (created if needed)."""
        if not source.startswith("runs:/"):
            folder = Path(source)
            if not (folder / "model.yaml").is_file():
                raise InvalidInput(f"no model at {source!r}: no model.yaml there", field="source")
            run = self._tracking.create_run(name=f"register-{name}", tags={"shipyard.registration": name})
            self._tracking.log_artifacts(run.id, folder, artifact_path="model")
            self._tracking.end_run(run.id)
            source = f"runs:/{run.id}/model"
        self._tracking.flush()  # the version snapshots the run's metrics: buffered points must be in
        return self.store.create_model_version(name, source, description, tags, current_user())

    def create_registered_model(self, name: str, description: str | None = None,
                                tags: dict[str, str] | None = None) -> RegisteredModel:
        return self.store.create_registered_model(name, description, tags, current_user())

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.store.get_registered_model(name)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        """Set tag ``key`` of registered model ``name`` (``str(value)``); the model card reads
        ``intended_use``, ``limitations``, ``ethical_considerations`` and ``owner`` from these."""
        self.store.set_registered_model_tag(name, key, str(value))

    def set_model_version_tag(self, name: str, version: int, key: str, value: Any) -> None:
        """Set tag ``key`` of version ``version`` of model ``name`` (``str(value)``)."""
        self.store.set_model_version_tag(name, version, key, str(value))

    def search_registered_models(self, name_like: str | None = None, max_results: int = 100,
                                 page_token: str | None = None) -> Page:
        return self.store.search_registered_models(name_like, max_results, page_token)

    def delete_registered_model(self, name: str, reason: str | None = None) -> None:
        self.store.delete_registered_model(name, current_user(), reason)

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        return self.store.get_model_version(name, version)

    def search_model_versions(self, name: str | None = None, run_id: str | None = None,
                              max_results: int = 100, page_token: str | None = None) -> Page:
        return self.store.search_model_versions(name, run_id, max_results, page_token)

    def delete_model_version(self, name: str, version: int, reason: str | None = None) -> None:
        self.store.delete_model_version(name, version, current_user(), reason)

    def resolve_model(self, uri: str) -> ModelVersion:
        """The registered version a ``models:/`` URI names, from a cache that any
        registry change invalidates."""
        if self._resolve_cache is None:
            self._resolve_cache = ResolveCache(self.store)
        return self._resolve_cache.resolve(uri)

    def set_alias(self, name: str, alias: str, version: int, *, reason: str | None = None,
                  force: bool = False) -> ModelVersion:
        """Point ``alias`` at ``version``; a guarded alias must pass the promotion policy
        (:class:`~shipyard.errors.PromotionRefused` otherwise, unless ``force``)."""
        return self.store.set_alias(name, alias, int(version), current_user(), reason, force)

    def delete_alias(self, name: str, alias: str, *, reason: str | None = None) -> None:
        self.store.delete_alias(name, alias, current_user(), reason)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.store.get_version_by_alias(name, alias)

    def rollback_alias(self, name: str, alias: str, *, reason: str | None = None) -> ModelVersion:
        """Move ``alias`` back to its previous holder (recorded in the audit log)."""
        return self.store.rollback(name, alias, current_user(), reason)

    def set_promotion_policy(self, name: str, policy: PromotionPolicy | dict[str, Any] | None,
                             *, reason: str | None = None) -> RegisteredModel:
        """Set (or, with None, remove) the policy a guarded alias move must pass."""
        data = policy.to_json() if isinstance(policy, PromotionPolicy) else policy
        return self.store.set_policy(name, data, current_user(), reason)

    def get_traffic(self, name: str) -> TrafficSplit | None:
        """The live traffic split of ``name`` that ``shipyard serve`` follows, or None."""
        return TrafficSplit.of(self.store.get_registered_model(name))

    def set_traffic(self, name: str, split: TrafficSplit | dict[str, Any] | None, *,
                    reason: str | None = None) -> TrafficSplit | None:
        """Set (None: clear) the traffic split of ``name``: ``{"routes": {alias: percent},
        "shadow": {"alias": ..., "fraction": ...}}``. Every alias must exist; the change is
        audited, and ``shipyard serve`` follows it within its poll interval.

        >>> registry.set_traffic("churn", {"routes": {"production": 90, "challenger": 10}})  # doctest: +SKIP
        """
        data = split.to_json() if isinstance(split, TrafficSplit) else split
        return TrafficSplit.of(self.store.set_traffic(name, data, current_user(), reason))

    def model_history(self, name: str) -> list[AuditEvent]:
        """Every registry change to ``name`` and its versions, oldest first."""
        return self.store.history(name)

    def lineage(self, ref: str, max_depth: int = 10) -> LineageGraph:
        """Upstream and downstream of a model URI, a run (``runs:/<id>`` or its id) or a
        dataset (``ds:name@version``)."""
        node = self._lineage_node(ref)
        if node.type == "run":
            self._tracking.wait_for(node.id)  # a run this client started is stored with its edges first
        return self.store.lineage(node.type, node.id, max_depth)

    def _lineage_node(self, ref: str) -> Node:
        if ref.startswith("models:/"):
            version = self.resolve_model(ref)
            return Node("model_version", f"{version.name}/{version.version}")
        if ref.startswith("runs:/"):
            return Node("run", ref[len("runs:/"):].split("/")[0])
        if ref.startswith("ds:"):
            # Name the version by number, whatever the reference (churn@latest, a hash…).
            found = self._datasets.get_dataset_version(ref)
            return Node("dataset", f"{found.name}@{found.version}")
        if len(ref) == 32:
            return Node("run", ref)
        raise InvalidInput(f"cannot tell what {ref!r} names: use models:/…, runs:/…, ds:… or a run id",
                           field="ref")

    def convert_model(self, uri: str, to: str = "onnx") -> ModelVersion:
        """Convert a registered scikit-learn version to ONNX and register it as a new version.

        The converted model's outputs must match the original's within 1e-5 on the input
        example, or the conversion fails and nothing is registered. The new version
        carries the source version's metrics (the model's quality has not changed, so a
        metric gate judges it as it judged its source) and :data:`CONVERSION_METRIC`, the
        measured difference; its run is tagged with the source version.
        """
        if to != "onnx":
            raise InvalidInput(f"can only convert to 'onnx', got {to!r}", field="to")
        from shipyard.models import convert_to_onnx

        source = self.resolve_model(uri)
        with tempfile.TemporaryDirectory() as tmp:
            converted = Path(tmp) / "onnx"
            manifest = convert_to_onnx(self.model_path(uri), converted, manifest_sha256=self._pinned_manifest(
                uri, self._recorded_digests(uri)))
            run = self._tracking.create_run(name=f"convert-{source.name}-{source.version}",
                                            tags={"shipyard.converted_from": source.uri})
            self._tracking.log_artifacts(run.id, converted, artifact_path="model")
            self._tracking.log_metrics(run.id, {**source.metrics,
                                                CONVERSION_METRIC: manifest.metadata["converted_from"]["max_abs_diff"]})
            self._tracking.end_run(run.id)
        return self.store.create_model_version(
            source.name, f"runs:/{run.id}/model", f"ONNX conversion of version {source.version}",
            {"converted_from": str(source.version)}, current_user())

    def model_card(self, uri: str, format: str = "markdown") -> str:
        """A model card (Markdown or HTML) built from what the registry knows."""
        from shipyard.registry._card import render_card

        version = self.resolve_model(uri)
        run = self._tracking.get_run(version.run_id) if version.run_id else None
        model = self.get_registered_model(version.name)
        return render_card(model, version, run, self.lineage(version.uri), format)
