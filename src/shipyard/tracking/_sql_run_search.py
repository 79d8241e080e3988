"""Searching runs on the metadata database: MLflow's filter syntax compiled to one query per page."""

from __future__ import annotations

from shipyard.errors import InvalidInput
from shipyard.store import Database
from shipyard.tracking import _search as search
from shipyard.tracking._entities import Page
from shipyard.tracking._sql_experiments import experiment_int
from shipyard.tracking._sql_runs import SqlRuns

__all__ = ["SqlRunSearch"]


class SqlRunSearch:
    """The search part of :class:`~shipyard.tracking._sql_store.SqlTrackingStore`; ``runs`` loads
    each page's params, tags and latest metrics."""

    def __init__(self, db: Database, runs: SqlRuns) -> None:
        self.db = db
        self.runs = runs

    def search_runs(
        self,
        experiment_ids: list[str],
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> Page:
        if not isinstance(max_results, int) or not 1 <= max_results <= 50_000:
            raise InvalidInput(f"max_results must be between 1 and 50000, got {max_results!r}",
                               field="max_results")
        clauses = search.parse_filter(filter)
        order = search.parse_order_by(order_by)
        offset = search.decode_page_token(page_token)
        query = search.build_search_query(
            [experiment_int(e) for e in experiment_ids], clauses, order,
            lifecycle_stage=None if include_deleted else "active",
        )
        with self.db.read() as conn:
            rows = conn.execute(query.limit(max_results + 1).offset(offset)).all()
            more = len(rows) > max_results
            runs = self.runs.with_data(conn, rows[:max_results])
        token = search.encode_page_token(offset + max_results) if more else None
        return Page(runs, token)
