""":class:`~shipyard.alerting._backend.AlertStateStore` on the metadata database.

A transition is claimed with a conditional UPDATE, or an INSERT that loses on the
primary key, and its history line is appended in the same transaction, so of several
evaluators racing over the same points exactly one claims each transition.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shipyard.alerting._backend import MAX_HISTORY
from shipyard.alerting._entities import STATES, Alert, AlertEvent, HistoryEntry
from shipyard.alerting._rules import AlertRule
from shipyard.alerting._series import labels_key, parse_labels_key
from shipyard.errors import AlreadyExists, InvalidInput, NotFound
from shipyard.store import Database
from shipyard.store import schema as t
from shipyard.timeutil import now_ms

__all__ = ["AlertKey", "SqlAlertStore", "alert_key"]

AlertKey = tuple[int, int, str]


def alert_key(alert: Alert) -> AlertKey:
    """The sort key of an alert in :meth:`SqlAlertStore.list_alerts`: firing first, newest start first."""
    return 0 if alert.state == "firing" else 1, -alert.started_at, alert.fingerprint


class SqlAlertStore:
    """:class:`~shipyard.alerting._backend.AlertStateStore` on the metadata database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def close(self) -> None:
        """Nothing of its own to release: the database belongs to the client."""

    # -- rules ------------------------------------------------------------------------

    def create_rule(self, rule: AlertRule, *, replace: bool = False) -> AlertRule:
        if not isinstance(rule, AlertRule):
            raise InvalidInput(f"expected an AlertRule, got {type(rule).__name__}", field="rule")
        now = now_ms()
        r = t.alert_rules
        with self.db.write() as conn:
            old = conn.execute(sa.select(r.c.created_at).where(r.c.name == rule.name)).first()
            if old is not None and not replace:
                raise AlreadyExists(f"alert rule {rule.name!r} exists (replace it to change it)",
                                    resource="alert_rule", name=rule.name)
            row = _rule_row(rule, created_at=old.created_at if old else now, updated_at=now)
            if old is None:
                conn.execute(r.insert().values(**row))
            else:
                _retire(conn, rule.name, now, "the rule was replaced")
                conn.execute(r.update().where(r.c.name == rule.name).values(**row))
        return rule.with_(created_at=row["created_at"], updated_at=now)

    def get_rule(self, name: str) -> AlertRule:
        with self.db.read() as conn:
            row = conn.execute(sa.select(t.alert_rules).where(t.alert_rules.c.name == name)).first()
        if row is None:
            raise NotFound(f"alert rule {name!r} not found", resource="alert_rule", name=name)
        return _rule(row)

    def list_rules(self) -> list[AlertRule]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(t.alert_rules).order_by(t.alert_rules.c.name)).all()
        return [_rule(row) for row in rows]

    def delete_rule(self, name: str) -> None:
        r = t.alert_rules
        with self.db.write() as conn:
            if conn.execute(sa.delete(r).where(r.c.name == name)).rowcount == 0:
                raise NotFound(f"alert rule {name!r} not found", resource="alert_rule", name=name)
            _retire(conn, name, now_ms(), "the rule was deleted")
            conn.execute(sa.delete(t.alerts).where(t.alerts.c.rule == name))

    # -- alerts and history -------------------------------------------------------------

    def list_alerts(self, state: str | None = None, rule: str | None = None, *,
                    after: AlertKey | None = None, limit: int | None = None) -> list[Alert]:
        """Firing alerts first, then by newest start. With ``limit``, a page of at most that
        many: those whose :func:`alert_key` follows ``after``."""
        a = t.alerts
        if state is not None and state not in STATES:
            raise InvalidInput(f"state must be one of {', '.join(STATES)}, got {state!r}", field="state")
        query = sa.select(a)
        if state is not None:
            query = query.where(a.c.state == state)
        if rule is not None:
            query = query.where(a.c.rule == rule)
        key = (sa.case((a.c.state == "firing", 0), else_=1), -a.c.started_at, a.c.fingerprint)
        if after is not None:
            query = query.where(sa.tuple_(*key) > sa.tuple_(*after))
        with self.db.read() as conn:
            rows = conn.execute(query.order_by(*key).limit(limit)).all()
        return [_alert(row) for row in rows]

    def history(self, rule: str | None = None, fingerprint: str | None = None,
                limit: int = 100, *, after: int | None = None) -> list[HistoryEntry]:
        """Newest first; ``after`` (an entry's id) starts past that entry, so pages follow on."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_HISTORY:
            raise InvalidInput(f"limit must be 1 to {MAX_HISTORY}, got {limit!r}", field="limit")
        e = t.alert_events
        query = sa.select(e)
        if rule is not None:
            query = query.where(e.c.rule == rule)
        if fingerprint is not None:
            query = query.where(e.c.fingerprint == fingerprint)
        if after is not None:
            query = query.where(e.c.id < after)
        with self.db.read() as conn:
            rows = conn.execute(query.order_by(e.c.id.desc()).limit(limit)).all()
        return [_entry(row) for row in rows]

    # -- transitions --------------------------------------------------------------------

    def alerts_of(self, rule: str) -> dict[str, Alert]:
        return {a.fingerprint: a for a in self.list_alerts(rule=rule)}

    def claim(self, event: AlertEvent) -> bool:
        a = t.alerts
        values: dict[str, Any] = {"last_value": event.value, "last_window_end": event.window_end,
                                  "updated_at": event.at}
        with self.db.write() as conn:
            if event.kind == "firing":
                claimed = _insert_new(conn, {
                    "fingerprint": event.fingerprint, "rule": event.rule.name, "monitor": event.monitor,
                    "labels": labels_key(event.labels), "state": "firing", "severity": event.severity,
                    "started_at": event.at, "resolved_at": None, "last_notified_at": event.at, "count": 1,
                    **values}) or conn.execute(a.update().where(
                    a.c.fingerprint == event.fingerprint, a.c.state == "resolved").values(
                    state="firing", severity=event.severity, started_at=event.at, resolved_at=None,
                    last_notified_at=event.at, count=a.c.count + 1, **values)).rowcount == 1
                kind = "fired"
            elif event.kind == "resolved":
                claimed = conn.execute(a.update().where(
                    a.c.fingerprint == event.fingerprint, a.c.state == "firing").values(
                    state="resolved", resolved_at=event.at, **values)).rowcount == 1
                kind = "resolved"
            elif event.kind == "repeat" and event.rule.repeat_interval_ms:
                due = event.at - event.rule.repeat_interval_ms
                claimed = conn.execute(a.update().where(
                    a.c.fingerprint == event.fingerprint, a.c.state == "firing",
                    sa.or_(a.c.last_notified_at.is_(None), a.c.last_notified_at <= due)).values(
                    last_notified_at=event.at, **values)).rowcount == 1
                kind = "renotified"
            else:
                raise InvalidInput(f"not a transition to claim: {event.kind!r}", field="kind")
            if claimed:
                conn.execute(t.alert_events.insert().values(**_entry_row(HistoryEntry.of(event, kind))))
        return claimed

    def observe(self, fingerprint: str, value: float | None, window_end: int | None) -> None:
        a = t.alerts
        with self.db.write() as conn:
            conn.execute(a.update().where(a.c.fingerprint == fingerprint, a.c.state == "firing").values(
                last_value=value, last_window_end=window_end))

    def record(self, entries: Sequence[HistoryEntry]) -> None:
        if entries:
            with self.db.write() as conn:
                conn.execute(t.alert_events.insert(), [_entry_row(e) for e in entries])


def _insert_new(conn: Connection, row: dict[str, Any]) -> bool:
    """Insert an alert row unless its fingerprint exists; whether it was inserted."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    # RETURNING, not rowcount: psycopg reports -1 for INSERT … ON CONFLICT DO NOTHING.
    statement = insert(t.alerts).values(**row).on_conflict_do_nothing().returning(t.alerts.c.fingerprint)
    return conn.execute(statement).first() is not None


def _retire(conn: Connection, rule: str, now: int, why: str) -> None:
    """Resolve the rule's firing alerts without notifying, and say why in the history."""
    a = t.alerts
    firing = conn.execute(sa.select(a).where(a.c.rule == rule, a.c.state == "firing")).all()
    for row in firing:
        conn.execute(t.alert_events.insert().values(**_entry_row(HistoryEntry(
            at=now, kind="retired", rule=rule, fingerprint=row.fingerprint, monitor=row.monitor,
            labels=parse_labels_key(row.labels), severity=row.severity, value=row.last_value,
            window_end=row.last_window_end, detail=why))))
    conn.execute(sa.delete(a).where(a.c.rule == rule))


def _rule_row(rule: AlertRule, *, created_at: int, updated_at: int) -> dict[str, Any]:
    return {"name": rule.name, "monitor": rule.monitor, "series": rule.series, "labels": labels_key(rule.labels),
            "op": rule.op, "threshold": rule.threshold, "for_windows": rule.for_windows, "severity": rule.severity,
            "notify": json.dumps(list(rule.notify)), "repeat_interval_ms": rule.repeat_interval_ms,
            "enabled": int(rule.enabled), "description": rule.description, "created_at": created_at,
            "updated_at": updated_at}


def _rule(row: Any) -> AlertRule:
    return AlertRule(name=row.name, series=row.series, op=row.op, threshold=row.threshold,
                     for_windows=row.for_windows, labels=parse_labels_key(row.labels), monitor=row.monitor,
                     severity=row.severity, notify=tuple(json.loads(row.notify)),
                     repeat_interval_ms=row.repeat_interval_ms, enabled=bool(row.enabled),
                     description=row.description, created_at=row.created_at, updated_at=row.updated_at)


def _alert(row: Any) -> Alert:
    return Alert(fingerprint=row.fingerprint, rule=row.rule, monitor=row.monitor, labels=parse_labels_key(row.labels),
                 state=row.state, severity=row.severity, started_at=row.started_at, resolved_at=row.resolved_at,
                 last_value=row.last_value, last_window_end=row.last_window_end,
                 last_notified_at=row.last_notified_at, count=row.count)


def _entry_row(entry: HistoryEntry) -> dict[str, Any]:
    return {"at": entry.at, "kind": entry.kind, "rule": entry.rule, "fingerprint": entry.fingerprint,
            "monitor": entry.monitor, "labels": None if entry.labels is None else labels_key(entry.labels),
            "severity": entry.severity, "value": entry.value, "window_end": entry.window_end,
            "notifier": entry.notifier, "detail": entry.detail}


def _entry(row: Any) -> HistoryEntry:
    return HistoryEntry(id=row.id, at=row.at, kind=row.kind, rule=row.rule, fingerprint=row.fingerprint,
                        monitor=row.monitor, labels=None if row.labels is None else parse_labels_key(row.labels),
                        severity=row.severity, value=row.value, window_end=row.window_end, notifier=row.notifier,
                        detail=row.detail)
