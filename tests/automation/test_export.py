"""Exporting labelled production data end to end: rows written by serving's own inference-log writer,
labels uploaded and posted as feedback, exported as a dataset version with lineage to the model
version that answered and the monitor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard import Client, Config
from shipyard.errors import InvalidInput, NotFound
from shipyard.lineage import Edge, Node
from shipyard.serving import InferenceLogConfig
from shipyard.serving._inference_log import Entry, InferenceLog, RunSink
from shipyard.testing.registry import fake_package_run
from shipyard.timeutil import now_ms


def entry(request_id: str, ages: list[float], plans: list[str], *, route: str = "production", version: str = "1",
          status: int = 200, at: int | None = None) -> Entry:
    inputs = pd.DataFrame({"age": ages, "plan": plans})
    outputs = None if status != 200 else {"predict": np.asarray([int(a > 45) for a in ages])}
    return Entry(at or now_ms(), request_id, "churn", version, route, 3.0, status, len(ages), inputs, outputs,
                 None, None if status == 200 else "boom")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Client]:
    """A client whose serving log for ``churn`` holds answered, failed and shadow requests, some labelled."""
    with Client(Config(home=tmp_path / "home", flush_interval=0.2)) as client:
        run_id = fake_package_run(client.tracking_store, {"auc": 0.8})
        client.registry_store.create_model_version("churn", f"runs:/{run_id}/model")
        client.create_monitor("churn@production", window="1h", name="churn-monitor", label_column="churned")
        client.create_monitor("churn", window="1h", name="churn-all")  # another reference: not the source
        log = InferenceLog(InferenceLogConfig(flush_interval_s=60), RunSink(client, run_name="serving-w1"),
                           worker="w1")
        log.record(entry("r1", [50.0], ["pro"]))
        log.record(entry("r2", [30.0, 60.0], ["basic", "team"]))   # two rows, one labelled by row
        log.record(entry("r3", [41.0], ["basic"]))                  # labelled through /v1/feedback
        log.record(entry("r4", [70.0], ["pro"]))                    # never labelled
        log.record(entry("r5", [20.0], ["team"], status=500))      # failed: not an answer
        log.record(entry("r6", [55.0], ["pro"], route="shadow"))   # a shadow copy: not production's
        log.feedback("churn", [("r3", 0)])
        log.close()
        client.log_labels(pd.DataFrame({"request_id": ["r1", "r2", "r5", "r6"], "row": [-1, 1, -1, -1],
                                        "label": [1, 1, 0, 1]}), model="churn")
        yield client


def test_labelled_answers_become_a_dataset_version_with_lineage(served: Client) -> None:
    done = served.automation.export_labelled("churn@production", since="1h", to="ds:churn-labelled")
    assert (done.ref, done.rows, done.label_column) == ("churn-labelled@1", 3, "churned")
    assert done.model_versions == (("churn", 1),) and done.monitors == ("churn-monitor",)

    frame = served.get_dataset("churn-labelled@1").to_pandas()
    assert frame["request_id"].tolist() == ["r1", "r2", "r3"] and frame["row"].tolist() == [0, 1, 0]
    assert frame["age"].tolist() == [50.0, 60.0, 41.0] and frame["plan"].tolist() == ["pro", "team", "basic"]
    assert frame["churned"].tolist() == [1, 1, 0] and frame["prediction"].tolist() == [1, 1, 0]
    assert set(frame["model_version"]) == {"1"} and "served_at" in frame.columns
    version = served.get_dataset_version("churn-labelled@1")
    assert version.tags["shipyard.export.model"] == "churn@production"

    upstream = set(served.dataset_lineage("churn-labelled@1").upstream)
    dataset = Node("dataset", "churn-labelled@1")
    assert Edge(Node("model_version", "churn/1"), "served", dataset) in upstream
    assert Edge(Node("monitor", "churn-monitor"), "monitored", dataset) in upstream
    assert Node("monitor", "churn-all") not in {e.src for e in upstream}
    assert dataset in served.lineage("models:/churn/1").nodes


def test_the_same_answers_exported_again_are_the_same_version(served: Client) -> None:
    first = served.automation.export_labelled("churn@production", since="1h", to="ds:churn-labelled")
    again = served.automation.export_labelled("churn@production", since="1h", to="churn-labelled")
    assert (again.version, again.digest) == (first.version, first.digest)
    assert [v.version for v in served.list_dataset_versions("churn-labelled")] == [1]


def test_every_route_and_a_named_monitor_and_label_column(served: Client) -> None:
    done = served.automation.export_labelled("churn", since="1h", to="ds:all-labelled", monitor="churn-all",
                                             label_column="y")
    frame = served.get_dataset(done.ref).to_pandas()
    assert frame["request_id"].tolist() == ["r1", "r2", "r3"]  # shadow copies and failures left out
    assert "y" in frame.columns and done.monitors == ("churn-all",)


def test_nothing_labelled_or_a_bad_target_registers_nothing(served: Client) -> None:
    with pytest.raises(NotFound):
        served.automation.export_labelled("churn@staging", since="1h", to="ds:empty")
    with pytest.raises(InvalidInput) as info:
        served.automation.export_labelled("churn@production", since="1h", to="ds:churn-labelled@2")
    assert info.value.field == "to"  # type: ignore[attr-defined]
    with pytest.raises(NotFound) as missing:
        served.automation.export_labelled("churn@production", since="1h", to="ds:x", monitor="nope")
    assert missing.value.field == "monitor"  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput) as clash:
        served.automation.export_labelled("churn@production", since="1h", to="ds:x", label_column="age")
    assert clash.value.field == "label_column"  # type: ignore[attr-defined]
    assert served.list_datasets() == []
