"""Lineage edges in the metadata database (the graph types live in :mod:`shipyard.lineage`).

The store knows nothing of the domains; it only stores and walks edges.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shipyard.lineage import Edge, LineageGraph, Node
from shipyard.store import schema as t
from shipyard.store._db import Database, insert_ignore

__all__ = ["LineageStore"]


class LineageStore:
    """Adds edges and walks the graph in either direction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def add_in(conn: Connection, edges: Iterable[Edge], now: int) -> None:
        """Record edges inside the caller's transaction (idempotent)."""
        insert_ignore(conn, t.lineage_edges, [
            {"src_type": e.src.type, "src_id": e.src.id, "relation": e.relation,
             "dst_type": e.dst.type, "dst_id": e.dst.id, "created_at": now}
            for e in edges
        ])

    def add(self, edges: Iterable[Edge], now: int) -> None:
        with self.db.write() as conn:
            self.add_in(conn, edges, now)

    def graph(self, root: Node, max_depth: int = 10) -> LineageGraph:
        """Breadth-first walk, ``max_depth`` hops each way; cycles are visited once."""
        out = LineageGraph(root)
        le = t.lineage_edges
        with self.db.read() as conn:
            for direction in ("up", "down"):
                seen, frontier = {root}, [root]
                for _ in range(max_depth):
                    if not frontier:
                        break
                    if direction == "up":
                        cond = sa.or_(*[sa.and_(le.c.dst_type == n.type, le.c.dst_id == n.id) for n in frontier])
                    else:
                        cond = sa.or_(*[sa.and_(le.c.src_type == n.type, le.c.src_id == n.id) for n in frontier])
                    rows = conn.execute(sa.select(le).where(cond).order_by(le.c.created_at)).all()
                    frontier = []
                    for r in rows:
                        e = Edge(Node(r.src_type, r.src_id), r.relation, Node(r.dst_type, r.dst_id))
                        (out.upstream if direction == "up" else out.downstream).append(e)
                        nxt = e.src if direction == "up" else e.dst
                        if nxt not in seen:
                            seen.add(nxt)
                            frontier.append(nxt)
        return out
