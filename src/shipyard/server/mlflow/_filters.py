"""MLflow's small filter language for experiments, registered models, versions and logged models.

Runs are searched by the tracking store (:mod:`shipyard.tracking._search`); the other
MLflow searches filter a handful of fields (``name = 'x'``, ``name LIKE 'churn%'``,
``tags.team = 'growth'``, ``creation_time > 1700000000000``, ``run_id IN ('a', 'b')``)
over collections small enough to filter in memory. Clauses are joined by ``AND``. As
in MLflow, an item without the tag matches ``!=`` and ``NOT IN`` (the client itself
hides prompts with ``tag.`mlflow.prompt.is_prompt` != 'true'``) and nothing else.

>>> clauses = parse("name LIKE 'churn%' AND tags.`team` = 'growth'")
>>> matches(clauses, {"name": "churn-v2"}, {"team": "growth"})
True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from shipyard.errors import InvalidInput

__all__ = ["Clause", "matches", "parse", "sort_items", "sort_key"]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>!=|<>|<=|>=|=|<|>|(?i:not\s+in|in|ilike|like)\b)
      | (?P<ident>(?:[A-Za-z_][\w]*|`[^`]*`)(?:\.(?:`[^`]*`|"[^"]*"|[\w\-/]+))*)
      | '(?P<sq>(?:[^'\\]|\\.|'')*)'
      | "(?P<dq>(?:[^"\\]|\\.|"")*)"
      | (?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<punct>[(),])
    )""",
    re.X,
)
T = TypeVar("T")
_KINDS = {"attribute": "attribute", "attributes": "attribute", "attr": "attribute",
          "tag": "tag", "tags": "tag", "param": "param", "params": "param"}  # fmt: skip


@dataclass(frozen=True)
class Clause:
    """``kind`` is ``attribute``, ``tag`` or ``param``; ``value`` a str, float or tuple of str."""

    kind: str
    key: str
    op: str
    value: Any


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "`\"'":
        return text[1:-1]
    return text


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise InvalidInput(f"filter: cannot read {text[pos:pos + 30]!r} at position {pos}", field="filter")
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "sq":
            kind, value = "str", value.replace("''", "'").replace("\\'", "'")
        elif kind == "dq":
            kind, value = "str", value.replace('""', '"').replace('\\"', '"')
        elif kind == "ident" and value.lower() == "and":
            kind = "and"
        out.append((kind, value))
        pos = m.end()
    return out


def parse(text: str | None) -> list[Clause]:
    """Clauses of ``text`` (empty for None or blank); InvalidInput(field="filter") when malformed."""
    if not text or not text.strip():
        return []
    tokens = _tokens(text)
    clauses: list[Clause] = []
    i = 0

    def expect(kinds: tuple[str, ...], what: str) -> tuple[str, str]:
        nonlocal i
        if i >= len(tokens) or tokens[i][0] not in kinds:
            found = tokens[i][1] if i < len(tokens) else "the end"
            raise InvalidInput(f"filter {text!r}: expected {what}, found {found!r}", field="filter")
        i += 1
        return tokens[i - 1]

    while True:
        _, ident = expect(("ident",), "a field such as name or tags.<key>")
        head, dot, rest = ident.partition(".")
        if dot and head.lower() in _KINDS:
            kind, key = _KINDS[head.lower()], _unquote(rest)
        else:
            kind, key = "attribute", _unquote(ident)
        _, op = expect(("op",), "a comparator")
        op = " ".join(op.upper().split())
        value: Any
        if op in ("IN", "NOT IN"):
            expect(("punct",), "'('")
            items = [expect(("str",), "a quoted string")[1]]
            while i < len(tokens) and tokens[i] == ("punct", ","):
                i += 1
                items.append(expect(("str",), "a quoted string")[1])
            if expect(("punct",), "')'")[1] != ")":
                raise InvalidInput(f"filter {text!r}: expected ')'", field="filter")
            value = tuple(items)
        else:
            tkind, raw = expect(("str", "num"), "a quoted string or a number")
            value = float(raw) if tkind == "num" else raw
        clauses.append(Clause(kind, key, "!=" if op == "<>" else op, value))
        if i >= len(tokens):
            return clauses
        expect(("and",), "AND or the end of the filter")


def _like(pattern: str, flags: int = 0) -> re.Pattern[str]:
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), flags | re.S)


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if actual is None:  # as in MLflow: an absent tag differs from every value
        return op in ("!=", "NOT IN")
    if op in ("IN", "NOT IN"):
        return (str(actual) in expected) == (op == "IN")
    if op in ("LIKE", "ILIKE"):
        return _like(str(expected), re.I if op == "ILIKE" else 0).fullmatch(str(actual)) is not None
    if isinstance(expected, float):
        try:
            actual = float(actual)
        except (TypeError, ValueError):
            return False
    else:
        actual = str(actual)
    ops = {"=": actual == expected, "!=": actual != expected}
    if op in ops:
        return ops[op]
    if type(actual) is not type(expected):
        return False
    return {"<": actual < expected, "<=": actual <= expected, ">": actual > expected, ">=": actual >= expected}[op]


def matches(clauses: list[Clause], attributes: Mapping[str, Any], tags: Mapping[str, str],
            params: Mapping[str, str] | None = None) -> bool:
    """Whether an item with these attributes, tags (and params) satisfies every clause.

    An attribute the caller did not supply is refused as unknown (InvalidInput), so a
    misspelt field is an error rather than an empty result.
    """
    for c in clauses:
        if c.kind == "attribute":
            if c.key not in attributes:
                raise InvalidInput(f"filter: unknown attribute {c.key!r}; expected one of {sorted(attributes)}",
                                   field="filter")
            actual = attributes[c.key]
        elif c.kind == "tag":
            actual = tags.get(c.key)
        else:
            actual = (params or {}).get(c.key)
        if not _compare(actual, c.op, c.value):
            return False
    return True


def sort_key(order_by: list[str], known: tuple[str, ...]) -> list[tuple[str, bool]]:
    """``["name DESC", "creation_time"]`` as (field, ascending) pairs over ``known`` fields."""
    out = []
    for item in order_by:
        parts = item.split()
        field = _unquote(parts[0].split(".", 1)[-1]) if parts else ""
        if field not in known or len(parts) > 2 or (len(parts) == 2 and parts[1].upper() not in ("ASC", "DESC")):
            raise InvalidInput(f"order_by {item!r}: expected one of {known} followed by ASC or DESC",
                               field="order_by")
        out.append((field, len(parts) == 1 or parts[1].upper() == "ASC"))
    return out


def sort_items(items: list[T], order: list[tuple[str, bool]], attributes: Callable[[T], Mapping[str, Any]]) -> None:
    """Sort ``items`` in place by (field, ascending) pairs; absent values sort last ascending."""

    def key_of(field: str) -> Callable[[T], tuple[int, Any]]:
        def key(item: T) -> tuple[int, Any]:
            value = attributes(item)[field]
            return (1, "") if value is None else (0, value)

        return key

    for field, ascending in reversed(order):  # stable sorts: the last key first
        items.sort(key=key_of(field), reverse=not ascending)
