"""``shipyard init DIR``: a new project with a training pipeline, tests, a policy and CI."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from shipyard.cli.choices import choice
from shipyard.cli.output import console

__all__ = ["init"]


class CiSystem(StrEnum):
    """Where the project's workflow runs."""

    github = "github"
    gitlab = "gitlab"


def init(
    directory: Path = typer.Argument(..., metavar="DIR", help="Folder of the new project (made if missing)."),
    ci: CiSystem = typer.Option(CiSystem.github, "--ci", help="CI system of the workflow.",
                                  **choice(CiSystem)),
    name: str | None = typer.Option(None, "--name", help="Registered model name (default: from the folder's name)."),
    force: bool = typer.Option(False, "--force", help="Write into a folder that is not empty: the project's files "
                                                      "replace those of the same name, others stay."),
) -> None:
    """Create a project: training pipeline, data contract, promotion policy, tests,
    shipyard.toml and a CI workflow that tests, trains, validates and releases."""
    from shipyard.delivery import init_project

    project = init_project(directory, ci=ci.value, name=name, force=force)
    console.print(f"created {project.path} for model {project.name} ({len(project.files)} files, {project.ci} CI)")
    for path in project.files:
        console.print(f"  {path}", highlight=False)
    console.print(f"next: cd {project.path} && pip install -r requirements.txt && pytest && python train.py",
                  highlight=False)
