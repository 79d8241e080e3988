"""Reports: self-contained HTML and JSON, drawn from sketches, sized by bins not rows."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidInput
from shipyard.monitoring import Distribution, FeatureReport, ReportData, WindowProfile, detect_drift, render_html

H = 3_600_000
T0 = 1_767_225_600_000


def data(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.normal(40 + shift, 10, n), "spend": rng.gamma(2, 50, n),
                         "plan": rng.choice(["basic", "pro", "team"], n, p=[0.5, 0.3, 0.2])})


def one_shot(n: int) -> tuple[ReportData, str]:
    reference, current = data(n, 1), data(n, 2, shift=5)
    report = detect_drift(reference, current)
    built = ReportData.from_drift(report, reference, current, title="churn@production", period=(T0, T0 + H))
    return built, render_html(built)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += attrs


def test_the_page_is_self_contained_with_both_distributions_per_feature() -> None:
    built, page = one_shot(5_000)
    parser = _Tags()
    parser.feed(page)
    assert page.startswith("<!DOCTYPE html>") and "churn@production" in page
    assert not {"script", "link", "img", "iframe", "object"} & set(parser.tags)
    assert not [a for a in parser.attributes if a[0] in ("src", "href")]
    assert not re.search(r"https?://", page)
    assert parser.tags.count("svg") == 3 and parser.tags.count("polyline") == 4  # two numeric, overlaid
    assert parser.tags.count("rect") == 2 * 4  # plan: 3 categories + other, reference and current
    ages = next(f for f in built.features if f.name == "age")
    assert ages.drifted and ages.reference.edges == ages.current.edges and len(ages.reference.shares) >= 100
    assert sum(ages.current.shares) == pytest.approx(1.0)


def test_report_size_does_not_grow_with_rows() -> None:
    small_data, small_page = one_shot(10_000)
    large_data, large_page = one_shot(1_000_000)
    small_json, large_json = json.dumps(small_data.to_json()), json.dumps(large_data.to_json())
    assert len(large_page) <= len(small_page)  # 100 times the rows, the same bins
    assert len(large_json) <= len(small_json)
    assert len(large_page) < 100_000


def test_json_round_trip() -> None:
    built, _ = one_shot(2_000)
    assert ReportData.from_json(json.loads(json.dumps(built.to_json(), allow_nan=False))) == ReportData.from_json(
        built.to_json())
    again = ReportData.from_json(built.to_json())
    assert [f.name for f in again.features] == [f.name for f in built.features]
    assert again.features[0].reference.shares == pytest.approx(built.features[0].reference.shares, abs=1e-6)
    with pytest.raises(InvalidInput):
        ReportData.from_json({"features": []})


def test_series_over_time_are_drawn_with_gaps_for_missing_windows() -> None:
    drift = tuple((T0 + h * H, None if h == 3 else 0.02 * h) for h in range(8))
    feature = FeatureReport("age", "numeric", Distribution.of_counts([1, 2, 3], edges=[0, 1, 2, 3]),
                            Distribution.of_counts([3, 2, 1], edges=[0, 1, 2, 3]), drift, "wasserstein", 0.1,
                            "ok", True, 0.14)
    built = ReportData("weekly", (T0, T0 + 8 * H), (feature,), tuple((t, v) for t, v in drift),
                       {"accuracy": ((T0, 0.9), (T0 + H, 0.85)), "estimated_accuracy": ((T0, 0.88), (T0 + H, 0.86))},
                       {"missing_rate": {"age": 0.01}}, {"share_threshold": 0.5})
    page = render_html(built)
    parser = _Tags()
    parser.feed(page)
    assert page.count('class="threshold"') == 2  # drift share and the feature's drift score
    assert "estimated_accuracy" in page and "missing_rate" in page and "2026-01-01 00:00" in page
    assert parser.tags.count("svg") == 4  # distribution, drift score, drift share, performance


def test_text_is_escaped() -> None:
    feature = FeatureReport("<b>x</b>", "categorical", Distribution.of_counts([1], categories=["<i>"]),
                            Distribution.of_counts([1], categories=["<i>"]))
    page = render_html(ReportData("<script>alert(1)</script>", features=(feature,)))
    assert "<script>" not in page and "<b>x</b>" not in page and "&lt;i&gt;" in page


def test_profiles_and_dataset_profiles_make_the_same_report_shape() -> None:
    reference = WindowProfile.of(data(20_000, 3))
    current = WindowProfile.of(data(5_000, 4), reference=reference)
    built = ReportData.from_drift(detect_drift(reference, current), reference, current)
    assert [f.name for f in built.features] == ["age", "spend", "plan"]
    plan = built.features[2]
    assert plan.reference.categories == plan.current.categories == ("basic", "pro", "team", "other")
