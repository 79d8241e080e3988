"""``batch_predict``: score a dataset version with a registered model, into a new version.

::

    checks        executor, sizes, output name │ model URI → verified package (NotFound names it)
                  │ input version (Parquet) │ its columns against the signature → InvalidInput(field="input")
    run           experiment "batch-scoring": params (model URI, input, output, executor…), input lineage
    units         row groups (or slices of them) ─► workers: this process │ local processes │ Ray tasks
                  each: batches → row checks → model.predict → its own Parquet part + rejects lines
    output        parts registered as a new version of the output name, produced by the run;
                  model version ─served→ output version; rejects.jsonl a run artifact
    metrics       rows, rows_scored, rows_rejected, seconds, rows_per_s; run FINISHED (FAILED on error)

The output's rows are the input's rows that passed, in input order, each with its
columns and the prediction column(s). Memory is bounded by a few batches per worker and
two units queued per worker, whatever the dataset's size.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.errors import InvalidInput, NotFound
from shipyard.scoring._checks import check_columns
from shipyard.scoring._executors import RayUnits, check_executor, default_workers, local_units
from shipyard.scoring._units import plan_units
from shipyard.scoring._worker import ScoringJob, UnitResult

if TYPE_CHECKING:
    from shipyard.client import Client
    from shipyard.datasets import DatasetVersion
    from shipyard.models import Model

__all__ = ["BatchPrediction", "batch_predict"]

EXPERIMENT = "batch-scoring"
REJECTS = "rejects.jsonl"


@dataclass(frozen=True)
class BatchPrediction:
    """What a scoring job did: the output version, its run, its counts and its rejects.

    ``rejects`` is the run artifact holding one JSON line per rejected row (``row``: its
    index in the input, ``reason``, ``values``), None when no row was rejected.
    ``ran_on`` names the workers that scored units (``pid N``, or ``ray node <id>``).
    """

    output: DatasetVersion
    run_id: str
    rows: int
    scored: int
    rejected: int
    seconds: float
    executor: str
    workers: int
    rejects: str | None
    ran_on: tuple[str, ...] = ()

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("nan")

    @property
    def rejects_uri(self) -> str | None:
        """``runs:/<run id>/rejects.jsonl``, or None."""
        return None if self.rejects is None else f"runs:/{self.run_id}/{self.rejects}"


def _positive(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{field} must be a positive integer, got {value!r}", field=field)
    return value


def _output_name(output: object) -> str:
    from shipyard.datasets import validate_dataset_name

    if not isinstance(output, str) or "@" in output:
        raise InvalidInput(f"output must name a dataset (ds:NAME), without a version; got {output!r}",
                           field="output")
    try:
        return validate_dataset_name(output.removeprefix("ds:"))
    except InvalidInput as exc:
        raise InvalidInput(str(exc), field="output") from None


def _load(client: Client, model_uri: str) -> Model:
    if not isinstance(model_uri, str) or not model_uri.startswith(("models:/", "runs:/")):
        raise InvalidInput(f"model_uri must be models:/NAME/VERSION, models:/NAME@ALIAS or runs:/ID/PATH; "
                           f"got {model_uri!r}", field="model_uri")
    try:
        return client.load_model(model_uri)
    except NotFound as exc:
        raise NotFound(f"model {model_uri!r} not found ({exc})", resource="model", uri=model_uri,
                       field="model_uri") from None


def _merge_rejects(results: Sequence[UnitResult], dest: Path) -> Path | None:
    parts = [r.rejects for r in sorted(results, key=lambda r: r.index) if r.rejects]
    if not parts:
        return None
    with dest.open("wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out)
    return dest


def batch_predict(model_uri: str, input: str, output: str, *, executor: str = "local",
                  batch_rows: int = 65_536, workers: int | None = None, passthrough: Sequence[str] = (),
                  prediction_column: str = "prediction", client: Client | None = None,
                  progress: Callable[[int, int], object] | None = None) -> BatchPrediction:
    """Score the dataset version ``input`` with ``model_uri`` and register the scored rows as a
    new version of ``output`` (see the module docstring).

    ``executor``: ``"local"`` (``workers`` processes, default one per core; one worker scores
    in this process), ``"ray"`` or
    ``"ray://host:port"`` (Ray tasks; ``workers`` caps the tasks in flight, default the
    cluster's CPUs). ``passthrough`` names input columns outside the signature (ids…)
    that are carried to the output. ``progress(rows done, rows in all)`` is called as units end.

    Raises ``NotFound`` naming a model URI or dataset that does not exist, and
    ``InvalidInput`` (``field="input"``) naming the missing and extra columns when the
    input does not match the model's signature; both before any run or file is made.
    Rows that fail the signature's checks are not an error: they are left out and listed
    in the ``rejects.jsonl`` artifact of the run.

    >>> result = shipyard.batch_predict("models:/churn@production", "ds:customers@3",  # doctest: +SKIP
    ...                                 "ds:customers-scored", workers=4)
    >>> result.output.uri, result.scored, result.rejects_uri                            # doctest: +SKIP
    """
    executor = check_executor(executor)
    batch_rows = _positive(batch_rows, "batch_rows")
    if workers is not None:
        workers = _positive(workers, "workers")
    name = _output_name(output)
    if not isinstance(prediction_column, str) or not prediction_column:
        raise InvalidInput(f"prediction_column must be a column name, got {prediction_column!r}",
                           field="prediction_column")
    passthrough = tuple(passthrough)
    if client is None:
        from shipyard.fluent import get_client

        client = get_client()
    model = _load(client, model_uri)
    if not isinstance(input, str) or not input:
        raise InvalidInput(f"input must name a dataset version (ds:NAME@VERSION), got {input!r}", field="input")
    handle = client.get_dataset(input)
    version = handle.version
    if version.format != "parquet":
        raise InvalidInput(f"{version.uri} is {version.format}; batch scoring reads Parquet versions",
                           field="input")
    if not version.num_rows:
        raise InvalidInput(f"{version.uri} has no rows to score", field="input")
    # Names first, from the stored schema, so a mismatch is refused before the files are pulled.
    named = pa.schema([(name, pa.null()) for name in version.columns])
    check_columns(model.signature, named, passthrough, prediction_column)
    folder = handle.path()
    files = [folder / f.path for f in sorted(handle.files, key=lambda f: f.path)]
    check_columns(model.signature, pq.read_schema(files[0]), passthrough, prediction_column)
    manifest = model.path / "model.yaml"
    if not manifest.is_file():
        raise InvalidInput(f"{model_uri} has no model.yaml; batch scoring needs a Shipyard model package",
                           field="model_uri")
    return _score(client, model, hashlib.sha256(manifest.read_bytes()).hexdigest(), model_uri, version, files,
                  name, executor, batch_rows, workers, prediction_column, progress)


def _score(client: Client, model: Model, manifest_sha256: str, model_uri: str, version: DatasetVersion,
           files: list[Path], name: str, executor: str, batch_rows: int, workers: int | None,
           prediction_column: str, progress: Callable[[int, int], object] | None) -> BatchPrediction:
    run = client.create_run(EXPERIMENT, name=f"predict {name}", tags={"shipyard.scoring.output": name})
    staging = Path(tempfile.mkdtemp(prefix="scoring-", dir=_scratch(client)))
    try:
        client.log_input(run.id, version)
        out_dir, rejects_dir = staging / "output", staging / "rejects"
        out_dir.mkdir()
        rejects_dir.mkdir()
        started = time.perf_counter()
        if executor == "local":
            count = workers or default_workers()
            job = _job(model, manifest_sha256, out_dir, rejects_dir, batch_rows, prediction_column, None)
            units = plan_units(files, batch_rows, count)
            client.log_params(run.id, _params(model_uri, version, name, executor, count, batch_rows))
            results = _collect(local_units(job, units, count), version.num_rows, progress)
        else:
            with RayUnits(executor) as ray_units:
                count = workers or ray_units.cpus()
                job = _job(model, manifest_sha256, out_dir, rejects_dir, batch_rows, prediction_column, None)
                units = plan_units(files, batch_rows, count)
                client.log_params(run.id, _params(model_uri, version, name, executor, count, batch_rows))
                results = _collect(ray_units.run(job, units, count), version.num_rows, progress)
        seconds = time.perf_counter() - started
        rows, scored = sum(r.rows for r in results), sum(r.scored for r in results)
        rejected = sum(r.rejected for r in results)
        client.log_metrics(run.id, {"rows": rows, "rows_scored": scored, "rows_rejected": rejected,
                                    "seconds": seconds, "rows_per_s": rows / seconds if seconds > 0 else 0.0})
        merged = _merge_rejects(results, staging / REJECTS)
        if merged is not None:
            client.log_artifact(run.id, merged)
        if scored == 0:
            raise InvalidInput(f"every one of the {rows} rows of {version.uri} was rejected; see "
                               f"runs:/{run.id}/{REJECTS}", field="input", run_id=run.id)
        # The parts are written only to be registered (and removed after): the source a user
        # reads back names what was scored, not a folder that no longer exists.
        out = client.register_dataset(name, out_dir, run_id=run.id,
                                      description=f"{version.uri} scored by {model_uri}",
                                      source_name=f"batch_predict({model_uri}, {version.uri})")
        _record_model(client, model_uri, out)
        client.end_run(run.id)
    except BaseException:
        client.end_run(run.id, "FAILED")
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BatchPrediction(out, run.id, rows, scored, rejected, seconds, executor, count,
                           REJECTS if merged is not None else None, tuple(sorted({r.worker for r in results})))


def _job(model: Model, manifest_sha256: str, out_dir: Path, rejects_dir: Path, batch_rows: int,
         prediction_column: str, threads: int | None) -> ScoringJob:
    return ScoringJob(str(model.path.absolute()), manifest_sha256, str(out_dir), str(rejects_dir), batch_rows,
                      prediction_column, threads)


def _params(model_uri: str, version: DatasetVersion, output: str, executor: str, workers: int,
            batch_rows: int) -> dict[str, object]:
    return {"model_uri": model_uri, "input": version.uri, "output": f"ds:{output}", "executor": executor,
            "workers": workers, "batch_rows": batch_rows}


def _collect(results: object, total: int | None, progress: Callable[[int, int], object] | None) -> list[UnitResult]:
    done: list[UnitResult] = []
    rows = 0
    for result in results:  # type: ignore[attr-defined]
        done.append(result)
        rows += result.rows
        if progress is not None:
            progress(rows, total or 0)
    return done


def _scratch(client: Client) -> Path:
    """Where parts are staged: inside the Shipyard home, which workers see as the driver does."""
    folder = client.config.home.absolute() / "cache" / "scoring"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _record_model(client: Client, model_uri: str, out: DatasetVersion) -> None:
    """``model_version ─served→ dataset``: the registered version whose predictions the output holds."""
    if not model_uri.startswith("models:/"):
        return  # a run's package has no registered version; the run's params name it
    found = client.resolve_model(model_uri)
    client.automation.store.record_export(out.name, out.version, [(found.name, found.version)], [])
