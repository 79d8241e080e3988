"""Fuzzing the server from its own OpenAPI document (schemathesis): no 5xx, no crash."""

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


def test_schemathesis_finds_no_server_error(home: Path) -> None:
    import schemathesis
    from schemathesis.generation import GenerationMode

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
                if response.status_code >= 500:
                    errors.append(f"{case.method} {case.formatted_path} {case.body!r:.300} -> "  # type: ignore[attr-defined]
                                  f"{response.status_code} {response.text[:300]}")

            fuzz()
        assert errors == [], f"{len(errors)} server errors, e.g. " + "\n".join(errors[:5])
        assert calls[0] >= 250
        assert server.process.poll() is None
        assert httpx.get(f"{server.url}/v2/health/ready").status_code == 200
