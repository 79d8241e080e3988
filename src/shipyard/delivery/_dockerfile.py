"""The text files of a model server image's build context: Dockerfile, entrypoint, .dockerignore.

Everything here is a pure function of an :class:`ImageSpec`, so the same spec gives the
same bytes. One step makes a virtual environment from ``requirements.txt`` (offline from
``wheels/`` when the context carries every wheel), reading the context through a bind
mount, so no wheel or pip cache becomes part of the image. The server runs as an
unprivileged numeric user and writes only under ``/tmp`` (``HOME``, ``TMPDIR``,
``SHIPYARD_HOME``), so the root filesystem can be read-only with a tmpfs on ``/tmp``.

>>> spec = ImageSpec(base="python:3.11-slim", uri="models:/churn/3", name="churn",
...                  shipyard_version="0.1.0", manifest_sha256="ab" * 32, offline=True)
>>> "USER 10001:10001" in render_dockerfile(spec)
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["APP_DIR", "CONTEXT_DIR", "DEFAULT_BASE", "DOCKERIGNORE", "ImageSpec", "MARK", "PORT", "UID",
           "render_dockerfile", "render_entrypoint"]

# Pinned by full tag: the same context builds on the same Python and Debian release.
DEFAULT_BASE = "python:3.11.13-slim-bookworm"
APP_DIR = "/opt/shipyard"
PORT = 8080
UID = 10001  # numeric, so a cluster's runAsNonRoot can check it without /etc/passwd
_VENV = f"{APP_DIR}/venv"
_READY = f"http://127.0.0.1:{PORT}/v2/health/ready"
CONTEXT_DIR = "/mnt/context"  # where the install step sees the build context
MARK = "written by shipyard build"  # in the first line of every Dockerfile written here

DOCKERIGNORE = """\
# The engine receives only what the Dockerfile copies.
*
!Dockerfile
!entrypoint.py
!requirements.txt
!model
!wheels
"""


@dataclass(frozen=True)
class ImageSpec:
    """What an image is made of.

    ``uri`` is what the image serves: the resolved version (``models:/churn/3``) when the
    model is baked in, the URI as given when it is pulled at start. ``manifest_sha256`` is
    the recorded digest of the baked ``model.yaml``, checked at start (None: pulled).
    ``offline``: ``wheels/`` holds every wheel and ``requirements.txt`` pins each with its
    hash, so the build needs no network.
    """

    base: str
    uri: str
    name: str
    shipyard_version: str
    manifest_sha256: str | None
    offline: bool

    @property
    def pulled(self) -> bool:
        return self.manifest_sha256 is None


def _install(spec: ImageSpec) -> list[str]:
    """The one RUN that makes the virtual environment, reading the context through a bind
    mount: no wheel or requirements file becomes a layer of the image."""
    if spec.offline:
        source = f"--no-index --find-links {CONTEXT_DIR}/wheels --require-hashes --only-binary=:all:"
        args = []
    else:
        source = f"--find-links {CONTEXT_DIR}/wheels"
        # The index is the builder's choice (--build-arg PIP_INDEX_URL=...); build arguments
        # show in the image's history, so keep credentials out of them.
        args = ["ARG PIP_INDEX_URL=https://pypi.org/simple"]
    return [
        *args,
        f"RUN --mount=type=bind,source=.,target={CONTEXT_DIR} python3 -m venv {_VENV} \\",
        f" && {_VENV}/bin/pip install --no-cache-dir --disable-pip-version-check --no-input {source} \\",
        f"    -r {CONTEXT_DIR}/requirements.txt",
    ]


def render_dockerfile(spec: ImageSpec) -> str:
    """The Dockerfile of ``spec``: non-root, health-checked, stopped by SIGINT, writing only to /tmp."""
    healthcheck = json.dumps([f"{_VENV}/bin/python", "-c",
                              f"import urllib.request; urllib.request.urlopen('{_READY}', timeout=4)"])
    entrypoint = json.dumps([f"{_VENV}/bin/python", f"{APP_DIR}/entrypoint.py"])
    labels = {
        "org.opencontainers.image.title": spec.name,
        "org.opencontainers.image.description": f"Shipyard model server for {spec.uri}",
        "io.shipyard.model.uri": spec.uri,
        "io.shipyard.model.manifest-sha256": spec.manifest_sha256 or "pulled at start",
        "io.shipyard.version": spec.shipyard_version,
    }
    how = "pulled at start from SHIPYARD_URL" if spec.pulled else "baked in, verified at start"
    lines = [
        f"# Model server for {spec.uri} ({how}), {MARK} (Shipyard {spec.shipyard_version}).",
        "# podman build --format docker -t IMAGE .   (the docker format keeps the HEALTHCHECK)",
        "# docker build -t IMAGE .                   (BuildKit, the default since Docker 23)",
        "",
        f"FROM {spec.base}",
        # Installed first: images of other versions of a model with the same requirements
        # share this layer.
        *_install(spec),
        *([] if spec.pulled else [f"COPY model/ {APP_DIR}/model/"]),
        f"COPY entrypoint.py {APP_DIR}/entrypoint.py",
        f"ENV PATH={_VENV}/bin:$PATH \\",
        "    HOME=/tmp \\",
        "    TMPDIR=/tmp \\",
        "    SHIPYARD_HOME=/tmp/shipyard \\",
        "    PYTHONDONTWRITEBYTECODE=1 \\",
        "    PYTHONUNBUFFERED=1",
        "LABEL " + " \\\n      ".join(f"{key}={json.dumps(value)}" for key, value in labels.items()),
        f"USER {UID}:{UID}",
        "WORKDIR /tmp",
        f"EXPOSE {PORT}",
        # A Python server as PID 1 gets no default SIGTERM action; the server stops
        # gracefully on SIGINT, in well under a second.
        "STOPSIGNAL SIGINT",
        f"HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD {healthcheck}",
        f"ENTRYPOINT {entrypoint}",
        "",
    ]
    return "\n".join(lines)


_ENTRYPOINT = '''\
"""Start the model server of this image (written by shipyard build).

{how}
Arguments given to the container go on to `shipyard serve` (for example --workers 2).
"""

import os
import sys
from pathlib import Path

URI = {uri!r}
NAME = {name!r}
MANIFEST_SHA256 = {sha!r}
PORT = {port!r}


def main() -> None:
    shipyard = str(Path(sys.executable).with_name("shipyard"))
    if MANIFEST_SHA256 is None:
        if not os.environ.get("SHIPYARD_URL"):
            sys.exit(f"error: this image pulls {{URI}} at start from a Shipyard server: set SHIPYARD_URL "
                     "(and SHIPYARD_TOKEN) in the container's environment")
        model = [URI]
    else:
        from shipyard.errors import ShipyardError
        from shipyard.models import ModelManifest

        folder = Path(__file__).resolve().with_name("model")
        try:
            ModelManifest.read(folder, sha256=MANIFEST_SHA256)
        except ShipyardError as exc:
            sys.exit(f"error: {{type(exc).__name__}}: {{exc}}")
        model = [str(folder), "--trust"]
    os.execv(shipyard, [shipyard, "serve", *model, "--name", NAME, "--host", "0.0.0.0", "--port", str(PORT),
                        *sys.argv[1:]])


if __name__ == "__main__":
    main()
'''

_BAKED = """The model is baked in: its model.yaml is checked here against the sha256 recorded
when the image was built, and `shipyard serve` checks every file of the model against
that model.yaml before loading anything."""
_PULLED = """The model is pulled at start from the Shipyard server named by SHIPYARD_URL (with
SHIPYARD_TOKEN), and checked against the digests the server recorded for it."""


def render_entrypoint(spec: ImageSpec) -> str:
    """``entrypoint.py``: check the baked model's ``model.yaml``, then exec ``shipyard serve``."""
    return _ENTRYPOINT.format(how=_PULLED if spec.pulled else _BAKED, uri=spec.uri, name=spec.name,
                              sha=spec.manifest_sha256, port=PORT)
