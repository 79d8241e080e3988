"""``shipyard deploy k8s``: Kubernetes, KServe and Helm manifests that validate, match, and run.

Every object is checked strictly (an unknown field is an error) against the schemas of
Kubernetes 1.30 shipped by kubernetes-validate; the ServiceMonitor and the KServe
InferenceService against the vendored schemas in ``schemas/`` (see their headers for
source and licence), and the InferenceService also through the ``kserve`` package's typed
models (``kserve_check.py``, in a venv of its own). Both Helm charts are rendered by Helm's
own engine (helm-python-sdk) and must give the objects ``deploy k8s`` writes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from importlib.resources import files
from pathlib import Path
from typing import Any

import helm_python
import httpx
import jsonschema
import kubernetes_validate
import numpy as np
import pytest
import yaml
from referencing import Registry, Resource
from sklearn.linear_model import LogisticRegression

import shipyard
from shipyard import Config
from shipyard.delivery import (
    PROFILES,
    Canary,
    ModelDeployment,
    ServerDeployment,
    ShadowRoute,
    chart_for,
    model_manifests,
    resources_for,
    server_manifests,
    write_manifests,
)
from shipyard.errors import InvalidInput
from shipyard.serving import ServeConfig, load_serve_config
from shipyard.serving._metrics import FAMILIES
from shipyard.serving._worker import HEALTH_PATHS
from tests.cli.test_cli import run_cli
from tests.serving.conftest import cli_server

K8S_VERSION = "1.30"
SCHEMAS = Path(__file__).with_name("schemas")
CHARTS = Path(__file__).parents[2] / "deploy" / "helm"
CHART = CHARTS / "shipyard-model"
K8S_DEFINITIONS = "https://kubernetes.io/api/_definitions.json"
IMAGE = "registry.example/ml/churn:3"
Validate = Callable[[dict[str, Any]], None]


# -- validators ------------------------------------------------------------------------------


def _strict(schema: Any) -> Any:
    """A CRD's openAPIV3Schema as a strict JSON Schema: an object listing its properties
    accepts no other (the API server would prune them: a typo would vanish silently)."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items() if not key.startswith("x-kubernetes")}
    if "properties" in schema and "additionalProperties" not in schema \
            and not schema.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


@pytest.fixture(scope="session")
def validate() -> Validate:
    """Check one object strictly: core kinds with kubernetes-validate (Kubernetes 1.30), the
    ServiceMonitor and the InferenceService with jsonschema against the vendored schemas."""
    strict_dir = files("kubernetes_validate") / "kubernetes-json-schema" / f"v{K8S_VERSION}.0-local-strict"
    definitions = json.loads((strict_dir / "_definitions.json").read_text())
    registry: Registry = Resource.from_contents(definitions) @ Registry()
    meta = {"$ref": f"{K8S_DEFINITIONS}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}

    monitor = _strict(yaml.safe_load((SCHEMAS / "servicemonitors.monitoring.coreos.com.v1.yaml").read_text())
                      ["openAPIV3Schema"])
    monitor["properties"]["metadata"] = meta
    monitor["properties"]["apiVersion"] = {"const": "monitoring.coreos.com/v1"}
    monitor["properties"]["kind"] = {"const": "ServiceMonitor"}

    kserve = yaml.safe_load((SCHEMAS / "inferenceservices.serving.kserve.io.v1beta1.yaml").read_text())
    predictor = kserve["properties"]["spec"]["properties"]["predictor"]
    assert predictor.pop("x-inline-pod-spec")
    pod_spec = f"{K8S_DEFINITIONS}#/$defs/io.k8s.api.core.v1.PodSpec"
    for name in definitions["$defs"]["io.k8s.api.core.v1.PodSpec"]["properties"]:
        predictor["properties"][name] = {"$ref": f"{pod_spec}/properties/{name}"}
    validators = {kind: jsonschema.Draft202012Validator(schema, registry=registry)
                  for kind, schema in (("ServiceMonitor", monitor), ("InferenceService", kserve))}

    def check(obj: dict[str, Any]) -> None:
        if obj["kind"] in validators:
            validators[obj["kind"]].validate(obj)
        else:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)

    return check


# KServe's own typed models check its objects too. The `kserve` package pins versions that clash
# with the test tools', so it lives in a venv of its own, made once and kept between runs.
KSERVE = "kserve==0.21.0"
KSERVE_CHECK = Path(__file__).with_name("kserve_check.py")


@pytest.fixture(scope="session")
def kserve_check() -> Callable[[list[dict[str, Any]]], list[str]]:
    """Run ``kserve_check.py`` over objects in a venv holding the ``kserve`` package; its errors."""
    venv = Path.home() / ".cache" / "shipyard-tests" / KSERVE.replace("==", "-")
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if not stamp.exists():
        shutil.rmtree(venv, ignore_errors=True)
        made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True, timeout=120)
        installed = made.returncode == 0 and subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", KSERVE],
            capture_output=True, text=True, timeout=600).returncode == 0
        if not installed:
            pytest.skip(f"could not install {KSERVE} into a venv of its own (no package index?)")
        stamp.touch()

    def check(objects: list[dict[str, Any]]) -> list[str]:
        done = subprocess.run([str(python), str(KSERVE_CHECK)], input=json.dumps(objects), capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return list(json.loads(done.stdout))

    return check


# -- deployments -----------------------------------------------------------------------------


CASES: dict[str, dict[str, Any]] = {
    "plain": {},
    "routed": {"canary": Canary("models:/churn@challenger", 10), "shadow": ShadowRoute("models:/churn/1", 0.25),
               "shipyard_url": "http://shipyard-server.ml", "scale_on": "inflight", "insecure": True,
               "resources": resources_for("large", memory_limit="10Gi"), "replicas": 3, "max_replicas": 12},
    "kserve": {"kserve": True},
    "kserve-canary": {"kserve": True, "canary": Canary("models:/churn@challenger", 20, "registry.example/ml/churn:4"),
                      "scale_on": "inflight", "scale_target": 4, "token_secret": "ml-serving-token"},
}


def spec_for(case: str, **changes: Any) -> ModelDeployment:
    return ModelDeployment(**{"name": "churn", "model": "churn", "uri": "models:/churn@production",
                              "version": "models:/churn/1", "image": IMAGE, "namespace": "ml", **CASES[case],
                              **changes})


SERVER = ServerDeployment(image="registry.example/ml/shipyard-server:0.1.0", artifacts="s3://ml-artifacts/shipyard",
                          namespace="ml", s3_endpoint_url="http://minio.storage:9000", redis_secret="shipyard-redis")


def objects_in(folder: Path) -> list[dict[str, Any]]:
    """The Kubernetes objects of a written folder (not its kustomization or Helm values)."""
    return [yaml.safe_load(path.read_text()) for path in sorted(folder.glob("*.yaml"))
            if path.name not in ("kustomization.yaml", "helm-values.yaml")]


def helm_template(values: dict[str, Any], namespace: str, chart_dir: Path = CHART) -> list[dict[str, Any]]:
    """``helm template`` of a chart (the model's by default), by Helm's own engine."""
    with helm_python.Chart.load(str(chart_dir)) as chart:
        rendered = chart.render(values, name=values["name"], namespace=namespace)
    return [doc for path, text in sorted(rendered.items()) if path.endswith(".yaml")
            for doc in yaml.safe_load_all(text) if doc]


def by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {obj["kind"]: obj for obj in objects}


@pytest.mark.parametrize("case", [*CASES, "server"])
def test_every_manifest_validates_strictly(case: str, validate: Validate, tmp_path: Path) -> None:
    spec = SERVER if case == "server" else spec_for(case)
    written = write_manifests(spec, tmp_path / "out")
    objects = objects_in(tmp_path / "out")
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == sorted(written.objects)
    for obj in objects:
        validate(obj)
    for name in written.files:  # each object is read whole: no YAML anchors or aliases
        assert not any(line.lstrip().startswith(("&", "*")) or ": &" in line or ": *" in line
                       for line in (tmp_path / "out" / name).read_text().splitlines()), name
    kustomization = yaml.safe_load((tmp_path / "out" / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(p for p in written.files
                                                        if p not in ("kustomization.yaml", "helm-values.yaml"))


def test_the_validators_refuse_a_misspelt_field(validate: Validate) -> None:
    objects = by_kind(model_manifests(spec_for("plain")) + model_manifests(spec_for("kserve")))
    deployment = copy.deepcopy(objects["Deployment"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    monitor = copy.deepcopy(objects["ServiceMonitor"])
    monitor["spec"]["endpoints"][0]["intervall"] = "15s"
    service = copy.deepcopy(objects["InferenceService"])
    service["spec"]["predictor"]["canaryTrafficPercentage"] = 10
    container = copy.deepcopy(objects["InferenceService"])
    container["spec"]["predictor"]["containers"][0]["envs"] = []
    for wrong in (deployment, monitor, service, container):
        with pytest.raises(jsonschema.ValidationError):
            validate(wrong)


def test_the_pods_run_unprivileged_on_the_servings_health_endpoints() -> None:
    objects = by_kind(model_manifests(spec_for("plain")))
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"] | {"seccompProfile": None} == {
        "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001, "seccompProfile": None}
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    assert {"mountPath": "/tmp", "name": "tmp"} in container["volumeMounts"]
    assert {"emptyDir": {"sizeLimit": "1Gi"}, "name": "tmp"} in pod["volumes"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    # Probes pass without a token: they are among the paths serving leaves open.
    assert {container[p]["httpGet"]["path"] for p in ("readinessProbe", "livenessProbe", "startupProbe")} \
        <= set(HEALTH_PATHS)
    # Kubernetes waits past the preStop pause and everything the server takes to drain.
    drain = ServeConfig.for_uri("models:/churn/1").drain_timeout_s
    assert pod["terminationGracePeriodSeconds"] > 5 + drain + 5
    annotations = objects["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert {k: v for k, v in annotations.items() if k.startswith("prometheus.io/")} == {
        "prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics"}
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "512Mi"},
                                      "limits": {"cpu": "1", "memory": "1Gi"}}
    assert {"name": "SHIPYARD_TOKEN", "valueFrom": {"secretKeyRef": {"key": "token", "name": "churn-token"}}} \
        in container["env"]
    endpoint = objects["ServiceMonitor"]["spec"]["endpoints"][0]
    assert endpoint["authorization"]["credentials"] == {"key": "token", "name": "churn-token"}
    assert objects["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    assert objects["HorizontalPodAutoscaler"]["spec"]["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]


def test_scaling_on_requests_in_flight_names_the_metric_serving_exports() -> None:
    scaler = by_kind(model_manifests(spec_for("routed")))["HorizontalPodAutoscaler"]["spec"]
    (metric,) = scaler["metrics"]
    assert metric["type"] == "Pods" and metric["pods"]["target"] == {"type": "AverageValue", "averageValue": "8"}
    assert metric["pods"]["metric"]["name"] in FAMILIES
    assert (scaler["minReplicas"], scaler["maxReplicas"]) == (3, 12)


def test_inference_services_are_what_kserves_typed_models_accept(kserve_check: Any, tmp_path: Path) -> None:
    services = [obj for case in ("kserve", "kserve-canary") for obj in model_manifests(spec_for(case))]
    write_manifests(spec_for("kserve-canary"), tmp_path / "out")
    values = yaml.safe_load((tmp_path / "out" / "helm-values.yaml").read_text())
    services += [obj for obj in helm_template(values, "ml") if obj["kind"] == "InferenceService"]
    assert len(services) == 3
    assert kserve_check(services) == []
    misspelt = copy.deepcopy(services[1])
    misspelt["spec"]["predictor"]["canaryTrafficPercentage"] = 10
    mistyped = copy.deepcopy(services[1])
    mistyped["spec"]["predictor"]["minReplicas"] = "two"
    unnamed = copy.deepcopy(services[1])
    del unnamed["spec"]["predictor"]["containers"][0]["name"]
    errors = kserve_check([misspelt, mistyped, unnamed])
    assert len(errors) == 3 and "canaryTrafficPercentage" in errors[0] and "minReplicas" in errors[1], errors
    assert "name" in errors[2], errors


def test_kserve_serves_the_open_inference_protocol_from_a_custom_container() -> None:
    (service,) = model_manifests(spec_for("kserve-canary"))
    predictor = service["spec"]["predictor"]
    (container,) = predictor["containers"]
    assert container["name"] == "kserve-container" and container["image"] == "registry.example/ml/churn:4"
    assert {"name": "PROTOCOL", "value": "v2"} in container["env"]
    assert predictor["canaryTrafficPercent"] == 20
    assert (predictor["scaleMetric"], predictor["scaleTarget"]) == ("concurrency", 4)
    assert container["securityContext"]["runAsNonRoot"] and container["securityContext"]["readOnlyRootFilesystem"]
    assert service["metadata"]["annotations"]["serving.kserve.io/enable-prometheus-scraping"] == "true"


@pytest.mark.parametrize("case", [*CASES, "server", "server-insecure"])
def test_the_helm_chart_renders_what_deploy_k8s_writes(case: str, validate: Validate, tmp_path: Path) -> None:
    spec = {"server": SERVER, "server-insecure": replace(SERVER, insecure=True, redis_secret=None,
                                                           s3_endpoint_url=None, service_monitor=False)
            }.get(case) or spec_for(case)
    write_manifests(spec, tmp_path / "out")
    values = yaml.safe_load((tmp_path / "out" / "helm-values.yaml").read_text())
    rendered = helm_template(values, namespace="ml", chart_dir=CHARTS / chart_for(spec))
    written = objects_in(tmp_path / "out")
    key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
    assert sorted(rendered, key=key) == sorted(written, key=key)
    for obj in rendered:
        validate(obj)


def test_the_chart_defaults_are_the_defaults_of_deploy_k8s() -> None:
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert chart_values["profiles"] == {
        name: {"requests": {"cpu": p.cpu, "memory": p.memory}, "limits": {"cpu": p.cpu_limit, "memory": p.memory_limit},
               "workers": p.workers} for name, p in PROFILES.items()}
    values = {**chart_values, "name": "churn", "image": IMAGE,
              "model": {"name": "churn", "uri": "models:/churn@production", "version": "models:/churn/1"}}
    assert sorted(helm_template(values, "ml"), key=lambda o: o["kind"]) == \
        sorted(model_manifests(spec_for("plain")), key=lambda o: o["kind"])
    lint = helm_python.lint(str(CHART), values=values)
    assert lint["errors"] == [] and all(m["severity"] <= 1 for m in lint["messages"]), lint


def test_the_server_charts_defaults_are_the_defaults_of_deploy_k8s_server() -> None:
    chart_dir = CHARTS / "shipyard-server"
    chart_values = yaml.safe_load((chart_dir / "values.yaml").read_text())
    assert chart_values["profiles"] == {
        name: {"requests": {"cpu": p.cpu, "memory": p.memory}, "limits": {"cpu": p.cpu_limit, "memory": p.memory_limit}}
        for name, p in PROFILES.items()}
    spec = ServerDeployment(image="registry.example/ml/shipyard-server:0.1.0", artifacts="s3://ml-artifacts/shipyard",
                            namespace="ml")
    values = {**chart_values, "name": spec.name, "image": spec.image, "artifacts": spec.artifacts}
    key = lambda o: o["kind"]  # noqa: E731
    assert sorted(helm_template(values, "ml", chart_dir), key=key) == sorted(server_manifests(spec), key=key)
    lint = helm_python.lint(str(chart_dir), values=values)
    assert lint["errors"] == [] and all(m["severity"] <= 1 for m in lint["messages"]), lint


@pytest.mark.parametrize(("changes", "words"), [
    ({"image": ""}, "image is required"),
    ({"artifacts": "/var/lib/shipyard"}, "artifacts must be an S3 URI"),
    ({"replicas": 0}, "replicas must be at least 1"),
    ({"profile": "huge"}, "profile must be one of"),
    ({"auth": {"insecure": True}, "secrets": {"db": "", "s3": "", "token": "t", "redis": ""}}, "contradict"),
])
def test_the_server_chart_refuses_what_deploy_k8s_server_refuses(changes: dict[str, Any], words: str) -> None:
    chart_dir = CHARTS / "shipyard-server"
    values = {**yaml.safe_load((chart_dir / "values.yaml").read_text()), "image": "registry.example/s:0.1.0",
              "artifacts": "s3://ml/shipyard", **changes}
    with pytest.raises(Exception, match=words):
        helm_template(values, "ml", chart_dir)


def test_the_same_deployment_gives_the_same_bytes(tmp_path: Path) -> None:
    for case in CASES:
        first = write_manifests(spec_for(case), tmp_path / case / "a")
        second = write_manifests(spec_for(case), tmp_path / case / "b")
        assert first.files == second.files
        for name in first.files:
            assert (first.path / name).read_bytes() == (second.path / name).read_bytes(), name


def test_a_routed_deployment_runs_shipyards_router_over_its_config(home: Path, tmp_path: Path) -> None:
    spec = spec_for("routed", namespace=None)
    objects = by_kind(model_manifests(spec))
    text = objects["ConfigMap"]["data"]["serve.yaml"]
    config = load_serve_config(yaml.safe_load(text))
    (model,) = config.models
    assert [(t.uri, t.weight) for t in model.targets] == [("models:/churn@production", 90),
                                                          ("models:/churn@challenger", 10)]
    assert model.shadow is not None and (model.shadow.uri, model.shadow.fraction) == ("models:/churn/1", 0.25)
    template = objects["Deployment"]["spec"]["template"]
    assert template["metadata"]["annotations"]["shipyard.io/serve-config-sha256"] == \
        hashlib.sha256(text.encode()).hexdigest()
    (container,) = template["spec"]["containers"]
    assert container["command"][:3] == ["shipyard", "serve", "/etc/shipyard/serve.yaml"]
    # The config the pods mount, served for real: the probes' paths answer, the metric the
    # autoscaler reads is exported.
    (tmp_path / "serve.yaml").write_text(text)
    rows = np.random.default_rng(1).normal(size=(3, 3)).tolist()
    with cli_server(home, str(tmp_path / "serve.yaml")) as server:
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            assert httpx.get(server.url + container[probe]["httpGet"]["path"], timeout=10).status_code == 200
        answer = httpx.post(f"{server.url}/invocations", json={"inputs": rows}, timeout=30)
        assert answer.status_code == 200, answer.text
        metrics = httpx.get(server.url + "/metrics", timeout=10).text
    metric = objects["HorizontalPodAutoscaler"]["spec"]["metrics"][0]["pods"]["metric"]["name"]
    assert f'{metric}{{model="churn"}}' in metrics


def test_server_manifests_reference_secrets_and_migrate_before_serving(validate: Validate) -> None:
    from shipyard.cli.main import walk

    objects = by_kind(server_manifests(SERVER))
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    (migrate,) = pod["initContainers"]
    assert migrate["command"] == ["shipyard", "db", "upgrade"]
    assert ("db", "upgrade") in {path for path, _ in walk()}
    (server,) = pod["containers"]
    env = {item["name"]: item for item in server["env"]}
    for name, secret, key in (("SHIPYARD_DB", "shipyard-server-db", "url"),
                              ("AWS_ACCESS_KEY_ID", "shipyard-server-s3", "AWS_ACCESS_KEY_ID"),
                              ("AWS_SECRET_ACCESS_KEY", "shipyard-server-s3", "AWS_SECRET_ACCESS_KEY"),
                              ("SHIPYARD_TOKEN", "shipyard-server-token", "token"),
                              ("SHIPYARD_ONLINE_STORE", "shipyard-redis", "url")):
        assert "value" not in env[name] and env[name]["valueFrom"]["secretKeyRef"]["name"] == secret
        assert env[name]["valueFrom"]["secretKeyRef"]["key"] == key
    assert env["SHIPYARD_ARTIFACTS"]["value"] == "s3://ml-artifacts/shipyard"
    assert migrate["env"] == server["env"]
    assert server["readinessProbe"]["httpGet"]["path"] == "/api/v1/health"
    assert server["securityContext"]["readOnlyRootFilesystem"] and pod["securityContext"]["runAsNonRoot"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_builds_the_kustomization(tmp_path: Path) -> None:
    write_manifests(spec_for("routed"), tmp_path / "out")
    built = subprocess.run(["kubectl", "kustomize", str(tmp_path / "out")], capture_output=True, text=True,
                           timeout=60, check=False)
    assert built.returncode == 0, built.stderr
    assert sorted(d["kind"] for d in yaml.safe_load_all(built.stdout)) == sorted(
        o["kind"] for o in objects_in(tmp_path / "out"))


# -- the command, on a real registry ---------------------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Model "churn" (versions 1 and 2, aliases production and challenger, with signatures)
    and "unsigned" (logged without an input example: no signature)."""
    home = tmp_path_factory.mktemp("deploy")
    x = np.random.default_rng(0).normal(size=(60, 3))
    y = (x[:, 0] > 0).astype(int)
    with shipyard.Client(Config(home=home)) as client:
        for _ in range(2):
            with shipyard.start_run("churn", client=client):
                shipyard.log_model(LogisticRegression().fit(x, y), input_example=x[:3], registered_model_name="churn")
        with shipyard.start_run("churn", client=client):
            shipyard.log_model(LogisticRegression().fit(x, y), registered_model_name="unsigned")
        client.set_alias("churn", "production", 1)
        client.set_alias("churn", "challenger", 2)
    return home


def deploy(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(home, "deploy", "k8s", *args, columns=None)


def test_deploy_k8s_writes_manifests_for_the_version_the_alias_names(home: Path, tmp_path: Path,
                                                                       validate: Validate) -> None:
    out = tmp_path / "churn"
    done = deploy(home, "models:/churn@production", "--image", IMAGE, "--replicas", "2", "--out", str(out),
                  "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["files"] == sorted(p.name for p in out.iterdir())
    deployment = by_kind(objects_in(out))["Deployment"]
    assert deployment["metadata"]["annotations"]["shipyard.io/model-version"] == "models:/churn/1"
    assert by_kind(objects_in(out))["HorizontalPodAutoscaler"]["spec"]["minReplicas"] == 2
    for obj in objects_in(out):
        validate(obj)
    again = deploy(home, "models:/churn@production", "--image", IMAGE, "--replicas", "2", "--out",
                   str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    assert "kubectl apply -k" in again.stdout
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {p.name: p.read_bytes()
                                                               for p in (tmp_path / "again").iterdir()}


def test_deploy_k8s_server_writes_the_servers_manifests(home: Path, tmp_path: Path, validate: Validate) -> None:
    done = deploy(home, "--server", "--image", "registry.example/ml/shipyard-server:0.1.0", "--artifacts",
                  "s3://ml-artifacts/shipyard", "--namespace", "ml", "--out", str(tmp_path / "server"))
    assert done.returncode == 0, done.stderr
    assert "create secret generic shipyard-server-db" in done.stdout
    for obj in objects_in(tmp_path / "server"):
        validate(obj)
    values = yaml.safe_load((tmp_path / "server" / "helm-values.yaml").read_text())
    assert sorted(helm_template(values, "ml", CHARTS / "shipyard-server"), key=lambda o: o["kind"]) == \
        sorted(objects_in(tmp_path / "server"), key=lambda o: o["kind"])


def _refused(done: subprocess.CompletedProcess[str], status: int, *words: str) -> None:
    assert done.returncode == status, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


@pytest.mark.parametrize(("args", "status", "words"), [
    (["models:/chrun@production"], 1, ["NotFound", "chrun"]),
    (["models:/unsigned/1"], 1, ["InvalidInput", "no signature", "input_example="]),
    (["models:/churn@production", "--replicas", "0"], 2, ["--replicas"]),
    (["models:/churn@production", "--memory", "2Gi"], 1, ["InvalidInput", "memory limit 1Gi is below",
                                                          "--memory-limit"]),
    (["models:/churn@production", "--cpu", "2", "--cpu-limit", "1500m"], 1, ["cpu limit 1500m is below"]),
    (["models:/churn@production", "--shadow", "models:/churn/2"], 1, ["--shipyard-url"]),
    (["models:/churn@production", "--kserve", "--shadow", "models:/churn/2"], 1, ["mirroring"]),
    (["--server", "--canary", "models:/churn/2", "--artifacts", "s3://b/p"], 2, ["--canary"]),
    (["models:/churn@production", "--canary-percent", "20"], 2, ["--canary-percent applies to --canary"]),
    (["models:/churn@production", "--insecure", "--token-secret", "serving-token"], 1, ["contradict"]),
])
def test_bad_input_is_one_clear_error_and_writes_nothing(home: Path, tmp_path: Path, args: list[str], status: int,
                                                         words: list[str]) -> None:
    out = tmp_path / "deep" / "out"
    _refused(deploy(home, *args, "--image", IMAGE, "--out", str(out)), status, *words)
    assert not (tmp_path / "deep").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_out_folder_that_is_not_empty_is_replaced_only_with_force_and_only_if_ours(home: Path,
                                                                                      tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    _refused(deploy(home, "models:/churn/1", "--image", IMAGE, "--out", str(other)), 1, "Conflict", "--force")
    _refused(deploy(home, "models:/churn/1", "--image", IMAGE, "--out", str(other), "--force"), 1,
             "refusing to replace")
    assert [p.name for p in other.iterdir()] == ["notes.txt"]

    ours = tmp_path / "ours"
    assert deploy(home, "models:/churn/1", "--image", IMAGE, "--out", str(ours)).returncode == 0
    _refused(deploy(home, "models:/churn/1", "--image", IMAGE, "--out", str(ours), "--replicas", "4"), 1,
             "Conflict")
    done = deploy(home, "models:/churn/1", "--image", IMAGE, "--out", str(ours), "--replicas", "4", "--force")
    assert done.returncode == 0, done.stderr
    assert by_kind(objects_in(ours))["HorizontalPodAutoscaler"]["spec"]["minReplicas"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "ours"]  # no staging folder left


def test_a_deployment_refuses_what_the_cluster_would_refuse() -> None:
    for changes, field in (({"replicas": 0}, "replicas"), ({"name": "Churn_Model"}, "name"),
                           ({"image": "Registry/Churn:3"}, "image"), ({"max_replicas": 1}, "max_replicas"),
                           ({"kserve": True, "canary": Canary("models:/churn/2", 10)}, "canary_image"),
                           ({"tmp_size": "1 GB"}, "tmp_size"), ({"token_secret": "Serving_Token"}, "token_secret")):
        with pytest.raises(InvalidInput) as caught:
            spec_for("plain", **changes)
        assert caught.value.field == field  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match="limit"):
        replace(PROFILES["small"], memory="4Gi")
    with pytest.raises(InvalidInput, match="1 to 99"):
        Canary("models:/churn/2", 100)
