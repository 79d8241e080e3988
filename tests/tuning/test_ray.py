"""The same search as Ray tasks on a real two-node cluster on this machine (``ray start`` on loopback)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from shipyard import Client
from shipyard.tuning import tune
from tests.ray_nodes import two_ray_nodes
from tests.tuning import objectives
from tests.tuning.test_search import BOWL

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.xdist_group("ray")  # one cluster at a time on a two-core machine

# Ray replaces 127.0.0.1 with the machine's address; other loopback addresses it keeps.
HEAD_IP, WORKER_IP = "127.0.0.4", "127.0.0.5"


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[list[str]]:
    """A head and a second node, one CPU each; this process is the driver. Yields the node ids."""
    with two_ray_nodes(HEAD_IP, WORKER_IP) as nodes:
        yield nodes.alive_nodes()


def test_the_same_search_runs_as_ray_tasks_on_both_nodes(two_nodes: list[str], client: Client) -> None:
    started = time.monotonic()
    on_ray = tune(objectives.where_it_ran, BOWL, n_trials=8, sampler="random", seed=11, executor="ray",
                  name="on-ray", client=client)
    took = time.monotonic() - started
    local = tune(objectives.bowl_objective, BOWL, n_trials=8, sampler="random", seed=11, name="here", client=client)
    runs = client.search_runs(filter=f"tags.`shipyard.tuning.search` = '{on_ray.run_id}'").items
    assert len(runs) == 8 and {r.status.value for r in runs} == {"FINISHED"}
    assert {r.tags["shipyard.host"] for r in runs} == {f"ray:{node}" for node in two_nodes}
    assert all(client.get_metric_history(r.id, "intermediate/objective") for r in runs)
    # A random sampler draws the same points wherever trials run: the same best trial.
    assert (on_ray.best_trial, on_ray.best_params, on_ray.best_value) == \
        (local.best_trial, local.best_params, local.best_value)
    assert took < 60
