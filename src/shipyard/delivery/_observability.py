"""``shipyard deploy observability``: Prometheus rules and Grafana dashboards for Shipyard.

What ``shipyard serve`` (requests, latency, batches, model errors, reloads, the
inference log) and ``shipyard server`` (the monitors' latest windows: drift per
feature, data quality, model metrics) export on ``/metrics`` becomes:

* ``prometheus/shipyard-rules.yml`` — recording rules (request and error rates,
  latency percentiles, mean batch size) and alerting rules over them, ready for
  ``promtool check rules`` and a Prometheus ``rule_files`` entry;
* ``prometheus/shipyard-prometheusrule.yaml`` — the same groups as a Prometheus
  Operator ``PrometheusRule`` (beside the ServiceMonitor ``shipyard deploy k8s`` writes);
* ``grafana/dashboards/*.json`` — a serving and a monitoring dashboard, every panel on
  the provisioned data source;
* ``grafana/provisioning/`` — the Prometheus data source (uid :data:`DATASOURCE_UID`)
  and a dashboard provider reading the dashboards folder.

Recording rules follow Prometheus' ``level:metric:operations`` naming; every raw
metric a rule or panel reads is one a running ``shipyard serve`` or ``shipyard server``
exports. The same thresholds give the same bytes. The folder is written beside
``--out`` and moved into place whole; an ``--out`` that exists and is not empty is
refused, and ``force`` replaces only a folder this command wrote.

>>> rules = prometheus_rules(Thresholds(error_rate=0.02))        # doctest: +SKIP
>>> [g["name"] for g in rules["groups"]]                           # doctest: +SKIP
['shipyard-serving-recording', 'shipyard-serving', 'shipyard-monitoring']
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shipyard.delivery._dashboards import DATASOURCE_UID, monitoring_dashboard, serving_dashboard
from shipyard.delivery._init_project import _missing_ancestor
from shipyard.delivery._output import move_into_place
from shipyard.errors import Conflict, InvalidInput

__all__ = ["DATASOURCE_UID", "ObservabilityFiles", "Thresholds", "observability_files", "prometheus_rules",
           "write_observability"]

DASHBOARDS_PATH = "/var/lib/grafana/dashboards/shipyard"
"""Where the provisioning file tells Grafana to read the dashboards (mount them there)."""
_MARK = "<!-- written by shipyard deploy observability -->"


@dataclass(frozen=True)
class Thresholds:
    """When the alerts fire: ``error_rate`` (share of 5xx answers over 5 minutes),
    ``latency_p99_ms`` (p99 request latency over 5 minutes), ``queue_depth`` (requests
    waiting for a batch), ``drift_share`` (share of a monitor's features that drifted)."""

    error_rate: float = 0.05
    latency_p99_ms: float = 500.0
    queue_depth: int = 100
    drift_share: float = 0.3

    def __post_init__(self) -> None:
        for name, low, high in (("error_rate", 0, 1), ("drift_share", 0, 1)):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and low < value < high):
                raise InvalidInput(f"{name} must be between {low} and {high} (exclusive), got {value!r}", field=name)
        if not (isinstance(self.latency_p99_ms, int | float) and math.isfinite(self.latency_p99_ms)
                and self.latency_p99_ms > 0):
            raise InvalidInput(f"latency_p99_ms must be a positive number, got {self.latency_p99_ms!r}",
                               field="latency_p99_ms")
        if isinstance(self.queue_depth, bool) or not isinstance(self.queue_depth, int) or self.queue_depth < 1:
            raise InvalidInput(f"queue_depth must be a positive integer, got {self.queue_depth!r}",
                               field="queue_depth")


@dataclass(frozen=True)
class ObservabilityFiles:
    """What :func:`write_observability` wrote: the folder and its files (relative, sorted)."""

    path: Path
    files: tuple[str, ...]


def _number(value: float) -> str:
    return f"{value:g}"


def _recording() -> list[dict[str, str]]:
    ratio = ('sum by (model, route) (rate(shipyard_requests_total{code=~"5.."}[5m])) '
             "/ sum by (model, route) (rate(shipyard_requests_total[5m]))")
    rules = [
        {"record": "model_route_code:shipyard_requests:rate5m",
         "expr": "sum by (model, route, code) (rate(shipyard_requests_total[5m]))"},
        {"record": "model_route:shipyard_requests:rate5m",
         "expr": "sum by (model, route) (rate(shipyard_requests_total[5m]))"},
        {"record": "model_route:shipyard_request_errors:ratio_rate5m", "expr": ratio},
    ]
    for q in ("50", "95", "99"):
        rules.append({"record": f"model_route:shipyard_request_duration_seconds:p{q}_5m",
                      "expr": f"histogram_quantile(0.{q}, sum by (model, route, le) "
                              "(rate(shipyard_request_duration_seconds_bucket[5m])))"})
    rules += [
        {"record": "model:shipyard_batch_size:mean5m",
         "expr": "sum by (model) (rate(shipyard_batch_size_sum[5m])) "
                 "/ sum by (model) (rate(shipyard_batch_size_count[5m]))"},
        {"record": "model_version:shipyard_model_errors:rate5m",
         "expr": "sum by (model, version) (rate(shipyard_model_errors_total[5m]))"},
    ]
    return rules


def _alert(name: str, expr: str, duration: str | None, severity: str, summary: str,
           description: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if duration:
        rule["for"] = duration
    rule["labels"] = {"severity": severity}
    rule["annotations"] = {"summary": summary, "description": description}
    return rule


def _serving_alerts(t: Thresholds) -> list[dict[str, Any]]:
    where = "{{ $labels.model }} ({{ $labels.route }})"
    return [
        _alert("ShipyardHighErrorRate", f"model_route:shipyard_request_errors:ratio_rate5m > {_number(t.error_rate)}",
               "5m", "critical", f"{where}: {{{{ $value | humanizePercentage }}}} of requests fail",
               f"More than {t.error_rate:.0%} of requests answered 5xx (model errors, overload, timeouts) over "
               "5 minutes, for 5 minutes."),
        _alert("ShipyardHighLatency",
               f"model_route:shipyard_request_duration_seconds:p99_5m > {_number(t.latency_p99_ms / 1000)}",
               "10m", "warning", f"{where}: p99 latency is {{{{ $value | humanizeDuration }}}}",
               f"The 99th percentile of request latency has been above {_number(t.latency_p99_ms)} ms for "
               "10 minutes."),
        _alert("ShipyardModelErrors", "model_version:shipyard_model_errors:rate5m > 0", "5m", "warning",
               "{{ $labels.model }} v{{ $labels.version }} raises on some requests",
               "The model raised while predicting on requests for 5 minutes; its inference log and the "
               "serving logs hold the failing rows."),
        _alert("ShipyardQueueBacklog", f"max by (model, route) (shipyard_queue_depth) > {t.queue_depth}", "5m",
               "warning", f"{where}: {{{{ $value }}}} requests wait for a batch",
               "Requests have queued for 5 minutes: add workers or replicas, or raise the batch size."),
        _alert("ShipyardReloadFailed",
               'sum by (model, route) (increase(shipyard_reloads_total{outcome="failed"}[15m])) > 0', None,
               "warning", f"{where}: switching to a new version failed",
               "Serving could not load the version an alias moved to and kept serving the previous one."),
        _alert("ShipyardInferenceLogLoss",
               'sum by (model) (rate(shipyard_inference_log_rows_total{outcome=~"dropped|failed"}[10m])) > 0',
               "10m", "warning", "{{ $labels.model }}: inference log rows are being lost",
               "Predictions are served but not all are logged, so monitoring sees less than the traffic."),
        _alert("ShipyardTargetDown", "up == 0 and on (job, instance) max_over_time(shipyard_workers[1h])", "2m",
               "critical", "{{ $labels.instance }} ({{ $labels.job }}) stopped answering scrapes",
               "A target that exported Shipyard serving metrics in the last hour has failed its scrapes for "
               "2 minutes."),
    ]


def _monitoring_alerts(t: Thresholds) -> list[dict[str, Any]]:
    where = "{{ $labels.monitor }} ({{ $labels.model }} v{{ $labels.version }})"
    return [
        _alert("ShipyardDataDrift", f"shipyard_drift_share > {_number(t.drift_share)}", None, "warning",
               f"{where}: {{{{ $value | humanizePercentage }}}} of features drifted",
               f"More than {t.drift_share:.0%} of the monitored features drifted in the latest window; "
               "`shipyard monitor report` shows which and how."),
        _alert("ShipyardDataQuality", "shipyard_quality_violations > 0", None, "warning",
               f"{where}: {{{{ $value }}}} data-quality violations",
               "Logged requests broke the data contract or the signature's ranges in the latest window."),
    ]


def prometheus_rules(thresholds: Thresholds | None = None) -> dict[str, Any]:
    """The rules file as a mapping: ``groups`` of recording rules, serving alerts and
    monitoring alerts."""
    t = thresholds or Thresholds()
    return {"groups": [{"name": "shipyard-serving-recording", "rules": _recording()},
                       {"name": "shipyard-serving", "rules": _serving_alerts(t)},
                       {"name": "shipyard-monitoring", "rules": _monitoring_alerts(t)}]}


def _yaml(data: Any, header: str = "") -> str:
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)


def observability_files(thresholds: Thresholds | None = None, *,
                        prometheus_url: str = "http://prometheus:9090") -> dict[str, str]:
    """Every file, by path in the output folder, as text (see the module docstring)."""
    if not prometheus_url.startswith(("http://", "https://")):
        raise InvalidInput(f"--prometheus-url must be an http(s) URL, got {prometheus_url!r}",
                           field="prometheus_url")
    rules = prometheus_rules(thresholds)
    header = "# Shipyard's Prometheus rules, written by `shipyard deploy observability`.\n"
    operator = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
                "metadata": {"name": "shipyard", "labels": {"app.kubernetes.io/part-of": "shipyard"}},
                "spec": rules}
    datasource = {"apiVersion": 1, "datasources": [{
        "name": "Shipyard Prometheus", "uid": DATASOURCE_UID, "type": "prometheus", "access": "proxy",
        "url": prometheus_url, "editable": False, "jsonData": {"timeInterval": "15s"}}]}
    provider = {"apiVersion": 1, "providers": [{
        "name": "shipyard", "folder": "Shipyard", "type": "file", "disableDeletion": False,
        "allowUiUpdates": False, "options": {"path": DASHBOARDS_PATH, "foldersFromFilesStructure": False}}]}
    files = {
        "README.md": _readme(),
        "prometheus/shipyard-rules.yml": _yaml(rules, header),
        "prometheus/shipyard-prometheusrule.yaml": _yaml(operator, header),
        "grafana/provisioning/datasources/shipyard.yml": _yaml(datasource),
        "grafana/provisioning/dashboards/shipyard.yml": _yaml(provider),
        "grafana/dashboards/shipyard-serving.json": _json(serving_dashboard()),
        "grafana/dashboards/shipyard-monitoring.json": _json(monitoring_dashboard()),
    }
    return dict(sorted(files.items()))


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _readme() -> str:
    return f"""{_MARK}
# Shipyard observability

- `prometheus/shipyard-rules.yml`: add it to `rule_files` in prometheus.yml, after
  `promtool check rules prometheus/shipyard-rules.yml`. With the Prometheus Operator,
  `kubectl apply -f prometheus/shipyard-prometheusrule.yaml` instead.
- `grafana/provisioning/`: mount it as `/etc/grafana/provisioning`; it adds the
  Prometheus data source (uid `{DATASOURCE_UID}`) and a provider for the dashboards.
- `grafana/dashboards/`: mount it as `{DASHBOARDS_PATH}`.

```bash
docker run -d -p 3000:3000 \\
  -v "$PWD/grafana/provisioning:/etc/grafana/provisioning" \\
  -v "$PWD/grafana/dashboards:{DASHBOARDS_PATH}" grafana/grafana
```
"""


def write_observability(out: str | os.PathLike[str], *, thresholds: Thresholds | None = None,
                        prometheus_url: str = "http://prometheus:9090", force: bool = False) -> ObservabilityFiles:
    """Write every file into ``out`` (see the module docstring) and list them."""
    target = Path(out)
    files = observability_files(thresholds, prometheus_url=prometheus_url)
    _check_out(target, force)
    created = _missing_ancestor(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        for path, text in files.items():
            file = staging / path
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text, encoding="utf-8")
            file.chmod(0o644)
        for folder in sorted({p for path in files for p in (staging / path).parents if staging in p.parents}):
            folder.chmod(0o755)
        staging.chmod(0o755)
        move_into_place(staging, target)
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ObservabilityFiles(target, tuple(files))


def _check_out(target: Path, force: bool) -> None:
    if target.exists() and not target.is_dir():
        raise InvalidInput(f"--out {target} is a file; name a folder for the observability files", field="out")
    if not target.is_dir() or not any(target.iterdir()):
        return
    if not force:
        raise Conflict(f"--out {target} exists and is not empty; pass --force to replace it, or name a new folder",
                       field="out")
    readme = target / "README.md"
    first = readme.read_text(encoding="utf-8").partition("\n")[0] if readme.is_file() else ""
    if first != _MARK:
        raise Conflict(f"refusing to replace {target}: it does not hold files written by shipyard deploy "
                       "observability (no README.md of its own); --force replaces only those", field="out")
