"""Grafana dashboards of Shipyard: serving (``shipyard serve``) and monitoring (``shipyard server``).

Each dashboard is Grafana's JSON model (schema 39) with a fixed ``uid``, so
provisioning it twice updates one dashboard. Every panel and every query names the
provisioned data source by uid (:data:`DATASOURCE_UID`), so the dashboards need no
import-time choice. Panel ids are unique per dashboard and panels are laid out on
Grafana's 24-column grid, two to a row.

>>> [p["title"] for p in serving_dashboard()["panels"]][:2]
['Request rate', 'Error rate (5xx)']
"""

from __future__ import annotations

from typing import Any

__all__ = ["DATASOURCE_UID", "monitoring_dashboard", "serving_dashboard"]

DATASOURCE_UID = "shipyard-prometheus"
"""The uid of the Prometheus data source the provisioning file declares."""
_DS = {"type": "prometheus", "uid": DATASOURCE_UID}
_ALERTS = 'ALERTS{alertname=~"Shipyard.*"}'


def _query(expr: str, legend: str = "", *, instant: bool = False, ref: str = "A") -> dict[str, Any]:
    target: dict[str, Any] = {"refId": ref, "datasource": _DS, "expr": expr, "legendFormat": legend or "__auto"}
    if instant:
        target.update(instant=True, range=False, format="table")
    return target


def _panel(title: str, description: str, targets: list[dict[str, Any]], unit: str = "short",
           kind: str = "timeseries", **options: Any) -> dict[str, Any]:
    panel: dict[str, Any] = {"type": kind, "title": title, "description": description, "datasource": _DS,
                             "targets": targets, "fieldConfig": {"defaults": {"unit": unit}, "overrides": []}}
    if kind == "timeseries":
        panel["options"] = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                            "tooltip": {"mode": "multi", "sort": "desc"}}
    panel.update(options)
    return panel


def _layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ids 1, 2, … and grid positions: two panels of 12 columns × 8 rows to a row."""
    return [{**panel, "id": i + 1, "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)}}
            for i, panel in enumerate(panels)]


def _variable(name: str, label: str, metric: str) -> dict[str, Any]:
    query = f"label_values({metric}, {name})"
    return {"name": name, "label": label, "type": "query", "datasource": _DS, "definition": query,
            "query": {"query": query, "refId": f"{name}-values"}, "refresh": 2, "sort": 1, "multi": True,
            "includeAll": True, "current": {"selected": True, "text": ["All"], "value": ["$__all"]}}


def _dashboard(uid: str, title: str, description: str, variable: dict[str, Any],
               panels: list[dict[str, Any]]) -> dict[str, Any]:
    return {"uid": uid, "title": title, "description": description, "tags": ["shipyard"], "editable": True,
            "graphTooltip": 1, "schemaVersion": 39, "version": 1, "refresh": "30s", "timezone": "browser",
            "time": {"from": "now-6h", "to": "now"}, "annotations": {"list": []},
            "templating": {"list": [variable]}, "panels": _layout(panels)}


def _alert_states() -> dict[str, Any]:
    return _panel("Alert states", "Shipyard alerts pending or firing now (Prometheus' ALERTS series).",
                  [_query(_ALERTS, instant=True)], kind="table")


def serving_dashboard() -> dict[str, Any]:
    """Requests, errors, latency percentiles, batches, queues and versions of ``shipyard serve``."""
    m = '{model=~"$model"}'
    rate = f"rate(shipyard_requests_total{m}[$__rate_interval])"
    errors = 'rate(shipyard_requests_total{model=~"$model",code=~"5.."}[$__rate_interval])'
    buckets = f"rate(shipyard_request_duration_seconds_bucket{m}[$__rate_interval])"
    batch = f"rate(shipyard_batch_size_bucket{m}[$__rate_interval])"
    panels = [
        _panel("Request rate", "Requests answered per second, by model, route and status code.",
               [_query(f"sum by (model, route, code) ({rate})", "{{model}} {{route}} {{code}}")], "reqps"),
        _panel("Error rate (5xx)", "Share of requests answered 5xx: model errors, overload (503), timeouts (504).",
               [_query(f"sum by (model, route) ({errors}) / sum by (model, route) ({rate})", "{{model}} {{route}}")],
               "percentunit"),
        _panel("Latency percentiles", "p50, p95 and p99 of the time from request received to response sent.",
               [_query(f"histogram_quantile({q}, sum by (model, le) ({buckets}))", f"{{{{model}}}} p{q[2:]}",
                       ref=ref) for q, ref in (("0.50", "A"), ("0.95", "B"), ("0.99", "C"))], "s"),
        _panel("Batch sizes", "Rows per model call: the mean, and the 90th percentile.",
               [_query(f"sum by (model) (rate(shipyard_batch_size_sum{m}[$__rate_interval])) / sum by (model) "
                       f"(rate(shipyard_batch_size_count{m}[$__rate_interval]))", "{{model}} mean"),
                _query(f"histogram_quantile(0.9, sum by (model, le) ({batch}))", "{{model}} p90", ref="B")]),
        _panel("Model call duration", "p99 seconds per model call (one batch).",
               [_query(f"histogram_quantile(0.99, sum by (model, le) "
                       f"(rate(shipyard_batch_duration_seconds_bucket{m}[$__rate_interval])))", "{{model}}")], "s"),
        _panel("In flight and queued", "Requests being handled, and requests waiting for a batch.",
               [_query(f"sum by (model) (shipyard_requests_in_progress{m})", "{{model}} in flight"),
                _query(f"sum by (model, route) (shipyard_queue_depth{m})", "{{model}} {{route}} queued", ref="B")]),
        _panel("Model errors", "Requests per second on which the model raised.",
               [_query(f"sum by (model, version) (rate(shipyard_model_errors_total{m}[$__rate_interval]))",
                       "{{model}} v{{version}}")], "reqps"),
        _panel("Served versions", "The version each route serves now.",
               [_query(f"max by (model, route, version) (shipyard_model_version_info{m})", instant=True)],
               kind="table"),
        _panel("Workers and memory", "Live worker processes and their resident memory.",
               [_query("sum(shipyard_workers)", "workers"),
                _query("sum(process_resident_memory_bytes) / 1e6", "resident MB", ref="B")]),
        _alert_states(),
    ]
    return _dashboard("shipyard-serving", "Shipyard / Serving", "What shipyard serve answers, how fast, in "
                      "what batches.", _variable("model", "model", "shipyard_requests_total"), panels)


def monitoring_dashboard() -> dict[str, Any]:
    """Drift per feature, data quality and model metrics of the monitors' latest windows."""
    m = '{monitor=~"$monitor"}'
    panels = [
        _panel("Drift share", "Share of the monitored features that drifted, per window.",
               [_query(f"shipyard_drift_share{m}", "{{monitor}}")], "percentunit", min=0, max=1),
        _panel("Drift per feature", "Drift statistic of each feature in the latest window.",
               [_query(f"shipyard_feature_drift_score{m}", "{{monitor}} {{feature}}")]),
        _panel("Prediction drift", "Drift statistic of the model's predictions.",
               [_query(f"shipyard_prediction_drift_score{m}", "{{monitor}}")]),
        _panel("Model metrics", "Realised metrics (once labels arrive) and estimated ones (before).",
               [_query(f"shipyard_model_metric{m}", "{{monitor}} {{metric}}")]),
        _panel("Missing values", "Share of missing values per feature.",
               [_query(f"shipyard_missing_rate{m}", "{{monitor}} {{feature}}")], "percentunit"),
        _panel("Data-quality violations", "Rows breaking the contract or the signature, per window.",
               [_query(f"shipyard_quality_violations{m}", "{{monitor}}")]),
        _panel("Rows per window", "Logged predictions, and how many have a label yet.",
               [_query(f"shipyard_window_rows{m}", "{{monitor}} rows"),
                _query(f"shipyard_labelled_rows{m}", "{{monitor}} labelled", ref="B")]),
        _panel("Latency and errors per window", "p99 latency (ms) and error rate the inference log recorded.",
               [_query(f"shipyard_p99_latency_ms{m}", "{{monitor}} p99 ms"),
                _query(f"shipyard_error_rate{m}", "{{monitor}} error rate", ref="B")]),
        _alert_states(),
    ]
    return _dashboard("shipyard-monitoring", "Shipyard / Monitoring", "Drift, data quality and model metrics "
                      "of each monitor's latest windows.", _variable("monitor", "monitor", "shipyard_window_rows"),
                      panels)
