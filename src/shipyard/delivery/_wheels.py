"""What an image installs: pinned requirements, Shipyard's own wheel, and every other wheel.

Shipyard goes into an image as a wheel built from the source tree it runs from (an
editable or source checkout), never by name from an index, where another project could
hold the name. The model's libraries come pinned from its manifest. With every wheel in
the context (:func:`download_wheels`), ``requirements.txt`` pins each downloaded wheel
with its sha256 (:func:`lock`), so the image installs with ``--no-index
--require-hashes`` and the same context always installs the same bytes.

>>> split_pins(["scikit-learn==1.5.0", "joblib>=1.3"])
(['scikit-learn==1.5.0'], ['joblib>=1.3'])
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from shipyard.errors import InvalidInput, ShipyardError, Unavailable

__all__ = ["build_shipyard_wheel", "canonical_name", "download_wheels", "lock", "platform_tags", "shipyard_source",
           "shipyard_version", "split_pins", "tail"]

_PINNED = re.compile(r"\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*===?\s*[A-Za-z0-9.+!_-]+\s*(;.*)?")
# glibc 2.36 is Debian bookworm's, the default base's; wheels for older glibc run there too.
_NEWEST_GLIBC, _OLDEST_GLIBC = 36, 17
# Wheel builds stamp their files' times: a fixed epoch (1980-01-01, the earliest zip time)
# makes Shipyard's own wheel the same bytes on every build.
SOURCE_DATE_EPOCH = "315532800"
_NOT_FOUND = "No matching distribution found for "


def canonical_name(name: str) -> str:
    """A distribution name as pip compares it: ``Scikit_Learn`` → ``scikit-learn``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def split_pins(requirements: Iterable[str]) -> tuple[list[str], list[str]]:
    """``requirements`` split into those pinned to one version (``name==1.2``) and the rest."""
    pinned: list[str] = []
    loose: list[str] = []
    for requirement in requirements:
        (pinned if _PINNED.fullmatch(requirement) else loose).append(requirement)
    return pinned, loose


def shipyard_version() -> str:
    """The version of the running Shipyard, as its installed metadata records it."""
    try:
        return metadata.version("shipyard")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare source tree
        return "0+unknown"


def shipyard_source() -> Path | None:
    """The source tree of the running Shipyard (an editable install or a checkout), or None
    when it was installed from a wheel."""
    try:
        direct = metadata.distribution("shipyard").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        direct = None
    if direct:
        url = json.loads(direct).get("url", "")
        if url.startswith("file://") and (Path(unquote(urlparse(url).path)) / "pyproject.toml").is_file():
            return Path(unquote(urlparse(url).path))
    root = Path(__file__).resolve().parents[3]  # src/shipyard/delivery/_wheels.py
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and re.search(r'(?m)^name\s*=\s*"shipyard"', pyproject.read_text(encoding="utf-8")):
        return root
    return None


def _pip(args: Sequence[str], **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", **env}
    try:
        return subprocess.run([sys.executable, "-m", "pip", *args], env=environment, capture_output=True,
                              text=True, check=False)
    except OSError as exc:  # pragma: no cover - sys.executable always runs
        raise Unavailable(f"could not run pip: {exc}") from None


def tail(text: str, lines: int = 6) -> str:
    """The last ``lines`` lines of a tool's output that say something, on one line
    (errors print as one line), with pip's notes about unused local indexes left out."""
    kept = [line.strip() for line in text.splitlines() if line.strip() and "is ignored" not in line]
    return " | ".join(kept[-lines:])


def build_shipyard_wheel(source: Path, dest: Path) -> Path:
    """Build Shipyard's wheel from ``source`` into ``dest``; the same tree gives the same bytes."""
    done = _pip(["wheel", "--no-deps", "--wheel-dir", str(dest), str(source)], SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH)
    wheels = sorted(dest.glob("shipyard-*.whl"))
    if done.returncode != 0 or not wheels:
        raise ShipyardError(f"could not build Shipyard's wheel from {source}: {tail(done.stdout + done.stderr)}")
    return wheels[0]


def platform_tags(machine: str | None = None) -> list[str]:
    """The manylinux platform tags of a glibc Linux image on ``machine`` (default: this one's)."""
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get((machine or platform.machine()).lower(),
                                                       (machine or platform.machine()).lower())
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(_NEWEST_GLIBC, _OLDEST_GLIBC - 1, -1)]
    return [*tags, f"manylinux2014_{arch}"]  # pip widens this one to manylinux2010 and manylinux1


def download_wheels(requirements: Sequence[str], dest: Path, *, python: str, local: Sequence[Path] = ()) -> None:
    """Download a wheel of every requirement, of each ``local`` wheel's dependencies and of
    everything they need into ``dest``, for CPython ``python`` (``"3.11"``) on glibc Linux
    of this machine's architecture.

    Raises ``InvalidInput`` naming the requirement when no wheel of it exists there, or
    when the requirements contradict one another.
    """
    platforms = [arg for tag in platform_tags() for arg in ("--platform", tag)]
    done = _pip(["download", "--dest", str(dest), "--only-binary=:all:", "--progress-bar", "off",
                 "--python-version", python, "--implementation", "cp", "--abi", f"cp{python.replace('.', '')}",
                 *platforms, *requirements, *map(str, local)])
    if done.returncode == 0:
        return
    output = done.stdout + done.stderr
    missing = sorted({line.split(_NOT_FOUND, 1)[1].split(" (from")[0].strip()
                      for line in output.splitlines() if _NOT_FOUND in line})
    if missing:
        raise InvalidInput(
            f"cannot pin the image's requirements: no wheel of {', '.join(missing)} exists for CPython {python} "
            f"on Linux {platform.machine()} (the model's requirements: {', '.join(requirements)}). Fix them "
            "(save the model again with requirements=[...] naming a published version) or pick the "
            "image's Python with --python",
            field="requirements")
    if "ResolutionImpossible" in output or "conflict" in output.lower():
        raise InvalidInput(f"cannot pin the image's requirements: the model's ({', '.join(requirements)}) "
                           f"contradict one another or Shipyard's: {tail(output)}", field="requirements")
    raise Unavailable(f"pip could not download the image's wheels: {tail(output)}")


def lock(wheels: Path, header: str) -> str:
    """``requirements.txt`` pinning every wheel in ``wheels`` to its version and sha256."""
    entries = []
    for wheel in wheels.glob("*.whl"):
        name, version = wheel.name.split("-")[:2]
        with open(wheel, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        entries.append((canonical_name(name), version, digest))
    names = [entry[0] for entry in entries]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise InvalidInput(f"two wheels of {', '.join(twice)} in {wheels}; remove one", field="wheels")
    lines = [f"{name}=={version} \\\n    --hash=sha256:{digest}" for name, version, digest in sorted(entries)]
    return header + "\n".join(lines) + "\n"
