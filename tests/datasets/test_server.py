"""The server never lets a remote client create a version whose bytes it does not hold."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from shipyard import Client, Config
from shipyard.datasets import DatasetFile, VersionSpec
from shipyard.errors import IntegrityError, InvalidInput, NotFound
from tests.services import running_server


@pytest.fixture
def remote(tmp_path: Path):
    with running_server(Config(home=tmp_path / "server")) as server, \
            Client(Config(home=tmp_path / "client", url=server.url)) as client:
        yield server.url, client.dataset_store


def test_uploads_are_checked_against_their_digest(remote, tmp_path: Path) -> None:
    _, store = remote
    good = tmp_path / "good.bin"
    good.write_bytes(b"hello")
    digest = hashlib.sha256(b"hello").hexdigest()
    assert store.missing_objects([digest]) == [digest]
    store.put_object(good, digest)
    assert store.missing_objects([digest]) == []
    with pytest.raises(IntegrityError):
        store.put_object(good, "0" * 64)
    with pytest.raises(InvalidInput):
        store.missing_objects(["not-a-digest"])


def test_a_version_naming_unuploaded_objects_is_refused(remote) -> None:
    _, store = remote
    spec = VersionSpec([DatasetFile("a.bin", "a" * 64, 3)], "files")
    with pytest.raises(InvalidInput, match="not uploaded"):
        store.create_version("ghost", spec)
    with pytest.raises(NotFound):
        store.resolve("ghost")


def test_file_downloads_are_per_version_and_path(remote, tmp_path: Path) -> None:
    url, store = remote
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "x.txt").write_text("payload")
    from shipyard.datasets import register_version

    version = register_version(store, "docs", folder)
    answer = httpx.get(f"{url}/api/v1/datasets/docs/versions/{version.version}/files/x.txt")
    assert answer.content == b"payload"
    assert answer.headers["x-shipyard-digest"] == hashlib.sha256(b"payload").hexdigest()
    assert httpx.get(f"{url}/api/v1/datasets/docs/versions/1/files/nope.txt").status_code == 404
    assert httpx.get(f"{url}/api/v1/datasets/docs/versions/9/files/x.txt").status_code == 404
