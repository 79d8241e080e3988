"""Command groups name a command one level down when the word typed is one of its groups' commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import run_cli


@pytest.mark.parametrize(("args", "meant"), [
    (["alerts", "add"], "shipyard alerts rule add"),
    (["alerts", "delete", "r1"], "shipyard alerts rule delete"),
    (["monitor", "upload", "labels.csv"], "shipyard monitor labels upload"),
])
def test_a_command_of_a_nested_group_is_suggested_with_its_whole_path(tmp_path: Path, args: list[str],
                                                                      meant: str) -> None:
    done = run_cli(tmp_path, *args)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == f"Error: No such command {args[1]!r}. Did you mean {meant!r}?"


def test_a_misspelt_command_keeps_clicks_own_suggestions(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "alerts", "rulez")
    assert done.stderr.strip().splitlines()[-1] == "Error: No such command 'rulez'. Did you mean 'rule', 'rules'?"


def test_a_word_no_command_has_gets_no_suggestion(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "alerts", "frobnicate")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == "Error: No such command 'frobnicate'."
