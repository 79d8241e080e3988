"""A monitor's reference must hold the model's inputs: refused at creation, never a silent ``ok``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard import Client
from shipyard.errors import InvalidInput
from shipyard.monitoring import CoverageWarning
from tests.monitoring.conftest import T0, H, log_frame, reference_frame, write_segments


def unrelated_frame(n: int = 500) -> pd.DataFrame:
    """A dataset sharing no column with the churn model's inputs (age, spend, plan)."""
    rng = np.random.default_rng(3)
    return pd.DataFrame({"height": rng.normal(170, 10, n), "weight": rng.normal(70, 8, n)})


def test_a_reference_with_none_of_the_logged_inputs_is_refused_naming_them(client: Client) -> None:
    write_segments(client, log_frame(T0, 200))
    client.register_dataset("people", unrelated_frame())
    with pytest.raises(InvalidInput) as caught:
        client.create_monitor("churn@production", reference="ds:people@1", window="1h", start=T0)
    error = caught.value
    assert error.context["field"] == "reference" and sorted(error.context["missing"]) == ["age", "plan", "spend"]
    assert "age" in error.message and "height" in error.message and "inference log" in error.message
    assert client.list_monitors() == []


def test_the_registered_signature_says_what_the_model_reads(client: Client) -> None:
    from sklearn.linear_model import LinearRegression

    x = pd.DataFrame({"age": [30.0, 40.0, 50.0, 60.0], "spend": [1.0, 2.0, 3.0, 5.0]})
    run = client.create_run("training")
    client.log_model(run.id, LinearRegression().fit(x, [0.0, 1.0, 1.0, 2.0]), "model", input_example=x[:2],
                     registered_model_name="churn")
    client.end_run(run.id)
    client.set_alias("churn", "production", 1)
    client.register_dataset("people", unrelated_frame())
    with pytest.raises(InvalidInput, match="signature of churn version 1") as caught:
        client.create_monitor("churn@production", reference="ds:people@1", window="1h")
    assert sorted(caught.value.context["missing"]) == ["age", "spend"]


def test_a_reference_lacking_some_inputs_warns_naming_them(client: Client) -> None:
    write_segments(client, log_frame(T0, 200))
    client.register_dataset("churn-train", reference_frame().drop(columns=["spend"]))
    with pytest.warns(CoverageWarning, match="spend"):
        monitor = client.create_monitor("churn@production", reference="ds:churn-train@1", window="1h", start=T0,
                                        label_column="churned", delay_s=0)
    assert client.get_monitor(monitor.name) == monitor
    [run] = client.run_monitors(now=T0 + H)
    [window] = run.windows
    assert window.status == "ok" and "spend" in (window.detail or "")


def test_a_label_column_the_reference_lacks_is_refused(client: Client) -> None:
    client.register_dataset("churn-train", reference_frame())
    client.registry_store.create_registered_model("churn")
    with pytest.raises(InvalidInput) as caught:
        client.create_monitor("churn@production", reference="ds:churn-train@1", label_column="churn")
    assert caught.value.context["field"] == "label_column" and "churned" in caught.value.message


def test_a_window_that_compares_nothing_is_incomparable_not_ok(client: Client) -> None:
    # Created before the model logged anything (registered without a signature), so its
    # inputs were not known to check.
    client.register_dataset("people", unrelated_frame())
    client.registry_store.create_registered_model("churn")
    client.create_monitor("churn@production", reference="ds:people@1", window="1h", start=T0, delay_s=0)
    write_segments(client, log_frame(T0, 400, shift=30.0))  # heavily shifted traffic
    [run] = client.run_monitors(now=T0 + H)
    [window] = run.windows
    assert window.rows == 400 and window.status == "incomparable"
    assert "age" in (window.detail or "") and "height" in (window.detail or "")
    [share] = [p.value for p in client.query_series("churn@production", "drift_share")]
    assert share is None
    assert [w.status for w in client.list_monitor_windows("churn@production")] == ["incomparable"]
    report = client.monitor_report("churn@production", since=T0, until=T0 + H)
    assert report.quality["windows"]["incomparable"] == 1
