"""Demo stage: monitor the served model — drift, performance with late labels, an alert, a report.

The monitor reads the inference log the server wrote and the labels posted to it;
its windows are a minute long so the demo's traffic closes them at once (a real
monitor uses hours: ``shipyard monitor create churn@production --window 1h``).
"""

from __future__ import annotations

import json

from shipyard.cli.demo.context import DemoState
from shipyard.cli.output import console, fmt_time, table

__all__ = ["monitor"]


def monitor(state: DemoState) -> None:
    """Create a monitor and an alert rule, compute the closed windows, show and report them."""
    import shipyard.monitoring as sm

    client = state.client
    name = f"demo-{state.stamp}"
    client.create_monitor(f"{state.model_name}@production", name=name, window="1m", label_column="label",
                          reference=f"ds:{state.data_name}@{state.dataset_version}",
                          start=state.served["started_ms"], delay_s=0)
    client.create_alert_rule("drift_share > 0.2 for 1 windows", name=f"{name}-drift", monitor=name,
                             severity="warning")
    # Close the window holding the traffic now rather than waiting for the minute to end.
    runs = client.run_monitors(now=state.served["ended_ms"] + 60_000, names=[name])
    windows = [w for run in runs for w in run.windows]
    console.print(f"monitor {name}: computed {len(windows)} window(s) of {state.model_name}@production "
                  f"against {state.data_name}@{state.dataset_version}")
    # Every stored point of the monitor, keyed (window, series, label value).
    points = {(p.window_start, p.series, next(iter(p.labels.values()), None)): p.value
              for p in client.query_series(name)}
    shown = [f"f{i}" for i in (0, 1, 4, 5, 6)]  # three shifted inputs, two untouched

    def value(window: int, series: str, label: str | None = None) -> str:
        found = points.get((window, series, label))
        return "-" if found is None else f"{found:.3f}"

    rows = [[fmt_time(w.window_start)[11:], w.rows, value(w.window_start, "drift_share"),
             value(w.window_start, "accuracy"), value(w.window_start, "estimated_accuracy"),
             *[value(w.window_start, "feature_drift_score", f) for f in shown]] for w in windows]
    console.print(table("Windows: drift share, accuracy (realised / estimated), drift score per input",
                        ["start", "rows", "drift", "acc.", "est.", *shown], rows))
    firing = [a for a in client.list_alerts(state="firing") if a.monitor == name]
    for alert in firing:
        console.print(f"[red]alert firing[/red] ({alert.severity}): rule {alert.rule} on {alert.monitor}, "
                      f"value {alert.last_value}")
    if not firing:
        console.print("no alert fired")
    report = client.monitor_report(name, since=state.served["started_ms"] - 60_000,
                                   until=state.served["ended_ms"] + 60_000)
    html = state.workdir / "monitor-report.html"
    html.write_text(sm.render_html(report), encoding="utf-8")
    (state.workdir / "monitor-report.json").write_text(json.dumps(report.to_json()), encoding="utf-8")
    console.print(f"report: {html} ({html.stat().st_size // 1024} KiB, self-contained; "
                  f"also `{state.command} monitor report {name} --since 1d`)")
    state.summary.append(("monitor", f"{len(windows)} windows, {len(firing)} alert(s)"))
