"""Monitor definitions: model references, names, windows that are due."""

from __future__ import annotations

import pytest

from shipyard.errors import InvalidInput
from shipyard.monitoring._entities import ModelRef, Monitor, default_monitor_name, parse_model_ref

H = 3_600_000


def test_model_references() -> None:
    assert parse_model_ref("churn") == ModelRef("churn")
    assert parse_model_ref("models:/churn@production") == ModelRef("churn", "production")
    assert parse_model_ref("churn/3") == ModelRef("churn", version=3)
    assert default_monitor_name("churn/3") == "churn@v3" and default_monitor_name("churn@prod") == "churn@prod"
    for bad in ("", "churn@", "churn/x", "a b", "churn@a@b"):
        with pytest.raises(InvalidInput):
            parse_model_ref(bad)


def test_closed_windows_start_at_the_cursor_and_wait_for_the_delay() -> None:
    monitor = Monitor("m", "churn", 3600, cursor=10 * H, options={"delay_s": 60})
    assert monitor.closed_windows(11 * H) == []  # ended, but not 60 s ago
    assert monitor.closed_windows(11 * H + 60_000) == [(10 * H, 11 * H)]
    assert monitor.closed_windows(14 * H, limit=2) == [(10 * H, 11 * H), (11 * H, 12 * H)]
    assert monitor.first_window_start(10 * H + 123) == 10 * H


@pytest.mark.parametrize("kwargs, field", [
    ({"window_s": 0}, "window"), ({"task": "ranking"}, "task"), ({"options": {"delay_s": -1}}, "delay_s"),
    ({"options": {"columns": "age"}}, "columns"), ({"options": {"tests": ["ks"]}}, "tests"),
    ({"reference": ""}, "reference"), ({"name": "m\n"}, "name"), ({"model": "churn\n"}, "model"),
])
def test_bad_monitors_name_the_field(kwargs: dict, field: str) -> None:
    base = {"name": "m", "model": "churn", "window_s": 60}
    with pytest.raises(InvalidInput) as info:
        Monitor(**{**base, **kwargs})
    assert info.value.field == field  # type: ignore[attr-defined]
