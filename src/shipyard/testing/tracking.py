"""Conformance suite for :class:`~shipyard.tracking._backend.TrackingStore` implementations.

Subclass :class:`TrackingStoreConformance` in a test module and provide a
``tracking_store`` fixture; every backend (SQLite, PostgreSQL, the HTTP client
against ``shipyard server``) must pass every case unchanged.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest

from shipyard.errors import AlreadyExists, Conflict, InvalidInput, NotFound, TooLarge
from shipyard.tracking import LogBatch, Metric, RunRecord, RunStatus, TrackingStore, new_run_id, now_ms

__all__ = ["TrackingStoreConformance"]


def _metrics(run_id: str, key: str, values: list[float], start_step: int = 0) -> LogBatch:
    ts = now_ms()
    return LogBatch(
        metrics=[(run_id, key, v, ts + i, start_step + i) for i, v in enumerate(values)]
    )


class TrackingStoreConformance:
    """Cases every tracking backend passes. Needs a ``tracking_store`` fixture."""

    # -- experiments ----------------------------------------------------------------

    def test_default_experiment_exists_with_id_zero(self, tracking_store: TrackingStore) -> None:
        exp = tracking_store.get_experiment("0")
        assert exp.name == "Default"
        assert tracking_store.get_experiment_by_name("Default").id == "0"

    def test_experiment_create_get_list_and_duplicate(self, tracking_store: TrackingStore) -> None:
        exp = tracking_store.create_experiment("churn", tags={"team": "growth"})
        assert isinstance(exp.id, str) and exp.id != "0"
        assert tracking_store.get_experiment(exp.id).tags == {"team": "growth"}
        assert tracking_store.get_experiment_by_name("churn").id == exp.id
        assert [e.name for e in tracking_store.list_experiments()] == ["Default", "churn"]
        with pytest.raises(AlreadyExists):
            tracking_store.create_experiment("churn")

    def test_unknown_experiment_is_not_found(self, tracking_store: TrackingStore) -> None:
        with pytest.raises(NotFound):
            tracking_store.get_experiment("4242")
        with pytest.raises(NotFound):
            tracking_store.get_experiment_by_name("nope")
        with pytest.raises(NotFound):
            tracking_store.create_run("4242")

    def test_deleted_experiment_is_hidden_from_list_and_refuses_runs(
        self, tracking_store: TrackingStore
    ) -> None:
        exp = tracking_store.create_experiment("old")
        tracking_store.update_experiment(exp.id, lifecycle_stage="deleted")
        assert "old" not in [e.name for e in tracking_store.list_experiments()]
        assert "old" in [e.name for e in tracking_store.list_experiments(include_deleted=True)]
        with pytest.raises(Conflict):
            tracking_store.create_run(exp.id)

    # -- runs -----------------------------------------------------------------------

    def test_run_has_hex_id_running_status_tags_and_environment(
        self, tracking_store: TrackingStore
    ) -> None:
        run = tracking_store.create_run(
            "0", name="r1", tags={"team": "a"}, environment={"python": "3.11"}
        )
        assert len(run.id) == 32 and int(run.id, 16) >= 0 and run.id == run.id.lower()
        assert run.status is RunStatus.RUNNING and run.end_time is None
        assert run.name == "r1" and run.tags == {"team": "a"}
        assert tracking_store.get_run(run.id).environment == {"python": "3.11"}

    def test_child_run_records_parent_and_unknown_parent_is_not_found(
        self, tracking_store: TrackingStore
    ) -> None:
        parent = tracking_store.create_run("0")
        child = tracking_store.create_run("0", parent_run_id=parent.id)
        assert tracking_store.get_run(child.id).parent_run_id == parent.id
        with pytest.raises(NotFound):
            tracking_store.create_run("0", parent_run_id="f" * 32)

    def test_unknown_run_is_not_found_and_malformed_id_is_invalid(
        self, tracking_store: TrackingStore
    ) -> None:
        with pytest.raises(NotFound):
            tracking_store.get_run("0" * 32)
        with pytest.raises(InvalidInput):
            tracking_store.get_run("not-a-run")
        with pytest.raises(NotFound):
            tracking_store.log_batch(_metrics("0" * 32, "loss", [1.0]))

    def test_ending_a_run_sets_status_and_end_time(self, tracking_store: TrackingStore) -> None:
        run = tracking_store.create_run("0")
        ended = tracking_store.update_run(run.id, status=RunStatus.FAILED)
        assert ended.status is RunStatus.FAILED and ended.end_time is not None
        assert ended.end_time >= ended.start_time

    def test_metrics_keep_nan_and_infinities_and_latest_is_highest_step(
        self, tracking_store: TrackingStore
    ) -> None:
        run = tracking_store.create_run("0")
        tracking_store.log_batch(_metrics(run.id, "v", [1.0, math.nan, math.inf, -math.inf, 0.5]))
        history = tracking_store.get_metric_history(run.id, "v").items
        values = [m.value for m in history]
        assert values[0] == 1.0 and math.isnan(values[1])
        assert values[2:] == [math.inf, -math.inf, 0.5]
        assert [m.step for m in history] == [0, 1, 2, 3, 4]
        latest = tracking_store.get_run(run.id).metrics["v"]
        assert latest.step == 4 and latest.value == 0.5
        # A point for an older step does not replace the latest value.
        tracking_store.log_batch(_metrics(run.id, "v", [9.0], start_step=1))
        assert tracking_store.get_run(run.id).metrics["v"].value == 0.5

    def test_params_are_immutable_and_a_clash_keeps_the_rest_of_the_batch(
        self, tracking_store: TrackingStore
    ) -> None:
        run = tracking_store.create_run("0")
        tracking_store.log_batch(LogBatch(params=[(run.id, "lr", "0.1")]))
        tracking_store.log_batch(LogBatch(params=[(run.id, "lr", "0.1")]))  # same value: fine
        batch = LogBatch(
            params=[(run.id, "lr", "0.2"), (run.id, "depth", "6")],
            metrics=[(run.id, "loss", 0.5, now_ms(), 0)],
        )
        with pytest.raises(Conflict):
            tracking_store.log_batch(batch)
        stored = tracking_store.get_run(run.id)
        assert stored.params == {"lr": "0.1", "depth": "6"}
        assert stored.metrics["loss"].value == 0.5

    def test_finished_run_refuses_data(self, tracking_store: TrackingStore) -> None:
        run = tracking_store.create_run("0")
        tracking_store.update_run(run.id, status=RunStatus.FINISHED)
        with pytest.raises(Conflict):
            tracking_store.log_batch(_metrics(run.id, "loss", [1.0]))

    def test_finished_run_takes_data_when_allowed(self, tracking_store: TrackingStore) -> None:
        run = tracking_store.create_run("0")
        tracking_store.update_run(run.id, status=RunStatus.FINISHED)
        tracking_store.log_batch(_metrics(run.id, "late", [1.0]), allow_finished=True)
        tracking_store.log_batch(LogBatch(tags=[(run.id, "note", "post hoc")]), allow_finished=True)
        stored = tracking_store.get_run(run.id)
        assert stored.metrics["late"].value == 1.0 and stored.tags["note"] == "post hoc"
        assert stored.status == RunStatus.FINISHED

    def test_tags_are_overwritten_and_deleted(self, tracking_store: TrackingStore) -> None:
        run = tracking_store.create_run("0", tags={"a": "1"})
        tracking_store.log_batch(LogBatch(tags=[(run.id, "a", "2"), (run.id, "b", "3")]))
        assert tracking_store.get_run(run.id).tags == {"a": "2", "b": "3"}
        tracking_store.delete_tag(run.id, "a")
        assert tracking_store.get_run(run.id).tags == {"b": "3"}
        with pytest.raises(NotFound):
            tracking_store.delete_tag(run.id, "a")

    # -- what every backend refuses alike ------------------------------------------------

    @pytest.mark.parametrize("bad", ["a\x00b", "two\nlines", "tab\tbed", "del\x7f", "x" * 257],
                             ids=["nul", "newline", "tab", "del", "too-long"])
    def test_names_with_a_control_character_or_over_256_characters_are_refused(
        self, tracking_store: TrackingStore, bad: str
    ) -> None:
        run = tracking_store.create_run("0", name="kept")
        with pytest.raises(InvalidInput):
            tracking_store.create_experiment(bad)
        with pytest.raises(InvalidInput):
            tracking_store.create_run("0", name=bad)
        with pytest.raises(InvalidInput):
            tracking_store.update_run(run.id, name=bad)
        assert [e.name for e in tracking_store.list_experiments()] == ["Default"]
        assert [r.name for r in tracking_store.search_runs(["0"])] == ["kept"]

    @pytest.mark.parametrize("key", ["loss\n", "lo\x00ss", "x" * 251])
    def test_keys_with_a_control_character_or_over_250_characters_are_refused(
        self, tracking_store: TrackingStore, key: str
    ) -> None:
        run = tracking_store.create_run("0")
        for batch in (LogBatch(metrics=[(run.id, key, 1.0, now_ms(), 0)]), LogBatch(params=[(run.id, key, "1")]),
                      LogBatch(tags=[(run.id, key, "1")])):
            with pytest.raises(InvalidInput):
                tracking_store.log_batch(batch)
        stored = tracking_store.get_run(run.id)
        assert (stored.metrics, stored.params, stored.tags) == ({}, {}, {})

    def test_values_over_mlflows_limits_are_too_large_naming_the_key_and_the_limit(
        self, tracking_store: TrackingStore
    ) -> None:
        run = tracking_store.create_run("0")
        refusals = [
            (lambda: tracking_store.log_batch(LogBatch(params=[(run.id, "prompt", "p" * 6001)])), "prompt", 6000),
            (lambda: tracking_store.log_batch(LogBatch(tags=[(run.id, "note", "t" * 8001)])), "note", 8000),
            (lambda: tracking_store.create_run("0", tags={"note": "t" * 8001}), "note", 8000),
            (lambda: tracking_store.create_experiment("long", tags={"note": "t" * 8001}), "note", 8000),
            (lambda: tracking_store.set_experiment_tag("0", "note", "t" * 8001), "note", 8000),
            (lambda: tracking_store.record_runs([RunRecord("0", params={"prompt": "p" * 6001})]),
             "runs[0].params.prompt", 6000),
        ]
        for refused, field, limit in refusals:
            with pytest.raises(TooLarge) as caught:
                refused()
            assert (caught.value.field, caught.value.limit) == (field, limit)  # type: ignore[attr-defined]
        tracking_store.log_batch(LogBatch(params=[(run.id, "prompt", "p" * 6000)], tags=[(run.id, "note", "t" * 8000)]))
        stored = tracking_store.get_run(run.id)
        assert (len(stored.params["prompt"]), len(stored.tags["note"])) == (6000, 8000)
        assert len(tracking_store.search_runs(["0"])) == 1

    def test_a_nul_in_a_param_or_tag_value_is_refused(self, tracking_store: TrackingStore) -> None:
        run = tracking_store.create_run("0")
        for batch in (LogBatch(params=[(run.id, "p", "a\x00b")]), LogBatch(tags=[(run.id, "t", "a\x00b")])):
            with pytest.raises(InvalidInput):
                tracking_store.log_batch(batch)
        stored = tracking_store.get_run(run.id)
        assert (stored.params, stored.tags) == ({}, {})

    # -- whole runs in one call --------------------------------------------------------

    def test_record_runs_writes_finished_runs_with_all_their_data(self, tracking_store: TrackingStore) -> None:
        parent = tracking_store.create_run("0", name="pipeline")
        ts = now_ms()
        children = [
            RunRecord("0", name=f"step{i}", parent_run_id=parent.id, start_time=ts - 10, end_time=ts,
                      status=RunStatus.FAILED if i == 2 else RunStatus.FINISHED,
                      params={"x": str(i)}, tags={"kind": "step", "i": str(i)},
                      metrics=[Metric("duration_s", 0.5 * i, 0, ts), Metric("nan", math.nan, 0, ts)],
                      artifacts={"logs.txt": f"log {i}".encode(), "outputs/out.json": b"[1, 2]"})
            for i in range(3)
        ]
        assert tracking_store.record_runs(children) == [c.id for c in children]
        for i, child in enumerate(children):
            run = tracking_store.get_run(child.id)
            assert (run.name, run.parent_run_id, run.start_time, run.end_time) == (f"step{i}", parent.id, ts - 10, ts)
            assert run.status is (RunStatus.FAILED if i == 2 else RunStatus.FINISHED)
            assert run.params == {"x": str(i)} and run.tags == {"kind": "step", "i": str(i)}
            assert run.metrics["duration_s"].value == 0.5 * i and math.isnan(run.metrics["nan"].value)
            assert [a.path for a in tracking_store.list_artifacts(child.id)] == ["logs.txt", "outputs/out.json"]
            assert b"".join(tracking_store.open_artifact(child.id, "logs.txt")) == f"log {i}".encode()
        # Identical bytes are one object in the artifact store.
        digests = {a.digest for c in children for a in tracking_store.list_artifacts(c.id, "outputs")}
        assert len(digests) == 1
        found = tracking_store.search_runs(["0"], "tags.kind = 'step' and params.x = '1'").items
        assert [r.id for r in found] == [children[1].id]
        # A finished record takes no more data.
        with pytest.raises(Conflict):
            tracking_store.log_batch(LogBatch(tags=[(children[0].id, "late", "x")]))

    def test_record_runs_completes_a_running_run_and_may_create_its_parent(
        self, tracking_store: TrackingStore
    ) -> None:
        started = tracking_store.create_run("0", name="step", tags={"a": "1"}, start_time=1_000)
        parent_id = new_run_id()
        tracking_store.record_runs([
            RunRecord("0", id=parent_id, status=RunStatus.RUNNING, name="new parent", tags={"p": "1"}),
            RunRecord("0", id=started.id, status=RunStatus.FINISHED, params={"lr": "0.1"},
                      tags={"a": "2", "b": "3"}, metrics=[Metric("m", 1.0, 0, 2_000)],
                      artifacts={"out.txt": b"done"}),
        ])
        run = tracking_store.get_run(started.id)
        assert run.status is RunStatus.FINISHED and run.start_time == 1_000 and run.end_time is not None
        assert run.name == "step" and run.tags == {"a": "2", "b": "3"} and run.params == {"lr": "0.1"}
        assert [a.path for a in tracking_store.list_artifacts(started.id)] == ["out.txt"]
        parent = tracking_store.get_run(parent_id)
        assert parent.status is RunStatus.RUNNING and parent.end_time is None and parent.tags == {"p": "1"}
        # A running run can be recorded again (more tags), then ended by a record.
        tracking_store.record_runs([RunRecord("0", id=parent_id, status=RunStatus.RUNNING, tags={"q": "2"})])
        tracking_store.record_runs([RunRecord("0", id=parent_id, status=RunStatus.KILLED)])
        parent = tracking_store.get_run(parent_id)
        assert parent.status is RunStatus.KILLED and parent.tags == {"p": "1", "q": "2"}
        assert parent.end_time is not None

    def test_record_runs_links_objects_the_artifact_store_already_holds(
        self, tracking_store: TrackingStore
    ) -> None:
        first = RunRecord("0", artifacts={"model.bin": b"weights" * 100})
        tracking_store.record_runs([first])
        [stored] = tracking_store.list_artifacts(first.id)
        second = RunRecord("0", links={"inputs/model.bin": stored.digest})
        tracking_store.record_runs([second])
        assert tracking_store.list_artifacts(second.id)[0].digest == stored.digest
        assert tracking_store.list_artifacts(second.id)[0].size == 700
        assert b"".join(tracking_store.open_artifact(second.id, "inputs/model.bin")) == b"weights" * 100
        unknown = RunRecord("0", links={"x.bin": "e" * 64})
        with pytest.raises(NotFound):
            tracking_store.record_runs([RunRecord("0"), unknown])
        with pytest.raises(NotFound):
            tracking_store.get_run(unknown.id)

    def test_record_runs_with_bad_input_names_the_field_and_writes_nothing(
        self, tracking_store: TrackingStore
    ) -> None:
        good = RunRecord("0", params={"ok": "1"})
        cases = {
            "runs[1].id": RunRecord("0", id="nope"),
            "runs[1].experiment_id": RunRecord("zero"),
            "runs[1].params.bad key!": RunRecord("0", params={"bad key!": "1"}),
            "runs[1].params.lr": RunRecord("0", params={"lr": 0.1}),  # type: ignore[dict-item]
            "runs[1].tags.t": RunRecord("0", tags={"t": None}),  # type: ignore[dict-item]
            "runs[1].metrics[0].value": RunRecord("0", metrics=[Metric("m", "high", 0, 1)]),  # type: ignore[arg-type]
            "runs[1].metrics[0].timestamp": RunRecord("0", metrics=[Metric("m", 1.0, 0, -1)]),
            "runs[1].artifacts.path": RunRecord("0", artifacts={"../escape": b"x"}),
            "runs[1].artifacts.a.txt": RunRecord("0", artifacts={"a.txt": "text"}),  # type: ignore[dict-item]
            "runs[1].links.b.txt": RunRecord("0", links={"b.txt": "not a digest"}),
            "runs[1].links.a.txt": RunRecord("0", artifacts={"a.txt": b"x"}, links={"a.txt": "0" * 64}),
            "runs[1].end_time": RunRecord("0", start_time=2_000, end_time=1_000),
            "runs[1].status": RunRecord("0", status="DONE"),  # type: ignore[arg-type]
            "runs[1].parent_run_id": RunRecord("0", parent_run_id="x"),
        }
        for field, bad in cases.items():
            with pytest.raises(InvalidInput) as err:
                tracking_store.record_runs([good, bad])
            assert err.value.field == field, (field, err.value)  # type: ignore[attr-defined]
        with pytest.raises(InvalidInput) as err:
            tracking_store.record_runs([good, RunRecord("0", id=good.id)])
        assert err.value.field == "runs[1].id"  # type: ignore[attr-defined]
        with pytest.raises(NotFound):
            tracking_store.get_run(good.id)

    def test_record_runs_refusals_roll_back_the_whole_batch(self, tracking_store: TrackingStore) -> None:
        finished = tracking_store.create_run("0")
        tracking_store.update_run(finished.id, status=RunStatus.FINISHED)
        running = tracking_store.create_run("0")
        tracking_store.log_batch(LogBatch(params=[(running.id, "lr", "0.1")]))
        other = tracking_store.create_experiment("elsewhere")
        good = RunRecord("0", tags={"t": "1"}, artifacts={"a.txt": b"a"})
        refusals = [
            (Conflict, RunRecord("0", id=finished.id, tags={"late": "1"})),
            (Conflict, RunRecord("0", id=running.id, params={"lr": "0.2"})),
            (Conflict, RunRecord(other.id, id=running.id)),
            (NotFound, RunRecord("0", parent_run_id="f" * 32)),
            (NotFound, RunRecord("4242")),
        ]
        for error, bad in refusals:
            with pytest.raises(error):
                tracking_store.record_runs([good, bad])
            with pytest.raises(NotFound):
                tracking_store.get_run(good.id)
        assert tracking_store.get_run(running.id).params == {"lr": "0.1"}
        assert tracking_store.get_run(finished.id).tags == {}
        tracking_store.update_experiment(other.id, lifecycle_stage="deleted")
        with pytest.raises(Conflict):
            tracking_store.record_runs([RunRecord(other.id)])
        assert tracking_store.record_runs([]) == []

    # -- search ---------------------------------------------------------------------

    def _seed(self, store: TrackingStore, n: int = 7) -> tuple[str, list[str]]:
        exp = store.create_experiment("search")
        ids = []
        for i in range(n):
            run = store.create_run(exp.id, name=f"r{i}", start_time=1_000 + i)
            batch = LogBatch(
                metrics=[(run.id, "auc", 0.5 + i / 20, now_ms(), 0)],
                params=[(run.id, "depth", str(i % 3))],
                tags=[(run.id, "team", "a" if i % 2 else "b")],
            )
            store.log_batch(batch)
            ids.append(run.id)
        return exp.id, ids

    def test_search_filters_on_metrics_params_tags_and_orders(
        self, tracking_store: TrackingStore
    ) -> None:
        exp_id, ids = self._seed(tracking_store)
        page = tracking_store.search_runs(
            [exp_id], "metrics.auc > 0.6 and params.depth = '1'", ["metrics.auc DESC"]
        )
        assert [r.id for r in page.items] == [ids[4]]
        page = tracking_store.search_runs([exp_id], "tags.team = 'a'", ["metrics.auc ASC"])
        assert [r.id for r in page.items] == [ids[1], ids[3], ids[5]]
        default_order = tracking_store.search_runs([exp_id]).items
        assert [r.id for r in default_order] == ids[::-1]  # newest first

    def test_search_pages_through_every_run_once(self, tracking_store: TrackingStore) -> None:
        exp_id, ids = self._seed(tracking_store)
        seen, token = [], None
        while True:
            page = tracking_store.search_runs([exp_id], None, ["metrics.auc DESC"], 3, token)
            seen += [r.id for r in page.items]
            token = page.next_page_token
            if token is None:
                break
        assert seen == ids[::-1]

    def test_malformed_filter_is_invalid_input_naming_the_position(
        self, tracking_store: TrackingStore
    ) -> None:
        with pytest.raises(InvalidInput) as err:
            tracking_store.search_runs(["0"], "metrics.auc >> 1")
        assert "position" in str(err.value)

    def test_deleted_runs_leave_search_until_restored(self, tracking_store: TrackingStore) -> None:
        exp_id, ids = self._seed(tracking_store, 2)
        tracking_store.update_run(ids[0], lifecycle_stage="deleted")
        assert [r.id for r in tracking_store.search_runs([exp_id]).items] == [ids[1]]
        tracking_store.update_run(ids[0], lifecycle_stage="active")
        assert len(tracking_store.search_runs([exp_id]).items) == 2

    # -- metric history -------------------------------------------------------------

    def test_metric_history_downsamples_keeping_first_and_last(
        self, tracking_store: TrackingStore
    ) -> None:
        run = tracking_store.create_run("0")
        tracking_store.log_batch(_metrics(run.id, "loss", [float(i) for i in range(5000)]))
        points = tracking_store.get_metric_history(run.id, "loss", max_points=100).items
        assert 50 <= len(points) <= 101
        assert points[0].step == 0 and points[-1].step == 4999
        assert [p.step for p in points] == sorted(p.step for p in points)

    def test_metric_history_pages(self, tracking_store: TrackingStore) -> None:
        run = tracking_store.create_run("0")
        tracking_store.log_batch(_metrics(run.id, "loss", [float(i) for i in range(25)]))
        steps, token = [], None
        while True:
            page = tracking_store.get_metric_history(
                run.id, "loss", page_token=token, max_results=10
            )
            steps += [m.step for m in page.items]
            token = page.next_page_token
            if token is None:
                break
        assert steps == list(range(25))

    # -- artifacts ------------------------------------------------------------------

    def test_artifacts_round_trip_and_list_by_prefix(
        self, tracking_store: TrackingStore, tmp_path: Path
    ) -> None:
        run = tracking_store.create_run("0")
        src = tmp_path / "weights.bin"
        src.write_bytes(b"\x00\x01" * 5000)
        tracking_store.log_artifact(run.id, "model/weights.bin", src)
        tracking_store.log_artifact(run.id, "model/meta/info.json", io.BytesIO(b'{"a": 1}'))
        tracking_store.log_artifact(run.id, "notes.txt", io.BytesIO(b"hello"))
        assert [a.path for a in tracking_store.list_artifacts(run.id)] == [
            "model/meta/info.json",
            "model/weights.bin",
            "notes.txt",
        ]
        assert [a.path for a in tracking_store.list_artifacts(run.id, "model/meta")] == [
            "model/meta/info.json"
        ]
        out = tracking_store.download_artifact(
            run.id, "model/weights.bin", tmp_path / "out" / "w.bin"
        )
        assert out.read_bytes() == src.read_bytes()

    def test_artifact_path_escaping_its_root_is_rejected(
        self, tracking_store: TrackingStore
    ) -> None:
        run = tracking_store.create_run("0")
        for bad in ("../x", "/etc/passwd", "a/../../b"):
            with pytest.raises((InvalidInput, NotFound)):
                tracking_store.log_artifact(run.id, bad, io.BytesIO(b"x"))
        assert tracking_store.list_artifacts(run.id) == []

    def test_missing_artifact_is_not_found(
        self, tracking_store: TrackingStore, tmp_path: Path
    ) -> None:
        run = tracking_store.create_run("0")
        with pytest.raises(NotFound):
            tracking_store.download_artifact(run.id, "nope.txt", tmp_path / "nope.txt")
        assert not (tmp_path / "nope.txt").exists()
