"""Notifiers: where an alert's transitions are sent. One interface, three backends.

* :class:`WebhookNotifier` posts Slack-compatible JSON (``text`` plus
  ``attachments``) to a URL with httpx; the URL is a secret (a Slack webhook URL is
  its own credential), so logs and errors show only its scheme and host;
* :class:`EmailNotifier` sends a plain-text mail over SMTP (optionally STARTTLS or
  implicit TLS, and login);
* :class:`LogNotifier` writes one log line at a level matching the severity.

A notifier raises :class:`~shipyard.errors.Unavailable` when delivery fails; the
engine records the failure in the history and carries on with the others.

Configuration (``shipyard.toml``), read by :func:`notifiers_from_config`::

    [alerts.notifiers.slack]
    type = "webhook"
    url = "https://hooks.slack.com/services/T000/B000/XXXX"

    [alerts.notifiers.oncall]
    type = "email"
    host = "smtp.example.com"
    port = 587
    sender = "shipyard@example.com"
    recipients = ["oncall@example.com"]
    username = "shipyard"
    password = "…"
    starttls = true

A notifier named ``log`` always exists (a :class:`LogNotifier`) unless configured otherwise.
A rule may only name configured notifiers (:func:`check_notifiers`, applied where rules
are created): a name with nothing behind it would only fail when the alert fires.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from collections.abc import Iterable, Mapping, Sequence
from email.message import EmailMessage
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from shipyard.alerting._entities import AlertEvent
from shipyard.errors import ConfigError, InvalidInput, Unavailable

__all__ = ["EmailNotifier", "LogNotifier", "Notifier", "WebhookNotifier", "check_notifiers", "mask_url",
           "notifiers_from_config"]

_COLORS = {"resolved": "#2eb67d", "critical": "#e01e5a", "warning": "#ecb22e", "info": "#36c5f0"}
_LEVELS = {"critical": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO}


@runtime_checkable
class Notifier(Protocol):
    """Delivers one alert transition; raises :class:`~shipyard.errors.Unavailable` on failure."""

    def notify(self, event: AlertEvent) -> None: ...


def mask_url(url: str) -> str:
    """``https://hooks.slack.com/***``: the scheme and host, never the path or query (the secret)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "***"
    return f"{parts.scheme}://{host}{port}/***"


def message_lines(event: AlertEvent) -> list[str]:
    """The body of a notification: what happened, the rule, and when (for an automation move:
    the move and its reason, then the policy, model, run and severity)."""
    if event.source == "automation":
        return [event.summary, "; ".join(f"{name}: {value}" for name, value in event.facts)]
    lines = [event.summary, f"rule: {event.rule.name} ({event.rule.condition}), severity {event.severity}"]
    if event.rule.description:
        lines.append(event.rule.description)
    lines.append(f"monitor: {event.monitor}; window ending {event.window_end} (ms since the epoch)")
    if event.kind != "resolved" and event.count > 1:
        lines.append(f"this alert has fired {event.count} times")
    return lines


class WebhookNotifier:
    """POST a Slack-compatible JSON message to ``url`` (any 2xx answer is success).

    ``proxy`` (``http://proxy:3128``) is used when given; the environment's proxy
    variables are not read.

    >>> WebhookNotifier("https://hooks.slack.com/services/T0/B0/secret")
    WebhookNotifier('https://hooks.slack.com/***')
    """

    def __init__(self, url: str, *, timeout: float = 10.0, headers: Mapping[str, str] | None = None,
                 proxy: str | None = None) -> None:
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise InvalidInput(f"a webhook URL is http(s)://host/…, got {mask_url(str(url))}", field="url")
        self.url = url
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.proxy = proxy
        self._pool: Any = None  # one httpx transport, made on first use: its TLS set-up costs ~70 ms
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WebhookNotifier({mask_url(self.url)!r})"

    def _transport(self) -> Any:
        import httpx

        with self._lock:
            if self._pool is None:
                self._pool = httpx.HTTPTransport(proxy=self.proxy)
            return self._pool

    def close(self) -> None:
        """Close the pooled connections (the notifier opens new ones if used again)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def payload(self, event: AlertEvent) -> dict[str, Any]:
        """The JSON body: ``text`` for any client, ``attachments`` for Slack's richer view."""
        color = _COLORS["resolved"] if event.kind == "resolved" else _COLORS.get(event.severity, "#888888")
        # a rule's condition is long: it gets a whole row
        fields = [{"title": name, "value": value, "short": not (i == 0 and event.source == "alert")}
                  for i, (name, value) in enumerate(event.facts)]
        return {"text": f"{event.title}: {event.summary}",
                "attachments": [{"color": color, "title": event.title, "text": "\n".join(message_lines(event)),
                                 "fields": fields, "ts": event.at // 1000, "footer": "shipyard"}]}

    def notify(self, event: AlertEvent) -> None:
        import httpx

        where = mask_url(self.url)
        # A bare transport, not httpx.Client: the client logs every request's full URL at
        # INFO, which would put the webhook's secret in the application's logs.
        request = httpx.Request("POST", self.url, json=self.payload(event), headers=self.headers,
                                extensions={"timeout": httpx.Timeout(self.timeout).as_dict()})
        try:
            response = self._transport().handle_request(request)
            try:
                response.read()
            finally:
                response.close()
        except httpx.TimeoutException:
            raise Unavailable(f"webhook {where} timed out after {self.timeout} s", url=where) from None
        except httpx.HTTPError as exc:
            # httpx messages may quote the full URL: report the kind of failure only.
            raise Unavailable(f"webhook {where} unreachable ({type(exc).__name__})", url=where) from None
        if not 200 <= response.status_code < 300:
            raise Unavailable(f"webhook {where} answered {response.status_code}: {response.text[:200]}",
                              url=where, status=response.status_code)
        logging.getLogger("shipyard.alerts").debug("notified %s of %s", where, event.title)


class EmailNotifier:
    """Send a plain-text mail per transition over SMTP.

    ``starttls`` upgrades a plain connection (port 587); ``use_tls`` connects with TLS
    from the start (port 465). ``cafile`` trusts a private certificate authority.
    """

    def __init__(self, host: str, port: int = 25, *, sender: str, recipients: Sequence[str],
                 username: str | None = None, password: str | None = None, starttls: bool = False,
                 use_tls: bool = False, timeout: float = 10.0, cafile: str | None = None) -> None:
        if isinstance(recipients, str):
            recipients = [recipients]
        if not recipients or not all(isinstance(r, str) and "@" in r for r in recipients):
            raise InvalidInput(f"recipients must be e-mail addresses, got {recipients!r}", field="recipients")
        if not isinstance(sender, str) or "@" not in sender:
            raise InvalidInput(f"sender must be an e-mail address, got {sender!r}", field="sender")
        if starttls and use_tls:
            raise InvalidInput("choose starttls (upgrade) or use_tls (TLS from the start), not both", field="starttls")
        self.host, self.port, self.sender, self.recipients = host, int(port), sender, list(recipients)
        self.username, self._password = username, password
        self.starttls, self.use_tls, self.timeout, self.cafile = starttls, use_tls, timeout, cafile

    def __repr__(self) -> str:
        return f"EmailNotifier({self.host!r}, {self.port}, recipients={self.recipients!r})"

    def message(self, event: AlertEvent) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = f"{event.title}: {event.topic}"
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients)
        mail.set_content("\n".join(message_lines(event)) + "\n")
        return mail

    def notify(self, event: AlertEvent) -> None:
        where = f"smtp://{self.host}:{self.port}"
        context = ssl.create_default_context(cafile=self.cafile) if self.starttls or self.use_tls else None
        try:
            smtp = (smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context) if self.use_tls
                    else smtplib.SMTP(self.host, self.port, timeout=self.timeout))
            with smtp:
                if self.starttls:
                    smtp.starttls(context=context)
                if self.username:
                    smtp.login(self.username, self._password or "")
                smtp.send_message(self.message(event))
        except smtplib.SMTPAuthenticationError as exc:
            raise Unavailable(f"{where} refused the login of {self.username!r} ({exc.smtp_code})", url=where) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise Unavailable(f"mail through {where} failed: {type(exc).__name__}: {exc}", url=where) from None
        logging.getLogger("shipyard.alerts").debug("mailed %s to %d recipients", event.title, len(self.recipients))


class LogNotifier:
    """Log each transition on ``logger`` (ERROR for critical, WARNING for warning, INFO otherwise;
    INFO for every resolution)."""

    def __init__(self, logger: str = "shipyard.alerts") -> None:
        self.logger = logger

    def __repr__(self) -> str:
        return f"LogNotifier({self.logger!r})"

    def notify(self, event: AlertEvent) -> None:
        level = logging.INFO if event.kind == "resolved" else _LEVELS.get(event.severity, logging.WARNING)
        logging.getLogger(self.logger).log(level, "%s: %s", event.title, event.summary)


_KEYS: Mapping[str, frozenset[str]] = {
    "webhook": frozenset({"url", "timeout", "headers", "proxy"}),
    "email": frozenset({"host", "port", "sender", "recipients", "username", "password", "starttls", "use_tls",
                        "timeout", "cafile"}),
    "log": frozenset({"logger"}),
}


def notifiers_from_config(alerts: Mapping[str, Any] | None) -> dict[str, Notifier]:
    """The notifiers of a config's ``[alerts]`` table: ``[alerts.notifiers.<name>]`` with a
    ``type`` of ``webhook`` (alias ``slack``), ``email`` or ``log``; plus ``log`` by default."""
    section = (alerts or {}).get("notifiers") or {}
    if not isinstance(section, Mapping):
        raise ConfigError("[alerts.notifiers] must be a table of notifiers", field="alerts.notifiers")
    built: dict[str, Notifier] = {"log": LogNotifier()}
    for name, spec in section.items():
        where = f"alerts.notifiers.{name}"
        if not isinstance(spec, Mapping):
            raise ConfigError(f"[{where}] must be a table", field=where)
        kind = str(spec.get("type", ""))
        kind = "webhook" if kind == "slack" else kind
        if kind not in _KEYS:
            raise ConfigError(f"[{where}] type must be webhook, slack, email or log, got {spec.get('type')!r}",
                              field=f"{where}.type")
        options = {k: v for k, v in spec.items() if k != "type"}
        unknown = sorted(set(options) - _KEYS[kind])
        if unknown:
            raise ConfigError(f"[{where}] unknown keys {unknown}", field=f"{where}.{unknown[0]}")
        try:
            if kind == "webhook":
                built[name] = WebhookNotifier(options.pop("url"), **options)
            elif kind == "email":
                built[name] = EmailNotifier(options.pop("host"), **options)
            else:
                built[name] = LogNotifier(**options)
        except KeyError as exc:
            raise ConfigError(f"[{where}] needs {exc.args[0]!r}", field=f"{where}.{exc.args[0]}") from None
        except TypeError as exc:
            raise ConfigError(f"[{where}]: {exc}", field=where) from None
        except InvalidInput as exc:
            raise ConfigError(f"[{where}]: {exc.message}", field=f"{where}.{exc.context.get('field')}") from None
    return built


def check_notifiers(names: Iterable[str], configured: Iterable[str]) -> None:
    """Refuse notifier ``names`` that are not among the ``configured`` ones (``log`` always is).

    Raises :class:`~shipyard.errors.InvalidInput` (``field="notify"``) naming the unknown
    names and the configured ones, with the table to add to ``shipyard.toml``.

    >>> check_notifiers(["log"], [])
    >>> check_notifiers(["slack"], ["log", "oncall"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shipyard.errors.InvalidInput: notify names a notifier that is not configured: 'slack' (configured: 'log', ...
    """
    known = {"log", *configured}
    unknown = [name for name in dict.fromkeys(names) if name not in known]
    if not unknown:
        return
    listed = ", ".join(repr(n) for n in sorted(known))
    which = "a notifier that is" if len(unknown) == 1 else "notifiers that are"
    raise InvalidInput(f"notify names {which} not configured: {', '.join(repr(n) for n in unknown)} "
                       f"(configured: {listed}); add [alerts.notifiers.{unknown[0]}] to shipyard.toml "
                       f"(type webhook, slack, email or log), or notify one of those",
                       field="notify", unknown=unknown, configured=sorted(known))
