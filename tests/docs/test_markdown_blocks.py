"""How the docs test reads a page: runnable blocks, skip and file markers, console prompts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.markdown_blocks import Block, MarkerError, blocks, shell_commands

FENCE = "```"


def page(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "page.md"
    path.write_text(text.replace("'''", FENCE), encoding="utf-8")
    return path


def test_python_and_shell_blocks_are_runnable_and_others_are_not(tmp_path: Path) -> None:
    found = blocks(page(tmp_path, "'''python\nx = 1\n'''\n\n'''yaml\na: 1\n'''\n\n'''bash\necho hi\n'''\n"
                                  "'''\nplain\n'''\n"))
    assert [(b.lang, b.code, b.line) for b in found] == [("python", "x = 1\n", 1), ("bash", "echo hi\n", 9)]


def test_a_skip_marker_with_its_reason_skips_the_next_block(tmp_path: Path) -> None:
    found = blocks(page(tmp_path, "<!-- skip: needs a cluster -->\n\n'''bash\nkubectl apply\n'''\n'''sh\nls\n'''\n"))
    assert [b.skip for b in found] == ["needs a cluster", None]


@pytest.mark.parametrize("marker", ["<!-- skip -->", "<!-- skip: -->", "<!-- skip:   -->", "<!-- file: -->"])
def test_a_marker_without_a_reason_or_name_is_refused(tmp_path: Path, marker: str) -> None:
    with pytest.raises(MarkerError, match="needs"):
        blocks(page(tmp_path, f"{marker}\n'''bash\nls\n'''\n"))


@pytest.mark.parametrize("text", ["<!-- skip: why -->\nsome prose\n'''bash\nls\n'''\n",
                                  "<!-- skip: why -->\n'''text\nls\n'''\n",
                                  "'''bash\nls\n'''\n<!-- skip: why -->\n"])
def test_a_skip_marker_that_no_runnable_block_follows_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(MarkerError, match="followed by"):
        blocks(page(tmp_path, text))


def test_a_file_marker_names_the_file_a_block_of_any_language_is_saved_as(tmp_path: Path) -> None:
    found = blocks(page(tmp_path, "<!-- file: shipyard.toml -->\n'''toml\ndb = 'x'\n'''\n"))
    assert [(b.lang, b.file, b.skip) for b in found] == [("toml", "shipyard.toml", None)]


def test_a_console_block_runs_its_prompt_lines_and_their_continuations() -> None:
    block = Block("p.md", 1, "console", "$ echo a \\\n    b\na b\n$ ls\nfile\n")
    assert shell_commands(block) == "echo a \\\n    b\nls\n"
