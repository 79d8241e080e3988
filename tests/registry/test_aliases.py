"""Alias resolution through the client's cache, and concurrent alias changes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

from shipyard import Client, Config
from shipyard.testing.registry import fake_package_run


def test_cached_resolution_sees_an_alias_moved_by_another_client(client_config: Config) -> None:
    first, second = Client(client_config), Client(client_config)
    run_id = fake_package_run(first.tracking_store)
    for _ in range(2):
        first.register_model(f"runs:/{run_id}/model", "churn")
    first.set_alias("churn", "production", 1)
    assert first.resolve_model("models:/churn@production").version == 1
    assert first.resolve_model("models:/churn@production").version == 1  # served from the cache
    second.set_alias("churn", "production", 2)
    assert first.resolve_model("models:/churn@production").version == 2
    first.close()
    second.close()


SETTER = """
    import sys, time, shipyard
    client = shipyard.Client()
    client.resolve_model("models:/churn/1")  # open the stores before the starting gun
    time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
    client.set_alias("churn", "production", int(sys.argv[1]), reason=f"process {sys.argv[1]}")
"""


def test_two_processes_setting_one_alias_at_once_leave_one_winner_and_both_events(
    client_config: Config,
) -> None:
    client = Client(client_config)
    run_id = fake_package_run(client.tracking_store)
    for _ in range(2):
        client.register_model(f"runs:/{run_id}/model", "churn")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env["SHIPYARD_HOME"] = str(client_config.home)
    if client_config.url:
        env["SHIPYARD_URL"] = client_config.url
    else:
        env["SHIPYARD_DB"] = client_config.database_url
    start = time.time() + 3
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(SETTER), str(v), str(start)], env=env)
             for v in (1, 2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    holder = client.get_registered_model("churn").aliases
    assert list(holder) == ["production"] and holder["production"] in (1, 2)
    events = [e for e in client.model_history("churn") if e.action == "set_alias"]
    assert sorted(e.after["version"] for e in events) == [1, 2]
    # The log tells the true order: the later event is the winner, and its "before"
    # is what the earlier event set.
    assert events[-1].after["version"] == holder["production"]
    assert events[-1].before["version"] == events[0].after["version"]
    client.close()
