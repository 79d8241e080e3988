"""Kubernetes objects that run ``shipyard server`` itself, on PostgreSQL, S3 and (optionally) Redis.

Every credential is a reference to a Secret the cluster's operator creates; no value is
ever written into a manifest. Before a pod serves, an init container runs ``shipyard db
upgrade`` (on PostgreSQL the migration holds an advisory lock, so pods starting together
migrate once). Pods keep nothing on their own disk: the metadata lives in PostgreSQL, the
artifacts in S3, the online feature store in Redis, and ``/tmp`` is scratch.

>>> spec = ServerDeployment(image="registry.example/shipyard-server:0.1.0", artifacts="s3://ml/shipyard")
>>> [o["kind"] for o in server_manifests(spec)]
['Deployment', 'Service', 'PodDisruptionBudget', 'ServiceMonitor']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shipyard.delivery._k8s import PRESTOP_S, check_image, check_name, check_secret, pod_security, service_monitor
from shipyard.delivery._resources import PROFILES, Resources, parse_quantity
from shipyard.errors import InvalidInput

__all__ = ["HEALTH_PATH", "SERVER_PORT", "ServerDeployment", "server_manifests"]

SERVER_PORT = 5000
HEALTH_PATH = "/api/v1/health"


@dataclass(frozen=True)
class ServerDeployment:
    """How ``shipyard server`` runs on a cluster.

    ``image`` has Shipyard with its ``postgres``, ``s3`` (and ``redis``) extras installed;
    ``artifacts`` is where artifacts live (``s3://bucket/prefix``), ``s3_endpoint_url`` an
    S3-compatible server's URL (MinIO). Secrets, each named ``NAME-…`` by default:
    ``db_secret`` holds the database URL (key ``url``), ``s3_secret`` the S3 keys
    (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``; optional, so a pod identity can stand
    in), ``token_secret`` the bearer token (key ``token``; none when ``insecure``), and
    ``redis_secret``, when given, the online store's URL (key ``url``).
    """

    image: str
    artifacts: str
    name: str = "shipyard-server"
    replicas: int = 2
    resources: Resources = field(default_factory=lambda: PROFILES["small"])
    namespace: str | None = None
    db_secret: str | None = None
    s3_secret: str | None = None
    s3_endpoint_url: str | None = None
    token_secret: str | None = None
    insecure: bool = False
    redis_secret: str | None = None
    service_monitor: bool = True
    tmp_size: str = "1Gi"

    def __post_init__(self) -> None:
        check_name(self.name)
        check_image(self.image)
        if isinstance(self.replicas, bool) or not isinstance(self.replicas, int) or self.replicas < 1:
            raise InvalidInput(f"--replicas must be an integer of at least 1, got {self.replicas!r}", field="replicas")
        if not isinstance(self.artifacts, str) or not self.artifacts.startswith("s3://") or len(self.artifacts) < 6:
            raise InvalidInput(f"--artifacts must be an S3 URI (s3://bucket/prefix), got {self.artifacts!r}: a pod's "
                               "own disk is gone when it is replaced", field="artifacts")
        for option, secret in (("--db-secret", self.db_secret), ("--s3-secret", self.s3_secret),
                               ("--token-secret", self.token_secret), ("--redis-secret", self.redis_secret)):
            if secret is not None:
                check_secret(secret, option)
        if self.insecure and self.token_secret is not None:
            raise InvalidInput("--token-secret and --insecure contradict each other: requests either need the "
                               "token or need none", field="token_secret")
        parse_quantity(self.tmp_size, "tmp_size")

    def secret(self, kind: str) -> str:
        given = {"db": self.db_secret, "s3": self.s3_secret, "token": self.token_secret}[kind]
        return given or f"{self.name}-{kind}"

    def labels(self) -> dict[str, str]:
        return {**self.selector(), "app.kubernetes.io/component": "api-server", "app.kubernetes.io/part-of": "shipyard"}

    def selector(self) -> dict[str, str]:
        return {"app.kubernetes.io/instance": self.name, "app.kubernetes.io/name": "shipyard-server"}

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.name, "labels": self.labels()}
        if self.namespace:
            meta["namespace"] = self.namespace
        return meta


def _secret(name: str, secret: str, key: str, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"key": key, "name": secret}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def _env(spec: ServerDeployment) -> list[dict[str, Any]]:
    env = [
        {"name": "SHIPYARD_HOME", "value": "/tmp/shipyard"},
        _secret("SHIPYARD_DB", spec.secret("db"), "url"),
        {"name": "SHIPYARD_ARTIFACTS", "value": spec.artifacts},
        _secret("AWS_ACCESS_KEY_ID", spec.secret("s3"), "AWS_ACCESS_KEY_ID", optional=True),
        _secret("AWS_SECRET_ACCESS_KEY", spec.secret("s3"), "AWS_SECRET_ACCESS_KEY", optional=True),
    ]
    if spec.s3_endpoint_url:
        env.append({"name": "SHIPYARD_S3_ENDPOINT_URL", "value": spec.s3_endpoint_url})
    if spec.redis_secret:
        env.append(_secret("SHIPYARD_ONLINE_STORE", spec.redis_secret, "url"))
    if not spec.insecure:
        env.append(_secret("SHIPYARD_TOKEN", spec.secret("token"), "token"))
    return env


def _deployment(spec: ServerDeployment) -> dict[str, Any]:
    pod_security_context, security = pod_security()
    env = _env(spec)
    mounts = [{"mountPath": "/tmp", "name": "tmp"}]
    probe = {"httpGet": {"path": HEALTH_PATH, "port": "http"}, "timeoutSeconds": 3}
    server = {
        "name": "server",
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["shipyard", "server", "--host", "0.0.0.0", "--port", str(SERVER_PORT),
                    *(["--insecure"] if spec.insecure else [])],
        "env": env,
        "ports": [{"containerPort": SERVER_PORT, "name": "http", "protocol": "TCP"}],
        "readinessProbe": {**probe, "failureThreshold": 3, "periodSeconds": 5},
        "livenessProbe": {**probe, "failureThreshold": 3, "periodSeconds": 10},
        "lifecycle": {"preStop": {"exec": {"command": ["python", "-c", f"import time; time.sleep({PRESTOP_S})"]}}},
        "resources": spec.resources.requirements(),
        "securityContext": security,
        "volumeMounts": mounts,
    }
    migrate = {"name": "migrate", "image": spec.image, "imagePullPolicy": "IfNotPresent",
               "command": ["shipyard", "db", "upgrade"], "env": env, "resources": spec.resources.requirements(),
               "securityContext": security, "volumeMounts": mounts}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": spec.metadata(),
        "spec": {
            "replicas": spec.replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": spec.selector()},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}, "type": "RollingUpdate"},
            "template": {
                "metadata": {"annotations": {"prometheus.io/path": "/metrics", "prometheus.io/port": str(SERVER_PORT),
                                             "prometheus.io/scrape": "true"},
                             "labels": spec.labels()},
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "initContainers": [migrate],
                    "containers": [server],
                    "securityContext": pod_security_context,
                    "terminationGracePeriodSeconds": PRESTOP_S + 30,
                    "volumes": [{"emptyDir": {"sizeLimit": spec.tmp_size}, "name": "tmp"}],
                },
            },
        },
    }


def server_manifests(spec: ServerDeployment) -> list[dict[str, Any]]:
    """The objects that run ``shipyard server`` as ``spec`` says: Deployment (with the migration
    as its init container), Service, PodDisruptionBudget and ServiceMonitor."""
    service = {"apiVersion": "v1", "kind": "Service", "metadata": spec.metadata(),
               "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}],
                        "selector": spec.selector(), "type": "ClusterIP"}}
    budget = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": spec.metadata(),
              "spec": {"maxUnavailable": 1, "selector": {"matchLabels": spec.selector()}}}
    objects = [_deployment(spec), service, budget]
    if spec.service_monitor:
        token = None if spec.insecure else spec.secret("token")
        objects.append(service_monitor(spec.metadata(), spec.selector(), token))
    return objects
