"""Monitoring: drift, data quality, performance with late labels, monitors, reports and alerts.

A domain package above serving and pipelines: it reads what they produce (inference
logs, dataset versions and their profiles) and imports nothing above itself.

* :func:`detect_drift` → :class:`DriftReport` of one :class:`ColumnDrift` per column,
  from raw data (exact statistics) or :class:`WindowProfile` sketches (mergeable);
* :func:`check_quality` → :class:`QualityReport` against a contract or signature;
* :func:`classification_metrics`, :func:`regression_metrics` and
  :func:`estimate_performance` (confidence-based, before labels arrive);
* :class:`ReportData` and :func:`render_html`: a self-contained HTML report;
* :class:`MonitorRun`: what a run of a monitor computed, what waits (:class:`Pending`,
  :class:`PartialWindow`) and which alerts it caused.

Alert rules, the engine and the notifiers live in :mod:`shipyard.alerting`, below this
package (the monitoring stores implement its series contract); the names users reach
here (:class:`AlertEngine`, :class:`AlertRule`, :func:`parse_rule`, the notifiers)
are re-exported from there.

Names are loaded on first use, so ``import shipyard`` stays light (no numpy or Arrow).

>>> import pandas as pd
>>> from shipyard.monitoring import detect_drift
>>> ref = pd.DataFrame({"x": [float(i) for i in range(100)]})
>>> detect_drift(ref, ref).drifted
False
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipyard import alerting as _alerting
from shipyard._lazy import lazy_exports

if TYPE_CHECKING:
    from shipyard.alerting import (
        AlertEngine,
        AlertRule,
        EmailNotifier,
        LogNotifier,
        Notifier,
        WebhookNotifier,
        parse_rule,
    )
    from shipyard.monitoring._coverage import CoverageWarning
    from shipyard.monitoring._drift import ColumnDrift, DriftReport, detect_drift
    from shipyard.monitoring._performance import (
        Metrics,
        classification_metrics,
        estimate_performance,
        regression_metrics,
    )
    from shipyard.monitoring._profile import WindowProfile
    from shipyard.monitoring._quality import QualityIssue, QualityReport, check_quality
    from shipyard.monitoring._report import Distribution, FeatureReport, ReportData, render_html
    from shipyard.monitoring._run_result import MonitorRun, PartialWindow, Pending

# Public name -> the submodule defining it. Add a name here and to __all__ (kept sorted) to export it.
_WHERE = {
    "ColumnDrift": "_drift", "DriftReport": "_drift", "detect_drift": "_drift",
    "Metrics": "_performance", "classification_metrics": "_performance", "estimate_performance": "_performance",
    "regression_metrics": "_performance",
    "WindowProfile": "_profile",
    "QualityIssue": "_quality", "QualityReport": "_quality", "check_quality": "_quality",
    "Distribution": "_report", "FeatureReport": "_report", "ReportData": "_report", "render_html": "_report",
    "CoverageWarning": "_coverage",
    "MonitorRun": "_run_result", "PartialWindow": "_run_result", "Pending": "_run_result",
}
# Public names whose home is :mod:`shipyard.alerting`, kept reachable here.
_FROM_ALERTING = frozenset({"AlertEngine", "AlertRule", "EmailNotifier", "LogNotifier", "Notifier",
                            "WebhookNotifier", "parse_rule"})

__all__ = [
    "AlertEngine",
    "AlertRule",
    "ColumnDrift",
    "CoverageWarning",
    "Distribution",
    "DriftReport",
    "EmailNotifier",
    "FeatureReport",
    "LogNotifier",
    "Metrics",
    "MonitorRun",
    "Notifier",
    "PartialWindow",
    "Pending",
    "QualityIssue",
    "QualityReport",
    "ReportData",
    "WebhookNotifier",
    "WindowProfile",
    "check_quality",
    "classification_metrics",
    "detect_drift",
    "estimate_performance",
    "parse_rule",
    "regression_metrics",
    "render_html",
]


_own_getattr, __dir__ = lazy_exports(__name__, _WHERE, __all__, globals())


def __getattr__(name: str) -> Any:
    if name in _FROM_ALERTING:
        value = getattr(_alerting, name)
        globals()[name] = value
        return value
    return _own_getattr(name)
