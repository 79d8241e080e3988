"""``shipyard build``: the build context of a container image that serves a model (and the image)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from shipyard.cli.output import JSON_OPTION, console, console_err, print_json

if TYPE_CHECKING:
    from shipyard.delivery import ContainerContext

__all__ = ["build"]


def build(
    model: str = typer.Argument(..., help="models:/name/3, models:/name@alias or runs:/<run id>/path"),
    out: Path = typer.Option(..., "--out", help="Folder to write the build context into (new or empty)."),
    base: str | None = typer.Option(None, "--base", help="Image to build on, with Python 3 and its venv module "
                                                         "(default: the slim Python 3.11 image, pinned by tag)."),
    python: str | None = typer.Option(None, "--python", help="Python of the base image, 3.X (default: from a "
                                                             "python:3.X base, else the model's)."),
    wheels: bool = typer.Option(False, "--wheels", help="Put every wheel the image needs into the context, "
                                                        "pinned by hash: the build needs no network."),
    pull: bool = typer.Option(False, "--pull", help="Leave the model out: the image pulls it at start from "
                                                    "the server named by SHIPYARD_URL (and SHIPYARD_TOKEN)."),
    force: bool = typer.Option(False, "--force", help="Replace an --out that holds an earlier build context."),
    image: str | None = typer.Option(None, "--image", help="Also build the image, with this name (churn:3)."),
    engine: str | None = typer.Option(None, "--engine", help="podman or docker, for --image (default: the "
                                                             "first installed)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write a container build context for a model: Dockerfile, pinned requirements, the model.

    The image runs `shipyard serve` as a non-root user on port 8080, answers its health
    check on /v2/health/ready, stops on SIGINT and writes only under /tmp. A network
    bind needs SHIPYARD_TOKEN in the container's environment (or --insecure after the
    image name). The same model and Shipyard version give the same files, byte for byte.
    """
    from shipyard.client import Client
    from shipyard.delivery import build_image, find_engine, write_container_context
    from shipyard.delivery._container import check_image_name

    if engine is not None and image is None:
        raise typer.BadParameter("--engine applies to --image (name the image to build)", param_hint="--engine")
    if image is not None:  # before any work: a missing engine or a bad name fails at once
        check_image_name(image)
        engine = find_engine(engine)
    started = time.monotonic()
    with console_err.status("Writing the build context") as status, Client() as client:
        context = write_container_context(client, model, out, base=base, python=python, wheels=wheels, pull=pull,
                                          force=force, on_step=lambda text: status.update(text))
        context_s = time.monotonic() - started
        image_s = None
        if image is not None:
            status.update(f"Building {image} with {engine}")
            started = time.monotonic()
            build_image(context, image, engine=engine)
            image_s = time.monotonic() - started
    for warning in context.warnings:
        console_err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
    if as_json:
        seconds = {"context": round(context_s, 1), "image": None if image_s is None else round(image_s, 1)}
        print_json({**context.to_dict(), "image": image, "engine": engine, "seconds": seconds})
        return
    _report(context, image, engine, context_s, image_s)


def _report(context: ContainerContext, image: str | None, engine: str | None, context_s: float,
            image_s: float | None) -> None:
    wheels = sum(1 for f in context.files if f.startswith("wheels/"))
    what = f"{wheels} wheel(s), every one the image needs" if context.offline else "Shipyard's wheel"
    model = "the model pulled at start" if context.pulled else "the model"
    console.print(f"Wrote the build context of {context.served} to {context.path} ({what}; {model}) "
                  f"in {context_s:.1f} s", highlight=False, soft_wrap=True)
    name = image or context.suggested_image
    env = "-e SHIPYARD_URL=https://shipyard.example -e SHIPYARD_TOKEN=... " if context.pulled \
        else "-e SHIPYARD_TOKEN=... "
    lines = []
    if image is None:
        network = " --network none" if context.offline else ""
        lines += [f"podman build --format docker{network} -t {name} {context.path}",
                  f"  (or: docker build{network} -t {name} {context.path})"]
    else:
        console.print(f"Built {image} with {engine} in {image_s or 0:.1f} s", highlight=False, soft_wrap=True)
    lines.append(f"{engine or 'podman'} run --rm --read-only --tmpfs /tmp -p 8080:8080 {env}{name}")
    console.print("Next:\n" + "\n".join(f"  {line}" for line in lines), highlight=False, soft_wrap=True, markup=False)
