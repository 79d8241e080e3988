"""Build contexts for model server images, and building them with podman or docker.

:func:`write_container_context` writes a folder an engine builds as is: ``Dockerfile``,
``.dockerignore``, ``requirements.txt``, ``entrypoint.py``, ``wheels/`` (Shipyard's own
wheel; with ``wheels=True`` every wheel, so the build needs no network) and ``model/``
(the package, unless it is pulled at start). The model's files are copied from the
store and checked against the digests the store recorded for them; the image checks
its ``model.yaml`` against that record again at start, and the server checks every file
against ``model.yaml`` before it loads anything.

The folder is written beside ``out`` and renamed into place when complete, so a failed
build leaves nothing behind. The same model and Shipyard give the same bytes: no
timestamps, sorted files, fixed modes and times, and Shipyard's wheel built with a fixed
``SOURCE_DATE_EPOCH``.

A model without a signature is refused: the image could not validate a request, or
describe its inputs to a client, and a container is where requests come from strangers.

>>> with shipyard.Client() as client:                                     # doctest: +SKIP
...     context = write_container_context(client, "models:/churn@production", "build/churn")
>>> build_image(context, "churn:3", engine="podman")                      # doctest: +SKIP
'podman'
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.delivery._dockerfile import (
    CONTEXT_DIR,
    DEFAULT_BASE,
    DOCKERIGNORE,
    MARK,
    ImageSpec,
    render_dockerfile,
    render_entrypoint,
)
from shipyard.delivery._output import move_into_place
from shipyard.delivery._wheels import (
    build_shipyard_wheel,
    canonical_name,
    download_wheels,
    lock,
    shipyard_source,
    shipyard_version,
    split_pins,
    tail,
)
from shipyard.errors import Conflict, InvalidInput, NotFound, ShipyardError
from shipyard.models import ModelManifest
from shipyard.models._integrity import verify_files
from shipyard.models._manifest import MANIFEST_FILE
from shipyard.registry import parse_model_uri

if TYPE_CHECKING:
    from shipyard.client import Client

__all__ = ["ENGINES", "ContainerContext", "ImageBuildError", "MissingTool", "build_image", "find_engine",
           "write_container_context"]

ENGINES = ("podman", "docker")
# Every file and folder of a context gets this time, so copying it into an image records
# the same metadata wherever and whenever it was written.
_EPOCH = 315532800  # 1980-01-01
_BASE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*")
_IMAGE = re.compile(r"[a-z0-9][a-z0-9._/:-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?")
_INSTALL = {
    "podman": "install podman (Debian/Ubuntu: apt-get install podman; elsewhere see "
              "https://podman.io/docs/installation)",
    "docker": "install Docker (https://docs.docker.com/engine/install/)",
}


class MissingTool(ShipyardError):
    """A program a command runs (``podman``, ``docker``) is not installed; the message says
    what to install. ``tool`` names the program."""


class ImageBuildError(ShipyardError):
    """The container engine failed to build an image; ``engine``, ``image`` and ``output``
    (the end of what the engine printed) say how."""


@dataclass(frozen=True)
class ContainerContext:
    """A written build context.

    ``uri`` is as given; ``served`` is what the image serves (the resolved version when
    the model is baked in, ``uri`` itself when it is pulled at start); ``name`` is the
    model's name in the server's URLs. ``files`` lists every file, relative and sorted.
    ``warnings`` are things the builder should know (the image's Python differs from
    the one the model was saved with).
    """

    path: Path
    uri: str
    served: str
    name: str
    base: str
    python: str
    offline: bool
    pulled: bool
    manifest_sha256: str
    files: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def suggested_image(self) -> str:
        """An image name for the context: ``churn:3``, ``churn:production``, ``model:<run id>``."""
        ref = parse_model_uri(self.served)
        tag = ref.alias or (str(ref.version) if ref.version is not None else (ref.run_id or "latest")[:12])
        return f"{re.sub(r'[^a-z0-9._-]+', '-', self.name.lower()).strip('-._') or 'model'}:{tag}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "uri": self.uri, "served": self.served, "name": self.name,
                "base": self.base, "python": self.python, "offline": self.offline, "pulled": self.pulled,
                "manifest_sha256": self.manifest_sha256, "files": list(self.files),
                "warnings": list(self.warnings), "suggested_image": self.suggested_image}


def find_engine(engine: str | None = None) -> str:
    """The container engine to build with: ``engine``, or the first of podman and docker
    on ``PATH``. Raises :class:`MissingTool` naming what to install when it is absent."""
    if engine is not None and engine not in ENGINES:
        raise InvalidInput(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}", field="engine")
    for candidate in (engine,) if engine else ENGINES:
        if shutil.which(candidate):
            return candidate
    if engine:
        raise MissingTool(f"{engine} is not installed (not on PATH): {_INSTALL[engine]}, or build the "
                          "context with the other engine (--engine)", tool=engine)
    raise MissingTool(f"no container engine on PATH: {_INSTALL['podman']}, or {_INSTALL['docker']}",
                      tool="podman")


def check_image_name(image: str) -> str:
    """``image`` if it is a valid image reference (``churn:3``, ``registry.example/ml/churn:3``)."""
    if not _IMAGE.fullmatch(image):
        raise InvalidInput(f"image name {image!r} is not a valid reference: lower-case name, then an "
                           "optional :tag (for example churn:3)", field="image")
    return image


def build_image(context: ContainerContext, image: str, *, engine: str | None = None) -> str:
    """Build ``context`` into ``image`` with ``engine`` (see :func:`find_engine`); return the
    engine used. A context that carries every wheel builds with no network.

    Raises :class:`ImageBuildError` with the end of the engine's output when it fails.
    """
    tool = find_engine(engine)
    command = [tool, "build", "-t", check_image_name(image)]
    if tool == "podman":
        command += ["--format", "docker"]  # the OCI format has no HEALTHCHECK
    if context.offline:
        command += ["--network", "none"]
    # The install step bind-mounts the context, which Docker's legacy builder cannot do.
    env = {**os.environ, "DOCKER_BUILDKIT": "1"} if tool == "docker" else None
    done = subprocess.run([*command, str(context.path)], capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        # podman prints noise such as "unable to get systemd connection" even when it works:
        # the exit status decides, and the end of the output explains.
        output = tail(done.stdout + done.stderr)
        raise ImageBuildError(f"{tool} build of {image} from {context.path} failed (exit {done.returncode}): {output} "
                              f"(the build context is complete; rerun: {' '.join(command)} {context.path})",
                              engine=tool, image=image, output=output)
    return tool


# -- writing a context ----------------------------------------------------------------------


def write_container_context(
    client: Client,
    uri: str,
    out: str | os.PathLike[str],
    *,
    base: str | None = None,
    python: str | None = None,
    wheels: bool = False,
    pull: bool = False,
    force: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> ContainerContext:
    """Write the build context of a server image for the model ``uri`` into ``out``.

    ``uri`` is ``models:/name/3``, ``models:/name@alias`` or ``runs:/<id>/path``. ``base``
    is the image to build on (default :data:`DEFAULT_BASE`), ``python`` its Python
    (``"3.11"``; default: from a ``python:X.Y`` base, else the model's). ``wheels``: put
    every wheel in the context and pin each by hash. ``pull``: leave the model out; the
    image pulls ``uri`` at start from the server its ``SHIPYARD_URL`` names. ``force``:
    replace an ``out`` that holds an earlier build context. ``on_step`` hears what is
    being done, for progress display.

    Raises ``NotFound`` for an unknown model, ``InvalidInput`` for a model without a
    signature, requirements that cannot be pinned, or a malformed argument, and
    ``Conflict`` for an ``out`` that is not empty (and, even with ``force``, one that does
    not hold a build context). Nothing is left at ``out`` when it raises.
    """
    step = on_step or (lambda _: None)
    target = Path(out).absolute()
    _check_out(target, force)
    if base is not None and not _BASE.fullmatch(base):
        raise InvalidInput(f"--base must be an image reference (python:3.11-slim, registry.example/py:3.11), "
                           f"got {base!r}", field="base")
    served, name, manifest_sha256 = _recorded(client, uri)
    step(f"Reading {served}")
    folder = client.model_path(served)
    manifest = ModelManifest.read(folder, sha256=manifest_sha256)
    if manifest.signature is None:
        raise InvalidInput(
            f"{uri} has no signature: its image could not validate requests or describe its inputs. Log the "
            "model again with input_example= (or signature=), register that version, and build it",
            field="signature")
    image_python, warnings = _image_python(base or DEFAULT_BASE, python, manifest)
    _, loose = split_pins(manifest.requirements)
    if loose and not wheels:
        raise InvalidInput(
            f"the model's requirements {', '.join(loose)} are not pinned to one version (name==1.2.3), so the "
            "image would install whatever is newest when it is built. Build with --wheels (which pins each to "
            "the version it downloads), or save the model with pinned requirements=[...]", field="requirements")
    spec = ImageSpec(base=base or DEFAULT_BASE, uri=uri if pull else served, name=name,
                     shipyard_version=shipyard_version(), manifest_sha256=None if pull else manifest_sha256,
                     offline=wheels)
    created = _missing_ancestor(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        requirements = _write_wheels(staging, spec, manifest.requirements, image_python, step)
        (staging / "requirements.txt").write_text(requirements, encoding="utf-8")
        if not pull:
            step("Copying the model")
            _copy_model(folder, staging / "model", manifest, manifest_sha256)
        (staging / "Dockerfile").write_text(render_dockerfile(spec), encoding="utf-8")
        (staging / "entrypoint.py").write_text(render_entrypoint(spec), encoding="utf-8")
        (staging / ".dockerignore").write_text(DOCKERIGNORE, encoding="utf-8")
        files = _normalize(staging)
        move_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    return ContainerContext(path=target, uri=uri, served=spec.uri, name=name, base=spec.base, python=image_python,
                            offline=wheels, pulled=pull, manifest_sha256=manifest_sha256, files=files,
                            warnings=tuple(warnings))


def _check_out(target: Path, force: bool) -> None:
    if target.exists() and not target.is_dir():
        raise InvalidInput(f"--out {target} is a file; name a folder for the build context", field="out")
    if not target.is_dir() or not any(target.iterdir()):
        return
    if not force:
        raise Conflict(f"--out {target} exists and is not empty; pass --force to replace it, or name a new folder",
                       field="out")
    dockerfile = target / "Dockerfile"
    first = dockerfile.read_text(encoding="utf-8").partition("\n")[0] if dockerfile.is_file() else ""
    if MARK not in first:
        raise Conflict(f"refusing to replace {target}: it does not hold a build context written by shipyard build "
                       "(its Dockerfile is missing or another's); --force replaces only those", field="out")


def _recorded(client: Client, uri: str) -> tuple[str, str, str]:
    """(what the image serves, its served name, the recorded sha256 of its ``model.yaml``):
    the digest comes from the store's record, never from the package's own folder."""
    if not uri.startswith(("models:/", "runs:/")) or any(c.isspace() or not c.isprintable() for c in uri):
        raise InvalidInput(f"expected a model URI (models:/name/3, models:/name@alias, runs:/<id>/path), got "
                           f"{uri!r}; register a model folder first (shipyard models register FOLDER NAME)",
                           field="uri")
    ref = parse_model_uri(uri)
    if ref.kind == "run":
        prefix = (ref.path or "").rstrip("/") + "/"
        recorded = {f.path[len(prefix):]: f.digest for f in client.list_artifacts(ref.run_id or "", prefix[:-1])
                    if f.path.startswith(prefix)}
        served, name = uri, prefix[:-1].rpartition("/")[2]
    else:
        version = client.resolve_model(uri)
        recorded = {f.path: f.digest for f in client.registry_store.list_version_files(version.name, version.version)}
        served, name = f"models:/{version.name}/{version.version}", version.name
    if not recorded:
        raise NotFound(f"no model at {uri!r}", resource="model", uri=uri)
    if MANIFEST_FILE not in recorded:
        raise InvalidInput(f"{uri} holds no {MANIFEST_FILE} (a package logged by the mlflow client?): shipyard build "
                           "takes Shipyard model packages; log the model with shipyard.log_model", field="uri")
    return served, name, recorded[MANIFEST_FILE]


def _image_python(base: str, python: str | None, manifest: ModelManifest) -> tuple[str, list[str]]:
    saved = ".".join(manifest.python_version.split(".")[:2])
    if python is not None and not re.fullmatch(r"3\.\d{1,2}", python):
        raise InvalidInput(f"--python must read 3.X (the image's Python, e.g. 3.11), got {python!r}", field="python")
    tagged = re.search(r"(?:^|/)python:(3\.\d{1,2})", base)
    chosen = python or (tagged.group(1) if tagged else saved)
    warnings = []
    if chosen != saved:
        warnings.append(f"the model was saved with Python {manifest.python_version} and the image runs {chosen}; "
                        f"if it fails to load, build on a Python {saved} base (--base, --python)")
    return chosen, warnings


def _write_wheels(staging: Path, spec: ImageSpec, requirements: list[str], python: str,
                  step: Callable[[str], None]) -> str:
    """Fill ``wheels/``; return the text of ``requirements.txt``."""
    wheels = staging / "wheels"
    wheels.mkdir()
    header = (f"# What the image of {spec.uri} installs, written by shipyard build.\n"
              f"# Python {python}; {'every wheel is in wheels/, pinned by hash' if spec.offline else 'from an index'}"
              ".\n")
    source = shipyard_source()
    shipyard = f"shipyard=={spec.shipyard_version}"
    built = None
    if source is not None:
        step(f"Building Shipyard's wheel from {source}")
        built = build_shipyard_wheel(source, wheels)
        # By path: never Shipyard by name from an index, where another project could hold the name.
        shipyard = f"shipyard @ file://{CONTEXT_DIR}/wheels/{built.name}"
    if spec.offline:
        step(f"Downloading the wheels of {', '.join(requirements) or 'the model'} and Shipyard for Python {python}")
        download_wheels(requirements if built else [*requirements, shipyard], wheels, python=python,
                        local=[built] if built else [])
        return lock(wheels, header)
    pinned = sorted([*requirements, shipyard], key=_distribution)
    return header + "".join(f"{requirement}\n" for requirement in pinned)


def _distribution(requirement: str) -> str:
    """The canonical name of the distribution a requirement names (``Scikit_Learn==1.5`` → ``scikit-learn``)."""
    return canonical_name(re.split(r"[\s\[=<>!~;@]", requirement.strip(), maxsplit=1)[0])


def _copy_model(folder: Path, dest: Path, manifest: ModelManifest, manifest_sha256: str) -> None:
    """Copy the package's listed files, then check the copy against the store's record."""
    for relative in [MANIFEST_FILE, *manifest.files]:
        (dest / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / relative, dest / relative)
    ModelManifest.read(dest, sha256=manifest_sha256)
    verify_files(dest, manifest.files)


def _normalize(root: Path) -> tuple[str, ...]:
    """Give every file and folder under ``root`` fixed modes and times; return the files."""
    files = []
    for folder, dirs, names in os.walk(root, topdown=False):
        here = Path(folder)
        for name in names:
            (here / name).chmod(0o644)
            os.utime(here / name, (_EPOCH, _EPOCH))
            files.append((here / name).relative_to(root).as_posix())
        for name in dirs:
            (here / name).chmod(0o755)
            os.utime(here / name, (_EPOCH, _EPOCH))
    root.chmod(0o755)
    os.utime(root, (_EPOCH, _EPOCH))
    return tuple(sorted(files))


def _missing_ancestor(target: Path) -> Path | None:
    """The outermost folder above ``target`` that does not exist yet (made, and removed on failure)."""
    missing = None
    for parent in target.parents:
        if parent.exists():
            break
        missing = parent
    return missing
