"""``batch_predict`` on a real two-node Ray cluster on this machine (``ray start`` on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from shipyard import Client
from shipyard.scoring import batch_predict
from tests.ray_nodes import two_ray_nodes
from tests.scoring.conftest import ROWS, features, register_model

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.xdist_group("ray")  # one cluster at a time on a two-core machine

# Ray replaces 127.0.0.1 with the machine's address; other loopback addresses it keeps.
HEAD_IP, WORKER_IP = "127.0.0.6", "127.0.0.7"


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[None]:
    """A head and a second node, one CPU each; this process is the driver."""
    with two_ray_nodes(HEAD_IP, WORKER_IP):
        yield


def test_ray_tasks_on_two_nodes_give_the_same_output_as_local_processes(two_nodes: None, tmp_path: Path) -> None:
    with Client(home=tmp_path) as client:
        uri = register_model(client)
        frame = features(ROWS, seed=7)
        frame.loc[123, "a"] = float("nan")  # one reject, so the rejects agree too
        client.register_dataset("customers", frame)
        local = batch_predict(uri, "ds:customers@1", "ds:scored-local", workers=2, batch_rows=16_384,
                              client=client)
        on_ray = batch_predict(uri, "ds:customers@1", "ds:scored-ray", executor="ray", batch_rows=16_384,
                               client=client)
        assert len([w for w in on_ray.ran_on if w.startswith("ray node ")]) == 2  # both nodes scored units
        assert (on_ray.rows, on_ray.scored, on_ray.rejected) == (local.rows, local.scored, local.rejected) \
            == (ROWS, ROWS - 1, 1)
        pd.testing.assert_frame_equal(client.get_dataset(on_ray.output.uri).to_pandas(),
                                      client.get_dataset(local.output.uri).to_pandas())
        rejects = [Path(client.download_artifacts(r.run_id, "rejects.jsonl", tmp_path / r.executor)).read_text()
                   for r in (local, on_ray)]
        assert rejects[0] == rejects[1] and '"row":123' in rejects[0]
        assert client.get_run(on_ray.run_id).params["executor"] == "ray"
        edges = {(str(e.src), e.relation, str(e.dst)) for e in client.lineage(on_ray.output.uri).upstream}
        assert ("dataset:customers@1", "input", f"run:{on_ray.run_id}") in edges
        assert ("model_version:churn/1", "served", "dataset:scored-ray@1") in edges
