"""SQL sources: a table or query in PostgreSQL or in a DuckDB database file.

PostgreSQL is scanned by DuckDB's ``postgres`` extension when it is installed
locally (nothing is ever downloaded); otherwise the source is read through
SQLAlchemy (psycopg, the ``postgres`` extra) into Arrow and registered with DuckDB.
A DuckDB file is attached read-only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput, NotFound, StorageError
from shipyard.features._sources import Source, SourceContext, literal, quote

if TYPE_CHECKING:
    import duckdb

__all__ = ["SqlSource"]


class SqlSource(Source):
    """A table (``"schema.table"``) or a query (``"SELECT …"``) in a SQL database.

    ``url``: ``postgresql://…`` or a DuckDB file (``duckdb:///path/db.duckdb`` or a path
    ending in ``.duckdb``/``.db``). PostgreSQL is scanned by DuckDB's ``postgres``
    extension when it is installed locally (nothing is downloaded); otherwise the
    needed columns are read through SQLAlchemy into Arrow.
    """

    type = "sql"

    def __init__(self, table_or_query: str, url: str, timestamp: str = "event_timestamp",
                 created_timestamp: str | None = None) -> None:
        if not isinstance(table_or_query, str) or not table_or_query.strip():
            raise InvalidInput("SqlSource needs a table name or a query", field="table_or_query")
        if not isinstance(url, str) or not url:
            raise InvalidInput("SqlSource needs url= (postgresql://… or a DuckDB file)", field="url")
        self.table_or_query = table_or_query.strip()
        self.url = url
        self._init_ts(timestamp, created_timestamp)

    @property
    def is_query(self) -> bool:
        return any(ch.isspace() for ch in self.table_or_query)

    def _from_item(self, prefix: str = "") -> str:
        if self.is_query:
            return f"({self.table_or_query})"
        return ".".join([*([prefix] if prefix else []), *(quote(p) for p in self.table_or_query.split("."))])

    def relation(self, ctx: SourceContext) -> str:
        if self.url.startswith(("postgresql:", "postgresql+", "postgres:")):
            return self._postgres(ctx)
        return self._duckdb(ctx)

    def _duckdb(self, ctx: SourceContext) -> str:
        path = self.url.removeprefix("duckdb:///").removeprefix("duckdb://")
        if not Path(path).is_file():
            raise NotFound(f"DuckDB database {path!r} does not exist", resource="source", path=path)
        alias = ctx._attached.get(path)
        if alias is None:
            alias = ctx.fresh_name("db")
            ctx.con.execute(f"ATTACH {literal(path)} AS {alias} (READ_ONLY)")
            ctx._attached[path] = alias
        if self.is_query:
            # Unqualified names in the query refer to the attached file.
            from shipyard.features._duck import arrow_of

            ctx.con.execute(f"USE {alias}")
            try:
                name = ctx.fresh_name("q")
                ctx.con.register(name, arrow_of(ctx.con, self.table_or_query))
            finally:
                ctx.con.execute("USE memory")
            return quote(name)
        return self._from_item(alias)

    def _postgres(self, ctx: SourceContext) -> str:
        import sqlalchemy as sa

        url = sa.make_url(self.url)
        if _postgres_extension(ctx.con):
            alias = ctx._attached.get(self.url)
            if alias is None:
                alias = ctx.fresh_name("pg")
                dsn = " ".join(f"{k}={v}" for k, v in (("host", url.host), ("port", url.port),
                                                        ("dbname", url.database), ("user", url.username),
                                                        ("password", url.password)) if v)
                ctx.con.execute(f"ATTACH {literal(dsn)} AS {alias} (TYPE postgres, READ_ONLY)")
                ctx._attached[self.url] = alias
            if not self.is_query:
                return self._from_item(alias)
        return self._postgres_arrow(ctx, url)

    def _postgres_arrow(self, ctx: SourceContext, url: Any) -> str:
        import pandas as pd
        import pyarrow as pa
        import sqlalchemy as sa

        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        sql = f"SELECT * FROM {self._from_item()} AS q" if not self.is_query else self.table_or_query
        try:
            engine = sa.create_engine(url)
        except ModuleNotFoundError as exc:
            from shipyard.errors import MissingExtra

            raise MissingExtra(exc.name or "psycopg", "postgres") from None
        try:
            with engine.connect() as conn:
                frame = pd.read_sql_query(sa.text(sql), conn)
        except sa.exc.ProgrammingError as exc:
            raise InvalidInput(f"SqlSource query failed: {exc.orig}", field="table_or_query") from None
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"SqlSource could not be read: {exc}") from None
        finally:
            engine.dispose()
        name = ctx.fresh_name("pg")
        ctx.con.register(name, pa.Table.from_pandas(frame, preserve_index=False))
        return quote(name)

    def to_spec(self) -> dict[str, Any]:
        return {**self._spec(), "table_or_query": self.table_or_query, "url": self.url}


def _postgres_extension(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether DuckDB's postgres scanner is installed locally (never downloads it)."""
    try:
        found = con.execute("SELECT installed FROM duckdb_extensions() "
                            "WHERE extension_name = 'postgres_scanner'").fetchall()
        if not found or not found[0][0]:
            return False
        con.execute("LOAD postgres_scanner")
        return True
    except Exception:  # a broken or mismatched local extension: read through SQLAlchemy instead
        return False
