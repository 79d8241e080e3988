"""Remembered hashes: unchanged files are not read again, rewritten ones always are."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from shipyard.datasets._hashing import HashCache, hash_files
from shipyard.datasets._sources import Staged, stage


def _folder(tmp_path: Path, n: int = 20) -> Path:
    root = tmp_path / "src"
    (root / "sub").mkdir(parents=True)
    for i in range(n):
        (root / "sub" / f"{i}.bin").write_bytes(bytes([i]) * 100)
    (root / "big.bin").write_bytes(os.urandom(3 << 20))  # takes the parallel path
    old = time.time() - 60  # older than the racy window
    for path in root.rglob("*.bin"):
        os.utime(path, (old, old))
    return root


def _settle(monkeypatch: pytest.MonkeyPatch) -> None:
    # ctime cannot be set back; pretend we hash a minute later instead.
    real = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: real() + 60 * 10**9)


def test_hashes_match_hashlib_and_unchanged_files_are_not_read(tmp_path: Path, monkeypatch) -> None:
    root = _folder(tmp_path)
    cache = HashCache(tmp_path / "cache")
    _settle(monkeypatch)
    with stage(root) as staged:
        first = hash_files(staged, cache=cache)
    assert {f.path: f.digest for f in first} == {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*.bin")}
    opened: list[str] = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda p, *a, **k: (opened.append(str(p)), real_open(p, *a, **k))[1])
    with stage(root) as staged:
        again = hash_files(staged, cache=cache)
    assert again == first and opened == []


def test_a_rewritten_file_is_hashed_again_even_with_its_old_size_and_mtime(tmp_path: Path, monkeypatch) -> None:
    root = _folder(tmp_path)
    cache = HashCache(tmp_path / "cache")
    _settle(monkeypatch)
    with stage(root) as staged:
        before = {f.path: f.digest for f in hash_files(staged, cache=cache)}
    target = root / "sub" / "3.bin"
    stat = target.stat()
    target.write_bytes(b"Z" * 100)  # same size
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the old mtime: only ctime tells
    with stage(root) as staged:
        after = {f.path: f.digest for f in hash_files(staged, cache=cache)}
    assert after["sub/3.bin"] == hashlib.sha256(b"Z" * 100).hexdigest() != before["sub/3.bin"]
    assert {k: v for k, v in after.items() if k != "sub/3.bin"} == {
        k: v for k, v in before.items() if k != "sub/3.bin"}


def test_recently_changed_and_temporary_files_are_not_remembered(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    (root / "a.txt").write_text("just written")
    cache = HashCache(tmp_path / "cache")
    with stage(root) as staged:
        hash_files(staged, cache=cache)
    assert cache.load(root) == {}  # inside the racy window
    hash_files(Staged(root, ["a.txt"], "tmp", temporary=True), cache=cache)
    assert not any((tmp_path / "cache").glob("*.json"))
