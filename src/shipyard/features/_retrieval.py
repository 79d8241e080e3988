"""Online retrieval: entity rows in, the latest feature values out.

The hot path is plain Python over lists: encode the keys, one read per view from
the online store, null the values older than the view's TTL, and only when the
plan holds on-demand features build the pandas frame their function needs.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput
from shipyard.features._plan import Plan, run_on_demand
from shipyard.features.online._backend import encode_key, key_part

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.features.online import OnlineStore

__all__ = ["OnlineResponse", "read_online"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class OnlineResponse:
    """Feature values per entity row: the join keys, then each requested feature.

    >>> OnlineResponse({"user_id": [5], "avg_spend_7d": [1.5]}).to_dict()
    {'user_id': [5], 'avg_spend_7d': [1.5]}
    """

    def __init__(self, columns: dict[str, list[Any]]) -> None:
        self.columns = columns

    def __repr__(self) -> str:
        return f"OnlineResponse({list(self.columns)}, rows={len(self)})"

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def to_dict(self) -> dict[str, list[Any]]:
        """Column-oriented: ``{"user_id": [5, 7], "avg_spend_7d": [1.5, None]}``."""
        return self.columns

    def to_df(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.columns)


def _column(entity_rows: Sequence[Mapping[str, Any]], name: str) -> list[Any]:
    try:
        return [row[name] for row in entity_rows]
    except KeyError:
        raise InvalidInput(f"an entity row has no {name!r}", field=name) from None
    except TypeError:
        raise InvalidInput("entity_rows must be a list of mappings such as {'user_id': 5}",
                           field="entity_rows") from None


def _timestamps(values: list[Any]) -> list[Any]:
    return [None if v is None else _EPOCH + dt.timedelta(microseconds=v) for v in values]


def read_online(plan: Plan, online: OnlineStore, entity_rows: Sequence[Mapping[str, Any]]) -> OnlineResponse:
    """Look every feature of ``plan`` up for ``entity_rows``; see :meth:`FeatureStore.get_online_features`."""
    if isinstance(entity_rows, Mapping) or not isinstance(entity_rows, Sequence):
        raise InvalidInput("entity_rows must be a list of mappings such as {'user_id': 5}", field="entity_rows")
    n = len(entity_rows)
    columns: dict[str, list[Any]] = {k: _column(entity_rows, k) for k in plan.join_keys}
    now_us = time.time_ns() // 1_000
    for step in plan.views:
        keys_of = step.view.join_keys
        if len(keys_of) == 1:
            # ints and strings (nearly every key) skip key_part's dispatch
            keys = [v if type(v) is str else str(v) if type(v) is int else key_part(v)
                    for v in columns[keys_of[0]]]
        else:
            keys = [encode_key(values) for values in zip(*(columns[k] for k in keys_of), strict=True)]
        found = online.read(step.view.name, keys, step.features)
        ttl = step.view.ttl_us
        stale = None
        if ttl is not None:
            oldest = now_us - ttl
            stale = [ts is not None and ts < oldest for ts in found.event_ts]
            if not any(stale):
                stale = None
        for feature, out in zip(step.features, step.outputs, strict=True):
            values = found.columns[feature]
            if stale is not None:
                values = [None if old else v for v, old in zip(values, stale, strict=True)]
            if step.view.features[feature] == "timestamp":
                values = _timestamps(values)
            columns[out] = values
    for field in plan.request_fields:
        columns.setdefault(field.name, _column(entity_rows, field.name))
    for demand in plan.on_demand:
        computed = run_on_demand(demand, columns, n)
        for name, series in computed.items():
            columns[name] = series.astype(object).where(series.notna(), None).tolist()
    keep = [*plan.join_keys, *plan.outputs]
    return OnlineResponse({k: columns[k] for k in keep})
