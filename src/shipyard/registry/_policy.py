"""Promotion gates: the checks a version must pass before a guarded alias moves to it.

A :class:`PromotionPolicy` guards some aliases of one registered model (by default
``production``) with rules. Rules are small value objects: they do no I/O
themselves; what needs measuring (latency) comes through :class:`GateContext`.

>>> policy = PromotionPolicy([MinMetric("auc", 0.80), BeatsHolder("auc", 0.01)])
>>> policy.to_json()["rules"][0]
{'type': 'min_metric', 'metric': 'auc', 'threshold': 0.8, 'higher_is_better': True}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from shipyard.errors import InvalidInput
from shipyard.registry._entities import ModelVersion

__all__ = [
    "BeatsHolder",
    "CheckResult",
    "CompatibleSignature",
    "GateContext",
    "GateReport",
    "MaxLatency",
    "MinMetric",
    "PromotionPolicy",
    "Rule",
]


@dataclass(frozen=True)
class CheckResult:
    rule: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateReport:
    """Every check's outcome; ``passed`` only if all passed."""

    alias: str
    candidate: int
    holder: int | None
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    def to_json(self) -> dict[str, Any]:
        return {"alias": self.alias, "candidate": self.candidate, "holder": self.holder,
                "passed": self.passed, "checks": [asdict(c) for c in self.checks]}

    def __str__(self) -> str:
        lines = [f"{'PASS' if c.passed else 'FAIL'} {c.rule}: {c.detail}" for c in self.checks]
        return "\n".join(lines)


@dataclass
class GateContext:
    """What rules may ask of the outside world, supplied by the registry."""

    latency_p99_ms: Callable[[ModelVersion], float]


class Rule:
    """Base of promotion rules: ``check`` decides, ``to_json`` describes."""

    type: ClassVar[str]

    def check(self, candidate: ModelVersion, holder: ModelVersion | None, ctx: GateContext) -> CheckResult:
        raise NotImplementedError  # pragma: no cover - every rule overrides it

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}  # type: ignore[call-overload]


def _metric(version: ModelVersion, name: str) -> float | None:
    value = version.metrics.get(name)
    return None if value is None or math.isnan(value) else value


@dataclass(frozen=True)
class MinMetric(Rule):
    """The candidate's ``metric`` is at least ``threshold`` (at most, if lower is better)."""

    metric: str
    threshold: float
    higher_is_better: bool = True
    type: ClassVar[str] = "min_metric"

    def check(self, candidate: ModelVersion, holder: ModelVersion | None, ctx: GateContext) -> CheckResult:
        op = ">=" if self.higher_is_better else "<="
        name = f"{self.metric} {op} {self.threshold}"
        value = _metric(candidate, self.metric)
        if value is None:
            return CheckResult(name, False, f"version {candidate.version} has no metric {self.metric!r}")
        ok = value >= self.threshold if self.higher_is_better else value <= self.threshold
        return CheckResult(name, ok, f"{self.metric} = {value:.6g}")


@dataclass(frozen=True)
class BeatsHolder(Rule):
    """The candidate beats the alias's current holder by at least ``min_delta`` on ``metric``."""

    metric: str
    min_delta: float = 0.0
    higher_is_better: bool = True
    type: ClassVar[str] = "beats_holder"

    def check(self, candidate: ModelVersion, holder: ModelVersion | None, ctx: GateContext) -> CheckResult:
        name = f"beats holder on {self.metric} by >= {self.min_delta}"
        if holder is None:
            return CheckResult(name, True, "no current holder")
        new, old = _metric(candidate, self.metric), _metric(holder, self.metric)
        if new is None or old is None:
            missing = candidate.version if new is None else holder.version
            return CheckResult(name, False, f"version {missing} has no metric {self.metric!r}")
        gain = new - old if self.higher_is_better else old - new
        return CheckResult(name, gain >= self.min_delta,
                           f"{self.metric} {new:.6g} vs holder v{holder.version} {old:.6g} (gain {gain:+.6g})")


@dataclass(frozen=True)
class MaxLatency(Rule):
    """p99 latency of ``predict`` on the input example is at most ``p99_ms``."""

    p99_ms: float
    type: ClassVar[str] = "max_latency"

    def check(self, candidate: ModelVersion, holder: ModelVersion | None, ctx: GateContext) -> CheckResult:
        measured = ctx.latency_p99_ms(candidate)
        return CheckResult(f"latency p99 <= {self.p99_ms} ms", measured <= self.p99_ms,
                           f"p99 {measured:.3f} ms on the input example")


@dataclass(frozen=True)
class CompatibleSignature(Rule):
    """Every request the holder accepts, the candidate accepts: same input names, same dtypes."""

    type: ClassVar[str] = "compatible_signature"

    def check(self, candidate: ModelVersion, holder: ModelVersion | None, ctx: GateContext) -> CheckResult:
        name = "signature compatible with holder"
        if holder is None or not holder.signature:
            return CheckResult(name, True, "no holder signature to compare")
        if not candidate.signature:
            return CheckResult(name, False, f"version {candidate.version} has no signature")
        old = _inputs(holder.signature)
        new = _inputs(candidate.signature)
        problems = [f"needs new input {k!r}" for k, spec in new.items() if k not in old and not spec[1]]
        problems += [f"input {k!r} changed {old[k][0]} -> {spec[0]}" for k, spec in new.items()
                     if k in old and old[k][0] != spec[0]]
        return CheckResult(name, not problems, "; ".join(problems) or "inputs compatible")


def _inputs(signature: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    return {str(c.get("name")): (str(c.get("dtype")), bool(c.get("optional", False)))
            for c in signature.get("inputs", [])}


_RULES: dict[str, type[Rule]] = {r.type: r for r in (MinMetric, BeatsHolder, MaxLatency, CompatibleSignature)}


@dataclass(frozen=True)
class PromotionPolicy:
    """Rules that guard ``aliases`` of one registered model."""

    rules: Sequence[Rule]
    aliases: Sequence[str] = ("production",)

    def guards(self, alias: str) -> bool:
        return alias in self.aliases

    def evaluate(self, alias: str, candidate: ModelVersion, holder: ModelVersion | None,
                 ctx: GateContext) -> GateReport:
        return GateReport(alias, candidate.version, holder.version if holder else None,
                          [rule.check(candidate, holder, ctx) for rule in self.rules])

    def to_json(self) -> dict[str, Any]:
        return {"aliases": list(self.aliases), "rules": [r.to_json() for r in self.rules]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PromotionPolicy:
        """Build a policy from its JSON form; unknown rule types are InvalidInput."""
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            raise InvalidInput("policy must be an object with a list of 'rules'", field="policy")
        rules = []
        for i, raw in enumerate(data["rules"]):
            kind = raw.get("type") if isinstance(raw, dict) else None
            if kind not in _RULES:
                raise InvalidInput(f"policy.rules[{i}]: unknown rule type {kind!r}; known: {sorted(_RULES)}",
                                   field=f"policy.rules[{i}].type")
            try:
                rules.append(_RULES[kind](**{k: v for k, v in raw.items() if k != "type"}))
            except TypeError as exc:
                raise InvalidInput(f"policy.rules[{i}]: {exc}", field=f"policy.rules[{i}]") from None
        aliases = data.get("aliases", ["production"])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise InvalidInput("policy.aliases must be a list of alias names", field="policy.aliases")
        return cls(rules, tuple(aliases))
