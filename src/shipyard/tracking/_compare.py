"""Run comparison: params and final metrics of several runs side by side."""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.tracking._entities import Run

__all__ = ["RunComparison", "compare_runs"]


@dataclass(frozen=True)
class RunComparison:
    """A table: one column per run, one row per param or metric key.

    ``params[key][i]`` and ``metrics[key][i]`` belong to ``run_ids[i]``; a run that
    lacks the key has None there. ``differing_params`` lists keys whose values differ.
    """

    run_ids: list[str]
    params: dict[str, list[str | None]]
    metrics: dict[str, list[float | None]]

    @property
    def differing_params(self) -> list[str]:
        return [k for k, values in self.params.items() if len(set(values)) > 1]

    def to_rows(self) -> list[list[object]]:
        """Rows for display: ``[kind, key, value per run...]``."""
        rows: list[list[object]] = [["param", k, *v] for k, v in self.params.items()]
        rows += [["metric", k, *v] for k, v in self.metrics.items()]
        return rows


def compare_runs(runs: list[Run]) -> RunComparison:
    """Line up the params and latest metric values of ``runs``."""
    param_keys = sorted({k for r in runs for k in r.params})
    metric_keys = sorted({k for r in runs for k in r.metrics})
    return RunComparison(
        run_ids=[r.id for r in runs],
        params={k: [r.params.get(k) for r in runs] for k in param_keys},
        metrics={
            k: [r.metrics[k].value if k in r.metrics else None for r in runs] for k in metric_keys
        },
    )
