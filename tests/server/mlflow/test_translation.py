"""The MLflow face's pure parts: filters, search-name rewriting, artifact paths, routing."""

from __future__ import annotations

import pytest

from shipyard.errors import (
    AlreadyExists,
    Conflict,
    IntegrityError,
    InvalidInput,
    NotFound,
    PromotionRefused,
    Unavailable,
)
from shipyard.server.mlflow import route_path
from shipyard.server.mlflow._artifacts import Location, children, locate
from shipyard.server.mlflow._errors import STATUS_BY_CODE, code_for
from shipyard.server.mlflow._filters import Clause, matches, parse, sort_key
from shipyard.server.mlflow._logged_models import status_name
from shipyard.server.mlflow._routing import Routes
from shipyard.server.mlflow._runs import rewrite_search_text
from shipyard.tracking import ArtifactInfo

RUN = "0123456789abcdef0123456789abcdef"


def test_filters_parse_attributes_tags_lists_and_numbers() -> None:
    assert parse("name = 'a' AND tags.`team x` != \"b\" and run_id IN ('x', 'y') and creation_time >= 5") == [
        Clause("attribute", "name", "=", "a"), Clause("tag", "team x", "!=", "b"),
        Clause("attribute", "run_id", "IN", ("x", "y")), Clause("attribute", "creation_time", ">=", 5.0),
    ]
    assert parse(None) == [] and parse("  ") == []


@pytest.mark.parametrize("text", ["name", "name = ", "name = 'a' or name = 'b'", "name ~ 'x'", "= 'a'"])
def test_malformed_filters_are_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse(text)


def test_matching_follows_mlflow_for_absent_tags_and_like_patterns() -> None:
    assert matches(parse("name LIKE 'ch_rn%'"), {"name": "churn-v2"}, {})
    assert not matches(parse("name LIKE 'CHURN%'"), {"name": "churn"}, {})
    assert matches(parse("name ILIKE 'CHURN%'"), {"name": "churn"}, {})
    assert matches(parse("tags.`mlflow.prompt.is_prompt` != 'true'"), {}, {})  # absent differs
    assert not matches(parse("tags.team = 'a'"), {}, {})
    with pytest.raises(InvalidInput):
        matches(parse("colour = 'red'"), {"name": "x"}, {})


def test_sort_key_reads_fields_and_directions() -> None:
    assert sort_key(["name DESC", "attributes.creation_time"], ("name", "creation_time")) == [
        ("name", False), ("creation_time", True)]
    with pytest.raises(InvalidInput):
        sort_key(["size DESC"], ("name",))


def test_run_search_names_are_rewritten_outside_quotes_only() -> None:
    assert rewrite_search_text("tags.mlflow.runName = 'a' and tags.`mlflow.runName` LIKE 'b%'") == \
        "attributes.run_name = 'a' and attributes.run_name LIKE 'b%'"
    assert rewrite_search_text("params.x = 'tags.mlflow.runName'") == "params.x = 'tags.mlflow.runName'"
    assert rewrite_search_text("attributes.user_id = 'ann' and metrics.user_id > 1") == \
        "attributes.user = 'ann' and metrics.user_id > 1"


def test_artifact_proxy_paths_locate_runs_and_versions() -> None:
    assert locate(f"3/{RUN}/artifacts/model/MLmodel") == Location(run_id=RUN, path="model/MLmodel")
    assert locate(f"3/{RUN}/artifacts") == Location(run_id=RUN, path="")
    assert locate("registered-models/churn/2/MLmodel") == Location(model=("churn", "2"), path="MLmodel")
    assert locate("elsewhere/x") is None
    with pytest.raises(InvalidInput):
        locate(f"3/{RUN}/artifacts/a/../../b")
    with pytest.raises(InvalidInput):
        locate("3/not-a-run/artifacts/x")


def test_listing_gives_immediate_children_by_base_name() -> None:
    files = [ArtifactInfo(p, "0" * 64, n) for p, n in [("m/MLmodel", 10), ("m/sub/a.bin", 3), ("m/sub/b.bin", 4),
                                                       ("top.txt", 1)]]
    assert children(files, "m") == [{"path": "MLmodel", "is_dir": False, "file_size": 10},
                                    {"path": "sub", "is_dir": True}]
    assert [c["path"] for c in children(files, "")] == ["m", "top.txt"]
    assert children(files, "top.txt") == []  # a file lists empty, as on MLflow's server


def test_routes_match_exact_paths_then_parameters() -> None:
    routes = Routes("/api/2.0/mlflow")

    @routes.rpc("GET", "/logged-models/{model_id}")
    def one(msg, stores):  # type: ignore[no-untyped-def]
        return {}

    @routes.rpc("DELETE", "/logged-models/{model_id}/tags/{key:path}")
    def two(msg, stores):  # type: ignore[no-untyped-def]
        return {}

    assert routes.match("GET", "/api/2.0/mlflow/logged-models/m-1")[1] == {"model_id": "m-1"}  # type: ignore[index]
    assert routes.match("DELETE", "/api/2.0/mlflow/logged-models/m-1/tags/a/b")[1] == {  # type: ignore[index]
        "model_id": "m-1", "key": "a/b"}
    assert routes.match("POST", "/api/2.0/mlflow/logged-models/m-1") is None
    assert routes.match("GET", "/api/2.0/mlflow/logged-models/m-1/extra") is None


def test_a_mount_point_is_stripped_before_routing() -> None:
    assert route_path({"path": "/mlflow/api/2.0/mlflow/x", "root_path": "/mlflow"}) == "/api/2.0/mlflow/x"
    assert route_path({"path": "/api/2.0/mlflow/x", "root_path": ""}) == "/api/2.0/mlflow/x"
    assert route_path({"path": "/mlflowish/api", "root_path": "/mlflow"}) == "/mlflowish/api"


def test_error_codes_and_statuses_are_mlflows_and_bad_input_is_never_5xx() -> None:
    assert code_for(NotFound("x")) == "RESOURCE_DOES_NOT_EXIST" and STATUS_BY_CODE["RESOURCE_DOES_NOT_EXIST"] == 404
    assert code_for(AlreadyExists("x")) == "RESOURCE_ALREADY_EXISTS"
    assert STATUS_BY_CODE["RESOURCE_ALREADY_EXISTS"] == 400
    for caller_error in (InvalidInput("x"), Conflict("x"), PromotionRefused("x")):
        assert STATUS_BY_CODE[code_for(caller_error)] == 400
    assert code_for(Unavailable("x")) == "TEMPORARILY_UNAVAILABLE" and code_for(IntegrityError("x")) == "DATA_LOSS"
    assert STATUS_BY_CODE["ENDPOINT_NOT_FOUND"] == 404


def test_logged_model_statuses_by_name_or_number() -> None:
    assert status_name("LOGGED_MODEL_READY") == status_name(2) == status_name("2") == "LOGGED_MODEL_READY"
    with pytest.raises(InvalidInput):
        status_name("DONE")
