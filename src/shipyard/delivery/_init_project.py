"""``shipyard init``: a new project whose CI trains, validates and releases a model.

The project holds a training pipeline (``train.py``: load → check the data contract →
fit → evaluate, then the candidate logged with an input example and its request
contract), its data and data contract, a promotion policy, tests of the pipeline,
``shipyard.toml``, and a CI workflow (GitHub Actions or GitLab CI) that tests, trains
and runs ``shipyard ci validate`` on every change and, after a merge, registers the
candidate and moves ``@staging`` to it.

The files are rendered from the package's ``templates/project`` folder by replacing
``@@NAME@@`` placeholders, so the same name and CI system always give the same bytes.
The project is written into a temporary folder beside ``directory`` and moved into
place at the end: a failure leaves nothing behind. A ``directory`` that exists and is
not empty is refused unless ``force``, which writes the project's files over those
of the same name and leaves every other file alone.

>>> project = init_project("churn-model", ci="gitlab")   # doctest: +SKIP
>>> project.files[:3]                                     # doctest: +SKIP
('.gitignore', '.gitlab-ci.yml', 'README.md')
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from importlib.resources import files
from pathlib import Path

from shipyard.errors import Conflict, InvalidInput

__all__ = ["CI_FILES", "Project", "init_project", "project_files"]

CI_FILES = {"github": ".github/workflows/shipyard.yml", "gitlab": ".gitlab-ci.yml"}
"""Where each CI system reads its workflow, in the project."""

# Template (in templates/project) -> path in the project; the CI file is added per system.
_TEMPLATES = {
    "README.md.tmpl": "README.md",
    "contract.yaml.tmpl": "contract.yaml",
    "gitignore.tmpl": ".gitignore",
    "policy.yaml.tmpl": "policy.yaml",
    "pytest.ini.tmpl": "pytest.ini",
    "requirements.txt.tmpl": "requirements.txt",
    "shipyard.toml.tmpl": "shipyard.toml",
    "test_train.py.tmpl": "tests/test_train.py",
    "train.csv": "data/train.csv",
    "train.py.tmpl": "train.py",
}
_CI_TEMPLATES = {"github": "github-workflow.yml.tmpl", "gitlab": "gitlab-ci.yml.tmpl"}
# A registered model name that is also safe unquoted in a shell word and a YAML scalar.
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_PLACEHOLDER = re.compile(r"@@[A-Z_]+@@")


@dataclass(frozen=True)
class Project:
    """A project :func:`init_project` wrote: where, for which model, and its files."""

    path: Path
    name: str
    ci: str
    files: tuple[str, ...]


def default_name(directory: str | os.PathLike[str]) -> str:
    """The model name a folder suggests: its name, lowercased, other characters as ``-``."""
    name = re.sub(r"[^a-z0-9_-]+", "-", Path(directory).resolve().name.lower()).strip("-_")
    return name[:63] or "model"


def project_files(name: str, ci: str = "github", *, project: str | None = None) -> dict[str, str]:
    """Every file of the project, by path, as text (``project``: the title, default ``name``)."""
    if ci not in CI_FILES:
        raise InvalidInput(f"--ci must be one of {', '.join(CI_FILES)}, got {ci!r}", field="ci")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(f"the model name must be 1-63 lowercase letters, digits, '-' or '_', starting with a "
                           f"letter or digit, got {name!r}; pass --name", field="name")
    values = {"@@MODEL_NAME@@": name, "@@PROJECT@@": project or name, "@@SHIPYARD@@": _shipyard_requirement(),
              "@@CI_FILE_ROW@@": f"`{CI_FILES[ci]}`"}
    folder = files("shipyard.delivery").joinpath("templates", "project")
    out = {}
    for template, path in [*_TEMPLATES.items(), (_CI_TEMPLATES[ci], CI_FILES[ci])]:
        text = folder.joinpath(template).read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace(key, value)
        left = _PLACEHOLDER.search(text)
        if left:  # a template naming a value this function does not supply
            raise AssertionError(f"template {template} has an unfilled placeholder {left.group()}")
        out[path] = text
    return dict(sorted(out.items()))


def init_project(directory: str | os.PathLike[str], *, ci: str = "github", name: str | None = None,
                 force: bool = False) -> Project:
    """Write a new project into ``directory`` (see the module docstring) and describe it."""
    target = Path(directory)
    name = name or default_name(target)
    rendered = project_files(name, ci, project=target.resolve().name)
    if target.exists() and not target.is_dir():
        raise InvalidInput(f"{target} is a file; name a folder for the project", field="directory")
    occupied = target.is_dir() and any(target.iterdir())
    if occupied and not force:
        raise Conflict(f"{target} exists and is not empty; pass --force to write the project's files over it "
                       "(other files are left alone), or name a new folder", field="directory")
    created = _missing_ancestor(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        for path, text in rendered.items():
            file = staging / path
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text, encoding="utf-8")
            file.chmod(0o644)
        staging.chmod(0o755)
        if occupied:
            for path in rendered:  # each file replaced whole; the folder's other files stay
                (target / path).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / path, target / path)
        else:
            os.replace(staging, target)  # a missing or empty folder is replaced in one step
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Project(target, name, ci, tuple(rendered))


def _shipyard_requirement() -> str:
    """Shipyard pinned to the installed version: the project runs on what it was made with."""
    try:
        return f"shipyard[sklearn]=={metadata.version('shipyard')}"
    except metadata.PackageNotFoundError:  # a source tree on sys.path, not installed: no version to pin
        return "shipyard[sklearn]"


def _missing_ancestor(target: Path) -> Path | None:
    """The outermost folder above ``target`` that does not exist yet (removed on failure)."""
    missing = None
    for parent in target.parents:
        if parent.exists():
            break
        missing = parent
    return missing
