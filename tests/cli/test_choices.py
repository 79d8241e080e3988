"""Options that take one word of a fixed set: Click's wording for a stray word, the words in the help."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from shipyard.cli.choices import choice
from shipyard.cli.init import CiSystem
from tests.cli.test_cli import run_cli


@pytest.mark.parametrize(("args", "error"), [
    (["init", "project", "--ci", "bitbucket"], "'--ci': 'bitbucket' is not one of 'github', 'gitlab'."),
    (["server", "--log-level", "loud"],
     "'--log-level': 'loud' is not one of 'critical', 'error', 'warning', 'info', 'debug', 'trace'."),
    (["deploy", "k8s", "models:/churn/1", "--image", "i", "--out", "out", "--profile", "huge"],
     "'--profile': 'huge' is not one of 'small', 'medium', 'large'."),
    (["deploy", "k8s", "models:/churn/1", "--image", "i", "--out", "out", "--scale-on", "memory"],
     "'--scale-on': 'memory' is not one of 'cpu', 'inflight'."),
], ids=["init-ci", "server-log-level", "deploy-profile", "deploy-scale-on"])
def test_a_word_outside_the_set_is_a_usage_error_naming_the_allowed_words(tmp_path: Path, args: list[str],
                                                                           error: str) -> None:
    done = run_cli(tmp_path, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == f"Error: Invalid value for {error}"
    assert not (tmp_path / "project").exists() and not (tmp_path / "out").exists()


def test_a_word_of_the_set_is_taken_and_the_help_lists_the_words(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "init", "project", "--ci", "gitlab")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "project" / ".gitlab-ci.yml").is_file()
    assert "--ci [github|gitlab]" in run_cli(tmp_path, "init", "--help").stdout


def test_the_parser_gives_the_member_and_passes_a_member_through() -> None:
    parse = choice(CiSystem)["parser"]
    assert parse("gitlab") is CiSystem.gitlab and parse(CiSystem.github) is CiSystem.github
    with pytest.raises(typer.BadParameter, match=r"^'GitHub' is not one of 'github', 'gitlab'\.$"):
        parse("GitHub")
