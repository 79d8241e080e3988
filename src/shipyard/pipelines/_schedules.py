"""Schedules: when a pipeline should run (a cron expression, or a new dataset version).

Schedules are kept as tags of the pipeline's experiment — ``shipyard.schedule.<id>``
(the schedule, JSON) and ``shipyard.schedule.<id>.cursor`` (the last fire time
handled) — so they need no table and work through a remote server too.

Each fire of a schedule is *claimed* by creating the pipeline run under a run id
derived from (experiment, schedule, fire): the metadata store's primary key lets
exactly one claim win, however many schedulers run and however often they
restart. A fire the scheduler could not run in time is claimed too, as a run
ended KILLED with tag ``shipyard.schedule.outcome = missed``; a run whose
scheduler died under it ends FAILED with ``shipyard.schedule.outcome =
abandoned``: the runs of a schedule are its complete ledger.

>>> s = Schedule(id="nightly", pipeline="train", cron="0 3 * * *", created_at=0)
>>> [t // 3_600_000 for t in s.fire_times(0, 2 * 86_400_000)]
[3, 27]
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from shipyard.errors import Conflict, InvalidInput, NotFound

__all__ = ["HEARTBEAT_TAG", "OWNER_TAG", "SCHEDULE_TAG", "Schedule", "ScheduleBook", "check_timezone", "claim_run_id"]

SCHEDULE_TAG = "shipyard.schedule."
#: Tags of a claimed run: the scheduler running it (``host:pid``) and its last sign of life (epoch ms).
OWNER_TAG = "shipyard.scheduler.owner"
HEARTBEAT_TAG = "shipyard.scheduler.heartbeat"
_CURSOR = ".cursor"


def _croniter(expr: str, start: dt.datetime) -> Any:
    from croniter import croniter

    try:
        return croniter(expr, start)
    except (ValueError, KeyError) as exc:
        raise InvalidInput(f"not a cron expression: {expr!r} ({exc})", field="cron") from None


def check_timezone(name: str, option: str = "timezone") -> None:
    """``InvalidInput`` naming ``option`` unless ``name`` is an IANA time zone (``UTC``, ``Europe/Berlin``)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInput(f"{option} {name!r} is not a time zone (e.g. UTC, Europe/Berlin, America/New_York)",
                           field=option.lstrip("-")) from None


@dataclass(frozen=True)
class Schedule:
    """A cron schedule (``cron``, in ``timezone``) or a dataset trigger (``dataset``).

    ``target`` (``file.py:name``) is what the scheduler loads and runs; ``params``
    are passed to the pipeline, plus the new dataset version as ``version_param``
    when set. ``baseline`` is the dataset's version when the trigger was made (only
    newer versions fire). Times are epoch milliseconds.
    """

    id: str
    pipeline: str
    target: str | None = None
    cron: str | None = None
    dataset: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    executor: str = "local"
    timezone: str = "UTC"
    version_param: str | None = None
    baseline: str | None = None
    experiment: str | None = None
    created_at: int = 0
    enabled: bool = True

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.dataset is None):
            raise InvalidInput("a schedule needs exactly one of cron= or dataset=", field="cron")
        if self.cron is not None:
            _croniter(self.cron, dt.datetime.now(dt.UTC))  # fail now on a bad expression
        check_timezone(self.timezone)

    @property
    def experiment_name(self) -> str:
        return self.experiment or self.pipeline

    @property
    def trigger(self) -> str:
        return f"cron {self.cron} ({self.timezone})" if self.cron else f"new version of dataset {self.dataset!r}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Schedule:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def fire_times(self, after_ms: int, until_ms: int, limit: int = 1000) -> list[int]:
        """Cron fire times in ``(after_ms, until_ms]``, oldest first; at most the ``limit`` newest."""
        from zoneinfo import ZoneInfo

        assert self.cron is not None
        zone = ZoneInfo(self.timezone)
        it = _croniter(self.cron, dt.datetime.fromtimestamp(until_ms / 1000 + 0.001, zone))
        out: list[int] = []
        while len(out) < limit:
            t = int(round(it.get_prev(float) * 1000))
            if t <= after_ms:
                break
            if t <= until_ms:
                out.append(t)
        return out[::-1]


def claim_run_id(experiment_id: str, schedule_id: str, fire: str) -> str:
    """The run id that claims one fire of a schedule (the same in every process)."""
    return hashlib.sha256(f"shipyard-schedule|{experiment_id}|{schedule_id}|{fire}".encode()).hexdigest()[:32]


class ScheduleBook:
    """Schedules stored in experiment tags, through a client (embedded or remote)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @staticmethod
    def from_tags(pipeline: str | None, tags: dict[str, str]) -> list[Schedule]:
        out = []
        for key, value in tags.items():
            if key.startswith(SCHEDULE_TAG) and not key.endswith(_CURSOR):
                try:
                    schedule = Schedule.from_json(json.loads(value))
                except (ValueError, TypeError, InvalidInput):
                    continue  # unreadable: ignored rather than stopping every other schedule
                if schedule.enabled and (pipeline is None or schedule.pipeline == pipeline):
                    out.append(schedule)
        return sorted(out, key=lambda s: s.id)

    def add(self, schedule: Schedule) -> Schedule:
        experiment = self.client.set_experiment(schedule.experiment_name)
        self.client.tracking_store.set_experiment_tag(experiment.id, SCHEDULE_TAG + schedule.id,
                                                      json.dumps(schedule.to_json()))
        return schedule

    def remove(self, pipeline: str, schedule_id: str) -> Schedule:
        for schedule in self.list(pipeline):
            if schedule.id == schedule_id:
                experiment = self.client.set_experiment(schedule.experiment_name)
                self.client.tracking_store.set_experiment_tag(
                    experiment.id, SCHEDULE_TAG + schedule.id, json.dumps(replace(schedule, enabled=False).to_json()))
                return schedule
        raise NotFound(f"pipeline {pipeline!r} has no schedule {schedule_id!r}", resource="schedule",
                       pipeline=pipeline, schedule=schedule_id)

    def list(self, pipeline: str | None = None) -> list[Schedule]:
        out = []
        for experiment in self.client.list_experiments():
            out += self.from_tags(pipeline, experiment.tags)
        return out

    def experiment_id(self, schedule: Schedule) -> str:
        return str(self.client.set_experiment(schedule.experiment_name).id)

    def cursor(self, schedule: Schedule) -> int | None:
        experiment = self.client.get_experiment(self.experiment_id(schedule))
        raw = experiment.tags.get(SCHEDULE_TAG + schedule.id + _CURSOR)
        return int(raw) if raw else None

    def set_cursor(self, schedule: Schedule, fire_ms: int) -> None:
        self.client.tracking_store.set_experiment_tag(self.experiment_id(schedule),
                                                      SCHEDULE_TAG + schedule.id + _CURSOR, str(fire_ms))

    def claim(self, schedule: Schedule, fire: str, *, missed: bool = False, label: str = "",
              owner: str | None = None, heartbeat_ms: int | None = None) -> str | None:
        """Create the run for this fire; its id, or None if it was claimed before (by anyone).

        ``owner`` (``host:pid``) and ``heartbeat_ms`` tag a run to be run, so a scheduler
        starting later can tell a run whose scheduler died from one still going.
        """
        from shipyard.tracking import RunStatus, now_ms

        experiment_id = self.experiment_id(schedule)
        run_id = claim_run_id(experiment_id, schedule.id, fire)
        store = self.client.tracking_store
        tags = {"shipyard.kind": "pipeline", "shipyard.pipeline": schedule.pipeline,
                "shipyard.schedule": schedule.id, "shipyard.schedule.fire": label or fire,
                "shipyard.schedule.outcome": "missed" if missed else "started"}
        if owner and not missed:
            tags[OWNER_TAG] = owner
            tags[HEARTBEAT_TAG] = str(heartbeat_ms if heartbeat_ms is not None else now_ms())
        try:
            store.create_run(experiment_id, run_id=run_id, name=f"{schedule.pipeline} {label or fire}", tags=tags)
        except Conflict as conflict:
            try:
                store.get_run(run_id)
            except NotFound:
                raise conflict from None  # a conflict for another reason than an earlier claim
            return None
        if missed:
            store.update_run(run_id, status=RunStatus.KILLED, end_time=now_ms())
        return run_id
