"""A real served model's log monitored end to end: drift, labels, gauges on /metrics, the report."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import numpy as np
import orjson
import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

import shipyard
from shipyard.monitoring import render_html
from shipyard.serving import InferenceLogConfig, ServeConfig
from tests.services import running_server
from tests.serving.conftest import COLUMNS, in_process, registry_template, table  # noqa: F401 - a fixture

H = 3_600_000


def v2_row(row: np.ndarray) -> dict:
    return {"inputs": [{"name": "input", "shape": [1, len(row)], "datatype": "FP64", "data": row.tolist()}],
            "outputs": [{"name": "predict"}, {"name": "predict_proba"}]}


def test_a_served_model_is_monitored_end_to_end(registry_template: Path, tmp_path: Path) -> None:  # noqa: F811
    home = tmp_path / "home"
    shutil.copytree(registry_template, home)
    with shipyard.Client(home=home) as client:
        reference = table(4000, seed=11)
        client.register_dataset("lr-train", reference.assign(y=(reference.f0 + reference.f1 > 0).astype(int)))
        started = int(time.time() * 1000)
        client.create_monitor("lr@production", reference="ds:lr-train@1", window="1h", label_column="y",
                              start=started - H, delay_s=0)
        normal, shifted = table(150, seed=12), table(150, seed=13)
        shifted["f0"] += 3.0  # the drifting input
        rows = pd.concat([normal, shifted], ignore_index=True)
        ids = [f"req-{i}" for i in range(len(rows))]
        config = ServeConfig.for_uri("models:/lr@production", inference_log=InferenceLogConfig(flush_interval_s=60))
        with in_process(config, client) as server, httpx.Client(base_url=server.url) as http:
            for rid, row in zip(ids, rows.to_numpy(), strict=True):
                answer = http.post("/v2/models/lr/infer", json=v2_row(row), headers={"x-request-id": rid})
                assert answer.status_code == 200 and answer.headers["x-request-id"] == rid
            truth = (rows.f0 + rows.f1 > 0).astype(int)
            posted = http.post("/v1/feedback", json={"labels": [
                {"request_id": rid, "label": int(y)} for rid, y in zip(ids[:100], truth[:100], strict=True)]})
            assert posted.status_code == 202
        # ...and more labels later, in a batch upload.
        client.log_labels(pd.DataFrame({"request_id": ids[100:200], "label": truth[100:200]}), model="lr")
        now = int(time.time() * 1000)
        [run] = client.run_monitors(now=now - now % H + H)
        assert run.error is None and sum(w.rows for w in run.windows) == 300

        def total(series: str, **labels: str) -> list[float]:
            return [p.value for p in client.query_series("lr@production", series, labels=labels or None)
                    if p.value is not None]

        assert sum(total("labelled_rows")) == 200 and sum(total("unlabelled_rows")) == 100
        assert max(total("feature_drift_score", feature="f0")) > 3 * max(total("feature_drift_score", feature="f5"))
        assert max(total("drift_share")) > 0
        assert all(0.8 < a <= 1 for a in total("accuracy"))  # the model fits y = f0 + f1 > 0 well
        assert total("estimated_accuracy") and total("roc_auc")
        assert max(total("p99_latency_ms")) > 0 and total("error_rate") == [0.0] * len(total("error_rate"))
        assert [w.version for w in run.windows if w.rows] == ["1"] * len([w for w in run.windows if w.rows])

        data = client.monitor_report("lr@production", since=started - H, until=now - now % H + H)
        (tmp_path / "report.html").write_text(render_html(data))
        (tmp_path / "report.json").write_bytes(orjson.dumps(data.to_json(), option=orjson.OPT_SERIALIZE_NUMPY))
    html = (tmp_path / "report.html").read_text()
    assert "f0" in html and "<svg" in html and "<script" not in html
    report = orjson.loads((tmp_path / "report.json").read_bytes())
    assert next(f for f in report["features"] if f["name"] == "f0")["drifted"] is True
    assert "accuracy" in report["performance"] and "estimated_accuracy" in report["performance"]

    with running_server(shipyard.Config(home=home)) as api:
        text = httpx.get(f"{api.url}/metrics").text
    families = {f.name: f.samples for f in text_string_to_metric_families(text)}
    f0 = [s for s in families["shipyard_feature_drift_score"] if s.labels["feature"] == "f0"]
    assert len(f0) == 1 and f0[0].labels["model"] == "lr@production"
    assert {s.labels["metric"] for s in families["shipyard_model_metric"]} >= {"estimated_accuracy"}
    assert set(COLUMNS) >= {s.labels["feature"] for s in families["shipyard_missing_rate"]}
