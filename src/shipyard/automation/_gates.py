"""What must hold before a challenger takes any traffic: the policy's ``gates``.

* ``promotion_policy`` — the registered model's own promotion policy
  (:class:`~shipyard.registry.PromotionPolicy`) for ``@production``, challenger against the
  version holding it (no policy: passes);
* ``max_latency_p99_ms`` — p99 of the challenger package's ``predict``, timed on its input
  example (:func:`~shipyard.registry._latency.predict_latency_p99_ms`), or on one
  evaluation row when it has none;
* ``data_contract`` — the evaluation rows' features against the data contract the
  challenger's package carries (``metadata["data_contract"]``; none: passes).

Each gate is one check ``{"gate", "passed", "detail"}``; :class:`GateResult` passes when all do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.automation._policy import Gates
from shipyard.errors import InvalidInput, NotFound
from shipyard.registry import ModelVersion, RegistryStore

__all__ = ["GateResult", "LoadedVersion", "check_gates", "load_version"]


@dataclass(frozen=True)
class LoadedVersion:
    """A registered version with its package: where it lies, its pinned ``model.yaml`` digest,
    and the loaded :class:`~shipyard.models.Model`."""

    version: ModelVersion
    path: Path
    manifest_sha256: str | None
    model: Any


def load_version(registry: RegistryStore, name: str, version: int) -> LoadedVersion:
    """Version ``version`` of ``name``, its package fetched and verified against the registry's record."""
    from shipyard.models import load_model

    found = registry.get_model_version(name, version)
    files = registry.list_version_files(name, version)
    pinned = next((f.digest for f in files if f.path == "model.yaml"), None)
    path = registry.materialize(name, version)
    return LoadedVersion(found, path, pinned, load_model(path, manifest_sha256=pinned))


@dataclass(frozen=True)
class GateResult:
    """Every gate's check; ``passed`` when all passed."""

    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c["passed"] for c in self.checks)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if not c["passed"]]

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": list(self.checks)}


def check_gates(gates: Gates, registry: RegistryStore, challenger: LoadedVersion, champion: int | None,
                data: pd.DataFrame | None) -> GateResult:
    """Run the policy's gates on ``challenger`` (``champion``: the version at ``@production``;
    ``data``: the evaluation rows' features)."""
    checks: list[dict[str, Any]] = []
    measured: dict[int, float] = {}

    def latency(version: ModelVersion) -> float:
        if version.version not in measured:
            measured[version.version] = _latency_p99_ms(challenger, data) if version.version == \
                challenger.version.version else _latency_p99_ms(
                    load_version(registry, version.name, version.version), None)
        return measured[version.version]

    if gates.promotion_policy:
        checks += _promotion_policy(registry, challenger.version, champion, latency)
    if gates.max_latency_p99_ms is not None:
        try:
            p99 = latency(challenger.version)
            checks.append({"gate": "max_latency_p99_ms", "passed": p99 <= gates.max_latency_p99_ms,
                           "detail": f"p99 {p99:.3f} ms, at most {gates.max_latency_p99_ms:g} ms",
                           "p99_ms": p99})
        except InvalidInput as exc:
            checks.append({"gate": "max_latency_p99_ms", "passed": False, "detail": exc.message})
    if gates.data_contract:
        checks.append(_data_contract(challenger, data))
    return GateResult(checks)


def _promotion_policy(registry: RegistryStore, candidate: ModelVersion, champion: int | None,
                      latency: Any) -> list[dict[str, Any]]:
    from shipyard.registry import PromotionPolicy
    from shipyard.registry._policy import GateContext

    model = registry.get_registered_model(candidate.name)
    if not model.policy:
        return [{"gate": "promotion_policy", "passed": True, "detail": "the model has no promotion policy"}]
    policy = PromotionPolicy.from_json(model.policy)
    holder = None
    if champion is not None:
        try:
            holder = registry.get_model_version(candidate.name, champion)
        except NotFound:
            holder = None
    report = policy.evaluate("production", candidate, holder, GateContext(latency_p99_ms=latency))
    return [{"gate": f"promotion_policy: {c.rule}", "passed": c.passed, "detail": c.detail} for c in report.checks]


def _latency_p99_ms(loaded: LoadedVersion, data: pd.DataFrame | None, calls: int = 200) -> float:
    from shipyard.registry._latency import predict_latency_p99_ms

    try:
        return predict_latency_p99_ms(loaded.path, calls=calls, manifest_sha256=loaded.manifest_sha256)
    except InvalidInput:
        if data is None or data.empty:
            raise InvalidInput(f"version {loaded.version.version} has no input example and there are no "
                               "evaluation rows to time it on", field="max_latency_p99_ms") from None
    row = data.head(1)
    for _ in range(20):
        loaded.model.predict(row)
    timings = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter()
        loaded.model.predict(row)
        timings[i] = time.perf_counter() - start
    return float(np.percentile(timings, 99) * 1000)


def _data_contract(challenger: LoadedVersion, data: pd.DataFrame | None) -> dict[str, Any]:
    from shipyard.datasets import Contract, validate

    raw = challenger.model.manifest.metadata.get("data_contract")
    if not raw:
        return {"gate": "data_contract", "passed": True, "detail": "the package carries no data contract"}
    if data is None:
        return {"gate": "data_contract", "passed": False, "detail": "no evaluation rows to check"}
    report = validate(data, Contract.from_dict(raw), samples=3)
    return {"gate": "data_contract", "passed": report.passed, "detail": str(report).splitlines()[0],
            "violations": [{"column": v.column, "rule": v.rule, "count": v.count} for v in report.violations]}
