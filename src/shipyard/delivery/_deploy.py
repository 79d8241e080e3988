"""``shipyard deploy k8s``: check what is deployed, then write its manifests into a folder.

:func:`model_deployment` resolves the model URIs through a client and refuses a model
the cluster could not serve well (unknown, no signature). :func:`write_manifests` writes
one YAML file per object, a ``kustomization.yaml`` listing them (``kubectl apply -k
DIR``) and ``helm-values.yaml`` for the chart in ``deploy/helm`` that renders the same. The
folder is written beside ``out`` and renamed into place when complete, so a failure
leaves nothing behind; the same deployment gives the same bytes.

>>> with shipyard.Client() as client:                                        # doctest: +SKIP
...     spec = model_deployment(client, "models:/churn@production", image="registry.example/churn:3")
>>> write_manifests(spec, "deploy/churn").files                              # doctest: +SKIP
('deployment.yaml', 'helm-values.yaml', 'hpa.yaml', 'kustomization.yaml', 'pdb.yaml', ...)
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from shipyard.delivery._helm import chart_for, helm_values
from shipyard.delivery._k8s import Canary, ModelDeployment, ShadowRoute, kubernetes_objects
from shipyard.delivery._k8s_server import ServerDeployment, server_manifests
from shipyard.delivery._kserve import inference_service
from shipyard.delivery._output import move_into_place
from shipyard.errors import Conflict, InvalidInput
from shipyard.models import ModelManifest
from shipyard.models._mlflow_format import is_mlflow_package, signature_from_mlflow
from shipyard.registry import parse_model_uri
from shipyard.serving import ModelConfig

if TYPE_CHECKING:
    from shipyard.client import Client

__all__ = ["Manifests", "model_deployment", "model_manifests", "render_manifests", "write_manifests"]

MARK = "# Written by shipyard deploy k8s"
_FILES = {"ConfigMap": "configmap.yaml", "Deployment": "deployment.yaml", "Service": "service.yaml",
          "HorizontalPodAutoscaler": "hpa.yaml", "PodDisruptionBudget": "pdb.yaml",
          "ServiceMonitor": "servicemonitor.yaml", "InferenceService": "inferenceservice.yaml"}


@dataclass(frozen=True)
class Manifests:
    """A written folder of manifests: its ``files`` (sorted), the ``objects`` in them as
    ``(kind, name)`` in the order to apply them, and ``warnings`` for whoever applies them."""

    path: Path
    files: tuple[str, ...]
    objects: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "files": list(self.files),
                "objects": [{"kind": kind, "name": name} for kind, name in self.objects],
                "warnings": list(self.warnings)}


def model_manifests(spec: ModelDeployment) -> list[dict[str, Any]]:
    """The objects that run ``spec``, in the order to apply them: with ``kserve`` one KServe
    InferenceService, else the router's ConfigMap (for a canary or shadow), Deployment,
    Service, HorizontalPodAutoscaler, PodDisruptionBudget and ServiceMonitor."""
    return [inference_service(spec)] if spec.kserve else kubernetes_objects(spec)


# -- checking the models ---------------------------------------------------------------------


def _has_signature(folder: Path) -> bool:
    if is_mlflow_package(folder):
        try:
            data = yaml.safe_load((folder / "MLmodel").read_bytes())
        except (OSError, yaml.YAMLError):
            return False
        return isinstance(data, dict) and signature_from_mlflow(data.get("signature")) is not None
    return ModelManifest.read(folder).signature is not None


def _resolve(client: Client, uri: str, option: str) -> str:
    """What ``uri`` names now (``models:/churn/3``), after checking that it can be served."""
    if not isinstance(uri, str) or not uri.startswith(("models:/", "runs:/")):
        raise InvalidInput(f"{option} must be a model URI (models:/name/3, models:/name@alias, runs:/<id>/path), got "
                           f"{uri!r}: a cluster loads models from the registry; register a model folder first "
                           "(shipyard models register FOLDER NAME)", field="uri")
    ref = parse_model_uri(uri)
    if ref.kind == "run":
        served = uri
    else:
        version = client.resolve_model(uri)
        served = f"models:/{version.name}/{version.version}"
    if not _has_signature(client.model_path(served)):
        named = uri if served == uri else f"{uri} ({served})"
        raise InvalidInput(
            f"{named} has no signature: its server could not check requests or describe its inputs to "
            "clients. Log the model again with input_example= (or signature=), register that version, and deploy "
            "it", field="signature")
    return served


def default_name(model: str) -> str:
    """A Kubernetes object name for a model name: ``Churn_Model`` → ``churn-model``."""
    name = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", model.lower())).strip("-")
    if not name or not name[0].isalpha():
        name = f"m-{name}".rstrip("-")
    return name[:63].rstrip("-")


def model_deployment(client: Client, uri: str, *, image: str, name: str | None = None, canary: str | None = None,
                     canary_percent: int = 10, canary_image: str | None = None, shadow: str | None = None,
                     shadow_fraction: float = 1.0, **options: Any) -> ModelDeployment:
    """The deployment of ``uri`` served by ``image``, its URIs resolved through ``client``.

    ``canary`` takes ``canary_percent`` of the requests (served by ``canary_image`` with
    KServe); ``shadow`` gets a copy of ``shadow_fraction`` of them. ``options`` are
    :class:`ModelDeployment` fields. Raises ``NotFound`` for a model that does not exist,
    ``InvalidInput`` for one without a signature and for a value the cluster would refuse.
    """
    model = ModelConfig.for_uri(uri).name
    spec_name = name if name is not None else default_name(model)
    # The cheap checks first: a bad option fails before any model is read.
    ModelDeployment(name=spec_name, model=model, uri=uri, image=image, **options,
                    canary=None if canary is None else Canary(canary, canary_percent, canary_image),
                    shadow=None if shadow is None else ShadowRoute(shadow, shadow_fraction))
    version = _resolve(client, uri, "MODEL")
    routes: dict[str, Any] = {}
    if canary is not None:
        routes["canary"] = Canary(canary, canary_percent, canary_image, _resolve(client, canary, "--canary"))
    if shadow is not None:
        routes["shadow"] = ShadowRoute(shadow, shadow_fraction, _resolve(client, shadow, "--shadow"))
    return ModelDeployment(name=spec_name, model=model, uri=uri, image=image, version=version, **routes, **options)


# -- writing -----------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style, with multi-line strings (the router's config) as literal blocks, and
    every value written out where it is used (no anchors: a reviewer reads each object whole)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _text)


def _yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=False,
                     width=4096)


def render_manifests(spec: ModelDeployment | ServerDeployment) -> dict[str, str]:
    """File name → text of every file :func:`write_manifests` writes for ``spec``."""
    if isinstance(spec, ServerDeployment):
        objects, what = server_manifests(spec), "shipyard server"
    else:
        objects = model_manifests(spec)
        what = spec.uri + (f" ({spec.version})" if spec.version and spec.version != spec.uri else "")
    header = f"{MARK} for {what}.\n"
    files = {_FILES[o["kind"]]: header + _yaml(o) for o in objects}
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                     "resources": [_FILES[o["kind"]] for o in objects]}
    files["kustomization.yaml"] = header + "# kubectl apply -k FOLDER applies every file below, in this order.\n" + \
        _yaml(kustomization)
    namespace = f" -n {spec.namespace}" if spec.namespace else ""
    chart = chart_for(spec)
    files["helm-values.yaml"] = (
        f"{header}# Values of the {chart} chart that render the same objects:\n"
        f"#   helm template {spec.name} deploy/helm/{chart}{namespace} -f helm-values.yaml\n"
        + _yaml(helm_values(spec)))
    return files


def _objects(spec: ModelDeployment | ServerDeployment) -> tuple[tuple[str, str], ...]:
    objects = server_manifests(spec) if isinstance(spec, ServerDeployment) else model_manifests(spec)
    return tuple((o["kind"], o["metadata"]["name"]) for o in objects)


def _warnings(spec: ModelDeployment | ServerDeployment) -> list[str]:
    images = [spec.image] + ([spec.canary.image] if isinstance(spec, ModelDeployment) and spec.canary
                             and spec.canary.image else [])
    warnings = []
    for image in images:
        tail = image.rpartition("/")[2]
        if "@" not in tail and (":" not in tail or tail.endswith(":latest")):
            warnings.append(f"the image {image} has no fixed tag: nodes that already hold an image of that name "
                            "keep running it; name a version tag or a digest")
    return warnings


def _check_out(target: Path, force: bool) -> None:
    if target.exists() and not target.is_dir():
        raise InvalidInput(f"--out {target} is a file; name a folder for the manifests", field="out")
    if not target.is_dir() or not any(target.iterdir()):
        return
    if not force:
        raise Conflict(f"--out {target} exists and is not empty; pass --force to replace it, or name a new folder",
                       field="out")
    marker = target / "kustomization.yaml"
    first = marker.read_text(encoding="utf-8").partition("\n")[0] if marker.is_file() else ""
    if not first.startswith(MARK):
        raise Conflict(f"refusing to replace {target}: it does not hold manifests written by shipyard deploy k8s "
                       "(no kustomization.yaml of ours); --force replaces only those", field="out")


def write_manifests(spec: ModelDeployment | ServerDeployment, out: str | os.PathLike[str], *,
                    force: bool = False) -> Manifests:
    """Write the manifests of ``spec`` into the folder ``out`` (new or empty; with ``force``,
    one written here before). Raises ``Conflict`` for any other ``out``; nothing is left at
    ``out`` when it raises."""
    target = Path(out).absolute()
    _check_out(target, force)
    files = render_manifests(spec)
    created = None
    for parent in target.parents:  # the outermost missing folder, removed again on failure
        if parent.exists():
            break
        created = parent
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8")
            (staging / name).chmod(0o644)
        staging.chmod(0o755)
        move_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    return Manifests(path=target, files=tuple(sorted(files)), objects=_objects(spec),
                     warnings=tuple(_warnings(spec)))
