"""The live view: a rich table of the DAG's steps and their states, redrawn as the run goes.

A :class:`~shipyard.pipelines._hooks.PipelineHooks`; rich is imported only here.
When the run ends the last frame stays on screen, followed by the traceback and
inputs of a failed step.
"""

from __future__ import annotations

import time
from typing import Any

from shipyard.pipelines._hooks import PipelineHooks, RunInfo, StepState, StepStatus

__all__ = ["LiveView"]

_STYLE = {
    StepState.PENDING: ("·", "dim"), StepState.RUNNING: ("▶", "cyan"), StepState.RETRYING: ("↻", "yellow"),
    StepState.DONE: ("✓", "green"), StepState.CACHED: ("≡", "blue"), StepState.FAILED: ("✗", "bold red"),
    StepState.SKIPPED: ("-", "dim"), StepState.CANCELLED: ("⊘", "magenta"),
}


class LiveView(PipelineHooks):
    """Shows the run in a terminal. ``console`` is a rich Console (default: stdout)."""

    def __init__(self, console: Any = None, *, refresh_per_second: float = 8.0) -> None:
        self.console = console
        self.refresh_per_second = refresh_per_second
        self._live: Any = None
        self._run: RunInfo | None = None

    def on_pipeline_start(self, run: RunInfo) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = self.console or Console()
        self._run = run
        self._live = Live(self._render(), console=self.console, refresh_per_second=self.refresh_per_second,
                          transient=False)
        self._live.start()

    def on_step(self, run: RunInfo, status: StepStatus) -> None:
        if self._live is not None:
            self._live.update(self._render())

    def on_pipeline_end(self, run: RunInfo) -> None:
        if self._live is None:
            return
        self._live.update(self._render())
        self._live.stop()
        for status in run.steps.values():
            if status.state is StepState.FAILED:
                self.console.print(failure_panel(status))

    def _render(self) -> Any:
        from rich.table import Table

        run = self._run
        assert run is not None
        elapsed = time.time() - run.started_at if run.started_at else 0.0
        counts: dict[str, int] = {}
        for s in run.steps.values():
            counts[s.state.value] = counts.get(s.state.value, 0) + 1
        title = (f"pipeline [bold]{run.pipeline}[/bold]  run {run.run_id or '(untracked)'}  "
                 f"{elapsed:.1f}s  " + "  ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
        table = Table(title=title, title_justify="left", header_style="bold", expand=False)
        for column in ("", "step", "inputs from", "state", "attempt", "time", "run / cached from"):
            table.add_column(column, overflow="fold")
        for name in run.dag.order or list(run.dag.nodes):
            s = run.steps[name]
            icon, style = _STYLE[s.state]
            duration = s.result.duration_s if s.result else (time.time() - s.started_at
                                                             if s.state is StepState.RUNNING and s.started_at else None)
            table.add_row(f"[{style}]{icon}[/]", name, ", ".join(run.dag.nodes[name].upstream) or "-",
                          f"[{style}]{s.state.value}[/]", str(s.attempt or "-"),
                          f"{duration:.2f}s" if duration is not None else "-", s.run_id or s.cached_from or "-")
        return table


def failure_panel(status: StepStatus) -> Any:
    """A failed step's inputs and last traceback, as a rich Panel."""
    from rich.markup import escape
    from rich.panel import Panel

    error = status.errors[-1] if status.errors else None
    lines = [f"[bold]inputs[/bold] of {escape(status.node)}:"]
    for name, ref in status.inputs.items():
        lines.append(escape(f"  {name} <- {ref.node} ({ref.output.serializer}, {ref.output.size} bytes, "
                            f"sha256 {ref.output.digest[:12]})"))
    for name, value in status.params.items():
        lines.append(escape(f"  {name} = {repr(value)[:200]}"))
    if error is not None:
        lines += ["", f"[bold]attempt {status.attempt}[/bold]: " + escape(f"{error.type}: {error.message}"), "",
                  escape(error.traceback.rstrip() or "(no traceback)")]
    return Panel("\n".join(lines), title=f"step {escape(status.node)} failed", border_style="red", expand=False)
