""":class:`~shipyard.automation._backend.AutomationControlStore` on the metadata database.

Policies are append-only versions; applying one checks what it names first
(:class:`~shipyard.automation._references.References`), then adds the next version and its
audit entry in one transaction. A run moves by a conditional UPDATE on the state it was
read in, so of two controllers racing on one run exactly one moves it; the move, its
audit entry and the merged evidence are one transaction. A lease is taken by one
INSERT … ON CONFLICT DO UPDATE whose condition (free, expired, or already ours) the
database evaluates under its row lock, so of several contenders one wins.

Audit entries go to the registry's audit log, naming
:func:`~shipyard.registry.audit_actor`: the authenticated user when a face runs the call
:func:`~shipyard.registry.acting_as` one, never what a remote caller claims.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shipyard.automation._entities import Applied, AutomationRun, Lease, PolicyVersion
from shipyard.automation._policy import AutomationPolicy
from shipyard.automation._references import References
from shipyard.automation._states import AWAITING_APPROVAL, TERMINAL, TRANSITIONS, check_state, transition
from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.lineage import Edge, Node
from shipyard.registry import AuditEvent, audit_actor
from shipyard.store import Database, LineageStore, check_name
from shipyard.store import schema as t
from shipyard.timeutil import now_ms

__all__ = ["RunKey", "SqlAutomationStore", "run_key"]

RunKey = tuple[int, str]
_POLICY, _RUN = "automation_policy", "automation_run"
_MAX_TTL_S = 86_400.0


def run_key(run: AutomationRun) -> RunKey:
    """The sort key of a run in :meth:`SqlAutomationStore.list_runs`: newest start first."""
    return -run.started_at, run.id


def _dump(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


class SqlAutomationStore:
    """Policies, runs and leases in the metadata database (see the module docstring).

    ``references`` checks what an applied policy names (None: nothing is checked, for
    stores that hold no other domain); ``clock`` gives the time in ms (leases expire by it).
    """

    def __init__(self, db: Database, references: References | None = None,
                 clock: Callable[[], int] = now_ms) -> None:
        self.db = db
        self.references = references
        self.clock = clock

    def close(self) -> None:
        """Nothing of its own to release: the database belongs to the client."""

    # -- audit ------------------------------------------------------------------------------

    def _audit(self, conn: Connection, action: str, entity_type: str, entity_id: str, before: Any, after: Any,
               actor: str | None, reason: str | None = None) -> None:
        conn.execute(t.audit_log.insert().values(
            at=self.clock(), actor=audit_actor(actor), action=action, entity_type=entity_type, entity_id=entity_id,
            before=None if before is None else _dump(before), after=None if after is None else _dump(after),
            reason=reason, forced=0))

    def audit(self, name: str, *, after: int | None = None, limit: int | None = None) -> list[AuditEvent]:
        """The audit trail of policy ``name`` and its runs, newest first; ``after`` (an entry's id)
        starts past that entry, so pages follow on."""
        a = t.audit_log
        query = sa.select(a).where(sa.or_(
            sa.and_(a.c.entity_type == _POLICY, a.c.entity_id == name),
            sa.and_(a.c.entity_type == _RUN, a.c.entity_id.startswith(f"{name}/", autoescape=True)),
        )).order_by(a.c.id.desc()).limit(limit)
        if after is not None:
            query = query.where(a.c.id < after)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [AuditEvent(r.id, r.at, r.actor, r.action, r.entity_type, r.entity_id,
                           None if r.before is None else orjson.loads(r.before),
                           None if r.after is None else orjson.loads(r.after), r.reason, bool(r.forced))
                for r in rows]

    # -- policies ---------------------------------------------------------------------------

    def apply(self, policy: AutomationPolicy, actor: str | None = None) -> Applied:
        if not isinstance(policy, AutomationPolicy):
            raise InvalidInput(f"expected an AutomationPolicy, got {type(policy).__name__}", field="policy")
        if self.references is not None:
            self.references.check(policy)
        spec = _dump(policy.to_json())
        p = t.automation_policies
        with self.db.write() as conn:
            current = conn.execute(sa.select(p).where(p.c.name == policy.name)
                                   .order_by(p.c.version.desc()).limit(1)).first()
            if current is not None and current.spec == spec:
                return Applied(_policy(current), changed=False)
            version = 1 if current is None else current.version + 1
            who, at = audit_actor(actor), self.clock()
            # A racing apply of the same version loses on the primary key (a Conflict).
            conn.execute(p.insert().values(name=policy.name, version=version, spec=spec, actor=who, created_at=at))
            self._audit(conn, "apply_policy", _POLICY, policy.name,
                        None if current is None else {"version": current.version},
                        {"version": version, "policy": policy.to_json()}, actor)
        return Applied(PolicyVersion(policy, version, at, who), changed=True)

    def get_policy(self, name: str, version: int | None = None) -> PolicyVersion:
        p = t.automation_policies
        query = sa.select(p).where(p.c.name == name)
        if version is not None:
            if isinstance(version, bool) or not isinstance(version, int) or version < 1:
                raise InvalidInput(f"version must be a positive integer, got {version!r:.40}", field="version")
            query = query.where(p.c.version == version)
        with self.db.read() as conn:
            row = conn.execute(query.order_by(p.c.version.desc()).limit(1)).first()
        if row is None:
            what = f"automation policy {name!r}" + ("" if version is None else f" version {version}")
            raise NotFound(f"{what} not found", resource="automation_policy", name=name)
        return _policy(row)

    def list_policies(self, *, after: str | None = None, limit: int | None = None) -> list[PolicyVersion]:
        """The current version of every policy, by name; with ``limit``, a page of those named after ``after``."""
        p = t.automation_policies
        newest = sa.select(p.c.name, sa.func.max(p.c.version).label("version")).group_by(p.c.name)
        if after is not None:
            newest = newest.where(p.c.name > after)
        sub = newest.subquery()
        query = (sa.select(p).join(sub, sa.and_(p.c.name == sub.c.name, p.c.version == sub.c.version))
                 .order_by(p.c.name).limit(limit))
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [_policy(r) for r in rows]

    def policy_versions(self, name: str, *, after: int | None = None,
                        limit: int | None = None) -> list[PolicyVersion]:
        """Every version of ``name``, newest first; ``after``: only versions below it (a page on)."""
        p = t.automation_policies
        query = sa.select(p).where(p.c.name == name).order_by(p.c.version.desc()).limit(limit)
        if after is not None:
            query = query.where(p.c.version < after)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
            if not rows and after is None:
                raise NotFound(f"automation policy {name!r} not found", resource="automation_policy", name=name)
        return [_policy(r) for r in rows]

    # -- runs -------------------------------------------------------------------------------

    def create_run(self, policy: str, evidence: Mapping[str, Any] | None = None,
                   actor: str | None = None, reason: str | None = None) -> AutomationRun:
        current = self.get_policy(policy)
        now = self.clock()
        run = AutomationRun(uuid.uuid4().hex, policy, current.version, "triggered", now, now,
                            evidence=_evidence(evidence, {}))
        if reason is None:
            reason = _trigger_reason(run.evidence)
        with self.db.write() as conn:
            conn.execute(t.automation_runs.insert().values(**_run_row(run)))
            self._audit(conn, "create_run", _RUN, f"{policy}/{run.id}", None,
                        {"state": run.state, "policy_version": run.policy_version}, actor, reason)
        return run

    def get_run(self, run_id: str) -> AutomationRun:
        with self.db.read() as conn:
            return _run(self._run_row(conn, run_id))

    @staticmethod
    def _run_row(conn: Connection, run_id: str) -> Any:
        row = conn.execute(sa.select(t.automation_runs).where(t.automation_runs.c.id == run_id)).first()
        if row is None:
            raise NotFound(f"automation run {run_id!r:.80} not found", resource="automation_run", run_id=run_id)
        return row

    def list_runs(self, policy: str | None = None, state: str | None = None, *, after: RunKey | None = None,
                  limit: int | None = None) -> list[AutomationRun]:
        """Newest first (then by id). With ``limit``, a page of at most that many: those whose
        :func:`run_key` follows ``after``."""
        r = t.automation_runs
        query = sa.select(r)
        if policy is not None:
            query = query.where(r.c.policy == policy)
        if state is not None:
            query = query.where(r.c.state == check_state(state))
        key = (-r.c.started_at, r.c.id)
        if after is not None:
            query = query.where(sa.tuple_(*key) > sa.tuple_(*after))
        with self.db.read() as conn:
            rows = conn.execute(query.order_by(*key).limit(limit)).all()
        return [_run(row) for row in rows]

    def transition(self, run_id: str, to: str, *, expect: str | None = None,
                   evidence: Mapping[str, Any] | None = None, reason: str | None = None,
                   resume_state: str | None = None, actor: str | None = None) -> AutomationRun:
        check_state(to, "to_state")
        if to == AWAITING_APPROVAL:
            after_approval = TRANSITIONS[AWAITING_APPROVAL] - {"rejected"}
            if resume_state not in after_approval:
                raise InvalidInput(f"resume_state must say where an approval sends the run: one of "
                                   f"{', '.join(sorted(after_approval))}, got {resume_state!r:.40}",
                                   field="resume_state")
        elif resume_state is not None:
            raise InvalidInput("resume_state is only for a move to awaiting_approval", field="resume_state")
        return self._move(run_id, to, expect=expect, evidence=evidence, reason=reason, resume_state=resume_state,
                          actor=actor, action="transition")

    def _move(self, run_id: str, to: str, *, expect: str | None, evidence: Mapping[str, Any] | None,
              reason: str | None, resume_state: str | None, actor: str | None, action: str) -> AutomationRun:
        r = t.automation_runs
        with self.db.write() as conn:
            row = self._run_row(conn, run_id)
            if expect is not None and row.state != expect:
                raise Conflict(f"automation run {run_id} is {row.state}, not {expect}", from_state=row.state,
                               to_state=to, expected=expect)
            transition(row.state, to)
            now = max(self.clock(), row.updated_at)
            merged = _evidence(evidence, orjson.loads(row.evidence))
            values = {"state": to, "resume_state": resume_state, "evidence": _dump(merged),
                      "reason": reason if reason is not None else row.reason, "updated_at": now,
                      "ended_at": now if to in TERMINAL else None}
            moved = conn.execute(r.update().where(r.c.id == run_id, r.c.state == row.state).values(**values))
            if moved.rowcount != 1:  # another controller moved it since it was read
                raise Conflict(f"automation run {run_id} moved meanwhile; it was {row.state}",
                               from_state=row.state, to_state=to)
            self._audit(conn, action, _RUN, f"{row.policy}/{run_id}", {"state": row.state},
                        {"state": to, **({"resume_state": resume_state} if resume_state else {})}, actor, reason)
            return _run(SimpleNamespace(**{**row._asdict(), **values}))

    def approve(self, run_id: str, reason: str, actor: str | None = None) -> AutomationRun:
        row = self._awaiting(run_id, reason, "approve")
        return self._move(run_id, row.resume_state, expect=AWAITING_APPROVAL, evidence=None, reason=reason,
                          resume_state=None, actor=actor, action="approve")

    def reject(self, run_id: str, reason: str, actor: str | None = None) -> AutomationRun:
        self._awaiting(run_id, reason, "reject")
        return self._move(run_id, "rejected", expect=AWAITING_APPROVAL, evidence=None, reason=reason,
                          resume_state=None, actor=actor, action="reject")

    def _awaiting(self, run_id: str, reason: str, verb: str) -> Any:
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput(f"to {verb} a run, give a reason", field="reason")
        with self.db.read() as conn:
            row = self._run_row(conn, run_id)
        if row.state != AWAITING_APPROVAL:
            raise Conflict(f"automation run {run_id} is {row.state}, not awaiting approval: there is nothing "
                           f"to {verb}", state=row.state, run_id=run_id)
        return row

    # -- leases -----------------------------------------------------------------------------

    def acquire_lease(self, policy: str, holder: str, ttl_s: float) -> Lease | None:
        from sqlalchemy.dialects import postgresql, sqlite

        check_name(policy, "policy")
        check_name(holder, "holder")
        now = self.clock()
        expires = now + _ttl_ms(ttl_s)
        leases = t.automation_leases
        insert = (postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert)(leases)
        values = insert.values(policy=policy, holder=holder, acquired_at=now, expires_at=expires)
        # The condition is evaluated on the row as it stands under the row lock: a free or
        # expired lease is taken over, our own is extended, another's live one is left alone.
        statement = values.on_conflict_do_update(
            index_elements=[leases.c.policy],
            set_={"holder": holder, "expires_at": expires,
                  "acquired_at": sa.case((leases.c.holder == holder, leases.c.acquired_at), else_=now)},
            where=sa.or_(leases.c.expires_at <= now, leases.c.holder == holder),
        ).returning(leases.c.policy, leases.c.holder, leases.c.acquired_at, leases.c.expires_at)
        with self.db.write() as conn:
            row = conn.execute(statement).first()
        return None if row is None else Lease(row.policy, row.holder, row.acquired_at, row.expires_at)

    def renew_lease(self, policy: str, holder: str, ttl_s: float) -> Lease:
        now = self.clock()
        expires = now + _ttl_ms(ttl_s)
        leases = t.automation_leases
        with self.db.write() as conn:
            row = conn.execute(leases.update().where(
                leases.c.policy == policy, leases.c.holder == holder, leases.c.expires_at > now,
            ).values(expires_at=expires).returning(leases.c.policy, leases.c.holder, leases.c.acquired_at,
                                                   leases.c.expires_at)).first()
        if row is None:
            current = self.get_lease(policy)
            who = "nobody" if current is None else current.holder
            raise Conflict(f"{holder!r:.80} does not hold the lease on {policy!r:.80} (held by {who}"
                           f"{'' if current is None or current.expires_at > now else ', expired'})",
                           policy=policy, holder=None if current is None else current.holder)
        return Lease(row.policy, row.holder, row.acquired_at, row.expires_at)

    def release_lease(self, policy: str, holder: str) -> bool:
        leases = t.automation_leases
        with self.db.write() as conn:
            gone = conn.execute(sa.delete(leases).where(leases.c.policy == policy, leases.c.holder == holder)
                                .returning(leases.c.policy)).first()
        return gone is not None

    def get_lease(self, policy: str) -> Lease | None:
        leases = t.automation_leases
        with self.db.read() as conn:
            row = conn.execute(sa.select(leases).where(leases.c.policy == policy)).first()
        return None if row is None else Lease(row.policy, row.holder, row.acquired_at, row.expires_at)

    # -- lineage of exported labelled data ---------------------------------------------------

    def record_export(self, dataset: str, version: int, model_versions: Sequence[tuple[str, int]],
                      monitors: Sequence[str]) -> None:
        ref = f"{dataset}@{int(version)}"
        dv, mv, m = t.dataset_versions, t.model_versions, t.monitors
        edges = [Edge(Node("model_version", f"{name}/{int(number)}"), "served", Node("dataset", ref))
                 for name, number in model_versions]
        edges += [Edge(Node("monitor", name), "monitored", Node("dataset", ref)) for name in monitors]
        with self.db.write() as conn:
            if conn.execute(sa.select(dv.c.version).where(dv.c.name == dataset, dv.c.version == int(version))
                            ).first() is None:
                raise NotFound(f"dataset version {ref!r} not found", resource="dataset", field="dataset")
            for name, number in model_versions:
                if conn.execute(sa.select(mv.c.version).where(mv.c.name == name, mv.c.version == int(number))
                                ).first() is None:
                    raise NotFound(f"model version {name}/{number} not found", resource="model_version",
                                   field="model_versions")
            for name in monitors:
                if conn.execute(sa.select(m.c.name).where(m.c.name == name)).first() is None:
                    raise NotFound(f"monitor {name!r} not found", resource="monitor", field="monitors")
            LineageStore.add_in(conn, edges, self.clock())


def _ttl_ms(ttl_s: float) -> int:
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int | float) or not math.isfinite(ttl_s) \
            or not 0 < ttl_s <= _MAX_TTL_S:
        raise InvalidInput(f"ttl_s must be above 0 and at most {_MAX_TTL_S:g} seconds, got {ttl_s!r:.40}",
                           field="ttl_s")
    return max(1, int(ttl_s * 1000))


def _evidence(new: Mapping[str, Any] | None, old: Mapping[str, Any]) -> dict[str, Any]:
    """``old`` with the keys of ``new`` replaced: evidence is a JSON object, gathered stage by stage."""
    if new is None:
        return dict(old)
    if not isinstance(new, Mapping) or not all(isinstance(k, str) for k in new):
        raise InvalidInput("evidence must be a mapping with string keys", field="evidence")
    try:
        orjson.dumps(dict(new))
    except TypeError as exc:
        raise InvalidInput(f"evidence must be JSON: {exc}", field="evidence") from None
    return {**old, **new}


def _policy(row: Any) -> PolicyVersion:
    return PolicyVersion(AutomationPolicy.from_json(orjson.loads(row.spec)), row.version, row.created_at, row.actor)


def _trigger_reason(evidence: Mapping[str, Any]) -> str | None:
    """The reason a person gave for a manual trigger (``evidence["trigger"]["reason"]``), if any."""
    trigger = evidence.get("trigger")
    reason = trigger.get("reason") if isinstance(trigger, Mapping) else None
    return reason if isinstance(reason, str) and reason.strip() else None


def _run_row(run: AutomationRun) -> dict[str, Any]:
    return {"id": run.id, "policy": run.policy, "policy_version": run.policy_version, "state": run.state,
            "resume_state": run.resume_state, "evidence": _dump(dict(run.evidence)), "reason": run.reason,
            "started_at": run.started_at, "updated_at": run.updated_at, "ended_at": run.ended_at}


def _run(row: Any) -> AutomationRun:
    return AutomationRun(row.id, row.policy, row.policy_version, row.state, row.started_at, row.updated_at,
                         row.ended_at, orjson.loads(row.evidence), row.reason, row.resume_state)
