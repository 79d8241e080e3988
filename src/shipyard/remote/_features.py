"""The feature registry and the online store over HTTP, for clients with ``SHIPYARD_URL`` set.

Both talk to the routes of :mod:`shipyard.server._features`. Rows written to the
server's online store travel as an Arrow IPC stream (no per-value JSON on the way
in); reads come back as JSON columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shipyard.features import Applied, FeatureObject, MaterializationState
from shipyard.features.online import OnlineRows
from shipyard.remote._http import HttpTransport, RetryPolicy
from shipyard.remote._pages import every_item

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ARROW_STREAM", "RemoteFeatureRegistry", "RemoteOnlineStore"]

_API = "/api/v1/features"
ARROW_STREAM = "application/vnd.apache.arrow.stream"


def _q(text: str) -> str:
    return quote(str(text), safe="")


class RemoteFeatureRegistry:
    """:class:`~shipyard.features.FeatureRegistry` talking to ``shipyard server``."""

    def __init__(self, url: str, token: str | None = None, retry: RetryPolicy | None = None) -> None:
        self._t = HttpTransport(url, token, timeout=120.0, retry=retry)

    def close(self) -> None:
        self._t.close()

    def apply(self, specs: Sequence[Mapping[str, Any]], force: bool = False) -> list[Applied]:
        data = self._t.json("POST", f"{_API}/apply", json={"objects": list(specs), "force": force})
        return [Applied.from_json(a) for a in data["items"]]

    def get(self, kind: str, name: str, version: int | None = None) -> FeatureObject:
        params = {} if version is None else {"version": int(version)}
        return FeatureObject.from_json(self._t.json("GET", f"{_API}/objects/{_q(kind)}/{_q(name)}", params=params))

    def list_objects(self, kind: str | None = None) -> list[FeatureObject]:
        params = {} if kind is None else {"kind": kind}
        return [FeatureObject.from_json(o) for o in every_item(self._t, f"{_API}/objects", params)]

    def versions(self, kind: str, name: str) -> list[FeatureObject]:
        versions = every_item(self._t, f"{_API}/objects/{_q(kind)}/{_q(name)}/versions")
        return [FeatureObject.from_json(o) for o in versions]

    def record_materialization(self, view: str, start_us: int | None, end_us: int, rows: int) -> MaterializationState:
        body = {"start_us": start_us, "end_us": end_us, "rows": rows}
        return MaterializationState.from_json(
            self._t.json("PUT", f"{_API}/views/{_q(view)}/materialization", json=body))

    def materialization(self, view: str) -> MaterializationState | None:
        state = self._t.json("GET", f"{_API}/views/{_q(view)}/materialization")["state"]
        return None if state is None else MaterializationState.from_json(state)

    def record_lineage(self, dataset_ref: str, views: Sequence[tuple[str, int]]) -> None:
        self._t.request("POST", f"{_API}/lineage",
                        json={"dataset_ref": dataset_ref, "views": [[n, int(v)] for n, v in views]})


class RemoteOnlineStore:
    """:class:`~shipyard.features.online.OnlineStore`: the server's online store, over HTTP."""

    def __init__(self, url: str, token: str | None = None, retry: RetryPolicy | None = None) -> None:
        self._t = HttpTransport(url, token, timeout=120.0, retry=retry)

    def __repr__(self) -> str:
        return f"RemoteOnlineStore({self._t.url!r})"

    def close(self) -> None:
        self._t.close()

    def write(self, view: str, rows: pa.Table) -> int:
        import pyarrow as pa

        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, rows.schema) as writer:
            writer.write_table(rows)
        data = self._t.json("POST", f"{_API}/online-store/{_q(view)}/rows", content=sink.getvalue().to_pybytes(),
                            headers={"Content-Type": ARROW_STREAM})
        return int(data["rows"])

    def read(self, view: str, keys: Sequence[str], features: Sequence[str]) -> OnlineRows:
        data = self._t.json("POST", f"{_API}/online-store/{_q(view)}/read",
                            json={"keys": list(keys), "features": list(features)})
        return OnlineRows(data["event_ts"], data["columns"])

    def delete_view(self, view: str) -> None:
        self._t.request("DELETE", f"{_API}/online-store/{_q(view)}")

    def freshness(self, view: str) -> int | None:
        newest = self._t.json("GET", f"{_API}/online-store/{_q(view)}/freshness")["newest_us"]
        return None if newest is None else int(newest)
