"""Alert rules as Prometheus alerting rules, over the gauges monitors export.

Each rule becomes one Prometheus rule whose expression reads the same value the
engine reads: the series' gauge (:data:`~shipyard.alerting._series.PROMETHEUS_NAMES`,
or ``shipyard_model_metric{metric="…"}`` for model-quality series), narrowed to the
rule's monitor and labels, compared with the same threshold::

    drift_share > 0.3 for 2 windows   (monitor churn, 1 h windows)
    → expr: shipyard_drift_share{monitor="churn"} > 0.3
      for: 1h30m

**Why ``for`` is (N − ½) windows.** Prometheus fires once the expression has been
true for ``for``; a gauge that changes once per window has been true for N − 1
windows when the Nth consecutive window is published. Half a window more makes the
alert wait until the Nth window is surely in (it tolerates half a window of
publication delay) and fire before the (N + 1)th could count, so it fires on exactly
the evidence the engine does. A one-window rule has no ``for``.

**Windows.** The window of a monitor comes from ``windows`` (seconds, from the
monitor definitions). A monitor not listed there is assumed to use
``default_window_s`` (one hour unless told otherwise); a rule on every monitor
(``*``) uses the longest window known, since waiting longer never fires early.

Differences that remain: Prometheus resolves an alert when its series disappears,
while the engine keeps a firing alert through windows with no value; and Prometheus
has no disabled rules, so those are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from shipyard.alerting._rules import AlertRule, format_number
from shipyard.alerting._series import MODEL_METRIC_GAUGE, PROMETHEUS_NAMES

__all__ = ["DEFAULT_WINDOW_S", "prometheus_expr", "prometheus_rules", "render_prometheus_rules"]

DEFAULT_WINDOW_S = 3600
_INVALID = re.compile(r"[^A-Za-z0-9_]")


def prometheus_expr(rule: AlertRule) -> str:
    """The PromQL condition of ``rule``, e.g. ``shipyard_drift_share{monitor="churn"} > 0.3``."""
    gauge = PROMETHEUS_NAMES.get(rule.series)
    matchers: dict[str, str] = {}
    if gauge is None:
        gauge = MODEL_METRIC_GAUGE
        matchers["metric"] = rule.series
    if rule.monitor != "*":
        matchers["monitor"] = rule.monitor
    matchers.update(rule.labels)
    selector = ",".join(f'{k}="{_escape(v)}"' for k, v in matchers.items())
    series = f"{gauge}{{{selector}}}" if selector else gauge
    return f"{series} {rule.op} {format_number(rule.threshold)}"


def prometheus_rules(rules: Iterable[AlertRule], windows: Mapping[str, int] | None = None, *,
                     default_window_s: int = DEFAULT_WINDOW_S, group: str = "shipyard") -> dict[str, Any]:
    """The rules file as a mapping (``groups: [{name, rules: [...]}]``); disabled rules are left out.

    ``windows`` maps monitor names to their window in seconds.
    """
    windows = dict(windows or {})
    out = []
    for rule in rules:
        if not rule.enabled:
            continue
        if rule.monitor == "*":
            window = max(windows.values(), default=default_window_s)
        else:
            window = windows.get(rule.monitor, default_window_s)
        entry: dict[str, Any] = {"alert": _alert_name(rule.name), "expr": prometheus_expr(rule)}
        if rule.for_windows > 1:
            entry["for"] = _duration(rule.for_windows * window - window // 2)
        entry["labels"] = {"severity": rule.severity, "shipyard_rule": rule.name}
        summary = f"{rule.name}: {rule.series} is {{{{ $value }}}} (rule: {rule.condition})"
        if rule.monitor == "*":
            summary += " on monitor {{ $labels.monitor }}"
        entry["annotations"] = {"summary": summary,
                                "description": rule.description or f"Shipyard alert rule {rule.name!r}: "
                                                                   f"{rule.condition}"}
        out.append(entry)
    return {"groups": [{"name": group, "rules": out}]}


def render_prometheus_rules(rules: Iterable[AlertRule], windows: Mapping[str, int] | None = None, *,
                            default_window_s: int = DEFAULT_WINDOW_S, group: str = "shipyard") -> str:
    """:func:`prometheus_rules` as YAML text, ready for ``promtool check rules``."""
    data = prometheus_rules(rules, windows, default_window_s=default_window_s, group=group)
    header = ("# Prometheus alerting rules exported by `shipyard alerts export --prometheus`.\n"
              f"# Monitors without a known window are assumed to use {_duration(default_window_s)} windows.\n")
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)


def _alert_name(name: str) -> str:
    """A Prometheus alert name (a valid metric name) for a rule name."""
    cleaned = _INVALID.sub("_", name)
    return cleaned if cleaned[:1].isalpha() or cleaned[:1] == "_" else f"_{cleaned}"


def _duration(seconds: int) -> str:
    """``5400`` → ``1h30m``: Prometheus duration syntax."""
    seconds = max(int(seconds), 1)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
