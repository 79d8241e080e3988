"""A spool on local disk for batches a server could not take.

When ``shipyard server`` is unreachable the writer parks each batch here as one
JSON file (written to a temporary name, then renamed, so a crash never leaves a
half file); the next successful flush sends them in order and deletes each only
after the server accepted it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from shipyard.errors import ShipyardError, StorageError
from shipyard.tracking._entities import LogBatch

__all__ = ["DiskSpool"]


class DiskSpool:
    """:class:`~shipyard.tracking._writer.Spool` in a local folder."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def put(self, batch: LogBatch) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        tmp = self.directory / f".{name}.tmp"
        # json (not orjson) because NaN and ±inf must survive the round trip.
        tmp.write_text(json.dumps({"metrics": batch.metrics, "params": batch.params, "tags": batch.tags}))
        os.replace(tmp, self.directory / name)

    def files(self) -> list[Path]:
        """Spooled batches, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("[0-9]*.json"))

    def drain(self, sink: Callable[[LogBatch], None]) -> None:
        """Send every spooled batch to ``sink``; stop at the first failure (it propagates)."""
        for path in self.files():
            data = json.loads(path.read_text())
            batch = LogBatch(
                metrics=[tuple(m) for m in data["metrics"]],  # type: ignore[misc]
                params=[tuple(p) for p in data["params"]],  # type: ignore[misc]
                tags=[tuple(x) for x in data["tags"]],  # type: ignore[misc]
            )
            try:
                sink(batch)
            except StorageError:
                raise  # unreachable again: keep the file for the next attempt
            except ShipyardError:
                # Refused for good (e.g. the run finished): set it aside so it neither
                # blocks the batches behind it nor disappears without a trace.
                path.rename(path.with_suffix(".refused"))
                raise
            path.unlink()
