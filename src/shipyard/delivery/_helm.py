"""Values for the ``shipyard-model`` Helm chart (``deploy/helm/shipyard-model``) that render
the objects :func:`shipyard.delivery.model_manifests` gives for the same deployment.

The chart has the knobs of ``shipyard deploy k8s`` one for one; :func:`helm_values` spells
a :class:`ModelDeployment` in them, with the resources written out in full so the chart's
profiles cannot change them. ``helm template NAME deploy/helm/shipyard-model -n NAMESPACE
-f helm-values.yaml`` then renders the same objects (the chart always names the release's
namespace).

>>> from shipyard.delivery._k8s import ModelDeployment
>>> helm_values(ModelDeployment(name="churn", model="churn", uri="models:/churn/3", image="churn:3"))["replicas"]
2
"""

from __future__ import annotations

from typing import Any

from shipyard.delivery._k8s import ModelDeployment

__all__ = ["helm_values"]


def helm_values(spec: ModelDeployment) -> dict[str, Any]:
    """The chart values that render ``spec``."""
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
