"""The fluent API: ``shipyard.start_run`` and friends, a thin layer over a :class:`Client`.

Which run is active is kept in a :class:`contextvars.ContextVar`, not in module
globals: each thread and each asyncio task sees its own stack of active runs, and a
test can drive two clients side by side by passing ``client=`` explicitly. The
default client (built from the configuration on first use) is held the same way.

>>> import shipyard
>>> with shipyard.start_run(experiment="churn") as run:   # doctest: +SKIP
...     shipyard.log_param("lr", 0.1)
...     shipyard.log_metric("loss", 0.25, step=1)
"""

from __future__ import annotations

import atexit
import contextlib
import os
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.client import Client, ModelInfo
from shipyard.errors import Conflict, ShipyardError
from shipyard.registry import ModelVersion
from shipyard.tracking import ArtifactInfo, Run, RunStatus
from shipyard.tracking._entities import default_run_name

if TYPE_CHECKING:
    from shipyard.models import Model, ModelManifest

__all__ = [
    "ActiveRun",
    "active_run",
    "end_run",
    "get_client",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_labels",
    "log_model",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "pipeline",
    "register_model",
    "save_model",
    "serve",
    "set_client",
    "set_tag",
    "set_tags",
    "start_run",
    "step",
]

_active_runs: ContextVar[tuple[ActiveRun, ...]] = ContextVar("shipyard_active_runs", default=())
_default_client: ContextVar[Client | None] = ContextVar("shipyard_default_client", default=None)


def get_client() -> Client:
    """The client the fluent API uses when none is passed: built from the configuration."""
    client = _default_client.get()
    if client is None:
        client = Client()
        _default_client.set(client)
    return client


def set_client(client: Client | None) -> None:
    """Make ``client`` the fluent API's default in the current context (None resets)."""
    _default_client.set(client)


class ActiveRun:
    """A run started by :func:`start_run`; ends itself when its ``with`` block exits.

    The block ending normally marks the run FINISHED, an exception marks it FAILED and
    Ctrl-C marks it KILLED. ``run.id`` is the run id, known at once; the run itself is
    created in the background (see :meth:`shipyard.client.Tracking.start_run`).

    A run still active at interpreter exit is flushed, and ended as FINISHED only if
    this process started it. A run ``resumed`` with ``start_run(run_id=...)`` is only
    flushed: it belongs to whoever started it, and several processes may be logging
    to it, so the first of them to exit must not end it under the others. Ending a
    resumed run stays explicit, as in MLflow: the end of its ``with`` block, or
    :func:`end_run`. Data other processes log to it after that is still stored.
    """

    def __init__(self, client: Client, run_id: str, name: str | None, experiment_id: str | None = None,
                 *, resumed: bool = False) -> None:
        self.client = client
        self.id = run_id
        self.name = name
        self.resumed = resumed
        self._experiment_id = experiment_id
        self._ended = False
        atexit.register(self._end_at_exit)

    def __repr__(self) -> str:
        return f"ActiveRun(id={self.id!r}, name={self.name!r})"

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        self.end(status)

    @property
    def experiment_id(self) -> str:
        """The id of the run's experiment (waits for the run's creation the first time)."""
        if self._experiment_id is None:
            self._experiment_id = self.client.tracking.started_run(self.id).experiment_id
        return self._experiment_id

    def end(self, status: RunStatus | str = RunStatus.FINISHED) -> Run | None:
        """End the run (idempotent) and pop it from the active stack."""
        if self._ended:
            return None
        _active_runs.set(tuple(r for r in _active_runs.get() if r is not self))
        # If ending fails (storage down), the exit hook stays registered to try again.
        run = self.client.end_run(self.id, status)
        self._ended = True
        atexit.unregister(self._end_at_exit)
        return run

    def _end_at_exit(self) -> None:
        # At exit there is nobody left to tell; the points stay spooled or pending.
        with contextlib.suppress(ShipyardError):
            if self.resumed:
                self.client.flush()  # the run's status is its starter's business (see the class)
            else:
                self.end(RunStatus.FINISHED)

    @property
    def info(self) -> Run:
        """The run as stored now (buffered data flushed first)."""
        return self.client.get_run(self.id)

    def log_metric(self, key: str, value: float, step: int = 0, timestamp: int | None = None) -> None:
        self.client.log_metric(self.id, key, value, step, timestamp)

    def log_param(self, key: str, value: Any) -> None:
        self.client.log_param(self.id, key, value)

    def set_tag(self, key: str, value: Any) -> None:
        self.client.set_tag(self.id, key, value)


def start_run(
    experiment: str | None = None,
    *,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
    nested: bool = False,
    run_id: str | None = None,
    client: Client | None = None,
    system_metrics: bool | None = None,
) -> ActiveRun:
    """Start (or, with ``run_id``, resume) a run and make it the active one.

    ``experiment`` is an experiment name, created if missing (default: the
    default experiment ``"0"``).
    Starting a run while another is active needs ``nested=True``; the new run
    becomes a child of the active one.

    A new run is returned at once and created in the background, its environment
    captured off this call too: logging to it works at once, and a failure to
    create it (a deleted experiment, an unreachable store) is raised by the next
    call that uses it — a logging call, :func:`end_run` or the ``with`` block's end.

    With ``run_id``, several processes may log to one run at once: each resumes it,
    none ends it by merely exiting (see :class:`ActiveRun`), and none has its data
    refused because another ended it first.

    ``system_metrics=True`` logs this process's and its machine's CPU, memory, disk,
    network and GPU use into the run under ``system/`` (``system/cpu_percent``,
    ``system/rss_mb``...) every ``system_metrics_interval`` seconds until it ends;
    None (the default) follows the ``system_metrics`` setting, which is off unless set.

    >>> with shipyard.start_run(experiment="churn", system_metrics=True):   # doctest: +SKIP
    ...     train()
    """
    client = client or get_client()
    stack = _active_runs.get()
    if stack and not nested:
        raise Conflict(
            f"run {stack[-1].id!r} is already active; end it first or pass nested=True",
            run_id=stack[-1].id,
        )
    if run_id is not None:
        run = client.tracking.resume_run(run_id, system_metrics=system_metrics)
        active = ActiveRun(client, run.id, run.name, run.experiment_id, resumed=True)
    else:
        parent = stack[-1].id if stack else None
        new_id = client.tracking.start_run(experiment, name=run_name, tags=tags, parent_run_id=parent,
                                           system_metrics=system_metrics)
        active = ActiveRun(client, new_id, run_name or default_run_name(new_id))
    _active_runs.set((*stack, active))
    return active


def active_run() -> ActiveRun | None:
    """The innermost active run in this context, or None."""
    stack = _active_runs.get()
    return stack[-1] if stack else None


def _require_active() -> ActiveRun:
    run = active_run()
    if run is None:
        raise Conflict("no active run: call shipyard.start_run() first")
    return run


def end_run(status: RunStatus | str = RunStatus.FINISHED) -> Run | None:
    """End the innermost active run (no-op when none is active)."""
    run = active_run()
    return run.end(status) if run else None


def log_metric(key: str, value: float, step: int = 0, timestamp: int | None = None) -> None:
    """Log one point to the active run; returns at once (written in the background), or,
    when the logging buffer is full, once the background writer has made room."""
    run = _require_active()
    run.client.log_metric(run.id, key, value, step, timestamp)


def log_metrics(metrics: dict[str, float], step: int = 0) -> None:
    run = _require_active()
    run.client.log_metrics(run.id, metrics, step)


def log_param(key: str, value: Any) -> None:
    run = _require_active()
    run.client.log_param(run.id, key, value)


def log_params(params: dict[str, Any]) -> None:
    run = _require_active()
    run.client.log_params(run.id, params)


def set_tag(key: str, value: Any) -> None:
    run = _require_active()
    run.client.set_tag(run.id, key, value)


def set_tags(tags: dict[str, Any]) -> None:
    run = _require_active()
    run.client.set_tags(run.id, tags)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> ArtifactInfo:
    run = _require_active()
    return run.client.log_artifact(run.id, local_path, artifact_path)


def log_model(model: Any, name: str = "model", *, input_example: Any = None,
              registered_model_name: str | None = None, **save_options: Any) -> ModelInfo:
    """Package ``model`` into the active run (and register it, given ``registered_model_name``)."""
    run = _require_active()
    return run.client.log_model(run.id, model, name, input_example=input_example,
                                registered_model_name=registered_model_name, **save_options)


def save_model(model: Any, path: str | os.PathLike[str], **options: Any) -> ModelManifest:
    """Write ``model`` as a package folder at ``path`` (see :func:`shipyard.models.save_model`)."""
    from shipyard.models import save_model as _save

    return _save(model, Path(path), **options)


def load_model(uri: str, *, trust: bool = False, client: Client | None = None) -> Model:
    """Load ``models:/name@alias``, ``models:/name/3``, ``runs:/<id>/path`` or a local folder.

    A URI's package is checked against the digests the registry or run recorded; a local
    folder needs ``trust=True``, since only its own ``model.yaml`` vouches for its files
    (see :meth:`shipyard.Client.load_model`).
    """
    return (client or get_client()).load_model(uri, trust=trust)


def register_model(source: str, name: str, *, description: str | None = None,
                   client: Client | None = None) -> ModelVersion:
    """Register the package at ``source`` as a new version of ``name``."""
    return (client or get_client()).register_model(source, name, description=description)


def log_labels(labels: Any, *, model: str | None = None, label: str = "label", client: Client | None = None) -> int:
    """Store ground truth for served predictions, keyed by request id (see :meth:`Client.log_labels`).

    >>> shipyard.log_labels(pd.DataFrame({"request_id": ["r1"], "label": [1]}), model="churn")  # doctest: +SKIP
    1
    """
    return (client or get_client()).log_labels(labels, model=model, label=label)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> list[ArtifactInfo]:
    run = _require_active()
    return run.client.log_artifacts(run.id, local_dir, artifact_path)


def serve(model: str | os.PathLike[str] | Any, *, client: Client | None = None, **options: Any) -> int:
    """Serve a model over HTTP until Ctrl-C or SIGTERM; returns the exit status.

    ``model`` is a model URI (``models:/churn@production``), a model folder, a serving
    YAML file or a :class:`shipyard.serving.ServeConfig`; ``options`` are its fields
    (``port=8080``, ``workers=2``, ``max_queue=…``). Each worker process opens its own
    stores with the configuration of ``client`` (default: :func:`get_client`); a model
    that declares features looks them up in that configuration's feature store. Like
    ``shipyard serve``, it binds 127.0.0.1 unless told otherwise.

    >>> shipyard.serve("models:/churn@production", port=8080, workers=2)  # doctest: +SKIP
    """
    from shipyard.client._process import ProcessClient
    from shipyard.serving import make_serve_config, run

    client = client or get_client()
    config = make_serve_config(model if not isinstance(model, os.PathLike) else os.fspath(model), **options)
    if config.token is None and client.config.token:
        config = config.with_(token=client.config.token)
    shared = ProcessClient(client.config)  # a worker's stores and feature lookup share one client
    return run(config, shared.client, features=shared.feature_lookup)


def step(fn: Any = None, /, **options: Any) -> Any:
    """``@shipyard.step`` or ``@shipyard.step(retries=3, cpus=2, timeout=600, cache=True)``: a pipeline
    step, still callable as the plain function (see :class:`shipyard.pipelines.Step`)."""
    from shipyard.pipelines import step as make_step

    return make_step(fn, **options) if fn is not None else make_step(**options)


def pipeline(fn: Any = None, /, **options: Any) -> Any:
    """``@shipyard.pipeline``: compose steps; ``.run()`` records with the default client unless
    given ``client=`` (see :class:`shipyard.pipelines.Pipeline`).

    >>> @shipyard.pipeline                                    # doctest: +SKIP
    ... def train(path: str = "churn.csv"):
    ...     return evaluate(fit(features(load(path))))
    >>> train.run({"path": "new.csv"}, executor="ray")        # doctest: +SKIP
    """
    from shipyard.pipelines import pipeline as make_pipeline

    options.setdefault("client_factory", get_client)
    return make_pipeline(fn, **options) if fn is not None else make_pipeline(**options)
