"""What the dataset routes (``/api/v1/datasets``) answer, as OpenAPI schemas.

Each model mirrors what :mod:`shipyard.datasets._codec` sends, field for field, and forbids
other fields. A version's lineage has the registry's shape
(:class:`~shipyard.server._registry_schemas.LineageGraph`). Times are integer milliseconds.

A short fixed-length list (a file's ``[path, sha256, size]``) is declared as an array of
its element types with its length, not with ``prefixItems``: schema tools that read the
document in older drafts' terms turn ``prefixItems`` into a list-valued ``items`` and
then reject the schema.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from shipyard.server._schemas import Page

__all__ = ["Dataset", "DatasetFile", "DatasetFiles", "DatasetVersion", "MissingObjects", "StoredObject"]

_EXACT = ConfigDict(extra="forbid")


class Dataset(BaseModel):
    """A named dataset; its versions are numbered from 1."""

    model_config = _EXACT

    name: str
    latest_version: int | None
    description: str | None
    created_at: int
    updated_at: int


class DatasetVersion(BaseModel):
    """One immutable version; ``digest`` is its content hash. A list of versions leaves ``profile`` null."""

    model_config = _EXACT

    name: str
    version: int
    digest: str
    format: str = Field(description="parquet, csv or files")
    num_files: int
    num_bytes: int
    num_rows: int | None
    schema_: dict[str, Any] | None = Field(alias="schema", description='{"columns": [{"name", "type"}, ...]}')
    profile: dict[str, Any] | None
    source: str | None
    description: str | None
    tags: dict[str, str]
    run_id: str | None = Field(description="The run that produced the version")
    user: str | None
    created_at: int


DatasetFile = Annotated[list[str | int], Field(min_length=3, max_length=3, description="[path, sha256, size in bytes]")]


class DatasetFiles(Page[DatasetFile]):
    """One page of a version's files, by path."""


class MissingObjects(BaseModel):
    """The digests the server does not hold yet: upload those before creating the version."""

    model_config = _EXACT

    missing: list[str]


class StoredObject(BaseModel):
    model_config = _EXACT

    digest: str
