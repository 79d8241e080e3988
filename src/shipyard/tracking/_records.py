"""Whole runs written in one go: :class:`RunRecord` and the checks every backend applies.

``TrackingStore.record_runs`` takes a batch of records and writes them in one
metadata transaction: a pipeline finishing a hundred steps pays for one
transaction, not a few hundred. :func:`check_records` validates a batch before
anything is written, so a bad record fails the whole batch with an
:class:`~shipyard.errors.InvalidInput` naming the field (``runs[3].params.lr``),
and nothing is half-written.

>>> rec = RunRecord("0", params={"lr": "0.1"}, metrics=[Metric("loss", 0.3, 0, 1)])
>>> rec.status, len(rec.id)
(<RunStatus.FINISHED: 'FINISHED'>, 32)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.store import check_name
from shipyard.store.artifacts import check_digest, safe_relpath
from shipyard.tracking._entities import (
    Metric,
    RunStatus,
    ValueLimits,
    new_run_id,
    now_ms,
    validate_key,
    validate_run_id,
)

__all__ = ["MAX_RECORDS", "RunRecord", "check_records"]

#: Most records one call takes (a pipeline's recorder flushes far fewer at a time).
MAX_RECORDS = 10_000
# A path safe_relpath would return unchanged: segments of word characters, '-' and '.',
# none starting with '.' (so never '.' or '..'), joined by single slashes.
_CLEAN_PATH = re.compile(r"[\w\-][\w.\-]*(?:/[\w\-][\w.\-]*)*")


@dataclass(frozen=True)
class RunRecord:
    """A run and everything logged to it, for :meth:`TrackingStore.record_runs`.

    A record whose ``id`` is not stored yet creates the run (``start_time``
    defaults to now, ``end_time`` to now when ``status`` is terminal). A record
    whose run exists — created earlier, say when its step started — updates it:
    the run must be in the same experiment and not finished; its status, end time
    and (when given) name change, and the record's params, tags, metrics and
    artifacts are added as ``log_batch`` and ``log_artifact`` would add them.

    ``artifacts`` maps logical paths to bytes, stored content-addressed in the
    artifact store; ``links`` maps logical paths to the digests of objects the
    backend's artifact store already holds (nothing travels; an unknown digest is
    :class:`~shipyard.errors.NotFound`). Params and tags are strings.
    """

    experiment_id: str
    id: str = field(default_factory=new_run_id)
    name: str | None = None
    status: RunStatus = RunStatus.FINISHED
    start_time: int | None = None
    end_time: int | None = None
    parent_run_id: str | None = None
    user: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    metrics: Sequence[Metric] = ()
    artifacts: Mapping[str, bytes] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)
    environment: Mapping[str, Any] | None = None


def _time(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{where} must be a non-negative integer (ms since the epoch), got {value!r}", field=where)
    return value


def _strings(values: Any, where: str, kind: str, limits: ValueLimits | None, valid: set[str]) -> dict[str, str]:
    if not isinstance(values, Mapping):
        raise InvalidInput(f"{where} must be a mapping of {kind} names to strings", field=where)
    for key, value in values.items():
        if key not in valid:  # a batch repeats the same few keys: check each once
            validate_key(key, f"{where}.{key}" if isinstance(key, str) else where)
            valid.add(key)
        if not isinstance(value, str):
            raise InvalidInput(f"{where}.{key} must be a string, got {type(value).__name__}", field=f"{where}.{key}")
    if limits is not None:
        limits.check(kind, values.items(), where)
    return values if type(values) is dict else dict(values)


def _metrics(values: Any, where: str, valid: set[str]) -> list[Metric]:
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence):
        raise InvalidInput(f"{where} must be a list of Metric", field=where)
    out = []
    for i, m in enumerate(values):
        if type(m) is Metric and m.key in valid and type(m.value) is float and type(m.step) is int \
                and type(m.timestamp) is int and m.timestamp >= 0:
            out.append(m)  # the common case, checked in one go
            continue
        at = f"{where}[{i}]"
        if not isinstance(m, Metric):
            raise InvalidInput(f"{at} must be a Metric, got {type(m).__name__}", field=at)
        if m.key not in valid:
            validate_key(m.key, f"{at}.key")
            valid.add(m.key)
        if isinstance(m.value, bool) or not isinstance(m.value, int | float):
            raise InvalidInput(f"{at}.value must be a number, got {m.value!r}", field=f"{at}.value")
        if isinstance(m.step, bool) or not isinstance(m.step, int):
            raise InvalidInput(f"{at}.step must be an integer, got {m.step!r}", field=f"{at}.step")
        _time(m.timestamp, f"{at}.timestamp")
        out.append(m if isinstance(m.value, float) else replace(m, value=float(m.value)))
    return values if type(values) is list and all(a is b for a, b in zip(out, values, strict=True)) else out


def _paths(values: Any, where: str, what: str, taken: set[str]) -> dict[str, Any]:
    if not isinstance(values, Mapping):
        raise InvalidInput(f"{where} must be a mapping of artifact paths to {what}", field=where)
    if type(values) is dict and not (taken and taken.intersection(values)) and \
            all(type(p) is str and _CLEAN_PATH.fullmatch(p) for p in values):
        return values  # already normal: nothing to rewrite, and dict keys cannot repeat
    out: dict[str, Any] = {}
    for path, value in values.items():
        try:
            clean = safe_relpath(path)
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc.message}", field=f"{where}.path") from None
        if clean in out or clean in taken:
            raise InvalidInput(f"{where} names {clean!r} twice", field=f"{where}.{clean}")
        out[clean] = value
    return out


def _artifacts(values: Any, where: str) -> dict[str, bytes]:
    out = _paths(values, where, "bytes", set())
    if any(type(data) is not bytes for data in out.values()):
        out = dict(out)
        for path, data in out.items():
            if not isinstance(data, bytes | bytearray | memoryview):
                raise InvalidInput(f"{where}.{path} must be bytes, got {type(data).__name__}",
                                   field=f"{where}.{path}")
            out[path] = bytes(data)
    return out


def _links(values: Any, where: str, artifacts: dict[str, bytes]) -> dict[str, str]:
    out = _paths(values, where, "digests", set(artifacts))
    for path, digest in out.items():
        try:
            check_digest(digest)
        except InvalidInput as exc:
            raise InvalidInput(f"{where}.{path}: {exc.message}", field=f"{where}.{path}") from None
    return out


def _run_id(value: Any, where: str) -> None:
    try:
        validate_run_id(value)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc.message}", field=where) from None


def _check_batch(records: Any) -> None:
    if isinstance(records, RunRecord) or not isinstance(records, Sequence):
        raise InvalidInput("runs must be a list of RunRecord", field="runs")
    if len(records) > MAX_RECORDS:
        raise InvalidInput(f"at most {MAX_RECORDS} runs per call, got {len(records)}", field="runs")


def _check_ids(rec: RunRecord, at: str, seen: set[str]) -> None:
    """The run's own id (unique within the batch), its experiment's and its parent's."""
    _run_id(rec.id, f"{at}.id")
    if rec.id in seen:
        raise InvalidInput(f"{at}.id {rec.id!r} appears twice in one batch", field=f"{at}.id")
    seen.add(rec.id)
    if not isinstance(rec.experiment_id, str) or not rec.experiment_id.isdigit():
        raise InvalidInput(f"{at}.experiment_id must be a string of digits, got {rec.experiment_id!r}",
                           field=f"{at}.experiment_id")
    if rec.parent_run_id is not None:
        if rec.parent_run_id == rec.id:
            raise InvalidInput(f"{at} names itself as its parent", field=f"{at}.parent_run_id")
        _run_id(rec.parent_run_id, f"{at}.parent_run_id")


def _status(value: Any, at: str) -> RunStatus:
    try:
        return RunStatus(value)
    except ValueError:
        raise InvalidInput(f"{at}.status must be one of {[s.value for s in RunStatus]}, got {value!r}",
                           field=f"{at}.status") from None


def _check_labels(rec: RunRecord, at: str) -> None:
    for name, text in (("name", rec.name), ("user", rec.user)):
        if text is not None:
            check_name(text, f"{at}.{name}")


def _times(rec: RunRecord, at: str, status: RunStatus, now: int) -> tuple[int | None, int | None]:
    """Start and end time; a terminal run without an end time ends now (never before its start)."""
    start = _time(rec.start_time, f"{at}.start_time")
    end = _time(rec.end_time, f"{at}.end_time")
    if status.is_terminal and end is None:
        end = max(now, start or 0)
    if start is not None and end is not None and end < start:
        raise InvalidInput(f"{at}.end_time {end} is before its start_time {start}", field=f"{at}.end_time")
    return start, end


def _check_record(rec: Any, at: str, now: int, seen: set[str], valid: set[str],
                  limits: ValueLimits | None) -> RunRecord:
    """One record checked and normalised; its fields are checked in a fixed order, the first bad one named.

    ``seen`` holds the ids met so far in the batch; ``valid`` the param, tag and metric keys already checked.
    """
    if not isinstance(rec, RunRecord):
        raise InvalidInput(f"{at} must be a RunRecord, got {type(rec).__name__}", field=at)
    _check_ids(rec, at, seen)
    status = _status(rec.status, at)
    _check_labels(rec, at)
    start, end = _times(rec, at, status, now)
    if rec.environment is not None and not isinstance(rec.environment, Mapping):
        raise InvalidInput(f"{at}.environment must be a mapping", field=f"{at}.environment")
    artifacts = _artifacts(rec.artifacts, f"{at}.artifacts")
    checked: dict[str, Any] = {
        "status": status, "start_time": start, "end_time": end,
        "params": _strings(rec.params, f"{at}.params", "param", limits, valid),
        "tags": _strings(rec.tags, f"{at}.tags", "tag", limits, valid),
        "metrics": _metrics(rec.metrics, f"{at}.metrics", valid),
        "artifacts": artifacts, "links": _links(rec.links, f"{at}.links", artifacts),
    }
    changed = {k: v for k, v in checked.items() if v is not getattr(rec, k)}
    # A record already in normal form is kept as it is (the common case, and cheaper).
    return replace(rec, **changed) if changed else rec


def check_records(records: Sequence[RunRecord], now: int | None = None,
                  limits: ValueLimits | None = None) -> list[RunRecord]:
    """Validate ``records`` and fill their defaults; raise InvalidInput naming the first bad field.

    Returned records have ``end_time`` set when terminal (now, unless given) and
    artifact paths normalised. Whether runs, parents and experiments exist is the
    backend's to check, and so are the sizes of param and tag values: a backend
    passes its ``limits`` (a value over one is :class:`~shipyard.errors.TooLarge`).
    """
    _check_batch(records)
    now = now or now_ms()
    seen: set[str] = set()
    valid: set[str] = set()
    return [_check_record(rec, f"runs[{i}]", now, seen, valid, limits) for i, rec in enumerate(records)]
