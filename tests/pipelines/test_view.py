"""The live view draws every step with its state, and a failed step's traceback and inputs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from shipyard.pipelines import PipelineFailed, PipelineHooks, StepState
from shipyard.pipelines._view import LiveView
from tests.pipelines import steps


class Frames(PipelineHooks):
    """Renders the view's table at every state change, as the terminal would show it."""

    def __init__(self, view: LiveView) -> None:
        self.view = view
        self.frames: list[str] = []

    def on_step(self, run, status) -> None:  # type: ignore[no-untyped-def]
        console = Console(file=io.StringIO(), width=200, color_system=None)
        console.print(self.view._render())
        self.frames.append(console.file.getvalue())  # type: ignore[attr-defined]


def test_the_view_shows_each_step_moving_through_its_states(tmp_path: Path) -> None:
    out = io.StringIO()
    view = LiveView(Console(file=out, width=200, color_system=None))
    frames = Frames(view)
    steps.frames.run(executor="inline", artifacts=str(tmp_path), hooks=[view, frames])
    assert "running" in frames.frames[0] and "pending" in frames.frames[0]
    last = frames.frames[-1]
    assert "done: 4" in last and last.count("│ done ") == 4 and "column_sum_2" in last
    assert "done: 4" in out.getvalue()


def test_a_failed_step_is_shown_with_its_traceback_and_inputs(tmp_path: Path) -> None:
    out = io.StringIO()
    view = LiveView(Console(file=out, width=200, color_system=None))
    with pytest.raises(PipelineFailed):
        steps.chain.run({"log": str(tmp_path / "log"), "fail_at": 3}, executor="inline",
                        artifacts=str(tmp_path), hooks=[view])
    text = out.getvalue()
    assert "step always_fails failed" in text and "ValueError: bad input" in text
    assert "x <- record_2" in text
    assert StepState.SKIPPED.value in text
