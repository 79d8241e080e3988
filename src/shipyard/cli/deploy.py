"""``shipyard deploy …``: files that run models (and Shipyard itself) on a cluster.

Each command of the group is one function below, registered with ``@app.command``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from shipyard.cli.choices import choice
from shipyard.cli.output import JSON_OPTION, console, console_err, print_json

if TYPE_CHECKING:
    from shipyard.delivery import Manifests, ModelDeployment, ServerDeployment

__all__ = ["app", "k8s"]

app = typer.Typer(help="Write the files that run models (and Shipyard) on a cluster.", no_args_is_help=True)


class Profile(StrEnum):
    """Pod sizes (see shipyard.delivery.PROFILES)."""

    small = "small"
    medium = "medium"
    large = "large"


class ScaleOn(StrEnum):
    """What the autoscaler watches."""

    cpu = "cpu"
    inflight = "inflight"


_SERVER_ONLY = ("--artifacts", "--s3-endpoint-url", "--db-secret", "--s3-secret", "--redis-secret")
_MODEL_ONLY = ("--canary", "--canary-image", "--shadow", "--kserve", "--shipyard-url", "--max-replicas",
               "--scale-on", "--scale-target", "--workers")


@app.command("k8s")
def k8s(
    model: str | None = typer.Argument(None, help="models:/name@alias, models:/name/3 or runs:/<run id>/path "
                                                  "(none with --server)"),
    image: str = typer.Option(..., "--image", help="The image to run, by tag or digest: for a model, one "
                                                   "`shipyard build` made."),
    out: Path = typer.Option(..., "--out", help="Folder to write the manifests into (new or empty)."),
    force: bool = typer.Option(False, "--force", help="Replace an --out that holds manifests written before."),
    name: str | None = typer.Option(None, "--name", help="Name of the Kubernetes objects (default: the model's, "
                                                         "or shipyard-server)."),
    namespace: str | None = typer.Option(None, "--namespace", help="Namespace to put them in (default: the one "
                                                                   "kubectl applies to)."),
    replicas: int = typer.Option(2, "--replicas", min=1, help="Pods to run at least."),
    max_replicas: int | None = typer.Option(None, "--max-replicas", help="Pods the autoscaler may grow to "
                                                                         "(default 3 × --replicas)."),
    profile: Profile = typer.Option(Profile.small, "--profile", help="Pod size: CPU and memory requests and "
                                                                     "limits, worker processes.", **choice(Profile)),
    cpu: str | None = typer.Option(None, "--cpu", help="CPU request (500m, 2), instead of the profile's."),
    memory: str | None = typer.Option(None, "--memory", help="Memory request (512Mi, 2Gi)."),
    cpu_limit: str | None = typer.Option(None, "--cpu-limit", help="CPU limit: at least the request."),
    memory_limit: str | None = typer.Option(None, "--memory-limit", help="Memory limit: at least the request."),
    workers: int | None = typer.Option(None, "--workers", help="Server worker processes per pod (model only)."),
    scale_on: ScaleOn = typer.Option(ScaleOn.cpu, "--scale-on", help="cpu, or inflight: requests being handled "
                                                                      "per pod (shipyard_requests_in_progress).",
                                  **choice(ScaleOn)),
    scale_target: int | None = typer.Option(None, "--scale-target", help="Target per pod: % of the CPU request "
                                                                          "(default 70), or requests (default 8)."),
    token_secret: str | None = typer.Option(None, "--token-secret", help="Secret holding the bearer token, key "
                                                                         "'token' (default: NAME-token)."),
    insecure: bool = typer.Option(False, "--insecure", help="Accept requests without a token (guard the network "
                                                           "with a NetworkPolicy)."),
    shipyard_url: str | None = typer.Option(None, "--shipyard-url", help="Shipyard server the pods pull models "
                                                                         "from (images built with --pull, "
                                                                         "canaries, shadows)."),
    canary: str | None = typer.Option(None, "--canary", help="A second model URI taking --canary-percent of "
                                                             "the requests."),
    canary_percent: int = typer.Option(10, "--canary-percent", help="Share of requests for --canary, 1-99."),
    canary_image: str | None = typer.Option(None, "--canary-image", help="With --kserve: the image serving "
                                                                         "--canary (a new revision)."),
    shadow: str | None = typer.Option(None, "--shadow", help="A model URI that gets a copy of requests; its "
                                                             "answers are only logged."),
    shadow_fraction: float = typer.Option(1.0, "--shadow-fraction", help="Share of requests copied to --shadow."),
    kserve: bool = typer.Option(False, "--kserve", help="Write a KServe InferenceService (Open Inference "
                                                        "Protocol v2) instead."),
    no_service_monitor: bool = typer.Option(False, "--no-service-monitor", help="Write no Prometheus Operator "
                                                                                "ServiceMonitor."),
    tmp_size: str = typer.Option("1Gi", "--tmp-size", help="Size of the scratch volume on /tmp."),
    server: bool = typer.Option(False, "--server", help="Write the manifests of `shipyard server` instead."),
    artifacts: str | None = typer.Option(None, "--artifacts", help="With --server: where artifacts live, "
                                                                   "s3://bucket/prefix."),
    s3_endpoint_url: str | None = typer.Option(None, "--s3-endpoint-url", help="With --server: an S3-compatible "
                                                                               "server (MinIO)."),
    db_secret: str | None = typer.Option(None, "--db-secret", help="With --server: Secret with the database "
                                                                   "URL, key 'url' (default NAME-db)."),
    s3_secret: str | None = typer.Option(None, "--s3-secret", help="With --server: Secret with "
                                                                   "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                                                                   "(default NAME-s3)."),
    redis_secret: str | None = typer.Option(None, "--redis-secret", help="With --server: Secret with the "
                                                                         "Redis URL of the online store, key "
                                                                         "'url'."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write Kubernetes manifests for a model (or, with --server, for `shipyard server`).

    For a model: Deployment (health probes, non-root, read-only root filesystem), Service,
    HorizontalPodAutoscaler, PodDisruptionBudget and ServiceMonitor, or one KServe
    InferenceService with --kserve; a kustomization.yaml (kubectl apply -k OUT) and
    helm-values.yaml for the chart in deploy/helm/shipyard-model. Secrets are referenced,
    never written. The same inputs give the same files, byte for byte.
    """
    from shipyard.delivery import resources_for, write_manifests

    given = {"--artifacts": artifacts, "--s3-endpoint-url": s3_endpoint_url, "--db-secret": db_secret,
             "--s3-secret": s3_secret, "--redis-secret": redis_secret, "--canary": canary,
             "--canary-image": canary_image, "--shadow": shadow, "--kserve": kserve or None,
             "--shipyard-url": shipyard_url, "--max-replicas": max_replicas,
             "--scale-on": None if scale_on is ScaleOn.cpu else scale_on, "--scale-target": scale_target,
             "--workers": workers}
    _check_mode(model, server, given)
    for option, changed, needs in (("--canary-percent", canary_percent != 10, canary),
                                   ("--canary-image", canary_image is not None, canary),
                                   ("--shadow-fraction", shadow_fraction != 1.0, shadow)):
        if changed and needs is None:
            raise typer.BadParameter(f"{option} applies to {option.rpartition('-')[0]}: name that model too",
                                     param_hint=option)
    resources = resources_for(profile.value, cpu=cpu, memory=memory, cpu_limit=cpu_limit, memory_limit=memory_limit,
                              workers=workers)
    common: dict[str, Any] = {"image": image, "replicas": replicas, "resources": resources, "namespace": namespace,
                              "insecure": insecure, "service_monitor": not no_service_monitor, "tmp_size": tmp_size}
    spec: ModelDeployment | ServerDeployment
    if server:
        from shipyard.delivery import ServerDeployment

        spec = ServerDeployment(name=name or "shipyard-server", artifacts=artifacts or "", db_secret=db_secret,
                                s3_secret=s3_secret, s3_endpoint_url=s3_endpoint_url, token_secret=token_secret,
                                redis_secret=redis_secret, **common)
    else:
        spec = _model_spec(str(model), name, common, token_secret=token_secret, max_replicas=max_replicas,
                           scale_on=scale_on.value, scale_target=scale_target, shipyard_url=shipyard_url,
                           canary=canary, canary_percent=canary_percent, canary_image=canary_image, shadow=shadow,
                           shadow_fraction=shadow_fraction, kserve=kserve)
    written = write_manifests(spec, out, force=force)
    for warning in written.warnings:
        console_err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
    if as_json:
        print_json(written.to_dict())
        return
    _report(spec, written, out)


def _check_mode(model: str | None, server: bool, given: dict[str, Any]) -> None:
    if server and model is not None:
        raise typer.BadParameter("--server writes the manifests of `shipyard server`: give no MODEL with it",
                                 param_hint="MODEL")
    if not server and model is None:
        raise typer.BadParameter("name the model to deploy (models:/name@alias), or pass --server",
                                 param_hint="MODEL")
    wrong = [option for option in (_MODEL_ONLY if server else _SERVER_ONLY) if given[option] is not None]
    if wrong:
        raise typer.BadParameter(f"{', '.join(wrong)} applies only {'to a model' if server else 'with --server'}",
                                 param_hint=wrong[0])


def _model_spec(model: str, name: str | None, common: dict[str, Any], **options: Any) -> ModelDeployment:
    from shipyard.client import Client
    from shipyard.delivery import model_deployment

    with console_err.status(f"Checking {model}"), Client() as client:
        return model_deployment(client, model, name=name, **common, **options)


def _report(spec: ModelDeployment | ServerDeployment, written: Manifests, out: Path) -> None:
    from shipyard.delivery import ServerDeployment, chart_for

    what = "shipyard server" if isinstance(spec, ServerDeployment) else spec.uri
    console.print(f"Wrote {len(written.files)} files for {what} to {written.path}: {', '.join(written.files)}",
                  highlight=False, soft_wrap=True, markup=False)
    ns = f" -n {spec.namespace}" if spec.namespace else ""
    lines = []
    token = (None if spec.insecure else spec.secret("token")) if isinstance(spec, ServerDeployment) else spec.token
    if isinstance(spec, ServerDeployment):
        lines += [f"kubectl{ns} create secret generic {spec.secret('db')} "
                  "--from-literal=url=postgresql://USER:PASSWORD@HOST:5432/shipyard",
                  f"kubectl{ns} create secret generic {spec.secret('s3')} --from-literal=AWS_ACCESS_KEY_ID=... "
                  "--from-literal=AWS_SECRET_ACCESS_KEY=..."]
        if spec.redis_secret:
            lines.append(f"kubectl{ns} create secret generic {spec.redis_secret} --from-literal=url=redis://HOST:6379/0")
    if token:
        lines.append(f"kubectl{ns} create secret generic {token} --from-literal=token=\"$(python -c 'import secrets; "
                     "print(secrets.token_urlsafe(32))')\"")
    lines.append(f"kubectl apply -k {out}")
    lines.append(f"  (or: helm upgrade --install {spec.name} deploy/helm/{chart_for(spec)}{ns} "
                 f"-f {out / 'helm-values.yaml'})")
    console.print("Next:\n" + "\n".join(f"  {line}" for line in lines), highlight=False, soft_wrap=True, markup=False)


@app.command("observability")
def observability(
    out: Path = typer.Option(..., "--out", help="Folder to write the rules and dashboards into (new or empty)."),
    force: bool = typer.Option(False, "--force", help="Replace an --out that holds files written before."),
    prometheus_url: str = typer.Option("http://prometheus:9090", "--prometheus-url",
                                       help="URL of Prometheus as Grafana reaches it (the provisioned data source)."),
    error_rate: float = typer.Option(0.05, "--error-rate", help="Alert when more than this share of requests "
                                                                "answer 5xx over 5 minutes."),
    latency_p99_ms: float = typer.Option(500.0, "--latency-p99-ms", help="Alert when p99 request latency stays "
                                                                         "above this many milliseconds."),
    drift_share: float = typer.Option(0.3, "--drift-share", help="Alert when more than this share of a "
                                                                 "monitor's features drift."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write Prometheus recording and alerting rules (with a PrometheusRule) and Grafana
    dashboards for shipyard serve and shipyard server, with Grafana provisioning files for the
    dashboards and the Prometheus data source. The same options give the same files."""
    from shipyard.delivery import Thresholds, write_observability

    thresholds = Thresholds(error_rate=error_rate, latency_p99_ms=latency_p99_ms, drift_share=drift_share)
    written = write_observability(out, thresholds=thresholds, prometheus_url=prometheus_url, force=force)
    if as_json:
        print_json({"path": str(written.path), "files": list(written.files)})
        return
    console.print(f"Wrote {len(written.files)} files to {written.path}: {', '.join(written.files)}",
                  highlight=False, soft_wrap=True, markup=False)
    console.print(f"Next:\n  promtool check rules {written.path / 'prometheus' / 'shipyard-rules.yml'}\n"
                  f"  (see {written.path / 'README.md'} for Prometheus and Grafana)",
                  highlight=False, soft_wrap=True, markup=False)
