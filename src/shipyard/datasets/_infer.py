"""Inferring a contract from a profile: a starting point to review and edit.

What is inferred, column by column: the type family; ``nullable: false`` when no
value was missing; ``min``/``max`` for numeric columns (the observed range);
``allowed`` for string and boolean columns with at most ``max_categories``
distinct values; ``unique`` when every value is known to be distinct (exact for
categorical columns, never guessed from an estimate). The row count is not
bounded. The data the contract was inferred from always passes it.

>>> import pyarrow as pa
>>> contract = infer_contract(pa.table({"plan": ["a", "b", "a"], "x": [1, 2, 3]}))
>>> contract["plan"].allowed, contract["x"].max
(('a', 'b'), 3)
"""

from __future__ import annotations

from typing import Any

from shipyard.datasets._contract import Column, Contract
from shipyard.datasets._entities import DatasetVersion
from shipyard.datasets._profile import ColumnProfile, Profile
from shipyard.errors import InvalidInput

__all__ = ["infer_contract"]

_FAMILY_BY_PREFIX = (("int", "int"), ("uint", "int"), ("double", "float"), ("float", "float"),
                     ("halffloat", "float"), ("decimal", "number"), ("string", "string"),
                     ("large_string", "string"), ("bool", "bool"), ("timestamp", "timestamp"), ("date", "date"))


def infer_contract(source: Any, *, max_categories: int = 20, name: str | None = None) -> Contract:
    """A contract that ``source`` satisfies: a Profile, a dataset version or handle
    (its stored profile), or data (profiled first)."""
    version = source.version if isinstance(getattr(source, "version", None), DatasetVersion) else source
    if isinstance(version, DatasetVersion):
        if version.profile is None:
            raise InvalidInput(f"{version.ref} holds {version.format!r} files: no table to infer a contract from",
                               field="source")
        profile, name = version.profile, name or version.ref
    else:
        profile = _profile_of(source)
    return Contract(tuple(_column(c, max_categories) for c in profile), name=name)


def _profile_of(source: Any) -> Profile:
    if isinstance(source, Profile):
        return source
    from shipyard.datasets._profiling import profile_table
    from shipyard.datasets._tables import as_table

    return profile_table(as_table(source))


def _family(type_: str) -> str | None:
    if type_.startswith("dictionary"):
        type_ = type_.split("values=", 1)[-1]
    for prefix, family in _FAMILY_BY_PREFIX:
        if type_.startswith(prefix):
            return family
    return None


def _column(c: ColumnProfile, max_categories: int) -> Column:
    rules: dict[str, Any] = {"type": _family(c.type), "nullable": bool(c.nulls or c.nan or not c.count)}
    if c.kind == "numeric" and c.count:
        rules["min"], rules["max"] = c.min, c.max
    if c.kind == "categorical" and c.top is not None and c.top_complete and len(c.top) <= max_categories:
        rules["allowed"] = tuple(sorted((v for v, _ in c.top), key=str))
    if c.kind == "categorical" and c.distinct_exact is not None and c.count > 1 and c.distinct_exact == c.count:
        rules["unique"] = True
    return Column(c.name, **rules)
