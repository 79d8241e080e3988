"""Model URIs: ``models:/name/3``, ``models:/name@alias``, ``models:/name/latest``, ``runs:/<id>/path``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shipyard.errors import InvalidInput

__all__ = ["ModelRef", "parse_model_uri"]


@dataclass(frozen=True)
class ModelRef:
    """A parsed model URI. Exactly the fields of its ``kind`` are set."""

    kind: Literal["version", "alias", "latest", "run"]
    name: str | None = None
    version: int | None = None
    alias: str | None = None
    run_id: str | None = None
    path: str | None = None


def parse_model_uri(uri: str) -> ModelRef:
    """Parse a model URI.

    >>> parse_model_uri("models:/churn@production")
    ModelRef(kind='alias', name='churn', version=None, alias='production', run_id=None, path=None)
    >>> parse_model_uri("runs:/0123456789abcdef0123456789abcdef/model").path
    'model'
    """
    if not isinstance(uri, str):
        raise InvalidInput(f"model URI must be a string, got {uri!r}", field="uri")
    if uri.startswith("runs:/"):
        rest = uri[len("runs:/"):].strip("/")
        run_id, _, path = rest.partition("/")
        if len(run_id) != 32 or not path:
            raise InvalidInput(f"expected runs:/<run id>/<path>, got {uri!r}", field="uri")
        return ModelRef("run", run_id=run_id, path=path)
    if not uri.startswith("models:/"):
        raise InvalidInput(
            f"expected a model URI (models:/name/3, models:/name@alias, runs:/<id>/path), got {uri!r}",
            field="uri",
        )
    rest = uri[len("models:/"):].strip("/")
    if "@" in rest:
        name, _, alias = rest.partition("@")
        if not name or not alias or "/" in alias:
            raise InvalidInput(f"expected models:/<name>@<alias>, got {uri!r}", field="uri")
        return ModelRef("alias", name=name, alias=alias)
    name, _, version = rest.rpartition("/")
    if not name or not version:
        raise InvalidInput(f"expected models:/<name>/<version>, got {uri!r}", field="uri")
    if version == "latest":
        return ModelRef("latest", name=name)
    if not version.isdigit() or int(version) < 1:
        raise InvalidInput(f"model version must be a positive integer or 'latest', got {version!r}",
                           field="uri")
    return ModelRef("version", name=name, version=int(version))
