"""Run search: MLflow's filter and order-by syntax, compiled to SQLAlchemy Core.

A filter is clauses joined by ``and``, each comparing a metric (the run's latest
value), a param, a tag or a run attribute with a literal. As in MLflow, a run that
lacks the metric, param or tag never matches a clause on it, a NaN metric (stored
as NULL) matches no comparison, and params compare as text. LIKE is case-sensitive
on every database; ``%`` and ``_`` are wildcards and a backslash makes the next
character literal.

>>> clauses = parse_filter("metrics.auc > 0.8 and tags.`team.name` ILIKE '%vision%'")
>>> order = parse_order_by(["metrics.auc DESC"])
>>> stmt = build_search_query([1], clauses, order).limit(50).offset(decode_page_token(None))
"""

from __future__ import annotations

import base64
import json
import operator
import re
from dataclasses import dataclass
from typing import Any, Literal, Self

from sqlalchemy import Boolean, ColumnElement, Double, Select, and_, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from shipyard.errors import InvalidInput
from shipyard.store.schema import latest_metrics, params, run_tags, runs

__all__ = [
    "Clause",
    "OrderKey",
    "build_search_query",
    "decode_page_token",
    "encode_page_token",
    "parse_filter",
    "parse_order_by",
]

Kind = Literal["metric", "param", "tag", "attribute"]


@dataclass(frozen=True)
class Clause:
    """One comparison of a filter, e.g. ``Clause("metric", "auc", ">", 0.8)``.

    ``value`` is a float for metrics and time attributes, a tuple of strings for
    ``IN`` and ``NOT IN``, else a string. Attribute keys are canonical: ``name`` is
    read as ``run_name``.
    """

    kind: Kind
    key: str
    op: str
    value: float | str | tuple[str, ...]


@dataclass(frozen=True)
class OrderKey:
    """One ORDER BY term, e.g. ``OrderKey("metric", "auc", ascending=False)``."""

    kind: Kind
    key: str
    ascending: bool = True


_PREFIXES: dict[str, Kind] = {
    "metrics": "metric", "metric": "metric", "params": "param", "param": "param",
    "tags": "tag", "tag": "tag", "attributes": "attribute", "attribute": "attribute",
    "attr": "attribute", "run": "attribute",
}  # fmt: skip
# Searchable attribute -> column of ``runs``.
_ATTRIBUTE_COLUMNS = {"run_id": "id", "run_name": "name"} | {
    name: name for name in ("status", "start_time", "end_time", "experiment_id", "user", "lifecycle_stage")
}
_VALUE_TABLES = {"metric": latest_metrics, "param": params, "tag": run_tags}
_SHOWN_PREFIX = {"metric": "metrics.", "param": "params.", "tag": "tags.", "attribute": ""}

_NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE")
_SET_OPS = ("IN", "NOT IN")
_ATTRIBUTE_OPS: dict[str, tuple[str, ...]] = {
    "start_time": _NUMERIC_OPS,
    "end_time": _NUMERIC_OPS,
    "experiment_id": ("=", "!=", *_SET_OPS),
    "run_id": _STRING_OPS + _SET_OPS,
    "status": _STRING_OPS + _SET_OPS,
}
_COMPARE = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le}
_COMPARE |= {">": operator.gt, ">=": operator.ge}

_WORD = re.compile(r"[A-Za-z_]\w*")
# Spaces and the like need quoting; dots do not, as in MLflow: tags.mlflow.source.type
_BARE_KEY = re.compile(r"[\w/\-]+(?:\.[\w/\-]+)*")
_COMPARATOR = re.compile(r"<=|>=|!=|=|<|>|(?i:not\s+in|in|ilike|like)\b")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_DIGITS = re.compile(r"[0-9]+")
_JOINER = re.compile(r"(?i:and|or)\b")
_DIRECTION = re.compile(r"(?i:asc|desc)\b")
_PUNCT = {c: re.compile(re.escape(c)) for c in "(,)"}
# A quoted token: a doubled quote or a backslash escapes; \\ and \<quote> are unescaped,
# other backslashes are kept so that LIKE patterns can escape their wildcards. The
# possessive *+ keeps 'it''s from backtracking into a shorter string 'it'.
_QUOTED = {q: re.compile(rf"{q}((?:[^{q}\\]|\\.|{q}{q})*+){q}", re.S) for q in "'\"`"}
_UNESCAPE = {q: re.compile(rf"\\([{q}\\])|{q}{q}") for q in "'\"`"}
_FOUND = re.compile(r"'[^']*'?|\"[^\"]*\"?|`[^`]*`?|\w+|[<>!=]+|\S")
# The escape character of the LIKE patterns we render. Users write backslash, but a
# backslash inside an SQL literal means different things to different servers.
_ESCAPE = "!"


class _Scanner:
    """A cursor over one filter or order-by text; every error names its position."""

    def __init__(self, text: str, label: str, field: str) -> None:
        self.text, self.label, self.field, self.pos = text, label, field, 0

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        self.skip()
        return self.pos >= len(self.text)

    def take(self, pattern: re.Pattern[str]) -> str | None:
        match = pattern.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        return match.group()

    def quoted(self, quotes: str, noun: str) -> str | None:
        """Read a token in one of ``quotes`` starting here, unescaped; None if none starts."""
        quote = self.text[self.pos : self.pos + 1]
        if not quote or quote not in quotes:
            return None
        match = _QUOTED[quote].match(self.text, self.pos)
        if match is None:
            raise self.error(f"unterminated {noun} starting at position {self.pos}", self.pos)
        self.pos = match.end()
        return _UNESCAPE[quote].sub(lambda m: m.group(1) or quote, match.group(1))

    def error(self, detail: str, pos: int) -> InvalidInput:
        return InvalidInput(f"{self.label}: {detail}", field=self.field, position=pos)

    def expected(self, what: str, pos: int | None = None) -> InvalidInput:
        pos = self.pos if pos is None else pos
        match = _FOUND.match(self.text, pos)
        found = repr(match.group()[:30]) if match else "the end"
        return self.error(f"expected {what} at position {pos}, found {found}", pos)


def _identifier(s: _Scanner) -> tuple[Kind, str]:
    s.skip()
    start, word = s.pos, s.take(_WORD)
    if word is None:
        raise s.expected("a name such as metrics.auc, params.lr or status")
    kind: Kind = "attribute"
    key, key_pos = word, start
    if s.text.startswith(".", s.pos):
        if word.lower() not in _PREFIXES:
            detail = f"unknown prefix {word!r} at position {start}"
            raise s.error(f"{detail}; expected metrics., params., tags. or attributes.", start)
        kind, s.pos = _PREFIXES[word.lower()], s.pos + 1
        key_pos, quoted = s.pos, s.quoted('`"', "quoted key")
        key = (s.take(_BARE_KEY) or "") if quoted is None else quoted
        if not key:
            raise s.expected(f"a key after '{word}.'", key_pos)
    if kind == "attribute":
        name = "run_name" if key.lower() == "name" else key.lower()
        if name not in _ATTRIBUTE_COLUMNS:
            detail = f"unknown attribute {key!r} at position {key_pos}"
            raise s.error(f"{detail}; expected one of {', '.join(_ATTRIBUTE_COLUMNS)}", key_pos)
        key = name
    return kind, key


def _literal(s: _Scanner, kind: Kind, key: str, numeric: bool) -> float | str:
    s.skip()
    if numeric:
        number = s.take(_NUMBER)
        if number is None:
            raise s.expected(f"a number for {_SHOWN_PREFIX[kind]}{key}")
        return float(number)
    pos, text = s.pos, s.quoted("'\"", "string")
    if kind == "attribute" and key == "experiment_id":
        text = s.take(_NUMBER) if text is None else text
        if text is None or not _DIGITS.fullmatch(text):
            raise s.expected("an experiment id such as '3'", pos)
    elif text is None:
        raise s.expected(f"a quoted string for {_SHOWN_PREFIX[kind]}{key}")
    return text


def _clause(s: _Scanner) -> Clause:
    kind, key = _identifier(s)
    s.skip()
    op_pos, raw = s.pos, s.take(_COMPARATOR)
    if raw is None:
        raise s.expected("a comparator")
    op = " ".join(raw.upper().split())
    allowed: tuple[str, ...] = _NUMERIC_OPS if kind == "metric" else _STRING_OPS
    allowed = _ATTRIBUTE_OPS.get(key, allowed) if kind == "attribute" else allowed
    if op not in allowed:
        detail = f"comparator {op!r} at position {op_pos} does not apply to {_SHOWN_PREFIX[kind]}{key}"
        raise s.error(f"{detail}; use one of {', '.join(allowed)}", op_pos)
    if op not in _SET_OPS:
        return Clause(kind, key, op, _literal(s, kind, key, numeric=allowed is _NUMERIC_OPS))
    s.skip()
    if s.take(_PUNCT["("]) is None:
        raise s.expected("'(' to open the list")
    items = [str(_literal(s, kind, key, numeric=False))]
    while not s.at_end() and s.take(_PUNCT[","]):
        items.append(str(_literal(s, kind, key, numeric=False)))
    if s.take(_PUNCT[")"]) is None:
        raise s.expected("',' or ')'")
    return Clause(kind, key, op, tuple(items))


def parse_filter(text: str | None) -> list[Clause]:
    """Parse an MLflow-style filter into clauses; empty or None gives ``[]``.

    Raises :class:`InvalidInput` with ``field="filter"`` and the 0-based ``position``.

    >>> parse_filter("params.`lr.init` = '0.1' and metrics.auc >= 0.8")[0]
    Clause(kind='param', key='lr.init', op='=', value='0.1')
    """
    if text is None or not text.strip():
        return []
    s = _Scanner(text, "filter", "filter")
    clauses = [_clause(s)]
    while not s.at_end():
        pos, joiner = s.pos, s.take(_JOINER)
        if joiner is None:
            raise s.expected("'and' or the end of the filter")
        if joiner.lower() == "or":
            raise s.error(f"'or' at position {pos} is not supported; join clauses with 'and'", pos)
        clauses.append(_clause(s))
    return clauses


def parse_order_by(items: list[str] | None) -> list[OrderKey]:
    """Parse order-by terms such as ``"metrics.auc DESC"`` or ``"start_time"`` (ascending).

    Raises :class:`InvalidInput` with ``field="order_by"`` and ``position`` in the term.

    >>> parse_order_by(["metrics.auc DESC", "name"])[1]
    OrderKey(kind='attribute', key='run_name', ascending=True)
    """
    keys = []
    for index, item in enumerate(items or ()):
        s = _Scanner(item, f"order_by[{index}]", "order_by")
        kind, key = _identifier(s)
        s.skip()
        direction = s.take(_DIRECTION)
        if not s.at_end():
            raise s.expected("ASC, DESC or the end" if direction is None else "the end")
        keys.append(OrderKey(kind, key, direction is None or direction.lower() == "asc"))
    return keys


class _CaseSensitiveLike(FunctionElement[bool]):
    """``column LIKE pattern``, rendered as GLOB on SQLite, whose LIKE ignores ASCII case."""

    type = Boolean()
    inherit_cache = True  # the state is in the arguments, which the cache key covers
    name = "like"

    def self_group(self, against: Any = None) -> Self:
        return self  # already a predicate: SQLite would otherwise get a redundant "= 1"


@compiles(_CaseSensitiveLike)
def _compile_like(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern, _ = element.clauses
    return compiler.process(column.like(pattern, escape=_ESCAPE), **kw)


@compiles(_CaseSensitiveLike, "sqlite")
def _compile_glob(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    column, _, pattern = element.clauses
    return compiler.process(column.op("GLOB", is_comparison=True)(pattern), **kw)


def _like_parts(pattern: str) -> list[tuple[bool, str]]:
    """Split a user's LIKE pattern into (is_wildcard, char); a backslash makes a char literal."""
    return [(m[0] in "%_", m[0][-1]) for m in re.finditer(r"\\.|.", pattern, re.S)]


def _render_like(parts: list[tuple[bool, str]]) -> str:
    return "".join(c if wild or c not in "%_" + _ESCAPE else _ESCAPE + c for wild, c in parts)


def _render_glob(parts: list[tuple[bool, str]]) -> str:
    glob = {"%": "*", "_": "?"}
    return "".join(glob[c] if wild else f"[{c}]" if c in "*?[" else c for wild, c in parts)


def _condition(column: ColumnElement[Any], clause: Clause) -> ColumnElement[bool]:
    value: Any = clause.value
    if clause.kind == "attribute" and clause.key == "experiment_id":
        value = tuple(map(int, value)) if isinstance(value, tuple) else int(value)
    elif clause.kind == "attribute" and isinstance(value, float):
        # Whole numbers stay integers so BIGINT indexes apply; fractions must not be
        # cast to BIGINT (PostgreSQL would round them), so they are bound as DOUBLE.
        value = int(value) if value.is_integer() else literal(value, Double())
    if clause.op in _COMPARE:
        return _COMPARE[clause.op](column, value)  # type: ignore[no-any-return]
    if clause.op in _SET_OPS:
        return column.in_(value) if clause.op == "IN" else column.not_in(value)
    if clause.op == "ILIKE":  # lower() on both sides: SQLite has no ILIKE
        return func.lower(column).like(_render_like(_like_parts(value.lower())), escape=_ESCAPE)
    parts = _like_parts(value)
    return _CaseSensitiveLike(column, _render_like(parts), _render_glob(parts))


def build_search_query(
    experiment_ids: list[int],
    clauses: list[Clause],
    order: list[OrderKey],
    *,
    lifecycle_stage: str | None = "active",
) -> Select[Any]:
    """Build ``SELECT runs.*`` over the runs of ``experiment_ids`` that match every clause.

    Each metric, param or tag key mentioned is joined once, on its table's primary
    key ``(run_id, key)``: an inner join when a clause filters on it, a left outer
    join when it only orders. Runs without an ordered value sort last either way.
    The order always ends with ``start_time DESC, id ASC`` so that pages are stable;
    the caller adds LIMIT and OFFSET. ``lifecycle_stage=None`` includes every stage.

    >>> stmt = build_search_query([1], parse_filter("params.model = 'xgb'"), [])
    """
    joins: dict[tuple[str, str], Any] = {}

    def value_column(kind: Kind, key: str) -> ColumnElement[Any]:
        if kind == "attribute":
            return runs.c[_ATTRIBUTE_COLUMNS[key]]
        if (kind, key) not in joins:
            joins[kind, key] = _VALUE_TABLES[kind].alias(f"{kind}_{len(joins)}")
        return joins[kind, key].c.value  # type: ignore[no-any-return]

    where: list[ColumnElement[bool]] = [runs.c.experiment_id.in_(experiment_ids)]
    if lifecycle_stage is not None:
        where.append(runs.c.lifecycle_stage == lifecycle_stage)
    where += [_condition(value_column(c.kind, c.key), c) for c in clauses]

    ordering: list[Any] = []
    seen: set[tuple[str, str]] = set()
    for term in order:
        if (term.kind, term.key) in seen:
            continue
        seen.add((term.kind, term.key))
        column = value_column(term.kind, term.key)
        expr = column.asc() if term.ascending else column.desc()
        nullable = term.kind != "attribute" or runs.c[_ATTRIBUTE_COLUMNS[term.key]].nullable
        ordering.append(expr.nulls_last() if nullable else expr)
    if ("attribute", "run_id") not in seen:  # run ids are unique: nothing ties after them
        if ("attribute", "start_time") not in seen:
            ordering.append(runs.c.start_time.desc())
        ordering.append(runs.c.id.asc())

    # A join on the primary key adds at most one row per run, and any comparison
    # already rejects the NULLs an outer join would bring, so filtered keys join inner.
    filtered = {(c.kind, c.key) for c in clauses}
    source: Any = runs
    for (kind, key), table in joins.items():
        on = and_(table.c.run_id == runs.c.id, table.c.key == key)
        source = source.join(table, on, isouter=(kind, key) not in filtered)
    return select(runs).select_from(source).where(*where).order_by(*ordering)


def encode_page_token(offset: int) -> str:
    """Encode a result offset as an opaque, URL-safe page token.

    >>> decode_page_token(encode_page_token(50))
    50
    """
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInput(f"page offset must be a non-negative integer, got {offset!r}", field="offset")
    raw = json.dumps({"offset": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_page_token(token: str | None) -> int:
    """Return the offset a page token stands for; None or ``""`` is the first page (0).

    Raises :class:`InvalidInput` with ``field="page_token"`` when the token is malformed.
    """
    if not token:
        return 0
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        offset = json.loads(raw)["offset"]
    except (ValueError, TypeError, KeyError):  # binascii.Error and JSON errors are ValueErrors
        offset = None
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInput(f"page_token: malformed page token {token[:40]!r}", field="page_token")
    return offset
