"""The TrackingStore interface over HTTP: what the client uses when ``SHIPYARD_URL`` is set."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

from shipyard.errors import IntegrityError, NotFound
from shipyard.remote._pages import every_item
from shipyard.tracking import ArtifactInfo, Experiment, LogBatch, Page, Run, RunRecord, RunStatus, ValueLimits
from shipyard.tracking import _codec as codec
from shipyard.tracking._records import check_records

if TYPE_CHECKING:
    from shipyard.remote._http import RetryPolicy

__all__ = ["RemoteTrackingStore"]


def _q(path: str) -> str:
    return quote(path, safe="/")


class RemoteTrackingStore:
    """:class:`~shipyard.tracking._backend.TrackingStore` talking to ``shipyard server``."""

    def __init__(self, url: str, token: str | None = None, retry: RetryPolicy | None = None) -> None:
        from shipyard.remote._http import HttpTransport, new_idempotency_key

        self._t = HttpTransport(url, token, retry=retry)
        self._new_key = new_idempotency_key
        self._limits: ValueLimits | None = None

    def close(self) -> None:
        self._t.close()

    @property
    def limits(self) -> ValueLimits:
        """The server's limits, asked once: a value the server would refuse fails at the call
        that logs it, and autologging cuts values to what the server keeps, not to this client's
        configuration. A server from before ``/api/v1/limits`` keeps the default limits."""
        if self._limits is None:
            try:
                data = self._t.json("GET", "/api/v1/limits")
            except NotFound:
                self._limits = ValueLimits()
            else:
                self._limits = ValueLimits(int(data["max_param_length"]), int(data["max_tag_length"]))
        return self._limits

    # experiments
    def create_experiment(
        self, name: str, tags: dict[str, str] | None = None, artifact_location: str | None = None
    ) -> Experiment:
        body = {"name": name, "tags": tags, "artifact_location": artifact_location}
        return codec.experiment_from_json(self._t.json("POST", "/api/v1/experiments", json=body))

    def get_experiment(self, experiment_id: str) -> Experiment:
        return codec.experiment_from_json(self._t.json("GET", f"/api/v1/experiments/{_q(str(experiment_id))}"))

    def get_experiment_by_name(self, name: str) -> Experiment:
        data = self._t.json("GET", "/api/v1/experiments/by-name", params={"name": name})
        return codec.experiment_from_json(data)

    def list_experiments(self, include_deleted: bool = False) -> list[Experiment]:
        items = every_item(self._t, "/api/v1/experiments", {"include_deleted": include_deleted})
        return [codec.experiment_from_json(e) for e in items]

    def update_experiment(
        self, experiment_id: str, *, name: str | None = None, lifecycle_stage: str | None = None
    ) -> Experiment:
        body = {"name": name, "lifecycle_stage": lifecycle_stage}
        return codec.experiment_from_json(
            self._t.json("PATCH", f"/api/v1/experiments/{_q(str(experiment_id))}", json=body)
        )

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self._t.request("PUT", f"/api/v1/experiments/{_q(str(experiment_id))}/tags/{_q(key)}",
                        json={"value": value})

    # runs
    def create_run(self, experiment_id: str, **kwargs: Any) -> Run:
        body = {"experiment_id": str(experiment_id), **kwargs}
        return codec.run_from_json(self._t.json("POST", "/api/v1/runs", json=body))

    def get_run(self, run_id: str) -> Run:
        return codec.run_from_json(self._t.json("GET", f"/api/v1/runs/{_q(run_id)}"))

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        name: str | None = None,
        lifecycle_stage: str | None = None,
        environment: dict[str, object] | None = None,
    ) -> Run:
        body = {"status": RunStatus(status).value if status else None, "end_time": end_time,
                "name": name, "lifecycle_stage": lifecycle_stage, "environment": environment}
        return codec.run_from_json(self._t.json("PATCH", f"/api/v1/runs/{_q(run_id)}", json=body))

    def log_batch(self, batch: LogBatch, *, allow_finished: bool = False) -> None:
        if batch:
            params = {"allow_finished": "true"} if allow_finished else None
            # One key per logical write: a retry after a lost response is answered, not stored twice.
            self._t.request("POST", "/api/v1/runs/log-batch", json=codec.batch_to_json(batch), params=params,
                            idempotency_key=self._new_key())

    def record_runs(self, records: Sequence[RunRecord]) -> list[str]:
        records = check_records(records)  # bad input fails here, naming the field, before any request
        if not records:
            return []
        data = self._t.json("POST", "/api/v1/runs/record", json=codec.records_to_json(records),
                            idempotency_key=self._new_key())
        return list(data["run_ids"])

    def delete_tag(self, run_id: str, key: str) -> None:
        self._t.request("DELETE", f"/api/v1/runs/{_q(run_id)}/tags/{_q(key)}")

    def search_runs(
        self,
        experiment_ids: list[str],
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> Page:
        body = {"experiment_ids": [str(e) for e in experiment_ids], "filter": filter, "order_by": order_by,
                "max_results": max_results, "page_token": page_token, "include_deleted": include_deleted}
        data = self._t.json("POST", "/api/v1/runs/search", json=body, idempotent=True)  # a query
        return Page([codec.run_from_json(r) for r in data["items"]], data.get("next_page_token"))

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_points: int | None = None,
        page_token: str | None = None,
        max_results: int | None = None,
    ) -> Page:
        params = {k: v for k, v in {"key": key, "max_points": max_points, "page_token": page_token,
                                    "max_results": max_results}.items() if v is not None}
        data = self._t.json("GET", f"/api/v1/runs/{_q(run_id)}/metric-history", params=params)
        return Page([codec.metric_from_json(m) for m in data["items"]], data.get("next_page_token"))

    # artifacts
    def log_artifact(self, run_id: str, path: str, source: str | os.PathLike[str] | BinaryIO) -> ArtifactInfo:
        url = f"/api/v1/runs/{_q(run_id)}/artifacts/{_q(path)}"
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as fh:
                data = self._t.json("PUT", url, content=fh)
        else:
            data = self._t.json("PUT", url, content=source)
        return codec.artifact_from_json(data)

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactInfo]:
        items = every_item(self._t, f"/api/v1/runs/{_q(run_id)}/artifacts", {"prefix": prefix})
        return [codec.artifact_from_json(a) for a in items]

    def open_artifact(self, run_id: str, path: str) -> Iterator[bytes]:
        response = self._t.request("GET", f"/api/v1/runs/{_q(run_id)}/artifacts/{_q(path)}")
        return iter([response.content])

    def download_artifact(self, run_id: str, path: str, dest: str | os.PathLike[str]) -> Path:
        """Download to a temporary file, check its sha256, then move it into place."""
        expected = {a.path: a.digest for a in self.list_artifacts(run_id, path)}.get(path)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in self.open_artifact(run_id, path):
                    digest.update(chunk)
                    out.write(chunk)
            if expected is not None and digest.hexdigest() != expected:
                raise IntegrityError(f"artifact {path!r} of run {run_id!r} does not match its hash",
                                     run_id=run_id, path=path)
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return dest

    def delete_artifact(self, run_id: str, path: str) -> None:
        self._t.request("DELETE", f"/api/v1/runs/{_q(run_id)}/artifacts/{_q(path)}")
