"""``shipyard server``: serve the REST API with uvicorn."""

from __future__ import annotations

import typer

from shipyard.config import load_config

__all__ = ["serve_api"]


def serve_api(
    host: str = typer.Option("127.0.0.1", help="Address to bind; beyond loopback needs a token."),
    port: int = typer.Option(5000, help="TCP port."),
    insecure: bool = typer.Option(False, "--insecure", help="Allow a non-loopback bind without a token."),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
    scheduler: bool = typer.Option(False, "--scheduler", help="Also run pipeline schedules (as `shipyard scheduler`)."),
) -> None:
    """Start the Shipyard REST API on the configured stores."""
    import uvicorn

    from shipyard.server import check_bind, create_app

    config = load_config().with_(url=None)
    check_bind(host, config.token, insecure)
    app = create_app(config)
    if scheduler:
        from shipyard.cli.scheduler import start_background

        start_background(config)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
