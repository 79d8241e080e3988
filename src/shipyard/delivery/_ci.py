"""``shipyard ci validate``: the gates a model must pass before it merges or is promoted.

The gates, in order, each ``pass``, ``fail`` or ``skip`` (a skip never fails the run):

1. **package loads** — through the verifying path (``client.registry.load_model``):
   every file is checked against the digests recorded when it was stored;
2. **smoke test** — ``predict`` on the package's input example gives one prediction
   per row; ``calls`` timed calls (after ``warmup``) give latency p50 and p99;
3. **data contract** — the package's contract (``metadata["data_contract"]`` in
   ``model.yaml``) or one given: every column it names is a signature input, and the
   input example passes the checks serving applies at its door (signature, then contract);
4. **the promotion policy** — the registry's own rules
   (:meth:`~shipyard.registry.PromotionPolicy.evaluate`) against the current holder of
   the guarded alias, one gate per rule; ``max_latency`` reads the smoke test's p99.

The policy is the one given (a file, in CI), else the registered model's. The
candidate is a registered version (``models:/churn/3``, ``models:/churn@candidate``)
or a run's package not yet registered (``runs:/<id>/model`` with ``name``: the
registered model it would join, whose holder it is compared with); a run's candidate
carries the run's metrics, as its version would once registered.

>>> report = validate_model(client, "models:/churn/3")    # doctest: +SKIP
>>> report.passed, [g.status for g in report.gates]        # doctest: +SKIP
(True, ['pass', 'pass', 'skip', 'pass', 'pass'])
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from shipyard.delivery._markdown import table
from shipyard.errors import IntegrityError, InvalidInput, MissingExtra, NotFound
from shipyard.registry import MaxLatency, ModelVersion, PromotionPolicy, parse_model_uri

if TYPE_CHECKING:
    from shipyard.client import Client
    from shipyard.datasets import Contract
    from shipyard.models import Model

__all__ = ["GateResult", "Latency", "ValidationReport", "load_policy", "validate_model"]

Status = Literal["pass", "fail", "skip"]
_MARKS = {"pass": "✅ pass", "fail": "❌ fail", "skip": "➖ skip"}
# What loading a package can find wrong with it: the gate fails. Anything else (a store
# that is down, a URI that names nothing) means the check could not run: an error.
_LOAD_FAILURES = (IntegrityError, InvalidInput, MissingExtra)


@dataclass(frozen=True)
class GateResult:
    """One gate's outcome: ``status`` is ``pass``, ``fail`` or ``skip``; ``detail`` says why."""

    name: str
    status: Status
    detail: str


@dataclass(frozen=True)
class Latency:
    """Timings of ``predict`` on the input example: ``calls`` calls of ``rows`` rows each."""

    calls: int
    rows: int
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class ValidationReport:
    """Every gate of one validation; :meth:`to_markdown` is the pull-request comment."""

    uri: str
    name: str | None
    version: int | None
    alias: str | None
    holder: int | None
    policy: str  # where the policy came from: a file, "registry", or "none"
    gates: tuple[GateResult, ...]
    latency: Latency | None = None

    @property
    def passed(self) -> bool:
        """True when no gate failed (skipped gates do not count against it)."""
        return not self.failed

    @property
    def failed(self) -> list[GateResult]:
        return [g for g in self.gates if g.status == "fail"]

    def to_json(self) -> dict[str, Any]:
        return {"uri": self.uri, "name": self.name, "version": self.version, "alias": self.alias,
                "holder": self.holder, "policy": self.policy, "passed": self.passed,
                "gates": [asdict(g) for g in self.gates],
                "latency": asdict(self.latency) if self.latency else None}

    def to_markdown(self) -> str:
        failed = len(self.failed)
        verdict = ("✅ **every gate passed**" if not failed
                   else f"❌ **{failed} of {len(self.gates)} gates failed**")
        lines = [f"### Shipyard validation of `{self.uri}`", "", verdict, ""]
        if self.policy == "none":
            lines.append("No promotion policy: set one with `shipyard models policy NAME FILE` or pass `--policy`.")
        else:
            holder = f"v{self.holder}" if self.holder is not None else "none"
            lines.append(f"Promotion policy ({self.policy}) for `@{self.alias}` of `{self.name}`; "
                         f"current holder: {holder}.")
        lines += ["", table(["gate", "result", "detail"], [[g.name, _MARKS[g.status], g.detail] for g in self.gates])]
        if self.latency:
            lat = self.latency
            lines += ["", f"Latency of `predict` on the input example ({lat.rows} rows, {lat.calls} calls): "
                          f"p50 {lat.p50_ms:.3f} ms, p99 {lat.p99_ms:.3f} ms."]
        return "\n".join(lines) + "\n"


def load_policy(path: str | os.PathLike[str]) -> PromotionPolicy:
    """A promotion policy from a YAML (``.yaml``/``.yml``) or JSON file, as
    ``shipyard models policy`` reads it; a malformed one is :class:`InvalidInput`."""
    import yaml

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read policy file {str(file)!r}: {exc.strerror}", field="policy") from None
    as_yaml = file.suffix in (".yaml", ".yml")
    try:
        data = yaml.safe_load(text) if as_yaml else json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidInput(f"policy file {file} is not valid {'YAML' if as_yaml else 'JSON'}: "
                           f"{' '.join(str(exc).split())}", field="policy") from None
    return PromotionPolicy.from_json(data)


def validate_model(client: Client, uri: str, *, name: str | None = None, policy: PromotionPolicy | None = None,
                   policy_source: str | None = None, alias: str | None = None, contract: Contract | None = None,
                   calls: int = 100, warmup: int = 10) -> ValidationReport:
    """Run every gate on the model ``uri`` names (see the module docstring).

    ``name`` is needed only for a ``runs:/`` candidate (the registered model it would
    join); ``policy`` replaces the registered model's (``policy_source`` says where it
    came from, for the report); ``alias`` defaults to the policy's first guarded alias.
    A URI that names nothing is :class:`~shipyard.errors.NotFound`.
    """
    if calls < 1 or warmup < 0:
        raise InvalidInput(f"calls must be >= 1 and warmup >= 0, got {calls} and {warmup}", field="calls")
    candidate = _candidate(client, uri, name)
    registered = _registered_policy(client, candidate.name)
    source = policy_source or ("given" if policy is not None else "registry")
    if policy is None:
        policy = registered
    alias = alias or (policy.aliases[0] if policy is not None and policy.aliases else None)

    gates: list[GateResult] = []
    latency: Latency | None = None
    try:
        model: Model | None = client.registry.load_model(uri)
        gates.append(GateResult("package loads", "pass", "every file matches the digest recorded when stored"))
    except _LOAD_FAILURES as exc:
        model = None
        gates.append(GateResult("package loads", "fail", f"{type(exc).__name__}: {exc}"))
    if model is None:
        gates += [GateResult("smoke test", "skip", "the package did not load"),
                  GateResult("data contract", "skip", "the package did not load")]
    else:
        smoke, latency = _smoke(model, calls, warmup)
        gates += [smoke, _contract_gate(model, contract)]
        if candidate.version == 0 and model.signature is not None:  # a run's package: its own signature
            candidate = _with_signature(candidate, model.signature.to_dict())

    holder = None
    if policy is None or alias is None:
        source = "none"
    elif not policy.guards(alias):
        gates.append(GateResult("promotion policy", "skip", f"the policy does not guard @{alias} "
                                                            f"(it guards {', '.join(policy.aliases)})"))
    else:
        holder = _holder(client, candidate.name, alias)
        gates += _policy_gates(policy, alias, candidate, holder, latency)
    return ValidationReport(uri, candidate.name, candidate.version or None, alias,
                            holder.version if holder else None, source, tuple(gates), latency)


def _candidate(client: Client, uri: str, name: str | None) -> ModelVersion:
    """The version a URI names; for a run's package, a stand-in version 0 with the run's metrics."""
    if not uri.startswith(("models:/", "runs:/")):
        raise InvalidInput(f"expected a model URI (models:/name/3, models:/name@alias, runs:/<id>/path), got "
                           f"{uri!r}; register or log a package folder before validating it", field="uri")
    ref = parse_model_uri(uri)
    if ref.kind != "run":
        version = client.registry.resolve_model(uri)
        if name is not None and name != version.name:
            raise InvalidInput(f"--name {name!r} contradicts {uri!r}, a version of {version.name!r}", field="name")
        return version
    if name is None:
        raise InvalidInput(f"{uri!r} is a run's package: pass --name, the registered model it is a candidate for",
                           field="name")
    run = client.tracking.get_run(ref.run_id or "")
    prefix = (ref.path or "").rstrip("/")
    if not any(f.path.startswith(prefix + "/") for f in client.tracking.list_artifacts(run.id, prefix)):
        raise NotFound(f"no model at {uri!r}: run {run.id} has no files under {prefix!r}", resource="model", uri=uri)
    metrics = {k: m.value for k, m in run.metrics.items() if not math.isnan(m.value)}
    return ModelVersion(name, 0, uri, run.id, metrics=metrics)


def _with_signature(version: ModelVersion, signature: dict[str, Any]) -> ModelVersion:
    from dataclasses import replace

    return replace(version, signature=signature)


def _registered_policy(client: Client, name: str) -> PromotionPolicy | None:
    try:
        data = client.registry.get_registered_model(name).policy
    except NotFound:  # a run's candidate for a model not registered yet
        return None
    return PromotionPolicy.from_json(data) if data else None


def _holder(client: Client, name: str, alias: str) -> ModelVersion | None:
    try:
        return client.registry.get_model_version_by_alias(name, alias)
    except NotFound:  # no such alias yet (or no such model): the first promotion
        return None


def _rows(data: Any) -> int:
    from shipyard.serving._validation import count_rows

    return count_rows(data)


def _smoke(model: Model, calls: int, warmup: int) -> tuple[GateResult, Latency | None]:
    example = model.input_example
    if example is None:
        return GateResult("smoke test", "fail", "the package has no input example to predict on (save the model "
                                                "with input_example=...)"), None
    rows = _rows(example)
    timings = np.empty(calls)
    try:
        answered = _rows(model.predict(example))
        for _ in range(warmup):
            model.predict(example)
        for i in range(calls):
            started = time.perf_counter()
            model.predict(example)
            timings[i] = time.perf_counter() - started
    except Exception as exc:  # the model's own code: whatever it raises is what the gate found
        return GateResult("smoke test", "fail", f"predict on the input example raised {type(exc).__name__}: "
                                                f"{exc}"), None
    if answered != rows:
        return GateResult("smoke test", "fail", f"{answered} predictions for {rows} input rows"), None
    latency = Latency(calls, rows, float(np.percentile(timings, 50) * 1000), float(np.percentile(timings, 99) * 1000))
    return GateResult("smoke test", "pass", f"{rows} predictions for the {rows} rows of the input example; "
                                            f"p50 {latency.p50_ms:.3f} ms, p99 {latency.p99_ms:.3f} ms"), latency


def _contract_gate(model: Model, given: Contract | None) -> GateResult:
    from shipyard.datasets import Contract
    from shipyard.serving._validation import InputCheck

    name = "data contract"
    declared = model.manifest.metadata.get("data_contract")
    if given is None and not declared:
        return GateResult(name, "skip", "the package declares no data contract (metadata data_contract) and "
                                        "none was given")
    try:
        contract = given if given is not None else Contract.from_dict(declared)
    except InvalidInput as exc:
        return GateResult(name, "fail", f"the package's data contract is malformed: {exc}")
    signature = model.signature
    if signature is not None:
        unknown = [c.name for c in contract.columns if c.name not in signature.names]
        if unknown:
            return GateResult(name, "fail", f"contract columns {unknown} are not inputs of the signature "
                                            f"({', '.join(signature.names)}): no request could satisfy it")
    example = model.input_example
    if example is None:
        return GateResult(name, "fail", "the package has no input example to check against the contract")
    try:
        InputCheck(signature, contract.to_dict())(example)
    except InvalidInput as exc:
        return GateResult(name, "fail", f"the input example fails the checks serving applies: {exc}")
    return GateResult(name, "pass", f"the input example ({_rows(example)} rows) meets the contract's "
                                    f"{contract.rule_count} rules; every contract column is a signature input")


def _policy_gates(policy: PromotionPolicy, alias: str, candidate: ModelVersion, holder: ModelVersion | None,
                  latency: Latency | None) -> list[GateResult]:
    from shipyard.registry._policy import GateContext

    # The smoke test's own timing feeds the latency rule, so the package is timed once.
    ctx = GateContext(latency_p99_ms=lambda _: latency.p99_ms if latency else math.inf)
    report = policy.evaluate(alias, candidate, holder, ctx)
    gates = []
    for rule, check in zip(policy.rules, report.checks, strict=True):
        if isinstance(rule, MaxLatency) and latency is None:
            gates.append(GateResult(check.rule, "fail", "not measured: the smoke test did not time the model"))
        else:
            gates.append(GateResult(check.rule, "pass" if check.passed else "fail", check.detail))
    return gates
