"""``shipyard server``: serve the REST API with uvicorn."""

from __future__ import annotations

import gc
import socket
from enum import StrEnum

import typer

from shipyard.cli.choices import choice
from shipyard.cli.output import console_err
from shipyard.config import Config, load_config

__all__ = ["serve_api"]


class LogLevel(StrEnum):
    """uvicorn's log levels."""

    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"
    trace = "trace"


def _base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve_api(
    host: str = typer.Option("127.0.0.1", help="Address to bind; beyond loopback needs a token."),
    port: int = typer.Option(5000, min=1, max=65535, help="TCP port."),
    insecure: bool = typer.Option(False, "--insecure", help="Allow a non-loopback bind without a token."),
    log_level: LogLevel = typer.Option(LogLevel.warning, help="uvicorn log level.", **choice(LogLevel)),
    scheduler: bool = typer.Option(False, "--scheduler", help="Also run pipeline schedules (as 'shipyard scheduler')."),
    automation: bool = typer.Option(False, "--automation",
                                    help="Also run the continuous-training controller (as 'shipyard automation run')."),
) -> None:
    """Start the Shipyard server on the configured stores: the web UI at /, the REST API at
    /api/v1, the MLflow-compatible API, /metrics and the API docs at /docs; print where
    before serving."""
    from shipyard.server import check_bind
    from shipyard.serving import bind_listener

    config = load_config().with_(url=None)
    from shipyard.cli.users import access_store

    with access_store() as store:  # users turn authentication on, as a token does
        has_users = store.has_users()
    check_bind(host, config.token, insecure, users=has_users)
    # Bound here, as 'shipyard serve' binds: a taken port or an unknown host fails in one
    # line before anything starts; uvicorn serves on this socket.
    listener = bind_listener(host, port)
    try:
        _serve(listener, host, port, config, insecure, has_users, log_level, scheduler, automation)
    finally:
        listener.close()


def _serve(listener: socket.socket, host: str, port: int, config: Config, insecure: bool, has_users: bool,
           log_level: LogLevel, scheduler: bool, automation: bool) -> None:
    import uvicorn

    from shipyard.server import create_app
    from shipyard.server.mlflow import PREFIXES

    app = create_app(config, insecure=insecure)
    if scheduler:
        from shipyard.cli.scheduler import start_background

        start_background(config)
    controller = None
    if automation:
        from shipyard.cli.automation import start_background as start_automation

        controller = start_automation(config)
    base = _base_url(host, port)
    auth = ("on: requests need a user's token or password, or SHIPYARD_TOKEN" if has_users
            else "on: requests need 'Authorization: Bearer' with SHIPYARD_TOKEN" if config.token else "off")
    lines = [f"Shipyard server on {base} (auth {auth})",
             f"  web UI       {base}/",
             f"  REST API     {base}/api/v1",
             f"  MLflow API   {base}{PREFIXES[0].rstrip('/')} (MLFLOW_TRACKING_URI={base})",
             f"  metrics      {base}/metrics",
             f"  API docs     {base}/docs"]
    if scheduler:
        lines.append("  scheduler    pipeline schedules and monitors, every 30s")
    if automation:
        lines.append("  automation   the continuous-training controller, every 10s")
    lines.append("Ctrl-C stops.")
    console_err.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level.value, access_log=False))
    # Everything imported and built so far lives as long as the process: freezing it keeps the
    # collector's full passes (tens to hundreds of ms in a heap this size, paid by whichever
    # request triggered them) to what requests allocate, as `shipyard serve` does.
    gc.collect()
    gc.freeze()
    try:
        server.run(sockets=[listener])
    except KeyboardInterrupt:  # Ctrl-C: uvicorn has shut down cleanly
        pass
    finally:
        if controller is not None:  # stop between passes; the leases are given up
            controller[0].set()
            controller[1].join(timeout=30)
