"""A registration killed half-way leaves no visible version, and a retry finishes it cheaply."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from shipyard import Client, Config
from shipyard.datasets._sql_store import SqlDatasetStore

# Registers a folder, but the process kills itself (SIGKILL, no cleanup) once 5 uploads completed.
_KILLED_MIDWAY = """
import os, signal, sys, threading
from shipyard import Client, Config
from shipyard.datasets._sql_store import SqlDatasetStore

real, lock, done = SqlDatasetStore.put_object, threading.Lock(), []
def put_then_die(self, path, digest):
    with lock:
        if len(done) >= 5:
            os.kill(os.getpid(), signal.SIGKILL)
    real(self, path, digest)
    with lock:
        done.append(digest)
SqlDatasetStore.put_object = put_then_die
from pathlib import Path
Client(Config(home=Path(sys.argv[1]))).register_dataset("photos", sys.argv[2])
"""


def test_a_killed_upload_leaves_no_version_and_can_be_retried(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(30):
        (folder / f"{i:02}.jpg").write_bytes(bytes([i]) * 1000)
    home = tmp_path / "home"
    done = subprocess.run([sys.executable, "-c", _KILLED_MIDWAY, str(home), str(folder)], timeout=120)
    assert done.returncode == -9
    with Client(Config(home=home)) as client:
        assert client.list_datasets() == []
        digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()]
        stored = len(digests) - len(client.dataset_store.missing_objects(digests))
        uploads: list[str] = []
        real = SqlDatasetStore.put_object
        monkeypatch.setattr(SqlDatasetStore, "put_object",
                            lambda self, path, digest: (uploads.append(digest), real(self, path, digest))[1])
        version = client.register_dataset("photos", folder)
        assert version.version == 1 and version.num_files == 30
        assert stored >= 5 and len(uploads) == 30 - stored  # what was stored before the kill is not sent again
        assert sorted(p.name for p in client.get_dataset("photos").path().iterdir()) == sorted(
            p.name for p in folder.iterdir())
