"""Materialising stored files: the folder appears whole or not at all, whoever else is at it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from shipyard.errors import InvalidInput, Unavailable
from shipyard.store import materialize


def write(file: SimpleNamespace, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(file.path)


def test_every_file_is_in_the_folder_under_its_own_path(tmp_path: Path) -> None:
    files = [SimpleNamespace(path=p) for p in ("a.txt", "sub/b.txt", "sub/deeper/c.txt")]
    for workers in (1, 4):
        folder = materialize(tmp_path / f"v{workers}", files, write, workers=workers)
        assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*.txt")) == [
            "a.txt", "sub/b.txt", "sub/deeper/c.txt"]
        assert (folder / "sub" / "b.txt").read_text() == "sub/b.txt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v1", "v4"]  # no temporary folder left


def test_a_failed_fetch_leaves_nothing_behind(tmp_path: Path) -> None:
    def flaky(file: SimpleNamespace, dest: Path) -> None:
        if file.path == "b.txt":
            raise Unavailable("the store went away")
        write(file, dest)

    with pytest.raises(Unavailable):
        materialize(tmp_path / "v1", [SimpleNamespace(path="a.txt"), SimpleNamespace(path="b.txt")], flaky)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_taken_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "v1").mkdir()
    fetched: list[str] = []
    folder = materialize(tmp_path / "v1", [SimpleNamespace(path="a.txt")], lambda f, d: fetched.append(f.path))
    assert folder == tmp_path / "v1" and fetched == []


def test_a_path_escaping_the_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        materialize(tmp_path / "v1", [SimpleNamespace(path="../outside.txt")], write)
    assert not (tmp_path / "outside.txt").exists() and list(tmp_path.iterdir()) == []
