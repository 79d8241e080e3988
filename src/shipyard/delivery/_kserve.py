"""A KServe ``InferenceService`` (``serving.kserve.io/v1beta1``) that runs the model server image.

The predictor is a custom container, ``kserve-container``, running the image ``shipyard
build`` makes. It speaks the Open Inference Protocol: a custom predictor declares that
with ``PROTOCOL=v2`` in its environment (KServe's ``protocolVersion`` field belongs to the
model-format predictors, which run KServe's own servers). A canary is a new revision:
the InferenceService runs the canary's image and sends it ``canaryTrafficPercent`` of the
requests, while the revision rolled out before keeps the rest (KServe's serverless mode).

KServe builds the pods through Knative, so the pod keeps to what Knative accepts: the
security settings sit on the container, and the probes name the port by number.

>>> from shipyard.delivery._k8s import ModelDeployment
>>> spec = ModelDeployment(name="churn", model="churn", uri="models:/churn/3", image="churn:3", kserve=True)
>>> inference_service(spec)["spec"]["predictor"]["containers"][0]["env"][0]
{'name': 'PROTOCOL', 'value': 'v2'}
"""

from __future__ import annotations

from typing import Any

from shipyard.delivery._dockerfile import PORT
from shipyard.delivery._k8s import (
    LIVE_PATH,
    METRICS_PATH,
    READY_PATH,
    ModelDeployment,
    container_env,
    pod_security,
    server_arguments,
)

__all__ = ["inference_service"]

# KServe's names for the autoscaler's metrics (Knative's concurrency is requests in flight).
_SCALE_METRIC = {"cpu": "cpu", "inflight": "concurrency"}


def _container(spec: ModelDeployment) -> dict[str, Any]:
    _, args = server_arguments(spec)
    pod, security = pod_security()
    security = {**security, **{key: value for key, value in pod.items() if key != "fsGroup"}}
    return {
        "name": "kserve-container",
        "image": spec.canary.image if spec.canary is not None and spec.canary.image else spec.image,
        "imagePullPolicy": "IfNotPresent",
        "args": args,
        "env": [{"name": "PROTOCOL", "value": "v2"}, *container_env(spec)],
        "ports": [{"containerPort": PORT, "protocol": "TCP"}],
        "readinessProbe": {"failureThreshold": 3, "httpGet": {"path": READY_PATH, "port": PORT},
                           "periodSeconds": 5, "timeoutSeconds": 3},
        # Knative has no startup probe: the first liveness check waits for a model to load.
        "livenessProbe": {"failureThreshold": 3, "httpGet": {"path": LIVE_PATH, "port": PORT},
                          "initialDelaySeconds": 60, "periodSeconds": 10, "timeoutSeconds": 5},
        "resources": spec.resources.requirements(),
        "securityContext": security,
        "volumeMounts": [{"mountPath": "/tmp", "name": "tmp"}],
    }


def inference_service(spec: ModelDeployment) -> dict[str, Any]:
    """The InferenceService that serves ``spec`` (``spec.kserve``)."""
    predictor: dict[str, Any] = {
        "annotations": {"prometheus.io/path": METRICS_PATH, "prometheus.io/port": str(PORT),
                        "prometheus.io/scrape": "true"},
        "automountServiceAccountToken": False,
        "containers": [_container(spec)],
        "maxReplicas": spec.ceiling,
        "minReplicas": spec.replicas,
        "scaleMetric": _SCALE_METRIC[spec.scale_on],
        "scaleTarget": spec.target,
        "volumes": [{"emptyDir": {"sizeLimit": spec.tmp_size}, "name": "tmp"}],
    }
    if spec.canary is not None:
        predictor["canaryTrafficPercent"] = spec.canary.percent
    annotations = {"prometheus.kserve.io/path": METRICS_PATH, "prometheus.kserve.io/port": str(PORT),
                   "serving.kserve.io/enable-prometheus-scraping": "true", **spec.model_annotations()}
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": spec.metadata(annotations=annotations), "spec": {"predictor": predictor}}
