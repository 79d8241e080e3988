"""``shipyard serve``: serve registered models over HTTP (Open Inference Protocol and MLflow scoring)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from shipyard.cli.output import console_err
from shipyard.errors import InvalidInput

__all__ = ["serve"]


def serve(
    model: str = typer.Argument(..., help="models:/name@alias, models:/name/3, runs:/<id>/path, a model folder, "
                                          "or a YAML file listing several models"),
    # None: the YAML's value when serving a config file, else the default in the help.
    port: int | None = typer.Option(None, help="TCP port (default 8080; 0: any free port).", show_default=False),
    host: str | None = typer.Option(None, help="Address to bind (default 127.0.0.1); beyond loopback needs "
                                               "SHIPYARD_TOKEN or --insecure.", show_default=False),
    workers: int | None = typer.Option(None, help="Worker processes (default 1; a dead one is replaced).",
                                       show_default=False),
    insecure: bool = typer.Option(False, "--insecure", help="Allow a non-loopback bind without a token."),
    name: str | None = typer.Option(None, help="Name of the model in URLs (default: the registered name)."),
    max_batch_size: int | None = typer.Option(None, help="Most rows merged into one model call (default 64)."),
    max_latency_ms: float | None = typer.Option(None, help="Longest a request waits for its batch (default 5)."),
    no_batching: bool = typer.Option(False, "--no-batching", help="Call the model once per request."),
    max_queue: int | None = typer.Option(None, help="Requests that may wait per model before 503 (default 512)."),
    timeout: float | None = typer.Option(None, help="Seconds before a request gets 504 (default 10)."),
    poll_interval: float | None = typer.Option(None, help="Seconds between alias checks; 0 never (default 3)."),
    sample_rate: float | None = typer.Option(None, help="Share of requests in the inference log (default 1)."),
    no_inference_log: bool = typer.Option(False, "--no-inference-log", help="Keep no inference log."),
    no_access_log: bool = typer.Option(False, "--no-access-log", help="Write no JSON access log lines."),
    trust: bool = typer.Option(False, "--trust", help="Load a local model folder on its own model.yaml: only for a "
                                                      "folder you saved, or whose writers you trust (a rewritten "
                                                      "folder runs its pickles). URIs never need it."),
) -> None:
    """Serve a model (or several, from a YAML file) until Ctrl-C or SIGTERM."""
    from shipyard.auth import check_bind
    from shipyard.client import Client
    from shipyard.client._process import ProcessClient
    from shipyard.config import load_config
    from shipyard.models._integrity import untrusted
    from shipyard.models._mlflow_format import is_mlflow_package
    from shipyard.serving import BatchingConfig, InferenceLogConfig, make_serve_config, run

    _check_source(model)
    config = load_config()
    batching = None
    if no_batching or max_batch_size is not None or max_latency_ms is not None:
        batching = BatchingConfig(enabled=not no_batching,
                                  max_batch_size=64 if max_batch_size is None else max_batch_size,
                                  max_latency_ms=5.0 if max_latency_ms is None else max_latency_ms)
    inference_log = None
    if no_inference_log or sample_rate is not None:
        inference_log = InferenceLogConfig(enabled=not no_inference_log,
                                           sample_rate=1.0 if sample_rate is None else sample_rate)
    serve_config = make_serve_config(
        model, port=port, host=host, workers=workers, insecure=insecure or None, token=config.token,
        access_log=False if no_access_log else None, inference_log=inference_log,
        name=name, batching=batching, max_queue=max_queue, timeout_s=timeout, poll_interval_s=poll_interval,
        trust=trust or None,
    )

    if not config.url:  # users of the server's database sign in to serving with their API tokens too
        from shipyard.access import TokenCheck
        from shipyard.cli.users import access_store

        with access_store() as store:
            if store.has_users():
                serve_config = serve_config.with_(token_check=TokenCheck(config.database_url))
    # A refused address or a model that does not resolve fails here, in one line, before
    # any worker starts.
    check_bind(serve_config.host, serve_config.token, serve_config.insecure,
               users=serve_config.token_check is not None)
    with Client(config) as client:
        for served in serve_config.models:
            uris = [t.uri for t in served.targets] + ([served.shadow.uri] if served.shadow else [])
            for uri in uris:
                if uri.startswith("models:/"):
                    client.resolve_model(uri)
                else:
                    path = client.model_path(uri)
                    if not uri.startswith("runs:/") and not serve_config.trust:
                        raise untrusted(path, "MLmodel" if is_mlflow_package(path) else "model.yaml")

    heartbeat = None if config.url else _heartbeat(config, serve_config)  # the server's deployments page

    def ready(supervisor: object) -> None:
        if heartbeat is not None:
            heartbeat.start(supervisor)
        served = ", ".join(f"{m.name} ({', '.join(t.uri for t in m.targets)})" for m in serve_config.models)
        console_err.print(f"Serving {served} on http://{serve_config.host}:{supervisor.port} "  # type: ignore[attr-defined]
                          f"with {serve_config.workers} worker(s)", highlight=False, soft_wrap=True)

    # Each worker reads models, and looks up the features of models that declare them, through
    # one client of this configuration.
    shared = ProcessClient(config)
    try:
        status = run(serve_config, shared.client, on_ready=ready, features=shared.feature_lookup)
    finally:
        if heartbeat is not None:
            heartbeat.stop()
    raise typer.Exit(status)


def _check_source(model: str) -> None:
    """A model URI, or a folder or YAML file that exists; anything else fails naming the forms taken."""
    if model.startswith(("models:/", "runs:/")) or Path(model).exists():
        return
    raise InvalidInput(f"MODEL must be models:/NAME/VERSION, models:/NAME@ALIAS, runs:/ID/PATH, a model folder "
                       f"or a YAML file listing models; got {model!r}, neither such a URI nor an existing file "
                       "or folder", field="model")


def _heartbeat(config: Any, serve_config: Any) -> Any:
    """Registers this server in the metadata store while it serves (see serving's ``Heartbeat``)."""
    from shipyard.serving._registration import Heartbeat
    from shipyard.serving._sql_registrations import SqlRegistrationStore
    from shipyard.store import Database

    return Heartbeat(SqlRegistrationStore(Database(config.database_url, busy_timeout=config.db_busy_timeout)),
                     serve_config)
