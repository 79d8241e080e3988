"""What a search returns (:class:`SearchResult`) and the error it ends with when no trial
could be scored (:class:`SearchFailed`)::

    ShipyardError
    └── SearchFailed     every trial failed (``run_id``, ``study``, ``failed``, ``error_type``)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shipyard.errors import ShipyardError

__all__ = ["SearchFailed", "SearchResult"]


class SearchFailed(ShipyardError):
    """No trial of the search completed: every one failed (each recorded as a FAILED run).

    ``run_id`` is the search run, ``study`` the study's name, ``failed`` how many
    trials failed, ``error_type`` and ``error`` the last failure's type and message.
    """


@dataclass(frozen=True)
class SearchResult:
    """A finished search: the search run, the study, and its best trial so far.

    ``best_*`` are None when no trial completed (a search of pruned trials only).
    The counts cover every trial of the study, including those of earlier, resumed runs.
    """

    study: str
    run_id: str
    experiment_id: str
    metric: str
    direction: str
    best_value: float | None
    best_params: dict[str, Any] = field(default_factory=dict)
    best_trial: int | None = None
    best_run_id: str | None = None
    complete: int = 0
    pruned: int = 0
    failed: int = 0

    @property
    def n_trials(self) -> int:
        """Finished trials of the study: complete, pruned and failed."""
        return self.complete + self.pruned + self.failed
