"""Automation tables (revision 0011): policy versions, runs of policies, controller leases."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from shipyard.store.schema._meta import metadata

__all__ = ["automation_leases", "automation_policies", "automation_runs"]

# Append-only: applying a changed policy adds its next version; the newest is current.
automation_policies = Table(
    "automation_policies",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("spec", Text, nullable=False),  # the policy's canonical JSON
    Column("actor", String(256), nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

# One row per run; ``state`` moves only along the legal transitions (automation/_states.py).
automation_runs = Table(
    "automation_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("policy", String(256), nullable=False),
    Column("policy_version", Integer, nullable=False),
    Column("state", String(32), nullable=False),
    Column("resume_state", String(32), nullable=True),  # where an approval sends a run awaiting one
    Column("evidence", Text, nullable=False),  # JSON object
    Column("reason", Text, nullable=True),
    Column("started_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
    Index("ix_automation_runs_policy", "policy", "started_at"),
    Index("ix_automation_runs_state", "state"),
)

# Which controller drives a policy, until when: taken and renewed by conditional writes.
automation_leases = Table(
    "automation_leases",
    metadata,
    Column("policy", String(256), primary_key=True),
    Column("holder", String(256), nullable=False),
    Column("acquired_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)
