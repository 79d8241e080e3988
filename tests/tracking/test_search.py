"""Run search: the filter and order-by parsers, page tokens, and the SQL they compile to.

Query tests run against a SQLite file and a throwaway schema in PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.exc import OperationalError

from shipyard.errors import InvalidInput
from shipyard.store import schema
from shipyard.tracking._search import (
    Clause,
    OrderKey,
    build_search_query,
    decode_page_token,
    encode_page_token,
    parse_filter,
    parse_order_by,
)

POSTGRES_URL = os.environ.get(
    "SHIPYARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


# ---------------------------------------------------------------- parse_filter


def test_empty_or_missing_filter_has_no_clauses() -> None:
    assert parse_filter(None) == []
    assert parse_filter("") == []
    assert parse_filter("   ") == []


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_metric_clause_takes_every_numeric_comparator(op: str) -> None:
    assert parse_filter(f"metrics.auc {op} 0.5") == [Clause("metric", "auc", op, 0.5)]


@pytest.mark.parametrize(
    ("literal", "value"),
    [("1", 1.0), ("-2", -2.0), ("+3.5", 3.5), (".25", 0.25), ("1e3", 1000.0), ("-1.5E-2", -0.015)],
)
def test_number_literals_parse_as_floats(literal: str, value: float) -> None:
    assert parse_filter(f"metrics.loss < {literal}")[0].value == value


@pytest.mark.parametrize("prefix", ["metrics", "metric", "METRICS"])
def test_metric_prefixes_are_interchangeable(prefix: str) -> None:
    assert parse_filter(f"{prefix}.acc>1") == [Clause("metric", "acc", ">", 1.0)]


@pytest.mark.parametrize(
    ("prefix", "kind"), [("params", "param"), ("param", "param"), ("tags", "tag"), ("tag", "tag")]
)
@pytest.mark.parametrize("op", ["=", "!=", "LIKE", "ILIKE", "like", "ilike"])
def test_params_and_tags_take_string_comparators(prefix: str, kind: str, op: str) -> None:
    assert parse_filter(f"{prefix}.model {op} 'xgb'") == [Clause(kind, "model", op.upper(), "xgb")]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("filter_text", "key"),
    [
        ("metrics.`my.key` > 1", "my.key"),
        ('metrics."a b" > 1', "a b"),
        ("metrics.`with-dash` > 1", "with-dash"),
        ("metrics.`back``tick` > 1", "back`tick"),
        ("metrics.train/loss > 1", "train/loss"),
    ],
)
def test_keys_may_be_quoted_with_backticks_or_double_quotes(filter_text: str, key: str) -> None:
    assert parse_filter(filter_text)[0].key == key


def test_dotted_keys_need_no_quotes_as_in_mlflow() -> None:
    assert parse_filter("tags.mlflow.source.type = 'LOCAL'") == [Clause("tag", "mlflow.source.type", "=", "LOCAL")]
    assert parse_order_by(["metrics.val.loss DESC"])[0].key == "val.loss"


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("'plain'", "plain"),
        ('"double"', "double"),
        ("'it''s'", "it's"),
        ("'it\\'s'", "it's"),
        ('"say ""hi"""', 'say "hi"'),
        ("'a\\\\b'", "a\\b"),
        ("'a\\_b'", "a\\_b"),  # other backslashes are kept for LIKE to interpret
        ("''", ""),
    ],
)
def test_string_literals_unescape_quotes(literal: str, value: str) -> None:
    assert parse_filter(f"params.p = {literal}")[0].value == value


@pytest.mark.parametrize(
    ("filter_text", "clause"),
    [
        ("status = 'FINISHED'", Clause("attribute", "status", "=", "FINISHED")),
        ("run_name LIKE 'a%'", Clause("attribute", "run_name", "LIKE", "a%")),
        ("name = 'a'", Clause("attribute", "run_name", "=", "a")),
        ("attributes.user = 'ann'", Clause("attribute", "user", "=", "ann")),
        ("attr.run_id = 'x'", Clause("attribute", "run_id", "=", "x")),
        ("run.lifecycle_stage = 'deleted'", Clause("attribute", "lifecycle_stage", "=", "deleted")),
        ("attribute.start_time >= 10", Clause("attribute", "start_time", ">=", 10.0)),
        ("end_time < -1", Clause("attribute", "end_time", "<", -1.0)),
        ("experiment_id = '3'", Clause("attribute", "experiment_id", "=", "3")),
        ("experiment_id = 3", Clause("attribute", "experiment_id", "=", "3")),
    ],
)
def test_attributes_parse_bare_or_prefixed(filter_text: str, clause: Clause) -> None:
    assert parse_filter(filter_text) == [clause]


def test_in_and_not_in_take_a_list_of_strings() -> None:
    assert parse_filter("status IN ('RUNNING','FAILED') and run_id not  in ( 'a' )") == [
        Clause("attribute", "status", "IN", ("RUNNING", "FAILED")),
        Clause("attribute", "run_id", "NOT IN", ("a",)),
    ]


def test_clauses_join_with_case_insensitive_and_and_any_whitespace() -> None:
    clauses = parse_filter("  metrics.a>1 AND params.b='x'\n\tand\ttags.c  !=  \"y\"  ")
    assert clauses == [
        Clause("metric", "a", ">", 1.0),
        Clause("param", "b", "=", "x"),
        Clause("tag", "c", "!=", "y"),
    ]


@pytest.mark.parametrize(
    ("filter_text", "position", "fragment"),
    [
        ("metrics.auc foo 0.5", 12, "expected a comparator at position 12, found 'foo'"),
        ("metrics.auc", 11, "expected a comparator at position 11, found the end"),
        ("params.model = 'xgb", 15, "unterminated string starting at position 15"),
        ("params.model = 'it''s", 15, "unterminated string starting at position 15"),
        ("params.model = 'xgb\\'", 15, "unterminated string starting at position 15"),
        ("metrics.`a > 1", 8, "unterminated quoted key starting at position 8"),
        ("metrics.a > 1 or metrics.b > 2", 14, "'or' at position 14 is not supported"),
        ("metric.a > 1 OR params.b = 'x'", 13, "'or' at position 13 is not supported"),
        ("metricz.auc > 1", 0, "unknown prefix 'metricz' at position 0"),
        ("foo = 'x'", 0, "unknown attribute 'foo' at position 0"),
        ("attributes.color = 'x'", 11, "unknown attribute 'color' at position 11"),
        ("metrics.auc > 'high'", 14, "expected a number for metrics.auc at position 14"),
        ("start_time > 'noon'", 13, "expected a number for start_time at position 13"),
        ("params.lr = 0.1", 12, "expected a quoted string for params.lr at position 12"),
        ("params.lr > '1'", 10, "comparator '>' at position 10 does not apply to params.lr"),
        ("metrics.auc LIKE '1'", 12, "comparator 'LIKE' at position 12 does not apply"),
        ("run_name IN ('a')", 9, "comparator 'IN' at position 9 does not apply"),
        ("metrics.auc > 1 extra", 16, "expected 'and' or the end of the filter at position 16"),
        ("metrics.auc > 1 and", 19, "expected a name such as metrics.auc"),
        ("metrics. > 1", 8, "expected a key after 'metrics.' at position 8"),
        ("status IN 'a'", 10, "expected '(' to open the list at position 10"),
        ("status IN ('a' 'b')", 15, "expected ',' or ')' at position 15"),
        ("experiment_id = 'x1'", 16, "expected an experiment id"),
    ],
)
def test_filter_errors_name_the_position_and_what_was_expected(
    filter_text: str, position: int, fragment: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_filter(filter_text)
    assert caught.value.context == {"field": "filter", "position": position}
    assert fragment in str(caught.value)
    assert str(caught.value).startswith("filter: ")


# ------------------------------------------------------------- parse_order_by


def test_order_by_defaults_to_ascending_and_reads_directions() -> None:
    assert parse_order_by(["metrics.auc DESC", "params.depth", "start_time asc", "name"]) == [
        OrderKey("metric", "auc", ascending=False),
        OrderKey("param", "depth", ascending=True),
        OrderKey("attribute", "start_time", ascending=True),
        OrderKey("attribute", "run_name", ascending=True),
    ]


def test_order_by_accepts_quoted_keys_and_prefixed_attributes() -> None:
    assert parse_order_by(["tags.`mlflow.user` DESC", "attributes.run_name"]) == [
        OrderKey("tag", "mlflow.user", ascending=False),
        OrderKey("attribute", "run_name", ascending=True),
    ]


def test_missing_order_by_is_empty() -> None:
    assert parse_order_by(None) == []
    assert parse_order_by([]) == []


@pytest.mark.parametrize(
    ("item", "position", "fragment"),
    [
        ("metrics.auc DOWN", 12, "expected ASC, DESC or the end at position 12, found 'DOWN'"),
        ("metrics.auc DESC ASC", 17, "expected the end at position 17"),
        ("colour", 0, "unknown attribute 'colour'"),
        ("", 0, "expected a name"),
        ("metrics.", 8, "expected a key"),
    ],
)
def test_order_by_errors_name_the_item_and_position(item: str, position: int, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_order_by(["start_time", item])
    assert caught.value.context == {"field": "order_by", "position": position}
    assert str(caught.value).startswith("order_by[1]: ")
    assert fragment in str(caught.value)


# ---------------------------------------------------------------- page tokens


@pytest.mark.parametrize("offset", [0, 1, 50, 10**12])
def test_page_token_round_trips_its_offset(offset: int) -> None:
    token = encode_page_token(offset)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert decode_page_token(token) == offset


def test_absent_page_token_means_the_first_page() -> None:
    assert decode_page_token(None) == 0
    assert decode_page_token("") == 0


def _token(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


@pytest.mark.parametrize(
    "token",
    [
        "not a token!",
        "%%%",
        encode_page_token(5) + "!",
        _token([]),
        _token({"offset": -1}),
        _token({"offset": "3"}),
        _token({"offset": True}),
        _token({"page": 3}),
        "bm90IGpzb24",  # "not json"
    ],
)
def test_malformed_page_token_is_invalid_input(token: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_page_token(token)
    assert caught.value.context == {"field": "page_token"}


def test_negative_offset_cannot_be_encoded() -> None:
    with pytest.raises(InvalidInput):
        encode_page_token(-1)


# ------------------------------------------------------------ query execution


def _run_id(n: int) -> str:
    return f"{n:032x}"


# name: (experiment, status, start, end, user, stage, metrics, params, tags); a metric
# value None is NaN. r1 and r7 tie on auc and start_time, so only the id orders them.
RunRow = tuple[
    int, str, int, int | None, str | None, str, dict[str, float | None], dict[str, str], dict[str, str]
]
RUNS: dict[str, RunRow] = {
    "r1": (1, "FINISHED", 1000, 2000, "ann", "active", {"auc": 0.9, "loss": 0.1},
           {"model": "xgb", "depth": "10"}, {"team": "Vision", "mlflow.note": "hello world", "code": "a_b"}),
    "r2": (1, "FINISHED", 2000, 3000, "bob", "active", {"auc": 0.7, "loss": None},
           {"model": "lgbm", "depth": "9"}, {"team": "vision-core", "code": "axb"}),
    "r3": (1, "RUNNING", 3000, None, "ann", "active", {"auc": None},
           {"model": "XGB"}, {"team": "nlp", "code": "50%"}),
    "r4": (1, "FAILED", 4000, 4500, None, "active", {},
           {"lr.init": "0.1"}, {"a b": "x", "code": "500"}),
    "r5": (2, "FINISHED", 5000, 5100, "cy", "active", {"auc": 0.95}, {"model": "xgb"}, {}),
    "r6": (1, "FINISHED", 6000, 6100, "ann", "deleted", {"auc": 0.99}, {"model": "xgb"}, {}),
    "r7": (1, "FINISHED", 1000, 2500, "dee", "active", {"auc": 0.9}, {"depth": "2"}, {}),
}  # fmt: skip


def _populate(engine: Engine) -> None:
    schema.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(schema.experiments),
            [{"id": i, "name": f"exp{i}", "created_at": 0, "updated_at": 0} for i in (1, 2)],
        )
        for n, (name, row) in enumerate(RUNS.items(), start=1):
            exp, status, start, end, user, stage, metrics, params, tags = row
            run_id = _run_id(n)
            conn.execute(
                insert(schema.runs),
                {"id": run_id, "experiment_id": exp, "name": name, "status": status,
                 "start_time": start, "end_time": end, "user": user, "lifecycle_stage": stage},
            )  # fmt: skip
            for key, number in metrics.items():
                conn.execute(
                    insert(schema.latest_metrics),
                    {"run_id": run_id, "key": key, "step": 0, "timestamp": start, "value": number},
                )
            for table, values in ((schema.params, params), (schema.run_tags, tags)):
                for key, value in values.items():
                    conn.execute(insert(table), {"run_id": run_id, "key": key, "value": value})


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "sqlite":
        sqlite_engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('search')}/runs.db")
        _populate(sqlite_engine)
        yield sqlite_engine
        sqlite_engine.dispose()
        return
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.connect():
            pass
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL is unreachable at {POSTGRES_URL}: {exc}")
    # A schema of our own, so concurrent test runs never see each other's tables.
    name = f"test_search_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    pg_engine = create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={name}"})
    try:
        _populate(pg_engine)
        yield pg_engine
    finally:
        pg_engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def search(
    engine: Engine,
    filter_text: str | None = None,
    order_by: list[str] | None = None,
    *,
    experiments: tuple[int, ...] = (1,),
    lifecycle_stage: str | None = "active",
    limit: int | None = None,
    offset: int = 0,
) -> list[str]:
    stmt = build_search_query(
        list(experiments),
        parse_filter(filter_text),
        parse_order_by(order_by),
        lifecycle_stage=lifecycle_stage,
    )
    stmt = stmt.limit(limit).offset(offset)
    with engine.connect() as conn:
        return [row.name for row in conn.execute(stmt)]


def test_metric_filter_skips_runs_without_the_metric_and_nan_values(engine: Engine) -> None:
    assert sorted(search(engine, "metrics.auc > 0.5")) == ["r1", "r2", "r7"]
    assert sorted(search(engine, "metrics.auc != 0.9")) == ["r2"]
    assert sorted(search(engine, "metrics.loss <= 1")) == ["r1"]


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ("metrics.auc = 0.9", ["r1", "r7"]),
        ("metrics.auc < 0.9", ["r2"]),
        ("metrics.auc >= 0.9", ["r1", "r7"]),
        ("metrics.auc > 0.9", []),
    ],
)
def test_each_numeric_comparator_filters_metrics(
    engine: Engine, filter_text: str, expected: list[str]
) -> None:
    assert sorted(search(engine, filter_text)) == expected


def test_param_values_compare_as_strings(engine: Engine) -> None:
    assert search(engine, "params.depth = '10'") == ["r1"]
    assert search(engine, "params.depth = '10.0'") == []
    assert search(engine, "params.depth LIKE '1%'") == ["r1"]


def test_not_equal_on_a_param_skips_runs_lacking_it(engine: Engine) -> None:
    assert sorted(search(engine, "params.model != 'xgb'")) == ["r2", "r3"]


def test_like_is_case_sensitive_on_every_backend(engine: Engine) -> None:
    assert search(engine, "params.model LIKE 'xg%'") == ["r1"]
    assert search(engine, "tags.team LIKE 'vision%'") == ["r2"]


def test_ilike_ignores_case(engine: Engine) -> None:
    assert sorted(search(engine, "params.model ILIKE 'XG%'")) == ["r1", "r3"]
    assert sorted(search(engine, "tags.team ILIKE '%VISION%'")) == ["r1", "r2"]


def test_like_wildcards_and_backslash_escapes(engine: Engine) -> None:
    assert sorted(search(engine, "tags.code LIKE 'a_b'")) == ["r1", "r2"]
    assert search(engine, "tags.code LIKE 'a\\_b'") == ["r1"]
    assert search(engine, "tags.code LIKE '%\\%'") == ["r3"]
    assert search(engine, "tags.code ILIKE '5_\\%'") == ["r3"]
    assert search(engine, "tags.code LIKE '%!%'") == []  # our escape character is not the user's


def test_quoted_keys_reach_keys_with_dots_and_spaces(engine: Engine) -> None:
    assert search(engine, "tags.`mlflow.note` = 'hello world'") == ["r1"]
    assert search(engine, 'tags."a b" = "x"') == ["r4"]
    assert search(engine, "params.`lr.init` = '0.1'") == ["r4"]


def test_in_and_not_in_filter_status_and_run_id(engine: Engine) -> None:
    assert sorted(search(engine, "status IN ('RUNNING', 'FAILED')")) == ["r3", "r4"]
    assert sorted(search(engine, "status NOT IN ('FINISHED')")) == ["r3", "r4"]
    assert sorted(search(engine, f"run_id IN ('{_run_id(2)}', '{_run_id(4)}')")) == ["r2", "r4"]


def test_string_attributes_filter_by_name_user_and_status(engine: Engine) -> None:
    assert search(engine, "run_name = 'r2'") == ["r2"]
    assert sorted(search(engine, "attributes.user = 'ann'")) == ["r1", "r3"]
    assert sorted(search(engine, "name ILIKE 'R%' and status != 'FINISHED'")) == ["r3", "r4"]


def test_time_attributes_compare_numerically_and_null_end_time_never_matches(engine: Engine) -> None:
    assert sorted(search(engine, "start_time >= 2000 and end_time < 4500")) == ["r2"]
    assert sorted(search(engine, "end_time > 0")) == ["r1", "r2", "r4", "r7"]
    assert sorted(search(engine, "start_time < 1000.5")) == ["r1", "r7"]
    assert sorted(search(engine, "start_time > 3999.5")) == ["r4"]


def test_experiment_ids_and_experiment_id_clause_select_experiments(engine: Engine) -> None:
    assert sorted(search(engine, "metrics.auc > 0.9", experiments=(1, 2))) == ["r5"]
    assert search(engine, "experiment_id = '2'", experiments=(1, 2)) == ["r5"]
    assert search(engine, "experiment_id IN ('1', '2') and metrics.auc > 0.9", experiments=(2,)) == ["r5"]


def test_lifecycle_stage_defaults_to_active_and_none_includes_deleted(engine: Engine) -> None:
    assert search(engine, "metrics.auc > 0.98") == []
    assert search(engine, "metrics.auc > 0.98", lifecycle_stage=None) == ["r6"]
    assert search(engine, "lifecycle_stage = 'deleted'", lifecycle_stage=None) == ["r6"]


def test_clauses_combine_with_and_across_kinds(engine: Engine) -> None:
    found = search(engine, "metrics.auc >= 0.7 and params.model ILIKE '%g%' and tags.team LIKE '%vision%'")
    assert found == ["r2"]


def test_default_order_is_newest_first_then_run_id(engine: Engine) -> None:
    assert search(engine) == ["r4", "r3", "r2", "r1", "r7"]


def test_ordering_by_metric_puts_missing_and_nan_last_in_both_directions(engine: Engine) -> None:
    # r3's auc is NaN and r4 has none: both trail, newest first.
    assert search(engine, order_by=["metrics.auc DESC"]) == ["r1", "r7", "r2", "r4", "r3"]
    assert search(engine, order_by=["metrics.auc ASC"]) == ["r2", "r1", "r7", "r4", "r3"]


def test_ordering_by_param_is_textual_with_missing_last(engine: Engine) -> None:
    assert search(engine, order_by=["params.depth"]) == ["r1", "r7", "r2", "r4", "r3"]
    assert search(engine, order_by=["params.depth DESC"]) == ["r2", "r7", "r1", "r4", "r3"]


def test_ordering_by_tag_and_attributes(engine: Engine) -> None:
    assert search(engine, order_by=["tags.team"]) == ["r1", "r3", "r2", "r4", "r7"]
    assert search(engine, order_by=["start_time ASC"]) == ["r1", "r7", "r2", "r3", "r4"]
    assert search(engine, order_by=["attributes.run_name DESC"]) == ["r7", "r4", "r3", "r2", "r1"]
    assert search(engine, order_by=["end_time ASC"]) == ["r1", "r7", "r2", "r4", "r3"]


def test_filtering_and_ordering_on_the_same_metric(engine: Engine) -> None:
    assert search(engine, "metrics.auc > 0.5", ["metrics.auc DESC", "params.depth"]) == ["r1", "r7", "r2"]
    assert search(engine, "metrics.auc > 0.5", ["metrics.auc", "metrics.auc DESC"]) == ["r2", "r1", "r7"]


def test_pages_from_limit_and_token_offsets_cover_every_run_once(engine: Engine) -> None:
    pages, token = [], None
    for _ in range(5):
        offset = decode_page_token(token)
        page = search(engine, order_by=["metrics.auc DESC"], limit=2, offset=offset)
        if not page:
            break
        pages.append(page)
        token = encode_page_token(offset + len(page))
    assert pages == [["r1", "r7"], ["r2", "r4"], ["r3"]]
