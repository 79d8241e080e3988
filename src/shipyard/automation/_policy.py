"""An automation policy: when a registered model is retrained, how it is judged, and how it rolls out.

A policy is a tree of frozen value objects, read strictly from YAML or JSON
(:meth:`AutomationPolicy.from_yaml`, :meth:`AutomationPolicy.from_json`) or built in
Python. Reading refuses an unknown key, a value of the wrong type or out of range, and
contradictions (a monitor trigger with both ``above`` and ``below``), each with an
:class:`~shipyard.errors.InvalidInput` whose ``field`` is the dotted path of the value
at fault (``rollout.canary.percent``, ``triggers[1].rule``). :meth:`AutomationPolicy.to_json`
is the canonical form: the store keeps it, and reading it back gives an equal policy.

* ``triggers`` — what starts a retrain (:mod:`shipyard.automation._triggers`): an alert rule
  firing, a monitor series above or below a threshold for N windows, a cron schedule, a
  new version of a dataset, or a person;
* ``retrain`` — the pipeline to run, its params, the training window and the recent
  labelled production data to add (:class:`Retrain`, :class:`LabelledData`);
* ``evaluation`` — challenger against champion on a paired test (:class:`Evaluation`);
* ``gates`` — what must hold before any traffic (:class:`Gates`);
* ``rollout`` — shadow, canary and the sequential test that ends it (:class:`Rollout`);
* ``guards`` — cooldown, retrains per day, training budget, human approval (:class:`Guards`).

>>> policy = AutomationPolicy.from_json({
...     "name": "churn-retrain", "model": "churn",
...     "triggers": [{"type": "alert", "rule": "churn-drift"}],
...     "retrain": {"pipeline": "train-churn"},
...     "evaluation": {"metrics": ["auc"], "data": "churn-holdout"}})
>>> policy.rollout.canary.percent, policy.guards.cooldown_s
(10.0, 21600)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shipyard.automation._reader import (
    Reader,
    as_dict,
    as_list,
    at_path,
    dataset_name,
    dataset_ref,
    format_duration,
    join,
)
from shipyard.automation._triggers import (
    TRIGGER_TYPES,
    AlertTrigger,
    DatasetTrigger,
    MonitorTrigger,
    Trigger,
    read_trigger,
)
from shipyard.errors import InvalidInput
from shipyard.store import check_name

__all__ = [
    "TESTS",
    "AutomationPolicy",
    "Canary",
    "Evaluation",
    "Gates",
    "Guards",
    "LabelledData",
    "Retrain",
    "Rollout",
    "Sequential",
    "Shadow",
]

#: The paired tests an evaluation may use to compare challenger and champion.
TESTS = ("paired_bootstrap", "mcnemar")

# Policy names appear in URLs and in the audit log's ``<policy>/<run>`` ids: no / @ : or spaces.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,255}")


# -- retraining -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledData:
    """Recent labelled production data: what ``model`` (a served model reference, default the
    policy's model) answered over the last ``since_s`` seconds, joined with the labels that
    arrived, exported as a new version of dataset ``dataset``; fewer than ``min_rows``
    labelled rows and the retrain trains without them. ``monitor`` names the monitor whose
    model reference and route select the rows (and whose label column names the target)."""

    dataset: str
    since_s: int = 7 * 86400
    model: str | None = None
    monitor: str | None = None
    min_rows: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dataset": self.dataset, "since": format_duration(self.since_s)}
        out.update({k: v for k, v in (("model", self.model), ("monitor", self.monitor)) if v is not None})
        out["min_rows"] = self.min_rows
        return out

    @classmethod
    def read(cls, r: Reader) -> LabelledData:
        dataset = dataset_name(r.string("dataset"), r.field("dataset"))
        model = r.string("model", None)
        if model is not None:
            from shipyard.monitoring._entities import parse_model_ref

            at_path(r.field("model"), parse_model_ref, model)
        return cls(dataset, r.duration("since", 7 * 86400), model, r.string("monitor", None),
                   r.integer("min_rows", 0, minimum=0))


@dataclass(frozen=True)
class Retrain:
    """Run pipeline ``pipeline`` with ``params``, on ``training_window_s`` seconds of data before
    now (None: whatever the pipeline reads), plus ``labelled_data`` when given."""

    pipeline: str
    params: Mapping[str, Any] = field(default_factory=dict)
    training_window_s: int | None = None
    labelled_data: LabelledData | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pipeline": self.pipeline, "params": as_dict(self.params)}
        if self.training_window_s is not None:
            out["training_window"] = format_duration(self.training_window_s)
        if self.labelled_data is not None:
            out["labelled_data"] = self.labelled_data.to_json()
        return out

    @classmethod
    def read(cls, r: Reader) -> Retrain:
        params = r.mapping("params", {})
        for key, value in params.items():
            _check_json(value, join(r.field("params"), key))
        labelled = r.raw("labelled_data", None)
        return cls(r.string("pipeline"), params, r.duration("training_window", None),
                   None if labelled is None else LabelledData.read(Reader(
                       labelled, r.field("labelled_data"), ("dataset", "since", "model", "monitor", "min_rows"))))


def _check_json(value: Any, path: str) -> None:
    """``value`` is plain JSON: null, a boolean, a finite number, a string, or lists and maps of them."""
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{path} must be a finite number, got {value!r}", field=path)
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, join(path, i))
        return
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        for key, item in value.items():
            _check_json(item, join(path, key))
        return
    raise InvalidInput(f"{path} must be a JSON value (number, string, boolean, list, mapping), "
                       f"got {type(value).__name__}", field=path)


# -- evaluation and gates ---------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """Challenger against champion on dataset ``data`` (a reference such as ``churn-holdout@latest``;
    None: the labelled data the retrain exported), on ``metrics`` (the first decides), by a
    paired ``test`` (``paired_bootstrap`` with ``bootstrap_samples`` resamples, or
    ``mcnemar`` for classifiers) at level ``alpha``; the challenger must gain at least
    ``min_improvement`` on the first metric."""

    metrics: tuple[str, ...]
    data: str | None = None
    min_improvement: float = 0.0
    test: str = "paired_bootstrap"
    alpha: float = 0.05
    bootstrap_samples: int = 1000
    higher_is_better: bool = True

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metrics": as_list(self.metrics)}
        if self.data is not None:
            out["data"] = self.data
        out.update({"min_improvement": self.min_improvement, "test": self.test, "alpha": self.alpha,
                    "bootstrap_samples": self.bootstrap_samples, "higher_is_better": self.higher_is_better})
        return out

    @classmethod
    def read(cls, r: Reader) -> Evaluation:
        data = r.string("data", None)
        return cls(r.strings("metrics", non_empty=True),
                   None if data is None else dataset_ref(data, r.field("data")),
                   r.number("min_improvement", 0.0, minimum=0), r.string("test", "paired_bootstrap", choices=TESTS),
                   r.number("alpha", 0.05, minimum=0, maximum=0.5, exclusive_minimum=True),
                   r.integer("bootstrap_samples", 1000, minimum=100, maximum=1_000_000),
                   r.boolean("higher_is_better", True))


@dataclass(frozen=True)
class Gates:
    """What must hold before the challenger takes any traffic: the registered model's own
    promotion policy (``promotion_policy``), a p99 latency bound in milliseconds
    (``max_latency_p99_ms``, None: none) and the model's data contract on the evaluation
    data (``data_contract``)."""

    promotion_policy: bool = True
    max_latency_p99_ms: float | None = None
    data_contract: bool = True

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"promotion_policy": self.promotion_policy}
        if self.max_latency_p99_ms is not None:
            out["max_latency_p99_ms"] = self.max_latency_p99_ms
        out["data_contract"] = self.data_contract
        return out

    @classmethod
    def read(cls, r: Reader) -> Gates:
        return cls(r.boolean("promotion_policy", True),
                   r.number("max_latency_p99_ms", None, minimum=0, exclusive_minimum=True),
                   r.boolean("data_contract", True))


# -- rollout and guards ---------------------------------------------------------------------


@dataclass(frozen=True)
class Shadow:
    """Mirror ``requests`` requests to the challenger (answers logged, never returned); 0: no shadow."""

    requests: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests}

    @classmethod
    def read(cls, r: Reader) -> Shadow:
        return cls(r.integer("requests", 0, minimum=0))


@dataclass(frozen=True)
class Canary:
    """Send ``percent`` (above 0, at most 100) of the traffic to the challenger for ``duration_s``
    seconds or until ``labelled_requests`` of its answers are labelled, whichever comes first."""

    percent: float = 10.0
    duration_s: int | None = 3600
    labelled_requests: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"percent": self.percent}
        if self.duration_s is not None:
            out["duration"] = format_duration(self.duration_s)
        if self.labelled_requests is not None:
            out["labelled_requests"] = self.labelled_requests
        return out

    @classmethod
    def read(cls, r: Reader) -> Canary:
        percent = r.number("percent", 10.0, minimum=0, maximum=100, exclusive_minimum=True)
        duration = r.duration("duration", None)
        labelled = r.integer("labelled_requests", None, minimum=1)
        if duration is None and labelled is None:
            duration = 3600  # neither given: an hour
        return cls(percent, duration, labelled)


@dataclass(frozen=True)
class Sequential:
    """The sequential test that ends a canary early: level ``alpha``, ``power`` to detect
    ``min_effect`` on the evaluation's first metric, at most ``max_samples`` labelled answers."""

    alpha: float = 0.05
    power: float = 0.8
    min_effect: float = 0.01
    max_samples: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"alpha": self.alpha, "power": self.power, "min_effect": self.min_effect}
        if self.max_samples is not None:
            out["max_samples"] = self.max_samples
        return out

    @classmethod
    def read(cls, r: Reader) -> Sequential:
        return cls(r.number("alpha", 0.05, minimum=0, maximum=0.5, exclusive_minimum=True),
                   r.number("power", 0.8, minimum=0, maximum=1, exclusive_minimum=True),
                   r.number("min_effect", 0.01, minimum=0, exclusive_minimum=True),
                   r.integer("max_samples", None, minimum=1))


@dataclass(frozen=True)
class Rollout:
    """Shadow, then canary (None: straight to promotion after the shadow), judged by ``sequential``."""

    shadow: Shadow = field(default_factory=Shadow)
    canary: Canary | None = field(default_factory=Canary)
    sequential: Sequential = field(default_factory=Sequential)

    def to_json(self) -> dict[str, Any]:
        return {"shadow": self.shadow.to_json(), "canary": None if self.canary is None else self.canary.to_json(),
                "sequential": self.sequential.to_json()}

    @classmethod
    def read(cls, r: Reader) -> Rollout:
        canary: Canary | None = Canary()
        if "canary" in r.data:
            raw = r.data["canary"]
            canary = None if raw is None else Canary.read(
                Reader(raw, r.field("canary"), ("percent", "duration", "labelled_requests")))
        return cls(Shadow.read(Reader(r.raw("shadow", {}), r.field("shadow"), ("requests",))), canary,
                   Sequential.read(Reader(r.raw("sequential", {}), r.field("sequential"),
                                          ("alpha", "power", "min_effect", "max_samples"))))


@dataclass(frozen=True)
class Guards:
    """Limits on retraining: at least ``cooldown_s`` between two retrains, at most
    ``max_retrains_per_day``, at most ``training_budget_s`` of training per retrain, and,
    with ``require_approval``, a person approves before the challenger takes traffic."""

    cooldown_s: int = 6 * 3600
    max_retrains_per_day: int = 1
    training_budget_s: int = 2 * 3600
    require_approval: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"cooldown": format_duration(self.cooldown_s), "max_retrains_per_day": self.max_retrains_per_day,
                "training_budget": format_duration(self.training_budget_s),
                "require_approval": self.require_approval}

    @classmethod
    def read(cls, r: Reader) -> Guards:
        return cls(r.duration("cooldown", 6 * 3600), r.integer("max_retrains_per_day", 1, minimum=1, maximum=1440),
                   r.duration("training_budget", 2 * 3600), r.boolean("require_approval", False))


# -- the policy ------------------------------------------------------------------------------

_TOP = ("name", "model", "description", "enabled", "triggers", "retrain", "evaluation", "gates", "rollout",
        "guards")


@dataclass(frozen=True)
class AutomationPolicy:
    """When and how registered model ``model`` is retrained, judged and rolled out (see the module)."""

    name: str
    model: str
    triggers: tuple[Trigger, ...]
    retrain: Retrain
    evaluation: Evaluation
    gates: Gates = field(default_factory=Gates)
    rollout: Rollout = field(default_factory=Rollout)
    guards: Guards = field(default_factory=Guards)
    description: str | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        # One set of rules whichever way a policy is made: a policy built in Python is read
        # back from its JSON form, as a YAML file would be, and takes the normalised values.
        for name, kind in _PARTS.items():
            if not isinstance(getattr(self, name), kind):
                raise InvalidInput(f"{name} must be a {kind.__name__}, got {type(getattr(self, name)).__name__}",
                                   field=name)
        if not isinstance(self.triggers, tuple | list):
            raise InvalidInput(f"triggers must be a list, got {type(self.triggers).__name__}", field="triggers")
        for i, trigger in enumerate(self.triggers):
            if not isinstance(trigger, TRIGGER_TYPES):
                raise InvalidInput(f"triggers[{i}] must be a trigger, got {type(trigger).__name__}",
                                   field=f"triggers[{i}]")
        try:
            data = self.to_json()
        except (AttributeError, TypeError, ValueError) as exc:
            raise InvalidInput(f"policy {self.name!r:.80} is malformed: {exc}", field="policy") from None
        for key, value in _parts(data).items():
            object.__setattr__(self, key, value)

    def with_(self, **changes: Any) -> AutomationPolicy:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The canonical JSON form: what the store keeps and :meth:`from_json` reads back."""
        out: dict[str, Any] = {"name": self.name, "model": self.model}
        if self.description is not None:
            out["description"] = self.description
        out.update({"enabled": self.enabled, "triggers": [t.to_json() for t in self.triggers],
                    "retrain": self.retrain.to_json(), "evaluation": self.evaluation.to_json(),
                    "gates": self.gates.to_json(), "rollout": self.rollout.to_json(),
                    "guards": self.guards.to_json()})
        return out

    @classmethod
    def from_json(cls, data: Any) -> AutomationPolicy:
        """Read a policy from its JSON (or YAML-loaded) form, strictly; see the module docstring."""
        return cls(**_parts(data))

    @classmethod
    def from_yaml(cls, text: str) -> AutomationPolicy:
        """Read a policy from YAML text (one document)."""
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"policy is not valid YAML: {exc}", field="policy") from None
        return cls.from_json(data)

    @classmethod
    def load(cls, path: str | Path) -> AutomationPolicy:
        """Read a policy from a YAML (or JSON) file."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{path} is not UTF-8 text: {exc}", field="path") from None
        return cls.from_yaml(text)

    @property
    def references(self) -> list[tuple[str, str, str]]:
        """What the policy names elsewhere, as ``(kind, name, field)``: the registered model,
        alert rules, monitors, datasets and the pipeline, each with the path of its field."""
        found = [("model", self.model, "model")]
        for i, trigger in enumerate(self.triggers):
            path = join("triggers", i)
            if isinstance(trigger, AlertTrigger):
                found.append(("alert_rule", trigger.rule, join(path, "rule")))
            elif isinstance(trigger, MonitorTrigger):
                found.append(("monitor", trigger.monitor, join(path, "monitor")))
            elif isinstance(trigger, DatasetTrigger):
                found.append(("dataset", trigger.dataset, join(path, "dataset")))
        found.append(("pipeline", self.retrain.pipeline, "retrain.pipeline"))
        labelled = self.retrain.labelled_data
        if labelled is not None and labelled.monitor is not None:
            found.append(("monitor", labelled.monitor, "retrain.labelled_data.monitor"))
        if self.evaluation.data is not None:
            found.append(("dataset", self.evaluation.data, "evaluation.data"))
        return found



_PARTS: dict[str, type[Any]] = {"retrain": Retrain, "evaluation": Evaluation, "gates": Gates, "rollout": Rollout,
                                "guards": Guards}


def _parts(data: Any) -> dict[str, Any]:
    """The fields of the policy ``data`` describes, each read strictly (see the module docstring)."""
    r = Reader(data, "", _TOP)
    name = r.string("name")
    if not _NAME.fullmatch(name):
        raise InvalidInput(f"name must be 1-256 letters, digits or _.- starting with a letter or digit, "
                           f"got {name!r:.80}", field="name")
    model = check_name(r.string("model"), "model")
    description = r.raw("description", None)
    if description is not None and not isinstance(description, str):
        raise InvalidInput(f"description must be a string, got {type(description).__name__}", field="description")
    enabled = r.boolean("enabled", True)
    raw_triggers = r.raw("triggers")
    if not isinstance(raw_triggers, list):
        raise InvalidInput(f"triggers must be a list, got {type(raw_triggers).__name__}", field="triggers")
    if not raw_triggers:
        raise InvalidInput("triggers must hold at least one trigger", field="triggers")
    triggers = tuple(read_trigger(raw, join("triggers", i)) for i, raw in enumerate(raw_triggers))
    retrain = Retrain.read(Reader(r.raw("retrain"), "retrain", ("pipeline", "params", "training_window",
                                                                  "labelled_data")))
    evaluation = Evaluation.read(Reader(r.raw("evaluation"), "evaluation", (
        "metrics", "data", "min_improvement", "test", "alpha", "bootstrap_samples", "higher_is_better")))
    if evaluation.data is None and retrain.labelled_data is None:
        raise InvalidInput("evaluation.data is required when retrain.labelled_data is not given "
                           "(the evaluation needs data)", field="evaluation.data")
    return {
        "name": name,
        "model": model,
        "triggers": triggers,
        "retrain": retrain,
        "evaluation": evaluation,
        "gates": Gates.read(Reader(r.raw("gates", {}), "gates",
                                   ("promotion_policy", "max_latency_p99_ms", "data_contract"))),
        "rollout": Rollout.read(Reader(r.raw("rollout", {}), "rollout", ("shadow", "canary", "sequential"))),
        "guards": Guards.read(Reader(r.raw("guards", {}), "guards", (
            "cooldown", "max_retrains_per_day", "training_budget", "require_approval"))),
        "description": description,
        "enabled": enabled,
    }
