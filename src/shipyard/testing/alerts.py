"""Conformance suite for alerting, and a webhook receiver to test notifiers against.

Subclass :class:`AlertsConformance` and provide three fixtures: ``webhook``, a running
:class:`WebhookReceiver`; ``alert_client``, a :class:`~shipyard.client.Client`
whose evaluating side (itself when embedded, its server when remote) has a webhook
notifier named ``hook`` posting to that receiver; and ``rule_store``, the
:class:`~shipyard.alerting._backend.AlertStore` that evaluating side reads,
written to directly (as by a rule stored before a notifier left the configuration).
Points go in through the client's monitor store, rules and evaluation through the
client, and notifications arrive over real HTTP: the suite pins the whole path, on
any backend.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from shipyard.alerting import Point, parse_rule
from shipyard.errors import AlreadyExists, InvalidInput, NotFound

__all__ = ["HOUR", "T0", "AlertsConformance", "WebhookReceiver", "points", "webhook_receiver"]

HOUR = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00Z, a window boundary


class WebhookReceiver:
    """A loopback HTTP server that records every POST (path, headers, JSON body).

    ``status`` is what it answers (set it to 500 to make deliveries fail).
    """

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 200
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.received.append({"path": self.path, "headers": dict(self.headers),
                                              "json": json.loads(body or b"null")})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/T000/B000/secret-token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def texts(self) -> list[str]:
        """The ``text`` of every message received, in order."""
        with self._lock:
            return [r["json"]["text"] for r in self.received]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


def points(monitor: str, series: str, values: Sequence[float | None], *, start: int = T0, window: int = HOUR,
           labels: dict[str, str] | None = None) -> list[Point]:
    """One point per window from ``start``, with the given values."""
    return [Point(monitor, series, start + i * window, start + (i + 1) * window, v, dict(labels or {}))
            for i, v in enumerate(values)]


def _at(windows: int) -> int:
    """The time just after ``windows`` windows from T0 have closed."""
    return T0 + windows * HOUR + 1


class AlertsConformance:
    """Cases every alerting backend passes. Needs ``alert_client``, ``rule_store`` and ``webhook`` fixtures."""

    def test_rules_are_created_listed_replaced_and_deleted(self, alert_client: Any) -> None:
        rule = alert_client.create_alert_rule("drift_share > 0.3 for 2 windows", name="drift", monitor="churn",
                                              severity="critical", notify=["hook"], repeat_interval="4h")
        assert (rule.series, rule.op, rule.threshold, rule.for_windows) == ("drift_share", ">", 0.3, 2)
        assert rule.created_at is not None and rule.repeat_interval_ms == 4 * HOUR
        assert alert_client.get_alert_rule("drift") == rule
        with pytest.raises(AlreadyExists):
            alert_client.create_alert_rule("drift_share > 0.5", name="drift")
        changed = alert_client.create_alert_rule('feature_drift_score{feature="age"} >= 0.2', name="drift",
                                                 replace=True)
        assert changed.labels == {"feature": "age"} and changed.created_at == rule.created_at
        assert [r.name for r in alert_client.list_alert_rules()] == ["drift"]
        alert_client.delete_alert_rule("drift")
        assert alert_client.list_alert_rules() == []
        with pytest.raises(NotFound):
            alert_client.get_alert_rule("drift")
        with pytest.raises(NotFound):
            alert_client.delete_alert_rule("drift")

    def test_bad_rules_and_filters_are_refused_naming_the_field(self, alert_client: Any) -> None:
        for kwargs, field in (({"condition": "accuracy < 0.8", "severity": "urgent"}, "severity"),
                              ({"condition": "accuracy <"}, "rule"),
                              ({"condition": "accuracy < 0.8", "name": "bad name"}, "name"),
                              ({"condition": "accuracy < 0.8", "repeat_interval": "soon"}, "repeat_interval")):
            with pytest.raises(InvalidInput) as caught:
                alert_client.create_alert_rule(**kwargs)
            assert caught.value.context["field"] == field
        with pytest.raises(InvalidInput) as bad_state:
            alert_client.list_alerts(state="open")
        assert bad_state.value.context["field"] == "state"
        with pytest.raises(InvalidInput):
            alert_client.alert_history(limit=0)
        assert alert_client.list_alert_rules() == []

    def test_fires_after_n_windows_once_and_resolves(self, alert_client: Any, webhook: WebhookReceiver) -> None:
        alert_client.create_alert_rule("drift_share > 0.3 for 2 windows", name="drift", monitor="churn",
                                       notify=["hook"])
        series = alert_client.monitor_store
        series.write_points(points("churn", "drift_share", [0.1, 0.5]))
        assert alert_client.evaluate_alerts(_at(2)) == []  # one window over the threshold: not yet
        series.write_points(points("churn", "drift_share", [0.1, 0.5, 0.6]))
        fired = alert_client.evaluate_alerts(_at(3))
        assert [(e.kind, e.value, e.monitor) for e in fired] == [("firing", 0.6, "churn")]
        assert alert_client.evaluate_alerts(_at(3)) == []  # same points: nothing new, no second message
        assert alert_client.evaluate_alerts(_at(3) + 60_000) == []
        [alert] = alert_client.list_alerts(state="firing")
        assert (alert.rule, alert.count, alert.last_value) == ("drift", 1, 0.6)
        series.write_points(points("churn", "drift_share", [0.1, 0.5, 0.6, 0.2]))
        resolved = alert_client.evaluate_alerts(_at(4))
        assert [e.kind for e in resolved] == ["resolved"]
        assert alert_client.evaluate_alerts(_at(4)) == []
        assert alert_client.list_alerts(state="firing") == []
        assert [a.state for a in alert_client.list_alerts()] == ["resolved"]
        assert len(webhook.texts) == 2
        assert webhook.texts[0].startswith("[FIRING] drift (warning) on churn")
        assert webhook.texts[1].startswith("[RESOLVED] drift")
        kinds = [(e.kind, e.notifier) for e in alert_client.alert_history("drift")]
        assert kinds == [("notified", "hook"), ("resolved", None), ("notified", "hook"), ("fired", None)]

    def test_each_label_set_is_its_own_alert(self, alert_client: Any, webhook: WebhookReceiver) -> None:
        alert_client.create_alert_rule("feature_drift_score > 0.2", name="features", notify=["hook"])
        alert_client.create_alert_rule('feature_drift_score{feature="plan"} > 0.2', name="plan", notify=["hook"])
        series = alert_client.monitor_store
        for feature, value in (("age", 0.5), ("plan", 0.4), ("income", 0.1)):
            series.write_points(points("churn", "feature_drift_score", [value], labels={"feature": feature}))
        series.write_points(points("fraud", "feature_drift_score", [0.9], labels={"feature": "age"}))
        fired = alert_client.evaluate_alerts(_at(1))
        assert sorted((e.rule.name, e.monitor, e.labels["feature"]) for e in fired) == [
            ("features", "churn", "age"), ("features", "churn", "plan"), ("features", "fraud", "age"),
            ("plan", "churn", "plan")]
        assert len({e.fingerprint for e in fired}) == 4 and len(webhook.received) == 4
        assert len(alert_client.list_alerts(rule="plan")) == 1

    def test_a_rule_naming_a_notifier_that_is_not_configured_is_refused(self, alert_client: Any) -> None:
        with pytest.raises(InvalidInput) as caught:
            alert_client.create_alert_rule("error_rate > 0.01", name="errors", notify=["nowhere", "hook"])
        assert caught.value.context["field"] == "notify" and caught.value.context["unknown"] == ["nowhere"]
        assert "'nowhere'" in caught.value.message and "'hook'" in caught.value.message  # the configured ones
        assert alert_client.list_alert_rules() == []

    def test_a_failing_notifier_is_recorded_and_the_others_still_run(self, alert_client: Any, rule_store: Any,
                                                                     webhook: WebhookReceiver) -> None:
        # Stored before "nowhere" left the configuration (creating it now is refused).
        rule_store.create_rule(parse_rule("error_rate > 0.01", name="errors", monitor="churn",
                                          notify=["nowhere", "hook"]))
        alert_client.monitor_store.write_points(points("churn", "error_rate", [0.05]))
        fired = alert_client.evaluate_alerts(_at(1))
        assert [e.kind for e in fired] == ["firing"]
        deliveries = {d.notifier: d for d in fired[0].deliveries}
        assert deliveries["hook"].ok and not deliveries["nowhere"].ok
        assert "nowhere" in (deliveries["nowhere"].detail or "")
        assert len(webhook.received) == 1
        outcomes = {e.notifier: (e.kind, e.detail) for e in alert_client.alert_history("errors")
                    if e.notifier is not None}
        assert outcomes["hook"] == ("notified", "firing")
        assert outcomes["nowhere"][0] == "notify_failed" and "nowhere" in outcomes["nowhere"][1]
        webhook.status = 500
        alert_client.monitor_store.write_points(points("churn", "error_rate", [0.05, 0.0]))
        resolved = alert_client.evaluate_alerts(_at(2))
        assert [e.kind for e in resolved] == ["resolved"]
        assert {d.notifier for d in resolved[0].failed_deliveries} == {"hook", "nowhere"}
        failed = alert_client.alert_history("errors", limit=2)
        assert {(e.kind, e.notifier) for e in failed} == {("notify_failed", "hook"), ("notify_failed", "nowhere")}
        hook_failure = next(e for e in failed if e.notifier == "hook")
        assert "500" in (hook_failure.detail or "") and "secret-token" not in (hook_failure.detail or "")

    def test_a_firing_alert_is_notified_again_after_the_repeat_interval(self, alert_client: Any,
                                                                        webhook: WebhookReceiver) -> None:
        alert_client.create_alert_rule("accuracy < 0.85", name="accuracy", monitor="churn", notify=["hook"],
                                       repeat_interval="2h")
        alert_client.monitor_store.write_points(points("churn", "accuracy", [0.7]))
        assert [e.kind for e in alert_client.evaluate_alerts(_at(1))] == ["firing"]
        assert alert_client.evaluate_alerts(_at(1) + HOUR) == []  # an hour later: not yet
        assert [e.kind for e in alert_client.evaluate_alerts(_at(1) + 2 * HOUR)] == ["repeat"]
        assert alert_client.evaluate_alerts(_at(1) + 2 * HOUR + 1) == []
        assert [t.split("]")[0] for t in webhook.texts] == ["[FIRING", "[REPEAT"]
        assert [e.kind for e in alert_client.alert_history("accuracy") if e.notifier is None] == [
            "renotified", "fired"]

    def test_deleting_a_rule_retires_its_alerts_and_keeps_the_history(self, alert_client: Any) -> None:
        alert_client.create_alert_rule("p99_latency_ms > 200", name="latency", monitor="churn", notify=["hook"])
        alert_client.monitor_store.write_points(points("churn", "p99_latency_ms", [350.0]))
        assert len(alert_client.evaluate_alerts(_at(1))) == 1
        alert_client.delete_alert_rule("latency")
        assert alert_client.list_alerts() == []
        assert [e.kind for e in alert_client.alert_history("latency") if e.notifier is None] == ["retired", "fired"]
        assert alert_client.evaluate_alerts(_at(2)) == []

    def test_disabled_rules_are_not_evaluated(self, alert_client: Any) -> None:
        alert_client.create_alert_rule("drift_share > 0.3", name="off", enabled=False)
        alert_client.monitor_store.write_points(points("churn", "drift_share", [0.9]))
        assert alert_client.evaluate_alerts(_at(1)) == []
        assert alert_client.list_alerts() == []
