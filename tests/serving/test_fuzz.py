"""Fuzzing the server from its own OpenAPI document (schemathesis): no 5xx, no crash, and no
answer that the document does not declare (status, media type and body schema)."""

from __future__ import annotations

from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings

from tests.serving.conftest import cli_server

SERVE_YAML = """
models:
  lr: {uri: "models:/lr@production", poll_interval_s: 0}
  sum: {uri: "models:/sum@production", poll_interval_s: 0, max_queue: 10000}
inference_log: {flush_interval_s: 1}
"""


def test_schemathesis_finds_no_server_error_and_no_undeclared_answer(home: Path) -> None:
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.failures import FailureGroup
    from schemathesis.generation import GenerationMode
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

    config = home.parent / "serve.yaml"
    config.write_text(SERVE_YAML)
    with cli_server(home, str(config), "--no-access-log") as server:
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        errors: list[str] = []
        calls = [0]

        for mode, examples in ((GenerationMode.POSITIVE, 300), (GenerationMode.NEGATIVE, 150)):
            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=schema.as_strategy(mode))
            def fuzz(case: object) -> None:
                response = case.call(timeout=10)  # type: ignore[attr-defined]
                calls[0] += 1
                try:
                    case.validate_response(response, checks=checks)  # type: ignore[attr-defined]
                except (AssertionError, FailureGroup) as exc:
                    errors.append(f"{case.method} {case.formatted_path} {case.body!r:.300} -> "  # type: ignore[attr-defined]
                                  f"{response.status_code} {response.text[:300]}: {str(exc)[:500]}")

            fuzz()
        assert errors == [], f"{len(errors)} answers outside the document, e.g. " + "\n".join(errors[:5])
        assert calls[0] >= 250
        assert server.process.poll() is None
        assert httpx.get(f"{server.url}/v2/health/ready").status_code == 200
