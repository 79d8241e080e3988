"""Kubernetes objects that run a model server: Deployment, Service, autoscaler, disruption
budget, Prometheus ServiceMonitor (and, for canaries and shadows, the router's config).

Everything here is a pure function of a :class:`ModelDeployment`, so the same deployment
gives the same objects. The pods run the image ``shipyard build`` makes (non-root, port
8080, writing only under ``/tmp``), behind the serving health endpoints, with a
read-only root filesystem and an ``emptyDir`` on ``/tmp``.

A canary or a shadow without KServe goes through Shipyard's own router: every pod runs
``shipyard serve`` over a config that names the routes (``stable`` and ``canary`` by
weight, a ``shadow`` mirrored), and loads each version from the Shipyard server
``shipyard_url`` names. Each request is split inside the pod, by weight or by its sticky
key, so the split holds at any replica count.

>>> spec = ModelDeployment(name="churn", model="churn", uri="models:/churn/3", image="churn:3")
>>> [o["kind"] for o in kubernetes_objects(spec)]
['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'ServiceMonitor']
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from shipyard.delivery._dockerfile import PORT, UID
from shipyard.delivery._resources import PROFILES, Resources, parse_quantity
from shipyard.errors import InvalidInput
from shipyard.serving import ServeConfig

__all__ = ["INFLIGHT_METRIC", "Canary", "ModelDeployment", "ShadowRoute", "check_image", "check_name",
           "check_secret", "container_env", "grace_period", "kubernetes_objects", "pod_security", "serve_config_text",
           "server_arguments", "service_monitor"]

# The gauge serving exports on /metrics: requests being handled, summed over a pod's workers.
INFLIGHT_METRIC = "shipyard_requests_in_progress"
READY_PATH, LIVE_PATH, METRICS_PATH = "/v2/health/ready", "/v2/health/live", "/metrics"
CONFIG_DIR = "/etc/shipyard"
SCALE_ON = ("cpu", "inflight")
DEFAULT_TARGET = {"cpu": 70, "inflight": 8}  # % of the CPU request; requests in flight per pod
# Seconds a stopping pod keeps serving while the endpoints controller and the proxies drop it.
PRESTOP_S = 5
_NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
_SECRET = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_IMAGE = re.compile(r"[a-z0-9][a-z0-9._/:-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?")


def check_name(name: str) -> str:
    """``name`` if it can name a Service (a DNS-1035 label: lower case, digits, ``-``, at most 63)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(f"--name {name!r} cannot name Kubernetes objects: use lower-case letters, digits and "
                           "'-', starting with a letter, at most 63 characters (for example churn-v3)", field="name")
    return name


def check_secret(name: str, option: str) -> str:
    """``name`` if it can name a Secret (a DNS-1123 subdomain); ``InvalidInput`` naming ``option``."""
    if not isinstance(name, str) or len(name) > 253 or not _SECRET.fullmatch(name):
        raise InvalidInput(f"{option} {name!r} cannot name a Secret: use lower-case letters, digits, '-' and '.', "
                           "starting and ending with a letter or digit", field=option.lstrip("-").replace("-", "_"))
    return name


def check_image(image: str) -> str:
    """``image`` if it is an image reference (``churn:3``, ``registry.example/ml/churn@sha256:…``)."""
    if not isinstance(image, str) or not _IMAGE.fullmatch(image):
        raise InvalidInput(f"--image {image!r} is not an image reference: a lower-case name, then :tag or "
                           "@sha256:digest (for example registry.example/ml/churn:3)", field="image")
    return image


def grace_period() -> int:
    """Seconds Kubernetes waits for a pod to stop before killing it: longer than the preStop
    pause plus the server's own bound on a stop (its drain timeout, then 5 s for stragglers)."""
    drain = ServeConfig.for_uri("models:/model/1").drain_timeout_s  # the default of every server
    return PRESTOP_S + math.ceil(drain) + 5 + 5


@dataclass(frozen=True)
class Canary:
    """A second version taking ``percent`` of the requests. ``image`` is the image that serves it
    (KServe, where a canary is a new revision); ``version`` is what ``uri`` resolved to."""

    uri: str
    percent: int
    image: str | None = None
    version: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.percent, bool) or not isinstance(self.percent, int) or not 1 <= self.percent <= 99:
            raise InvalidInput(f"--canary-percent must be an integer from 1 to 99, got {self.percent!r}",
                               field="canary_percent")
        if self.image is not None:
            check_image(self.image)


@dataclass(frozen=True)
class ShadowRoute:
    """A version that receives a copy of ``fraction`` of the requests; its answers are logged, never returned."""

    uri: str
    fraction: float = 1.0
    version: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.fraction, bool) or not isinstance(self.fraction, int | float) or not 0 < self.fraction <= 1:
            raise InvalidInput(f"--shadow-fraction must be more than 0 and at most 1, got {self.fraction!r}",
                               field="shadow_fraction")


@dataclass(frozen=True)
class ModelDeployment:
    """How a model runs on a cluster.

    ``name`` names the Kubernetes objects; ``model`` is the model's name in the server's URLs;
    ``uri`` the model as given and ``version`` what it resolved to when the manifests were
    written. The pods run ``image`` with ``resources``; the autoscaler keeps between
    ``replicas`` and ``max_replicas`` (default 3 × ``replicas``) of them, scaling ``scale_on``
    ``cpu`` (``scale_target`` % of the CPU request, default 70) or ``inflight`` (requests being
    handled per pod, default 8). Requests need the bearer token in the Secret ``token_secret``
    (key ``token``; default ``NAME-token``) unless ``insecure``. ``shipyard_url`` is the
    Shipyard server that pods pull models from (needed by images built with ``--pull`` and by
    canaries and shadows). ``kserve``: one KServe InferenceService instead.

    Raises ``InvalidInput`` naming the option for a value the cluster would refuse or a
    combination that cannot work.
    """

    name: str
    model: str
    uri: str
    image: str
    version: str | None = None
    replicas: int = 2
    max_replicas: int | None = None
    resources: Resources = field(default_factory=lambda: PROFILES["small"])
    scale_on: str = "cpu"
    scale_target: int | None = None
    namespace: str | None = None
    token_secret: str | None = None
    insecure: bool = False
    shipyard_url: str | None = None
    canary: Canary | None = None
    shadow: ShadowRoute | None = None
    kserve: bool = False
    service_monitor: bool = True
    tmp_size: str = "1Gi"

    def __post_init__(self) -> None:
        check_name(self.name)
        check_image(self.image)
        if isinstance(self.replicas, bool) or not isinstance(self.replicas, int) or self.replicas < 1:
            raise InvalidInput(f"--replicas must be an integer of at least 1, got {self.replicas!r}", field="replicas")
        if self.max_replicas is not None and (not isinstance(self.max_replicas, int)
                                              or self.max_replicas < self.replicas):
            raise InvalidInput(f"--max-replicas {self.max_replicas!r} is below --replicas {self.replicas}: the "
                               "autoscaler could never reach its minimum", field="max_replicas")
        if self.scale_on not in SCALE_ON:
            raise InvalidInput(f"--scale-on must be one of {', '.join(SCALE_ON)}, got {self.scale_on!r}",
                               field="scale_on")
        if self.scale_target is not None and (not isinstance(self.scale_target, int) or self.scale_target < 1):
            raise InvalidInput(f"--scale-target must be a positive integer, got {self.scale_target!r}",
                               field="scale_target")
        parse_quantity(self.tmp_size, "tmp_size")
        if self.token_secret is not None:
            if self.insecure:
                raise InvalidInput("--token-secret and --insecure contradict each other: requests either need the "
                                   "token or need none", field="token_secret")
            check_secret(self.token_secret, "--token-secret")
        self._check_routes()

    def _check_routes(self) -> None:
        if self.kserve and self.shadow is not None:
            raise InvalidInput("KServe has no traffic mirroring: drop --kserve to run the shadow through Shipyard's "
                               "router, or drop --shadow", field="shadow")
        if self.kserve and self.canary is not None and self.canary.image is None:
            raise InvalidInput("a KServe canary is a new revision of the InferenceService: name the image that "
                               "serves the canary with --canary-image", field="canary_image")
        if self.routed and not self.shipyard_url:
            raise InvalidInput("a canary or shadow without KServe runs in Shipyard's router, which loads each version "
                               "from a Shipyard server: pass --shipyard-url (e.g. http://shipyard-server.ml)",
                               field="shipyard_url")

    @property
    def routed(self) -> bool:
        """Whether the pods run Shipyard's router over several versions (a canary or shadow, no KServe)."""
        return not self.kserve and (self.canary is not None or self.shadow is not None)

    @property
    def token(self) -> str | None:
        """The Secret holding the bearer token requests need (None: ``insecure``)."""
        return None if self.insecure else self.token_secret or f"{self.name}-token"

    @property
    def ceiling(self) -> int:
        return self.max_replicas if self.max_replicas is not None else 3 * self.replicas

    @property
    def target(self) -> int:
        return self.scale_target if self.scale_target is not None else DEFAULT_TARGET[self.scale_on]

    def labels(self) -> dict[str, str]:
        return {**self.selector(), "app.kubernetes.io/component": "model-server",
                "app.kubernetes.io/part-of": "shipyard"}

    def selector(self) -> dict[str, str]:
        return {"app.kubernetes.io/instance": self.name, "app.kubernetes.io/name": "shipyard-model"}

    def metadata(self, name: str | None = None, **extra: Any) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name or self.name, "labels": self.labels(), **extra}
        if self.namespace:
            meta["namespace"] = self.namespace
        return meta

    def model_annotations(self) -> dict[str, str]:
        notes = {"shipyard.io/model-uri": self.uri}
        if self.version:
            notes["shipyard.io/model-version"] = self.version
        if self.canary is not None:
            notes["shipyard.io/canary-uri"] = self.canary.uri
        if self.shadow is not None:
            notes["shipyard.io/shadow-uri"] = self.shadow.uri
        return notes


def _number(value: float) -> str:
    """``value`` as Go templates print a float64: ``1`` for 1.0, else Python's shortest repr."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def serve_config_text(spec: ModelDeployment) -> str:
    """The ``shipyard serve`` config of a routed deployment: the routes and the shadow."""
    lines = ["models:", f"  {json.dumps(spec.model)}:", "    routes:"]
    canary = spec.canary
    stable = 100 - (canary.percent if canary else 0)
    lines.append(f"      - {{uri: {json.dumps(spec.uri)}, weight: {stable}, label: stable}}")
    if canary is not None:
        lines.append(f"      - {{uri: {json.dumps(canary.uri)}, weight: {canary.percent}, label: canary}}")
    if spec.shadow is not None:
        lines.append(f"    shadow: {{uri: {json.dumps(spec.shadow.uri)}, fraction: {_number(spec.shadow.fraction)}}}")
    return "\n".join(lines) + "\n"


def pod_security() -> tuple[dict[str, Any], dict[str, Any]]:
    """(the pod's, the container's) security contexts: the image's unprivileged user, no
    privilege escalation, no capabilities, a read-only root filesystem."""
    pod = {"fsGroup": UID, "runAsGroup": UID, "runAsNonRoot": True, "runAsUser": UID,
           "seccompProfile": {"type": "RuntimeDefault"}}
    container = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True}
    return pod, container


def container_env(spec: ModelDeployment) -> list[dict[str, Any]]:
    """The server's environment: where to pull models from, and the Secret with its token."""
    env: list[dict[str, Any]] = []
    if spec.shipyard_url:
        env.append({"name": "SHIPYARD_URL", "value": spec.shipyard_url})
    if spec.token:
        env.append({"name": "SHIPYARD_TOKEN", "valueFrom": {"secretKeyRef": {"key": "token", "name": spec.token}}})
    return env


def server_arguments(spec: ModelDeployment) -> tuple[list[str] | None, list[str]]:
    """(the container's command, its arguments). The image's entrypoint serves the model it was
    built for; a routed deployment runs ``shipyard serve`` over its config instead."""
    args = ["--workers", str(spec.resources.workers), *(["--insecure"] if spec.insecure else [])]
    if not spec.routed:
        return None, args
    command = ["shipyard", "serve", f"{CONFIG_DIR}/serve.yaml", "--host", "0.0.0.0", "--port", str(PORT)]
    return command, args


def _probe(path: str, period: int, failures: int, timeout: int) -> dict[str, Any]:
    return {"failureThreshold": failures, "httpGet": {"path": path, "port": "http"}, "periodSeconds": period,
            "timeoutSeconds": timeout}


def _container(spec: ModelDeployment) -> dict[str, Any]:
    command, args = server_arguments(spec)
    _, security = pod_security()
    mounts: list[dict[str, Any]] = [{"mountPath": "/tmp", "name": "tmp"}]
    if spec.routed:
        mounts.append({"mountPath": CONFIG_DIR, "name": "serve-config", "readOnly": True})
    container: dict[str, Any] = {
        "name": "server",
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "args": args,
        "ports": [{"containerPort": PORT, "name": "http", "protocol": "TCP"}],
        "readinessProbe": _probe(READY_PATH, 5, 3, 3),
        "livenessProbe": _probe(LIVE_PATH, 10, 3, 5),
        # Loading a large model can take minutes: liveness starts once the server answers.
        "startupProbe": _probe(LIVE_PATH, 5, 60, 3),
        # Keep serving while the pod leaves the Service's endpoints; then the server drains.
        "lifecycle": {"preStop": {"exec": {"command": ["python", "-c", f"import time; time.sleep({PRESTOP_S})"]}}},
        "resources": spec.resources.requirements(),
        "securityContext": security,
        "volumeMounts": mounts,
    }
    if command is not None:
        container["command"] = command
    env = container_env(spec)
    if env:
        container["env"] = env
    return container


def _deployment(spec: ModelDeployment) -> dict[str, Any]:
    pod_annotations = {"prometheus.io/path": METRICS_PATH, "prometheus.io/port": str(PORT),
                       "prometheus.io/scrape": "true", **spec.model_annotations()}
    volumes: list[dict[str, Any]] = [{"emptyDir": {"sizeLimit": spec.tmp_size}, "name": "tmp"}]
    if spec.routed:
        config = serve_config_text(spec)
        pod_annotations["shipyard.io/serve-config-sha256"] = hashlib.sha256(config.encode()).hexdigest()
        volumes.append({"configMap": {"name": f"{spec.name}-serve-config"}, "name": "serve-config"})
    pod_security_context, _ = pod_security()
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": spec.metadata(annotations=spec.model_annotations()),
        "spec": {
            # No replicas: the autoscaler owns the count, and re-applying must not reset it.
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": spec.selector()},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}, "type": "RollingUpdate"},
            "template": {
                "metadata": {"annotations": pod_annotations, "labels": spec.labels()},
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "containers": [_container(spec)],
                    "securityContext": pod_security_context,
                    "terminationGracePeriodSeconds": grace_period(),
                    "volumes": volumes,
                },
            },
        },
    }


def _service(spec: ModelDeployment) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": spec.metadata(),
            "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}],
                     "selector": spec.selector(), "type": "ClusterIP"}}


def _autoscaler(spec: ModelDeployment) -> dict[str, Any]:
    if spec.scale_on == "cpu":
        metric: dict[str, Any] = {"resource": {"name": "cpu", "target": {"averageUtilization": spec.target,
                                                                         "type": "Utilization"}},
                                  "type": "Resource"}
    else:
        metric = {"pods": {"metric": {"name": INFLIGHT_METRIC},
                           "target": {"averageValue": str(spec.target), "type": "AverageValue"}},
                  "type": "Pods"}
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": spec.metadata(),
            "spec": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
                     "maxReplicas": spec.ceiling, "metrics": [metric], "minReplicas": spec.replicas,
                     "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name}}}


def _disruption_budget(spec: ModelDeployment) -> dict[str, Any]:
    # maxUnavailable, not minAvailable: a single replica must still let a node drain.
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": spec.metadata(),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": spec.selector()}}}


def service_monitor(metadata: dict[str, Any], selector: dict[str, str], token: str | None) -> dict[str, Any]:
    """A Prometheus Operator ServiceMonitor scraping ``/metrics`` on the Service port ``http``,
    with the bearer token from the Secret ``token`` when requests need one."""
    endpoint: dict[str, Any] = {"interval": "15s", "path": METRICS_PATH, "port": "http", "scrapeTimeout": "10s"}
    if token:
        endpoint["authorization"] = {"credentials": {"key": "token", "name": token}, "type": "Bearer"}
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": metadata,
            "spec": {"endpoints": [endpoint], "selector": {"matchLabels": selector}}}


def _serve_config(spec: ModelDeployment) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": spec.metadata(f"{spec.name}-serve-config"),
            "data": {"serve.yaml": serve_config_text(spec)}}


def kubernetes_objects(spec: ModelDeployment) -> list[dict[str, Any]]:
    """The plain Kubernetes objects that run ``spec``, in the order to apply them: the router's
    ConfigMap (when routed), Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget
    and ServiceMonitor."""
    objects = [_serve_config(spec)] if spec.routed else []
    objects += [_deployment(spec), _service(spec), _autoscaler(spec), _disruption_budget(spec)]
    if spec.service_monitor:
        objects.append(service_monitor(spec.metadata(), spec.selector(), spec.token))
    return objects
