"""Turning what the user registers into local files, and hashing them in parallel.

:func:`stage` accepts a pandas or polars DataFrame or an Arrow table (written to
one Parquet file), a Parquet or CSV file, a folder, or an ``s3://bucket/prefix``
(downloaded to a temporary folder). Files on local disk are used where they are,
not copied. DataFrames are written deterministically (fixed compression, row-group
size and column order), so the same table registered twice with the same library
versions gives byte-identical Parquet and hence the same version.

Hashing the staged files is :mod:`shipyard.datasets._hashing`'s job.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidInput, MissingExtra, NotFound, StorageError

__all__ = ["Staged", "stage"]

_ROW_GROUP = 1 << 20


@dataclass(frozen=True)
class Staged:
    """Local files ready to register: ``root / path`` for each relative ``path``.

    ``temporary`` is true when the files were written or downloaded for this
    registration (their hashes are not worth remembering).
    """

    root: Path
    paths: list[str]
    source: str
    temporary: bool = False

    def local(self, path: str) -> Path:
        return self.root / path


@contextlib.contextmanager
def stage(source: Any, *, storage_options: Mapping[str, Any] | None = None,
          workers: int = 8) -> Iterator[Staged]:
    """Local files for ``source``; temporary files are removed when the block exits."""
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if text.startswith("s3://"):
            with _temporary() as tmp:
                yield _download_s3(text, tmp, storage_options or {}, workers)
            return
        yield _local(Path(text))
        return
    from shipyard.datasets._tables import as_table

    table = as_table(source, keep_index=True)
    with _temporary() as tmp:
        import pyarrow.parquet as pq

        pq.write_table(table, tmp / "data.parquet", compression="zstd", row_group_size=_ROW_GROUP,
                       write_statistics=True)
        yield Staged(tmp, ["data.parquet"], f"{type(source).__module__.split('.')[0]}.{type(source).__name__}", True)


@contextlib.contextmanager
def _temporary() -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix="shipyard-dataset-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _local(path: Path) -> Staged:
    if path.is_file():
        return Staged(path.parent, [path.name], str(path.absolute()))
    if not path.is_dir():
        raise NotFound(f"no such file or folder: {str(path)!r}", resource="file", path=str(path))
    paths = []
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        relative = Path(folder).relative_to(path).as_posix()
        for name in sorted(files):
            paths.append(name if relative == "." else f"{relative}/{name}")
    return Staged(path, paths, str(path.absolute()))


def _download_s3(uri: str, tmp: Path, options: Mapping[str, Any], workers: int) -> Staged:
    rest = uri.removeprefix("s3://")
    prefix = rest.strip("/")
    if not rest.split("/", 1)[0]:
        raise InvalidInput(f"source {uri!r} names no bucket: write s3://BUCKET or s3://BUCKET/PREFIX",
                           field="source", path=uri)
    try:
        import s3fs
    except ImportError:
        raise MissingExtra("s3fs", "s3") from None
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

    fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False, **options)
    try:
        keys = sorted(k for k in fs.find(prefix) if not k.endswith("/"))
        paths = [k[len(prefix):].lstrip("/") or k.rsplit("/", 1)[-1] for k in keys]

        def fetch(pair: tuple[str, str]) -> None:
            key, path = pair
            (tmp / path).parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(key, str(tmp / path))

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(fetch, zip(keys, paths, strict=True)))
    except FileNotFoundError:
        raise NotFound(f"nothing at {uri!r}", resource="file", path=uri) from None
    except (NoCredentialsError, PartialCredentialsError):
        raise StorageError(f"cannot read {uri}: no AWS credentials (set AWS_ACCESS_KEY_ID and "
                           "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE; for MinIO or another S3-compatible store "
                           "also set s3_endpoint_url, SHIPYARD_S3_ENDPOINT_URL)", path=uri) from None
    except (OSError, BotoCoreError, ClientError) as exc:
        raise StorageError(f"cannot read {uri}: {exc}", path=uri) from None
    return Staged(tmp, paths, uri, True)
