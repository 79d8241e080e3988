"""Values for the Helm charts in ``deploy/helm`` that render the objects ``shipyard deploy k8s``
writes for the same deployment.

``shipyard-model`` renders :func:`shipyard.delivery.model_manifests` and ``shipyard-server``
renders :func:`shipyard.delivery.server_manifests`. Each chart has the knobs of its command
one for one; :func:`helm_values` spells a :class:`ModelDeployment` or a
:class:`ServerDeployment` in them, with the resources written out in full so the chart's
profiles cannot change them. ``helm template NAME deploy/helm/CHART -n NAMESPACE -f
helm-values.yaml`` then renders the same objects (the charts always name the release's
namespace).

>>> from shipyard.delivery._k8s import ModelDeployment
>>> helm_values(ModelDeployment(name="churn", model="churn", uri="models:/churn/3", image="churn:3"))["replicas"]
2
"""

from __future__ import annotations

from typing import Any

from shipyard.delivery._k8s import ModelDeployment
from shipyard.delivery._k8s_server import ServerDeployment

__all__ = ["chart_for", "helm_values"]


def chart_for(spec: ModelDeployment | ServerDeployment) -> str:
    """The chart (its folder under ``deploy/helm``) that renders ``spec``."""
    return "shipyard-server" if isinstance(spec, ServerDeployment) else "shipyard-model"


def helm_values(spec: ModelDeployment | ServerDeployment) -> dict[str, Any]:
    """The values of :func:`chart_for` ``(spec)`` that render ``spec``."""
    if isinstance(spec, ServerDeployment):
        return _server_values(spec)
    resources = spec.resources.requirements()
    return {
        "name": spec.name,
        "image": spec.image,
        "model": {"name": spec.model, "uri": spec.uri, "version": spec.version or ""},
        "replicas": spec.replicas,
        "maxReplicas": spec.ceiling,
        "resources": resources,
        "workers": spec.resources.workers,
        "autoscaling": {"metric": spec.scale_on, "target": spec.target},
        "auth": {"insecure": spec.insecure, "tokenSecret": spec.token or ""},
        "shipyardUrl": spec.shipyard_url or "",
        "canary": {"uri": spec.canary.uri, "percent": spec.canary.percent, "image": spec.canary.image or ""}
        if spec.canary else {"uri": "", "percent": 0, "image": ""},
        "shadow": {"uri": spec.shadow.uri, "fraction": spec.shadow.fraction} if spec.shadow
        else {"uri": "", "fraction": 1},
        "tmpSize": spec.tmp_size,
        "serviceMonitor": {"enabled": spec.service_monitor},
        "kserve": {"enabled": spec.kserve},
    }


def _server_values(spec: ServerDeployment) -> dict[str, Any]:
    return {
        "name": spec.name,
        "image": spec.image,
        "artifacts": spec.artifacts,
        "s3EndpointUrl": spec.s3_endpoint_url or "",
        "replicas": spec.replicas,
        "resources": spec.resources.requirements(),
        "secrets": {"db": spec.secret("db"), "s3": spec.secret("s3"),
                    "token": "" if spec.insecure else spec.secret("token"), "redis": spec.redis_secret or ""},
        "auth": {"insecure": spec.insecure},
        "serviceMonitor": {"enabled": spec.service_monitor},
        "tmpSize": spec.tmp_size,
    }
