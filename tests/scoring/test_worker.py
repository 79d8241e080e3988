"""What a scoring worker does once per process: load the verified model, limit its native threads."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from shipyard import Client
from tests.scoring.conftest import register_model

_PROBE = """
import json, sys
from threadpoolctl import threadpool_info
from shipyard.scoring._worker import loaded_model
loaded_model(sys.argv[1], sys.argv[2], 1)
print(json.dumps(sorted({(i["internal_api"], i["num_threads"]) for i in threadpool_info()})))
"""


def test_a_worker_limited_to_one_thread_keeps_every_pool_its_model_loads_to_one(client: Client) -> None:
    uri = register_model(client)
    model = client.load_model(uri)
    manifest = hashlib.sha256((model.path / "model.yaml").read_bytes()).hexdigest()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}  # the defaults: every core
    out = subprocess.run([sys.executable, "-c", _PROBE, str(Path(model.path).absolute()), manifest], env=env,
                         capture_output=True, text=True, check=True, timeout=120)
    pools = json.loads(out.stdout)
    assert pools, "scikit-learn's model loaded no native pool to limit"
    assert {threads for _, threads in pools} == {1}, pools
