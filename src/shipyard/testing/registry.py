"""Conformance suite for :class:`~shipyard.registry._backend.RegistryStore` implementations.

Subclass :class:`RegistryStoreConformance` and provide a ``stores`` fixture giving
``(tracking_store, registry_store)`` over the same backend.
"""

from __future__ import annotations

import io

import pytest
import yaml

from shipyard.errors import Conflict, InvalidInput, NotFound, PromotionRefused, TooLarge
from shipyard.registry import BeatsHolder, CompatibleSignature, MinMetric, PromotionPolicy, RegistryStore
from shipyard.tracking import LogBatch, RunStatus, TrackingStore, now_ms

__all__ = ["RegistryStoreConformance", "fake_package_run"]

Stores = tuple[TrackingStore, RegistryStore]

_SIGNATURE = {"kind": "columns", "inputs": [{"name": "age", "dtype": "float64"}, {"name": "plan", "dtype": "str"}]}


def fake_package_run(tracking: TrackingStore, metrics: dict[str, float] | None = None,
                     signature: dict | None = None) -> str:
    """A finished run whose artifacts hold a minimal model package under ``model/``."""
    run = tracking.create_run("0")
    manifest = {"flavor": "sklearn", "signature": signature or _SIGNATURE, "files": {}}
    tracking.log_artifact(run.id, "model/model.yaml", io.BytesIO(yaml.safe_dump(manifest).encode()))
    tracking.log_artifact(run.id, "model/model.pkl", io.BytesIO(b"not really a pickle"))
    if metrics:
        tracking.log_batch(LogBatch(metrics=[(run.id, k, v, now_ms(), 0) for k, v in metrics.items()]))
    tracking.update_run(run.id, status=RunStatus.FINISHED)
    return run.id


class RegistryStoreConformance:
    """Cases every registry backend passes. Needs a ``stores`` fixture."""

    def test_registering_twice_gives_versions_one_and_two_with_snapshots(self, stores: Stores) -> None:
        tracking, registry = stores
        run_id = fake_package_run(tracking, {"auc": 0.81})
        v1 = registry.create_model_version("churn", f"runs:/{run_id}/model", actor="ana")
        v2 = registry.create_model_version("churn", f"runs:/{run_id}/model")
        assert (v1.version, v2.version) == (1, 2)
        assert v1.run_id == run_id and v1.status == "READY" and v1.flavor == "sklearn"
        assert v1.metrics == {"auc": 0.81} and v1.signature == _SIGNATURE and v1.user == "ana"
        assert registry.get_registered_model("churn").latest_version == 2
        assert [f.path for f in registry.list_version_files("churn", 1)] == ["model.pkl", "model.yaml"]

    def test_registering_a_path_without_a_model_is_invalid(self, stores: Stores) -> None:
        tracking, registry = stores
        run = tracking.create_run("0")
        tracking.log_artifact(run.id, "stuff/readme.txt", io.BytesIO(b"hi"))
        with pytest.raises(InvalidInput):
            registry.create_model_version("churn", f"runs:/{run.id}/stuff")
        with pytest.raises(InvalidInput):
            registry.create_model_version("churn", "/tmp/somewhere")
        with pytest.raises(NotFound):
            registry.create_model_version("churn", f"runs:/{'0' * 32}/model")

    def test_bad_names_and_aliases_are_invalid(self, stores: Stores) -> None:
        tracking, registry = stores
        run_id = fake_package_run(tracking)
        for bad in ("bad name!", "churn\n", "churn\x00", "m" * 257):
            with pytest.raises(InvalidInput):
                registry.create_model_version(bad, f"runs:/{run_id}/model")
        registry.create_model_version("m", f"runs:/{run_id}/model")
        for alias in ("3", "latest", "has space", "production\n"):
            with pytest.raises(InvalidInput):
                registry.set_alias("m", alias, 1)

    def test_tag_values_over_the_run_tag_limit_are_too_large_and_not_stored(self, stores: Stores) -> None:
        tracking, registry = stores
        run_id = fake_package_run(tracking)
        registry.create_model_version("m", f"runs:/{run_id}/model")
        refusals = [
            lambda: registry.set_registered_model_tag("m", "note", "t" * 8001),
            lambda: registry.set_model_version_tag("m", 1, "note", "t" * 8001),
            lambda: registry.create_registered_model("m2", tags={"note": "t" * 8001}),
            lambda: registry.create_model_version("m", f"runs:/{run_id}/model", tags={"note": "t" * 8001}),
        ]
        for refused in refusals:
            with pytest.raises(TooLarge) as caught:
                refused()
            assert (caught.value.field, caught.value.limit) == ("note", 8000)  # type: ignore[attr-defined]
        registry.set_model_version_tag("m", 1, "note", "t" * 8000)
        assert len(registry.get_model_version("m", 1).tags["note"]) == 8000
        assert "note" not in registry.get_registered_model("m").tags
        assert [v.version for v in registry.search_model_versions("m")] == [1]

    def test_an_alias_points_at_exactly_one_version_and_resolves(self, stores: Stores) -> None:
        tracking, registry = stores
        run_id = fake_package_run(tracking)
        for _ in range(3):
            registry.create_model_version("churn", f"runs:/{run_id}/model")
        registry.set_alias("churn", "production", 1)
        registry.set_alias("churn", "production", 2)
        registry.set_alias("churn", "challenger", 3)
        assert registry.get_registered_model("churn").aliases == {"production": 2, "challenger": 3}
        assert registry.resolve("models:/churn@production").version == 2
        assert registry.resolve("models:/churn/1").aliases == []
        assert registry.resolve("models:/churn/latest").version == 3
        assert registry.get_model_version("churn", 2).aliases == ["production"]
        registry.delete_alias("churn", "challenger")
        with pytest.raises(NotFound):
            registry.resolve("models:/churn@challenger")

    def test_alias_to_a_missing_version_or_model_is_not_found(self, stores: Stores) -> None:
        tracking, registry = stores
        registry.create_model_version("churn", f"runs:/{fake_package_run(tracking)}/model")
        with pytest.raises(NotFound):
            registry.set_alias("churn", "production", 7)
        with pytest.raises(NotFound):
            registry.set_alias("nope", "production", 1)
        with pytest.raises(NotFound):
            registry.resolve("models:/nope/1")

    def test_guarded_alias_refuses_with_a_report_and_force_is_recorded(self, stores: Stores) -> None:
        tracking, registry = stores
        good = fake_package_run(tracking, {"auc": 0.85})
        weak = fake_package_run(tracking, {"auc": 0.70})
        registry.create_model_version("churn", f"runs:/{good}/model")
        registry.create_model_version("churn", f"runs:/{weak}/model")
        policy = PromotionPolicy([MinMetric("auc", 0.80), BeatsHolder("auc", 0.01)])
        registry.set_policy("churn", policy.to_json(), actor="lead", reason="launch")
        registry.set_alias("churn", "production", 1)
        with pytest.raises(PromotionRefused) as refused:
            registry.set_alias("churn", "production", 2)
        checks = refused.value.report["checks"]
        assert [c["passed"] for c in checks] == [False, False]
        assert registry.get_version_by_alias("churn", "production").version == 1
        registry.set_alias("churn", "staging", 2)  # unguarded alias: no policy applies
        registry.set_alias("churn", "production", 2, actor="ops", reason="hotfix", force=True)
        last = registry.history("churn")[-1]
        assert last.action == "set_alias" and last.forced and last.reason == "hotfix" and last.actor == "ops"
        assert last.before == {"alias": "production", "version": 1} and (last.after or {}).get("version") == 2

    def test_signature_change_fails_the_compatibility_gate(self, stores: Stores) -> None:
        tracking, registry = stores
        old = fake_package_run(tracking)
        new = fake_package_run(tracking, signature={"inputs": [{"name": "age", "dtype": "str"}]})
        registry.create_model_version("m", f"runs:/{old}/model")
        registry.create_model_version("m", f"runs:/{new}/model")
        registry.set_alias("m", "production", 1)
        registry.set_policy("m", PromotionPolicy([CompatibleSignature()]).to_json())
        with pytest.raises(PromotionRefused, match="age"):
            registry.set_alias("m", "production", 2)

    def test_malformed_policy_is_invalid_input(self, stores: Stores) -> None:
        tracking, registry = stores
        registry.create_model_version("m", f"runs:/{fake_package_run(tracking)}/model")
        with pytest.raises(InvalidInput):
            registry.set_policy("m", {"rules": [{"type": "make_it_good"}]})

    def test_audit_trail_records_every_change_in_order(self, stores: Stores) -> None:
        tracking, registry = stores
        run_id = fake_package_run(tracking)
        registry.create_model_version("churn", f"runs:/{run_id}/model", actor="ana")
        registry.create_model_version("churn", f"runs:/{run_id}/model")
        registry.set_alias("churn", "production", 1, actor="bob", reason="first")
        registry.set_policy("churn", {"rules": [{"type": "min_metric", "metric": "auc", "threshold": 0.1}]})
        registry.delete_alias("churn", "production")
        registry.delete_model_version("churn", 2)
        actions = [e.action for e in registry.history("churn")]
        assert actions == ["register", "register", "set_alias", "set_policy", "delete_alias", "delete_version"]
        alias_event = registry.history("churn")[2]
        assert alias_event.actor == "bob" and alias_event.reason == "first" and alias_event.at > 0

    def test_rollback_moves_the_alias_to_its_previous_holder(self, stores: Stores) -> None:
        tracking, registry = stores
        run_id = fake_package_run(tracking)
        for _ in range(3):
            registry.create_model_version("churn", f"runs:/{run_id}/model")
        registry.set_alias("churn", "production", 1)
        with pytest.raises(Conflict):
            registry.rollback("churn", "production")
        registry.set_alias("churn", "production", 3)
        assert registry.rollback("churn", "production", reason="bad canary").version == 1
        assert registry.history("churn")[-1].action == "rollback"
        assert registry.get_version_by_alias("churn", "production").version == 1

    def test_generation_changes_with_every_alias_change(self, stores: Stores) -> None:
        tracking, registry = stores
        registry.create_model_version("m", f"runs:/{fake_package_run(tracking)}/model")
        before = registry.generation()
        registry.set_alias("m", "production", 1)
        assert registry.generation() > before

    def test_lineage_links_run_and_version_both_ways(self, stores: Stores) -> None:
        tracking, registry = stores
        run_id = fake_package_run(tracking)
        registry.create_model_version("churn", f"runs:/{run_id}/model")
        up = registry.lineage("model_version", "churn/1")
        assert [(str(e.src), e.relation) for e in up.upstream] == [(f"run:{run_id}", "produced")]
        down = registry.lineage("run", run_id)
        assert [str(e.dst) for e in down.downstream] == ["model_version:churn/1"]

    def test_materialized_package_matches_the_stored_files(self, stores: Stores) -> None:
        tracking, registry = stores
        registry.create_model_version("m", f"runs:/{fake_package_run(tracking)}/model")
        folder = registry.materialize("m", 1)
        assert (folder / "model.pkl").read_bytes() == b"not really a pickle"
        assert registry.materialize("m", 1) == folder  # cached

    def test_search_pages_models_and_versions(self, stores: Stores) -> None:
        tracking, registry = stores
        run_id = fake_package_run(tracking)
        for name in ("a", "b", "c"):
            registry.create_model_version(name, f"runs:/{run_id}/model")
        first = registry.search_registered_models(max_results=2)
        rest = registry.search_registered_models(max_results=2, page_token=first.next_page_token)
        assert [m.name for m in first.items] + [m.name for m in rest.items] == ["a", "b", "c"]
        assert rest.next_page_token is None
        assert [v.name for v in registry.search_model_versions(run_id=run_id).items] == ["a", "b", "c"]
