"""Monitoring reports: the data behind one (:class:`ReportData`, JSON) and its HTML page.

:class:`ReportData` holds only sketches and series: per feature the reference and
current histograms as shares (at most :data:`~shipyard.monitoring._sketch.BINS`
bins, or the :data:`MAX_CATEGORIES` most frequent categories plus "other") and the drift score
per window; the dataset's drift share per window; one series per performance
metric; a quality summary. Its size depends on the number of features, bins and
windows, never on the number of rows. :func:`render_html` draws it as one
self-contained page: inline SVG and CSS, no script, nothing fetched.

>>> import pandas as pd
>>> from shipyard.monitoring import detect_drift
>>> ref = pd.DataFrame({"x": [float(i) for i in range(100)]})
>>> data = ReportData.from_drift(detect_drift(ref, ref), ref, ref)
>>> render_html(data).startswith("<!DOCTYPE html>")
True
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shipyard.errors import InvalidInput
from shipyard.monitoring import _svg as svg

__all__ = ["MAX_CATEGORIES", "Distribution", "FeatureReport", "ReportData", "TimePoint", "render_html"]

MAX_CATEGORIES = 20
TimePoint = tuple[int, float | None]  # (window end in ms since the epoch, value)


@dataclass(frozen=True)
class Distribution:
    """Shares of ``total`` values in histogram bins (``edges``, one more than ``shares``) or
    categories (``categories``). JSON writes shares as integer parts per million, so a
    report's size does not depend on how many rows are behind it."""

    shares: tuple[float, ...] = ()
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    total: int = 0

    @classmethod
    def of_counts(cls, counts: Any, *, edges: Any = (), categories: Any = ()) -> Distribution:
        values = [float(c) for c in counts]
        total = sum(values)
        shares = tuple(c / total for c in values) if total else tuple(0.0 for _ in values)
        return cls(shares, tuple(float(e) for e in edges), tuple(str(c) for c in categories), round(total))

    @classmethod
    def of_sketch(cls, sketch: Any, *, categories: tuple[str, ...] | None = None) -> Distribution:
        """A column sketch as a distribution; ``categories`` fixes the categories shown (the rest is "other")."""
        from shipyard.monitoring._sketch import CategoricalSketch

        if sketch is None:
            return cls()
        if isinstance(sketch, CategoricalSketch):
            known = dict(sketch.counts)
            shown = categories if categories is not None else tuple(v for v, _ in sketch.counts[:MAX_CATEGORIES])
            rest = sketch.count - sum(known.get(c, 0) for c in shown)
            other = bool(rest) or categories is not None  # shared categories: both sides list "other"
            return cls.of_counts([known.get(c, 0) for c in shown] + ([rest] if other else []),
                                 categories=shown + (("other",) if other else ()))
        hist = sketch.histogram
        edges, counts = list(hist.edges), list(hist.counts)
        if hist.below and sketch.min is not None and sketch.min < edges[0]:
            edges, counts = [sketch.min, *edges], [hist.below, *counts]
        if hist.above and sketch.max is not None and sketch.max > edges[-1]:
            edges, counts = [*edges, sketch.max], [*counts, hist.above]
        return cls.of_counts(counts, edges=edges)

    def to_json(self) -> dict[str, Any]:
        return {"shares_ppm": [round(s * 1e6) for s in self.shares], "edges": list(self.edges),
                "categories": list(self.categories), "total": self.total}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Distribution:
        return cls(tuple(int(s) / 1e6 for s in data.get("shares_ppm", ())),
                   tuple(float(e) for e in data.get("edges", ())), tuple(str(c) for c in data.get("categories", ())),
                   int(data.get("total", 0)))


@dataclass(frozen=True)
class FeatureReport:
    """One feature: both distributions, its latest verdict and its drift score per window."""

    name: str
    kind: str | None
    reference: Distribution
    current: Distribution
    drift: tuple[TimePoint, ...] = ()
    test: str | None = None
    threshold: float | None = None
    status: str = "ok"
    drifted: bool = False
    statistic: float | None = None


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows; ``period`` is (start, end) in ms since the epoch."""

    title: str
    period: tuple[int, int] | None = None
    features: tuple[FeatureReport, ...] = ()
    drift_share: tuple[TimePoint, ...] = ()
    performance: Mapping[str, tuple[TimePoint, ...]] = field(default_factory=dict)
    quality: Mapping[str, Any] = field(default_factory=dict)
    summary: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title, "period": list(self.period) if self.period else None,
            "features": [{**{k: getattr(f, k) for k in ("name", "kind", "test", "threshold", "status", "drifted",
                                                         "statistic")},
                          "reference": f.reference.to_json(), "current": f.current.to_json(),
                          "drift": [list(p) for p in f.drift]} for f in self.features],
            "drift_share": [list(p) for p in self.drift_share],
            "performance": {name: [list(p) for p in points] for name, points in self.performance.items()},
            "quality": dict(self.quality), "summary": dict(self.summary)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReportData:
        try:
            features = tuple(FeatureReport(
                f["name"], f.get("kind"), Distribution.from_json(f["reference"]), Distribution.from_json(f["current"]),
                _points(f.get("drift", ())), f.get("test"), f.get("threshold"), f.get("status", "ok"),
                bool(f.get("drifted", False)), f.get("statistic")) for f in data.get("features", ()))
            period = data.get("period")
            return cls(str(data["title"]), (int(period[0]), int(period[1])) if period else None, features,
                       _points(data.get("drift_share", ())),
                       {k: _points(v) for k, v in data.get("performance", {}).items()},
                       dict(data.get("quality", {})), dict(data.get("summary", {})))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise InvalidInput(f"malformed report data: {exc}", field="report") from None

    @classmethod
    def from_drift(cls, report: Any, reference: Any, current: Any, *, title: str = "Drift report",
                   period: tuple[int, int] | None = None) -> ReportData:
        """A one-window report: ``report`` (a DriftReport) and both sides as data or profiles."""
        from shipyard.monitoring._drift import resolve_input
        from shipyard.monitoring._profile import WindowProfile

        ref, cur = resolve_input(reference, "reference"), resolve_input(current, "current")
        ref = ref if isinstance(ref, WindowProfile) else WindowProfile.of(ref)
        cur = cur if isinstance(cur, WindowProfile) else WindowProfile.of(cur, reference=ref)
        columns = [*report.columns.values(), *([report.prediction] if report.prediction else [])]
        features = []
        for c in columns:
            ref_dist, cur_dist = distributions(ref.columns.get(c.column), cur.columns.get(c.column))
            point = ((period[1], c.statistic),) if period else ()
            features.append(FeatureReport(c.column, c.kind, ref_dist, cur_dist, point, c.test, c.threshold,
                                          c.status, c.drifted, c.statistic))
        summary = {"drifted": report.drifted, "drift_share": report.drift_share,
                   "share_threshold": report.share_threshold, "drifted_columns": report.drifted_columns,
                   "method": report.method, "reference_rows": report.reference_rows,
                   "current_rows": report.current_rows}
        share = ((period[1], report.drift_share),) if period else ()
        return cls(title, period, tuple(features), share, {}, {}, summary)


def distributions(reference: Any, current: Any) -> tuple[Distribution, Distribution]:
    """Both sides of one column on common bins (the reference's) or common categories."""
    from shipyard.monitoring._sketch import CategoricalSketch, NumericSketch

    if isinstance(reference, CategoricalSketch) or isinstance(current, CategoricalSketch):
        if not isinstance(reference, CategoricalSketch) or not isinstance(current, CategoricalSketch):
            return Distribution.of_sketch(reference), Distribution.of_sketch(current)
        shown = tuple(v for v, _ in reference.counts[:MAX_CATEGORIES])
        extra = tuple(v for v, _ in current.counts if v not in shown)[:max(0, MAX_CATEGORIES - len(shown))]
        return (Distribution.of_sketch(reference, categories=shown + extra),
                Distribution.of_sketch(current, categories=shown + extra))
    ref = Distribution.of_sketch(reference)
    if not isinstance(current, NumericSketch) or not isinstance(reference, NumericSketch) or not ref.edges:
        return ref, Distribution.of_sketch(current)
    if current.histogram.edges == reference.histogram.edges:
        cur = Distribution.of_sketch(current)
        if cur.edges != ref.edges:  # values beyond the reference's range: widen the reference too
            ref = Distribution(_rebin(ref, cur.edges), cur.edges, total=ref.total)
        return ref, cur
    # Different edges: read the current window's share of each reference bin off its quantiles.
    cdf = current.quantiles.cdf(np.asarray(ref.edges))
    return ref, Distribution.of_counts(np.diff(cdf) * current.count, edges=ref.edges)


def _rebin(dist: Distribution, edges: tuple[float, ...]) -> tuple[float, ...]:
    lookup = dict(zip(zip(dist.edges, dist.edges[1:], strict=False), dist.shares, strict=False))
    return tuple(lookup.get(pair, 0.0) for pair in zip(edges, edges[1:], strict=False))


def _points(points: Any) -> tuple[TimePoint, ...]:
    return tuple((int(t), None if v is None else float(v)) for t, v in points)


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1120px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}h3{font-size:15px;margin:0}
.feature{display:inline-block;vertical-align:top;margin:8px 16px 16px 0;padding:8px;border:1px solid #e4e4e4}
.badge{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;margin-left:6px;background:#e8f3e8}
.badge.drifted{background:#f8d7d7}.badge.status{background:#eee}
svg text{font-size:10px;fill:#555}.axis{stroke:#999}.threshold{stroke:#c44e52;stroke-dasharray:4 3}
figure{margin:4px 0}figcaption .key{margin-right:12px;font-size:12px}
figcaption i{display:inline-block;width:10px;height:10px;margin-right:4px}
table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:left}
"""


def render_html(data: ReportData) -> str:
    """The report as one self-contained HTML page (no scripts, no network)."""
    e = html.escape
    parts = [f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{e(data.title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{e(data.title)}</h1>"]
    if data.period:
        parts.append(f"<p>{e(svg._when(data.period[0]))} – {e(svg._when(data.period[1]))} UTC</p>")
    if data.summary:
        parts.append("<h2>Summary</h2>" + _table(data.summary))
    if len(data.drift_share) > 1:
        threshold = data.summary.get("share_threshold")
        parts.append("<h2>Drift share</h2>" + svg.lines({"drift share": data.drift_share}, threshold))
    if data.performance:
        parts.append("<h2>Performance</h2>" + svg.lines(dict(data.performance)))
    if data.quality:
        parts.append("<h2>Data quality</h2>" + _table(data.quality))
    if data.features:
        parts.append("<h2>Features</h2>")
    for f in data.features:
        verdict = ('<span class="badge drifted">drifted</span>' if f.drifted
                   else '<span class="badge">no drift</span>' if f.status in ("ok", "constant") else "")
        stat = "" if f.statistic is None else f" {f.statistic:.4g}"
        limit = "" if f.threshold is None else f" (threshold {f.threshold:g})"
        parts.append(f'<div class="feature"><h3>{e(f.name)}{verdict}<span class="badge status">{e(f.status)}'
                     f"</span></h3><p>{e(f.test or '')}{e(stat)}{e(limit)}</p>")
        if f.reference.edges and f.current.edges == f.reference.edges:
            parts.append(svg.density(f.reference.edges, [("reference", f.reference.shares),
                                                         ("current", f.current.shares)]))
        elif f.reference.categories and f.current.categories:
            names = f.reference.categories
            current = dict(zip(f.current.categories, f.current.shares, strict=False))
            parts.append(svg.bars(names, [("reference", f.reference.shares),
                                          ("current", [current.get(n, 0.0) for n in names])]))
        if len(f.drift) > 1:
            parts.append(svg.lines({f"{f.test or 'drift'} score": f.drift}, f.threshold))
        parts.append("</div>")
    parts.append("</body></html>")
    return "".join(parts)


def _table(values: Mapping[str, Any]) -> str:
    rows = []
    for key, value in values.items():
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        if len(shown) > 400:
            shown = shown[:400] + "…"
        rows.append(f"<tr><th>{html.escape(str(key))}</th><td>{html.escape(shown)}</td></tr>")
    return f"<table>{''.join(rows)}</table>"
