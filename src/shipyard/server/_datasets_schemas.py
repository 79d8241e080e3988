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

__all__ = ["ColumnShift", "Dataset", "DatasetFile", "DatasetFiles", "DatasetVersion", "InferredContract",
           "MissingObjects", "ProfileDiff", "StoredObject", "Validation", "ValidationReport", "Violation"]

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


class ColumnShift(BaseModel):
    """How one column present in both versions moved; pairs are ``[old, new]``. Measures a
    column's kind does not have are absent."""

    model_config = ConfigDict(extra="allow")  # the measures a column's kind has (psi, ks, js, …)

    name: str
    kind: str
    null_fraction: list[float]
    shifted: bool = Field(description="PSI > 0.2, KS > 0.1, JS > 0.1 or the null fraction moved > 5 points")


class ProfileDiff(BaseModel):
    """What changed from version ``old`` to version ``new``, read from their stored profiles."""

    model_config = _EXACT

    name: str
    old: int
    new: int
    rows: list[int] = Field(description="[rows of old, rows of new]")
    added: list[str]
    removed: list[str]
    retyped: list[list[str]] = Field(description="[column, old type, new type] per retyped column")
    columns: list[ColumnShift]


class InferredContract(BaseModel):
    """The contract a version satisfies, inferred from its profile (the YAML form, as JSON)."""

    model_config = _EXACT

    name: str
    version: int
    contract: dict[str, Any]


class Violation(BaseModel):
    model_config = _EXACT

    column: str | None
    rule: str
    count: int
    samples: list[Any]
    message: str


class ValidationReport(BaseModel):
    model_config = _EXACT

    passed: bool
    rows: int
    rules: int
    violations: list[Violation]


class Validation(BaseModel):
    """A version's data checked against the contract inferred from ``contract_version``."""

    model_config = _EXACT

    name: str
    version: int
    contract_version: int
    contract: dict[str, Any]
    report: ValidationReport
