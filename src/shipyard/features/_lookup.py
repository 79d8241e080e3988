"""The feature store as serving's feature lookup: a model's declared features, fetched per batch.

:class:`OnlineLookup` implements :class:`shipyard.serving.FeatureLookup` (structurally:
serving sits below this package and never imports it) over
:meth:`FeatureStore.get_online_features`, so a served request gets the same values,
TTL rules and on-demand functions as ``get_online_features`` from Python, and the
same definitions that built the training set.

The faces (``shipyard serve``, :func:`shipyard.serve`) hand serving a factory of it
over the feature store of the worker's own client
(:meth:`shipyard.client._process.ProcessClient.feature_lookup`); a worker calls it only
when a model it serves declares features.

>>> lookup = OnlineLookup(shipyard.Client().features)                           # doctest: +SKIP
>>> lookup.prepare(["user_stats:avg_spend_7d"])                                 # doctest: +SKIP
['user_id']
>>> lookup.lookup(["user_stats:avg_spend_7d"], {"user_id": np.array([5, 7])})   # doctest: +SKIP
{'user_stats:avg_spend_7d': array([12.5,  nan])}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.features._refs import output_name, parse_ref

if TYPE_CHECKING:
    from shipyard.features._store import FeatureStore

__all__ = ["OnlineLookup"]


class OnlineLookup:
    """Online features of entities for serving, read through ``store``."""

    def __init__(self, store: FeatureStore) -> None:
        self.store = store
        self._columns: dict[tuple[str, ...], list[tuple[str, str, str]]] = {}

    def __repr__(self) -> str:
        return f"OnlineLookup({self.store!r})"

    def prepare(self, refs: Sequence[str]) -> list[str]:
        """The request columns ``refs`` need: the join keys of their views, then the request
        fields of their on-demand views. ``NotFound`` names an unknown view or feature."""
        plan = self.store._plan(list(refs), True)
        self._layout(refs)
        return [*plan.join_keys, *(f.name for f in plan.request_fields)]

    def _layout(self, refs: Sequence[str]) -> list[tuple[str, str, str]]:
        """Per ref: (ref, its column in a full-name response, its declared type); worked out once."""
        key = tuple(refs)
        layout = self._columns.get(key)
        if layout is None:
            layout = []
            for ref in refs:
                view, feature = parse_ref(ref)
                layout.append((ref, output_name(view, feature, True), self.store.get_view(view).features[feature]))
            self._columns[key] = layout
        return layout

    def lookup(self, refs: Sequence[str], rows: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Each ref's value for each row (NaN or None where there is none); see the module docs."""
        names = list(rows)
        columns = [rows[name].tolist() for name in names]  # plain Python scalars, as a user would pass
        if len(names) == 1:  # the common case, a single join key: no zip per row
            name = names[0]
            entity_rows = [{name: value} for value in columns[0]]
        else:
            entity_rows = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
        found = self.store.get_online_features(list(refs), entity_rows, full_feature_names=True).to_dict()
        return {ref: _array(found[column], dtype) for ref, column, dtype in self._layout(refs)}

    def close(self) -> None:
        self.store.close()


def _array(values: list[Any], dtype: str) -> np.ndarray:
    """A column of the declared type: floats with NaN for None, ints as int64 (float64 when one
    is missing), booleans as bool (objects when one is missing), anything else as objects."""
    if dtype in ("float64", "float32"):
        return np.array(values, dtype=np.float64)  # None becomes NaN
    if dtype in ("int64", "int32"):
        return np.array(values, dtype=np.float64 if None in values else np.int64)
    if dtype == "bool" and None not in values:
        return np.array(values, dtype=bool)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out
