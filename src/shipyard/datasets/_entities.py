"""Value objects of dataset versioning, and the grammar of dataset references.

A *dataset* is a name; a *version* is an immutable, numbered set of files whose
bytes live in the content-addressed artifact store. The version's ``digest`` is
its content hash (see :func:`content_hash`), so registering the same bytes under
the same name again finds the existing version instead of creating one.

References name a version in text: ``churn`` or ``churn@latest`` (the newest),
``churn@3`` (a number), ``churn@9f2c41d0`` (a prefix of at least 8 hex characters
of the content hash), a bare 64-character content hash, each optionally prefixed
with ``ds:``.

>>> parse_dataset_ref("ds:churn@3")
DatasetRef(name='churn', version=3, digest=None)
>>> content_hash([DatasetFile("a.csv", "0" * 64, 1)])[:12]
'18cda69050a8'
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput
from shipyard.store import check_name

if TYPE_CHECKING:
    from shipyard.datasets._profile import Profile

__all__ = [
    "FORMATS",
    "Dataset",
    "DatasetFile",
    "DatasetRef",
    "DatasetVersion",
    "content_hash",
    "now_ms",
    "parse_dataset_ref",
    "validate_dataset_name",
]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]{0,255}\Z")
_HEX_RE = re.compile(r"^[0-9a-f]{8,64}\Z")

#: How a version's files read as a table: Parquet files, CSV files, or opaque files.
FORMATS = ("parquet", "csv", "files")


def now_ms() -> int:
    """The current time in integer milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def validate_dataset_name(name: Any) -> str:
    """Dataset names: 1-256 letters, digits or ``_ - .``, starting with a letter or digit.

    ``@``, ``/`` and ``:`` are excluded because references use them.
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(check_name(name, "name")):
        raise InvalidInput(
            f"dataset name must be 1-256 letters, digits or _-. starting with a letter or digit, got {name!r}",
            field="name",
        )
    return name


@dataclass(frozen=True, slots=True)
class DatasetFile:
    """One file of a version: its relative POSIX path, sha256 and size in bytes."""

    path: str
    digest: str
    size: int


def content_hash(files: Iterable[DatasetFile]) -> str:
    """The content hash of a version: sha256 of its manifest in ``sha256sum`` form.

    The manifest is one line ``"<sha256>  <path>\\n"`` per file, sorted by path, so
    two versions have the same hash exactly when they hold the same bytes under the
    same relative paths (file order, timestamps and permissions do not count).
    """
    lines = sorted(f"{f.digest}  {f.path}\n" for f in files)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


@dataclass(frozen=True)
class Dataset:
    """A named dataset: its versions are numbered from 1."""

    name: str
    latest_version: int | None = None
    description: str | None = None
    created_at: int = 0
    updated_at: int = 0


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a dataset.

    ``digest`` is the content hash; ``format`` is one of :data:`FORMATS`;
    ``num_rows``, ``schema`` (``{"columns": [{"name", "type"}…]}``) and ``profile``
    are None for opaque files. ``run_id`` is the run that produced the version, if any.
    """

    name: str
    version: int
    digest: str
    format: str
    num_files: int
    num_bytes: int
    num_rows: int | None = None
    schema: dict[str, Any] | None = None
    profile: Profile | None = field(default=None, repr=False)
    source: str | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None
    user: str | None = None
    created_at: int = 0

    @property
    def ref(self) -> str:
        """``name@version``, the id of this version's lineage node."""
        return f"{self.name}@{self.version}"

    @property
    def uri(self) -> str:
        """``ds:name@version``, what :meth:`Client.lineage` and ``get`` accept."""
        return f"ds:{self.ref}"

    @property
    def columns(self) -> list[str]:
        return [c["name"] for c in (self.schema or {}).get("columns", [])]


@dataclass(frozen=True)
class DatasetRef:
    """A parsed reference: a name with a version number, a hash prefix, or neither (latest).

    A bare content hash parses to ``name=None`` and the full ``digest``.
    """

    name: str | None
    version: int | None = None
    digest: str | None = None

    @property
    def is_latest(self) -> bool:
        return self.version is None and self.digest is None


def parse_dataset_ref(ref: Any, version: int | str | None = None) -> DatasetRef:
    """Parse ``[ds:]name[@latest|@N|@hexprefix]`` or a bare 64-hex content hash.

    ``version`` (as in ``get("churn", version=3)``) may replace the ``@`` part.
    Anything else raises ``InvalidInput(field="ref")``.
    """
    if not isinstance(ref, str) or not ref:
        raise InvalidInput(f"a dataset reference must be a non-empty string, got {ref!r}", field="ref")
    text = ref.removeprefix("ds:")
    name, at, selector = text.partition("@")
    if version is not None:
        if at:
            raise InvalidInput(f"give the version in {ref!r} or as version=, not both", field="version")
        selector, at = str(version), "@"
    if not at and len(name) == 64 and _HEX_RE.match(name):
        return DatasetRef(None, None, name)
    validate_dataset_name(name)
    if not at or selector == "latest":
        return DatasetRef(name)
    if selector.isdigit() and len(selector) < 8:
        number = int(selector)
        if number < 1:
            raise InvalidInput(f"dataset versions start at 1, got {selector!r}", field="version")
        return DatasetRef(name, number)
    if selector.startswith("v") and selector[1:].isdigit():
        return DatasetRef(name, int(selector[1:]))
    if _HEX_RE.match(selector):
        return DatasetRef(name, None, selector)
    raise InvalidInput(
        f"cannot read {ref!r}: use name, name@latest, name@<version> or name@<8+ hex characters of the hash>",
        field="ref",
    )
