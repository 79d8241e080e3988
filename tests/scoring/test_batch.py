"""``batch_predict`` with local worker processes: output, lineage, run records, rejects, refusals, memory."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

import shipyard
from shipyard import Client, InvalidInput, NotFound, RunStatus
from shipyard.scoring import BatchPrediction, batch_predict
from tests.scoring.conftest import ROWS, features, register_model

pytestmark = pytest.mark.xdist_group("scoring-batch")  # the 2,000,000-row job runs once, on one worker

# Stated bound on memory while 2,000,000 rows are scored in batches of 16,384 rows by two
# processes: each worker holds an interpreter with numpy, pandas, Arrow and scikit-learn (about
# 150 MB) plus a few batches; the driver grows by little more than its own imports. A worker's
# memory is its unique set (USS): a forked worker's resident set counts the driver's pages it
# still shares, which cost the machine nothing more.
WORKER_PEAK_MB = 400
DRIVER_GROWTH_MB = 250


class PeakMemory:
    """Samples the resident memory of this process and the unique memory of each of its
    children until stopped.

    Peaks are kept per child process: a test worker may hold other children alive (servers,
    Ray nodes from other modules' fixtures), and only the scoring workers are bounded here.
    """

    def __init__(self) -> None:
        self.me = psutil.Process()
        self.start_rss = self.me.memory_info().rss
        self.driver_peak = self.start_rss
        self.child_peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.driver_peak = max(self.driver_peak, self.me.memory_info().rss)
            for child in self.me.children(recursive=True):
                try:
                    uss = child.memory_full_info().uss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                self.child_peaks[child.pid] = max(self.child_peaks.get(child.pid, 0), uss)

    def peak_of(self, pids: set[int]) -> int:
        """The highest unique memory seen in any of ``pids``."""
        return max(self.child_peaks.get(pid, 0) for pid in pids)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Scored:
    client: Client
    model_uri: str
    frame: pd.DataFrame
    result: BatchPrediction
    memory: PeakMemory


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scored]:
    """2,000,000 rows scored once by two local processes, memory sampled throughout."""
    with Client(home=tmp_path_factory.mktemp("scoring")) as client:
        uri = register_model(client)
        frame = features(ROWS)
        client.register_dataset("customers", frame)
        with PeakMemory() as memory:
            result = batch_predict(uri, "ds:customers@1", "ds:customers-scored", workers=2, batch_rows=16_384,
                                   client=client)
        yield Scored(client, uri, frame, result, memory)


def test_every_row_comes_out_with_its_columns_and_the_model_s_prediction(scored: Scored) -> None:
    out = scored.client.get_dataset(scored.result.output.uri).to_pandas()
    expected = scored.client.load_model(scored.model_uri).predict(scored.frame)
    assert list(out.columns) == ["a", "b", "c", "prediction"]
    pd.testing.assert_frame_equal(out[["a", "b", "c"]], scored.frame)
    assert np.array_equal(out["prediction"].to_numpy(), expected)
    assert (scored.result.rows, scored.result.scored, scored.result.rejected) == (ROWS, ROWS, 0)
    assert scored.result.rejects is None and len(scored.result.ran_on) == 2


def test_lineage_runs_from_the_input_version_and_the_model_version_to_the_output(scored: Scored) -> None:
    graph = scored.client.lineage(scored.result.output.uri)
    edges = {(str(e.src), e.relation, str(e.dst)) for e in graph.upstream}
    run = f"run:{scored.result.run_id}"
    assert ("dataset:customers@1", "input", run) in edges
    assert (run, "produced", "dataset:customers-scored@1") in edges
    assert ("model_version:churn/1", "served", "dataset:customers-scored@1") in edges
    # The staging folder is gone once registered: the version names what was scored instead.
    assert scored.result.output.source == f"batch_predict({scored.model_uri}, ds:customers@1)"


def test_the_run_records_what_was_scored_where_and_how_fast(scored: Scored) -> None:
    run = scored.client.get_run(scored.result.run_id)
    assert run.status == RunStatus.FINISHED
    params, metrics = run.params, {key: m.value for key, m in run.metrics.items()}
    assert params["model_uri"] == scored.model_uri and params["input"] == "ds:customers@1"
    assert params["output"] == "ds:customers-scored" and params["executor"] == "local"
    assert metrics["rows"] == ROWS and metrics["rows_scored"] == ROWS and metrics["rows_rejected"] == 0
    assert metrics["rows_per_s"] > 0


def test_scoring_processes_stay_under_the_stated_memory_bound(scored: Scored) -> None:
    memory = scored.memory
    workers = {int(where.removeprefix("pid ")) for where in scored.result.ran_on}
    assert len(workers) == 2 and workers <= memory.child_peaks.keys()
    worker_peak = memory.peak_of(workers)
    assert worker_peak < WORKER_PEAK_MB * 2**20, worker_peak / 2**20
    assert memory.driver_peak - memory.start_rss < DRIVER_GROWTH_MB * 2**20, \
        (memory.driver_peak - memory.start_rss) / 2**20


def test_an_existing_output_name_gets_a_new_version(client: Client) -> None:
    uri = register_model(client)
    client.register_dataset("small", features(3_000, seed=2))
    client.register_dataset("small", features(2_000, seed=3))
    first = batch_predict(uri, "ds:small@1", "ds:small-scored", workers=1, client=client)
    second = batch_predict(uri, "ds:small@2", "ds:small-scored", workers=1, client=client)
    assert (first.output.version, second.output.version) == (1, 2)
    assert client.get_dataset("ds:small-scored@1").version.num_rows == 3_000
    assert client.get_dataset("ds:small-scored@2").version.num_rows == 2_000


def test_malformed_rows_land_in_the_rejects_file_with_their_index_and_reason(client: Client,
                                                                             tmp_path: Path) -> None:
    uri = register_model(client)
    frame = features(5_000, seed=4).astype({"a": object, "c": "float64"})
    frame.loc[10, "a"] = None            # a null in a required column
    frame.loc[20, "a"] = "twelve"        # a string that is not a number
    frame.loc[30, "a"] = "1.5"           # a numeric string: parsed and scored
    frame.loc[40, "c"] = 2.5             # a fraction in an integer column
    frame["a"] = frame["a"].map(lambda v: None if v is None else str(v))  # a string column, as from CSV
    client.register_dataset("raw", frame)
    result = batch_predict(uri, "ds:raw@1", "ds:raw-scored", workers=2, batch_rows=1_000, client=client)
    assert (result.rows, result.scored, result.rejected) == (5_000, 4_997, 3)
    lines = Path(client.download_artifacts(result.run_id, "rejects.jsonl", tmp_path / "got")).read_text().splitlines()
    rejects = [json.loads(line) for line in lines]
    assert [(r["row"], r["reason"]) for r in rejects] == [
        (10, "column 'a' is null"),
        (20, "column 'a' holds 'twelve', not a number"),
        (40, "column 'c' holds 2.5, not an int64"),
    ]
    assert rejects[1]["values"]["a"] == "twelve"
    assert result.rejects_uri == f"runs:/{result.run_id}/rejects.jsonl"
    out = client.get_dataset(result.output.uri).to_pandas()
    assert len(out) == 4_997 and "twelve" not in set(out["a"])


def test_passthrough_columns_are_carried_to_the_output(client: Client) -> None:
    uri = register_model(client)
    frame = features(1_000, seed=5)
    frame.insert(0, "customer_id", np.arange(1_000))
    client.register_dataset("ids", frame)
    result = batch_predict(uri, "ds:ids@1", "ds:ids-scored", workers=1, passthrough=["customer_id"],
                           client=client)
    out = client.get_dataset(result.output.uri).to_pandas()
    assert list(out.columns) == ["customer_id", "a", "b", "c", "prediction"]
    assert out["customer_id"].tolist() == list(range(1_000))


def _nothing_made(client: Client) -> None:
    assert [d.name for d in client.list_datasets()] == ["bad"]
    with pytest.raises(NotFound):
        client.get_experiment_by_name("batch-scoring")


def test_an_input_missing_or_adding_columns_is_refused_before_any_work(client: Client) -> None:
    uri = register_model(client)
    frame = features(100).drop(columns=["b"]).assign(extra=1.0)
    client.register_dataset("bad", frame)
    with pytest.raises(InvalidInput) as refused:
        batch_predict(uri, "ds:bad@1", "ds:bad-scored", client=client)
    context = refused.value.context
    assert context["field"] == "input" and context["missing"] == ["b"] and context["extra"] == ["extra"]
    assert "['b']" in str(refused.value) and "['extra']" in str(refused.value)
    _nothing_made(client)


def test_a_model_uri_that_does_not_exist_is_not_found_naming_it(client: Client) -> None:
    client.register_dataset("bad", features(100))
    with pytest.raises(NotFound, match="models:/nothing/1"):
        batch_predict("models:/nothing/1", "ds:bad@1", "ds:bad-scored", client=client)
    _nothing_made(client)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"executor": "spark"}, "executor"), ({"workers": 0}, "workers"), ({"batch_rows": -1}, "batch_rows"),
    ({"output": "ds:x@2"}, "output"),
])
def test_bad_arguments_name_their_field(client: Client, kwargs: dict[str, object], field: str) -> None:
    client.register_dataset("bad", features(100))
    args = {"output": "ds:bad-scored", **kwargs}
    with pytest.raises(InvalidInput) as refused:
        batch_predict("models:/churn/1", "ds:bad@1", client=client, **args)  # type: ignore[arg-type]
    assert refused.value.context["field"] == field


def test_the_top_level_name_is_the_scoring_function() -> None:
    assert shipyard.batch_predict is batch_predict
