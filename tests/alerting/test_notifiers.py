"""Notifiers against real servers on loopback: a webhook receiver and an aiosmtpd SMTP server."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shipyard.alerting import AlertEvent, EmailNotifier, LogNotifier, Notifier, WebhookNotifier, parse_rule
from shipyard.alerting._notifiers import mask_url, notifiers_from_config
from shipyard.config import load_config
from shipyard.errors import ConfigError, InvalidInput, Unavailable
from shipyard.testing.alerts import WebhookReceiver, webhook_receiver
from tests.services import free_port

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd is in the dev extra")


def event(kind: str = "firing", severity: str = "critical") -> AlertEvent:
    rule = parse_rule('feature_drift_score{feature="age"} > 0.2 for 2 windows', name="age-drift", monitor="churn",
                      severity=severity, description="Age drifted")
    return AlertEvent(kind=kind, rule=rule, fingerprint="f" * 32, monitor="churn", labels={"feature": "age"},
                      value=0.35, window_end=1_767_232_800_000, at=1_767_232_800_500, started_at=1_767_232_800_500,
                      count=3)


def move(reason: str | None = "cooldown: the last retrain began 20 s ago, 3600 s must pass") -> AlertEvent:
    """An automation run's move, as shipyard.automation hands it to the notifiers."""
    rule = parse_rule("automation_state == 9", name="churn-retrain", monitor="churn", severity="warning",
                      description="automation run r1 of churn-retrain")
    return AlertEvent(kind="firing", rule=rule, fingerprint="churn-retrain/r1/rejected", monitor="churn",
                      labels={"run": "r1", "from_state": "triggered", "to_state": "rejected"}, value=9.0,
                      window_end=None, at=1_767_232_800_500, started_at=1_767_232_700_000, source="automation",
                      detail=reason)


MOVE_LINE = ("[automation] churn-retrain on churn: triggered \u2192 rejected "
             "(cooldown: the last retrain began 20 s ago, 3600 s must pass)")


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        yield receiver


# -- webhook -----------------------------------------------------------------------------------


def test_webhook_posts_slack_compatible_json(webhook: WebhookReceiver) -> None:
    notifier = WebhookNotifier(webhook.url, headers={"X-Team": "growth"})
    assert isinstance(notifier, Notifier)
    notifier.notify(event())
    [got] = webhook.received
    assert got["path"] == "/hooks/T000/B000/secret-token" and got["headers"]["X-Team"] == "growth"
    assert got["headers"]["Content-Type"] == "application/json"
    body = got["json"]
    assert body["text"] == ('[FIRING] age-drift (critical) on churn: feature_drift_score{monitor="churn",'
                            'feature="age"} is 0.35 (rule: > 0.2 for 2 windows)')
    [attachment] = body["attachments"]
    assert attachment["color"] == "#e01e5a" and attachment["ts"] == 1_767_232_800
    assert "Age drifted" in attachment["text"] and "fired 3 times" in attachment["text"]
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert fields == {"rule": 'feature_drift_score{feature="age"} > 0.2 for 2 windows', "monitor": "churn",
                      "value": "0.35", "severity": "critical", "feature": "age"}
    WebhookNotifier(webhook.url).notify(event("resolved"))
    assert webhook.received[1]["json"]["attachments"][0]["color"] == "#2eb67d"
    assert webhook.texts[1].startswith("[RESOLVED] age-drift")


def test_webhook_tells_an_automation_move_as_the_move_not_as_a_measured_value(webhook: WebhookReceiver) -> None:
    WebhookNotifier(webhook.url).notify(move())
    [got] = webhook.received
    body = got["json"]
    assert body["text"] == MOVE_LINE
    [attachment] = body["attachments"]
    assert attachment["title"] == "[automation] churn-retrain on churn" and attachment["color"] == "#ecb22e"
    assert "cooldown: the last retrain began 20 s ago" in attachment["text"]
    assert "automation_state" not in attachment["text"] and "rule:" not in attachment["text"]
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert fields == {"policy": "churn-retrain", "model": "churn", "run": "r1", "from": "triggered",
                      "to": "rejected", "severity": "warning"}


def test_webhook_failures_raise_unavailable_without_the_secret(webhook: WebhookReceiver,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    webhook.status = 404
    with caplog.at_level(logging.DEBUG), pytest.raises(Unavailable) as answered:
        WebhookNotifier(webhook.url).notify(event())
    assert "404" in answered.value.message
    refused = f"http://127.0.0.1:{free_port()}/services/secret-token?key=secret-key"
    with caplog.at_level(logging.DEBUG), pytest.raises(Unavailable) as unreachable:
        WebhookNotifier(refused).notify(event())
    assert "unreachable" in unreachable.value.message
    for text in (answered.value.message, unreachable.value.message, repr(WebhookNotifier(refused)), caplog.text,
                 str(answered.value.context), str(unreachable.value.context)):
        assert "secret" not in text


def test_webhook_times_out() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        with pytest.raises(Unavailable) as caught:
            WebhookNotifier(url, timeout=0.3).notify(event())
    assert "timed out after 0.3 s" in caught.value.message


def test_a_webhook_needs_an_http_url() -> None:
    for bad in ("ftp://host/x", "hooks.slack.com/services/x", "https:///path-only"):
        with pytest.raises(InvalidInput) as caught:
            WebhookNotifier(bad)
        assert caught.value.context["field"] == "url"
    assert mask_url("https://hooks.slack.com/services/T/B/secret?x=1") == "https://hooks.slack.com/***"
    assert mask_url("http://user:pw@10.0.0.1:8080/x") == "http://10.0.0.1:8080/***"


# -- e-mail ------------------------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler keeping every message it accepted."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def test_email_arrives_with_subject_and_body(smtp: tuple[Inbox, int]) -> None:
    from email import message_from_bytes

    inbox, port = smtp
    notifier = EmailNotifier("127.0.0.1", port, sender="shipyard@example.com",
                             recipients=["oncall@example.com", "ml@example.com"])
    notifier.notify(event())
    [envelope] = inbox.messages
    assert envelope.mail_from == "shipyard@example.com"
    assert envelope.rcpt_tos == ["oncall@example.com", "ml@example.com"]
    mail = message_from_bytes(envelope.content)
    assert mail["Subject"] == "[FIRING] age-drift (critical) on churn: feature_drift_score"
    body = mail.get_payload(decode=True).decode()
    assert 'feature_drift_score{monitor="churn",feature="age"} is 0.35' in body and "Age drifted" in body


def test_email_of_an_automation_move_names_the_move_in_subject_and_body(smtp: tuple[Inbox, int]) -> None:
    from email import message_from_bytes, policy

    inbox, port = smtp
    EmailNotifier("127.0.0.1", port, sender="shipyard@example.com", recipients=["ml@example.com"]).notify(move())
    [envelope] = inbox.messages
    mail: Any = message_from_bytes(envelope.content, policy=policy.default)  # decodes the UTF-8 subject
    assert str(mail["Subject"]) == "[automation] churn-retrain on churn: triggered \u2192 rejected"
    body = mail.get_content()
    assert body.splitlines()[0] == MOVE_LINE.split(": ", 1)[1]
    assert "policy: churn-retrain; model: churn; run: r1" in body
    assert "automation_state" not in body and "monitor:" not in body


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_email_over_starttls_with_login(tmp_path: Path) -> None:
    from aiosmtpd.smtp import AuthResult

    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    logins: list[tuple[str, str]] = []

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> AuthResult:
        logins.append((auth.login.decode(), auth.password.decode()))
        return AuthResult(success=auth.password == b"right", handled=False)

    inbox = Inbox()
    controller = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=context,
                                                require_starttls=True, authenticator=authenticate,
                                                auth_require_tls=True)
    controller.start()
    try:
        options: dict[str, Any] = {"sender": "shipyard@example.com", "recipients": "oncall@example.com",
                                   "username": "bot", "starttls": True, "cafile": str(cert)}
        EmailNotifier("127.0.0.1", controller.port, password="right", **options).notify(event("resolved"))
        assert len(inbox.messages) == 1 and logins == [("bot", "right")]
        with pytest.raises(Unavailable) as refused:
            EmailNotifier("127.0.0.1", controller.port, password="wrong", **options).notify(event())
        assert "refused the login of 'bot'" in refused.value.message and "wrong" not in refused.value.message
        with pytest.raises(Unavailable) as untrusted:  # the server's certificate is not trusted without cafile
            EmailNotifier("127.0.0.1", controller.port, password="right",
                          **{**options, "cafile": None}).notify(event())
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.value.message
        assert len(inbox.messages) == 1
    finally:
        controller.stop()


def test_email_to_a_closed_port_is_unavailable() -> None:
    with pytest.raises(Unavailable) as caught:
        EmailNotifier("127.0.0.1", free_port(), sender="a@b.c", recipients=["d@e.f"], timeout=2).notify(event())
    assert caught.value.message.startswith("mail through smtp://127.0.0.1:")


def test_email_options_are_checked() -> None:
    with pytest.raises(InvalidInput) as caught:
        EmailNotifier("h", sender="a@b.c", recipients=["nobody"])
    assert caught.value.context["field"] == "recipients"
    with pytest.raises(InvalidInput):
        EmailNotifier("h", sender="a@b.c", recipients=["d@e.f"], starttls=True, use_tls=True)
    assert "hunter2" not in repr(EmailNotifier("h", sender="a@b.c", recipients=["d@e.f"], password="hunter2"))


# -- log ---------------------------------------------------------------------------------------


def test_log_notifier_logs_at_the_severity_level(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="shipyard.alerts"):
        LogNotifier().notify(event(severity="critical"))
        LogNotifier().notify(event(severity="warning"))
        LogNotifier().notify(event(severity="info"))
        LogNotifier().notify(event("resolved", severity="critical"))
    assert [r.levelname for r in caplog.records] == ["ERROR", "WARNING", "INFO", "INFO"]
    assert caplog.records[0].getMessage().startswith("[FIRING] age-drift (critical) on churn: ")


def test_log_notifier_logs_an_automation_move_as_the_move_and_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="shipyard.alerts"):
        LogNotifier().notify(move())
        LogNotifier().notify(move(reason=None))
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING"]
    assert [r.getMessage() for r in caplog.records] == [
        MOVE_LINE, "[automation] churn-retrain on churn: triggered \u2192 rejected"]


def test_an_alert_event_names_only_the_known_sources() -> None:
    with pytest.raises(ValueError, match="source"):
        AlertEvent(kind="firing", rule=event().rule, fingerprint="f", monitor="churn", labels={}, value=None,
                   window_end=None, at=0, started_at=0, source="nonsense")
    assert "source" not in event().to_json()  # a rule's alert keeps the shape the alerts API answers


# -- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize("head", ["[shipyard]\nhome = {home!r}\n", "home = {home!r}\n"], ids=["table", "flat"])
def test_notifiers_come_from_shipyard_toml(tmp_path: Path, webhook: WebhookReceiver, head: str) -> None:
    toml = tmp_path / "shipyard.toml"
    toml.write_text(head.format(home=str(tmp_path / "home")) + f"""

[alerts.notifiers.slack]
type = "slack"
url = "{webhook.url}"
timeout = 3

[alerts.notifiers.oncall]
type = "email"
host = "127.0.0.1"
port = 2525
sender = "shipyard@example.com"
recipients = ["oncall@example.com"]
password = "hunter2"

[alerts.notifiers.audit]
type = "log"
logger = "audit"
""")
    config = load_config(env={"SHIPYARD_CONFIG": str(toml)})
    assert config.home == tmp_path / "home"
    assert "secret-token" not in repr(config) and "hunter2" not in repr(config)
    hash(config)  # still usable as a key
    built = notifiers_from_config(config.alerts)
    assert sorted(built) == ["audit", "log", "oncall", "slack"]
    assert isinstance(built["slack"], WebhookNotifier) and built["slack"].timeout == 3
    assert isinstance(built["oncall"], EmailNotifier) and built["oncall"].port == 2525
    built["slack"].notify(event())
    assert len(webhook.received) == 1


@pytest.mark.parametrize(("table", "field"), [
    ({"x": {"type": "pager"}}, "alerts.notifiers.x.type"),
    ({"x": {"type": "webhook"}}, "alerts.notifiers.x.url"),
    ({"x": {"type": "webhook", "url": "https://h/x", "colour": "red"}}, "alerts.notifiers.x.colour"),
    ({"x": {"type": "webhook", "url": "not a url"}}, "alerts.notifiers.x.url"),
    ({"x": {"type": "email", "host": "h", "recipients": ["a@b.c"]}}, "alerts.notifiers.x"),
    ({"x": "https://h/x"}, "alerts.notifiers.x"),
])
def test_bad_notifier_configuration_names_the_key(table: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        notifiers_from_config({"notifiers": table})
    assert caught.value.context["field"] == field


def test_notifiers_can_be_sent_to_from_several_threads(webhook: WebhookReceiver) -> None:
    notifier = WebhookNotifier(webhook.url)
    threads = [threading.Thread(target=notifier.notify, args=(event(),)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(webhook.received) == 8
