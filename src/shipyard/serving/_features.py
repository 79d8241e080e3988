"""Models that declare features: a request carries entity keys, serving looks the features up.

A model logged with ``features=["user_stats:avg_spend_7d", ...]`` and
``entity_keys=["user_id"]`` (see :func:`shipyard.models.save_model`) is served like
this:

1. **At the door** (:meth:`FeatureInput.check`) the request must carry, as named
   columns, every entity key, every request-time field the features need (inputs of
   on-demand features) and every signature column that is not a feature. OIP v2: one
   tensor per column (shape ``[n]`` or ``[n, 1]``); ``/invocations``: records,
   ``dataframe_split`` with columns, or a dict of columns. A missing one is a
   :class:`~shipyard.serving._errors.MalformedRequest` (HTTP 400) naming it; so is a
   null entity key. Other columns are ignored.
2. **Per micro-batch** (:meth:`FeatureInput.assemble`, called by the batcher with the
   requests of one batch joined): one :meth:`FeatureLookup.lookup` for all their rows,
   then the model's input in its signature's column order, checked by the model's
   own door checks (dtypes, data contract).
3. **No online value** for an entity: the feature is null. A signature column marked
   ``optional`` passes the null to the model (NaN, or None for strings); otherwise the
   request fails with :class:`~shipyard.errors.InvalidInput` (HTTP 422) naming the
   feature and the entity. In a batch, only the requests at fault fail.

Serving never imports the feature store (it sits in a higher layer): the faces hand
the service a factory of a :class:`FeatureLookup`, which
:class:`shipyard.features.OnlineLookup` implements over ``FeatureStore``'s online
path, the same definitions and on-demand functions that built the training set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.models._package import feature_columns
from shipyard.serving._errors import MalformedRequest
from shipyard.serving._validation import InputCheck

if TYPE_CHECKING:
    from shipyard.models import Model

__all__ = ["MODEL_INPUT", "FeatureInput", "FeatureLookup", "FeatureLookupFactory"]

MODEL_INPUT = "model_input"
"""Output key under which a feature model's batch returns the input it assembled (for the inference log)."""


class FeatureLookup(Protocol):
    """The online features of entities, as serving needs them; implemented by the feature store.

    Both methods may be called from any thread (a batch runs on the event loop or on
    the model's thread) and must be safe to call concurrently.
    """

    def prepare(self, refs: Sequence[str]) -> Sequence[str]:
        """Check that ``refs`` exist; return the request columns they need (join keys and
        request-time fields of on-demand features). Called once per model version."""
        ...

    def lookup(self, refs: Sequence[str], rows: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The value of each ref (key ``"view:feature"``) for each row of ``rows`` (columns of
        equal length: join keys and request fields). Missing values are NaN or None."""
        ...


FeatureLookupFactory = Callable[[], FeatureLookup]
"""Builds the lookup in a serving worker; must be picklable (it travels to worker processes)."""


class FeatureInput:
    """The door and the input assembly of one model version that declares features.

    ``columns`` maps each signature column filled by a feature to its reference;
    ``request_columns`` are what each request must carry.
    """

    def __init__(self, model: Model, lookup: FeatureLookup) -> None:
        manifest = model.manifest
        signature = model.signature
        self.refs = list(manifest.features)
        self.entity_keys = list(manifest.entity_keys)
        self.columns = feature_columns(signature, self.refs)
        assert signature is not None  # feature_columns refuses a model without a column signature
        self.signature = signature
        self.lookup = lookup
        needed = list(lookup.prepare(self.refs))
        given = [name for name in signature.names if name not in self.columns]
        self.request_columns: list[str] = list(dict.fromkeys([*self.entity_keys, *needed, *given]))
        self.model_check = InputCheck(signature, manifest.metadata.get("data_contract"))
        self._sources = [(name, self.columns.get(name)) for name in signature.names]
        specs = {spec.name: spec for spec in signature.inputs}
        self._required = [(column, ref) for column, ref in self.columns.items() if not specs[column].optional]
        # Float columns refuse nulls in the model's own check; the others are checked here.
        self._required_other = [(column, ref) for column, ref in self._required
                                if getattr(specs[column].numpy_dtype, "kind", None) != "f"]
        # One float dtype for every column: the matrix is built here, and the model's check
        # takes it as is (no per-column conversion in the signature validator).
        dtypes = {spec.numpy_dtype for spec in signature.inputs}
        only = dtypes.pop() if len(dtypes) == 1 else None
        self._matrix_dtype = only if only is not None and only.kind == "f" else None

    # -- at the door -------------------------------------------------------------------------

    def check(self, raw: Any) -> tuple[dict[str, np.ndarray], int]:
        """The request's columns (named in :attr:`request_columns`) and its row count."""
        columns = _named_columns(raw, self.request_columns)
        rows = -1
        for name in self.request_columns:
            values = columns.get(name)
            if values is None:
                raise MalformedRequest(f"the request lacks {_what(name, self.entity_keys)} {name!r}: a model that "
                                       f"looks up features takes {self.request_columns}", field=name)
            if rows == -1:
                rows = len(values)
            elif len(values) != rows:
                raise MalformedRequest(f"column {name!r} has {len(values)} values, the others {rows}", field=name)
        if rows <= 0:
            raise InvalidInput("the request has no rows", field="input")
        for key in self.entity_keys:
            missing = _missing(columns[key])
            if missing.any():
                raise MalformedRequest(f"entity key {key!r} is null in row {int(np.argmax(missing))}", field=key)
        return columns, rows

    # -- per batch ----------------------------------------------------------------------------

    def assemble(self, request: Mapping[str, np.ndarray]) -> Any:
        """Look up the features of every row and return the model's validated input."""
        found = self.lookup.lookup(self.refs, request)
        table = {name: request[name] if ref is None else found[ref] for name, ref in self._sources}
        if self._required_other:
            self._refuse_missing(table, request, self._required_other)
        inputs: Any = table
        if self._matrix_dtype is not None and all(a.dtype.kind in "biuf" for a in table.values()):
            inputs = np.empty((len(next(iter(table.values()))), len(table)), dtype=self._matrix_dtype)
            for j, values in enumerate(table.values()):
                inputs[:, j] = values
        try:
            return self.model_check(inputs)[0]
        except InvalidInput:
            self._refuse_missing(table, request, self._required)  # say which entity lacks which feature
            raise

    def _refuse_missing(self, table: Mapping[str, np.ndarray], request: Mapping[str, np.ndarray],
                        required: list[tuple[str, str]]) -> None:
        for column, ref in required:
            missing = _missing(table[column])
            if missing.any():
                row = int(np.argmax(missing))
                entity = {key: _plain(request[key][row]) for key in self.entity_keys}
                raise InvalidInput(f"feature {ref!r} has no online value for {entity or f'row {row}'}, and the "
                                   f"model's signature does not mark column {column!r} optional", field=column,
                                   entity=entity)


def _what(name: str, keys: Sequence[str]) -> str:
    return "entity key" if name in keys else "field"


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _missing(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in "fc":
        return np.isnan(values)
    if values.dtype.kind == "O":
        return np.asarray(pd.isna(values), dtype=bool)
    return np.zeros(len(values), dtype=bool)


def _column(values: Any, name: str) -> np.ndarray:
    array = values if isinstance(values, np.ndarray) else np.asarray(values)
    if array.ndim == 0:
        array = array.reshape(1)
    elif array.ndim == 2 and array.shape[1] == 1:
        array = array.reshape(-1)
    elif array.ndim != 1:
        raise MalformedRequest(f"column {name!r} must hold one value per row (shape [n] or [n, 1]), "
                               f"got shape {list(array.shape)}", field=name)
    return array.astype(object) if array.dtype.kind in "US" else array


def _named_columns(raw: Any, wanted: Sequence[str]) -> dict[str, np.ndarray]:
    """The ``wanted`` columns of a request in any of the shapes the codecs produce."""
    if isinstance(raw, pd.DataFrame):
        return {name: _column(raw[name].to_numpy(), name) for name in wanted if name in raw.columns}
    if isinstance(raw, Mapping):
        return {name: _column(raw[name], name) for name in wanted if name in raw}
    if isinstance(raw, list) and raw and all(isinstance(r, Mapping) for r in raw):
        columns = {}
        for name in wanted:
            present = [name in record for record in raw]
            if any(present):
                if not all(present):
                    raise MalformedRequest(f"record {present.index(False)} lacks {name!r}", field=name)
                columns[name] = _column([record[name] for record in raw], name)
        return columns
    raise MalformedRequest(f"a model that looks up features takes named columns {list(wanted)} (records, a dict of "
                           "columns, or one OIP tensor per column), not a bare matrix", field="inputs")
