"""Every runnable code block of README.md and docs/ runs as written.

Each page runs in a fresh empty folder with a fresh ``SHIPYARD_HOME``, its blocks in
order in one session (see ``run_page.py``), with ``.venv/bin`` first on ``PATH``. A block
marked ``<!-- skip: REASON -->`` is not run; each one is reported as a skipped test
with its reason, so ``pytest -ra`` lists them all.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.markdown_blocks import ROOT, Block, MarkerError, blocks, pages, shell_commands

RUNNER = Path(__file__).with_name("run_page.py")
PAGE_TIMEOUT_S = 240


def _all_blocks() -> list[Block]:
    found: list[Block] = []
    for page in pages():
        try:
            found += blocks(page)
        except MarkerError:
            continue  # reported by test_every_skip_marker_names_a_reason_and_precedes_a_block
    return found


def _runnable_pages() -> list[str]:
    return sorted({b.page for b in _all_blocks() if b.skip is None})


def test_every_skip_marker_names_a_reason_and_precedes_a_block() -> None:
    errors = []
    for page in pages():
        try:
            blocks(page)
        except MarkerError as exc:
            errors.append(str(exc))
    assert not errors, "\n".join(errors)


def test_the_docs_hold_runnable_blocks() -> None:
    assert len([b for b in _all_blocks() if b.skip is None]) >= 10


@pytest.mark.parametrize("where,reason", [(b.where, b.skip) for b in _all_blocks() if b.skip is not None])
def test_skipped_block(where: str, reason: str) -> None:
    pytest.skip(f"{where}: {reason}")


@pytest.mark.slow
@pytest.mark.parametrize("page", _runnable_pages())
def test_page_blocks_run_in_order(page: str, tmp_path: Path) -> None:
    todo = [{"where": b.where, "lang": b.lang, "code": b.code, "script": shell_commands(b), "file": b.file}
            for b in blocks(ROOT / page) if b.skip is None]
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "blocks.json").write_text(json.dumps(todo), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPYARD_", "MLFLOW_"))}
    env["SHIPYARD_HOME"] = str(work / ".shipyard")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(Path(sys.executable).parent.parent)
    env["PYTHONUNBUFFERED"] = "1"
    # A session of its own, so a server a failed or timed-out block left running is stopped with it.
    runner = subprocess.Popen([sys.executable, str(RUNNER), str(tmp_path / "blocks.json")], cwd=work, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = runner.communicate(timeout=PAGE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(runner.pid, signal.SIGKILL)
        output, _ = runner.communicate()
        pytest.fail(f"{page}: its blocks ran past {PAGE_TIMEOUT_S} s\n{output[-6000:]}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(runner.pid, signal.SIGKILL)
    assert runner.returncode == 0, output[-6000:]
