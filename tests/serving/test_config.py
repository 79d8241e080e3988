"""Serving configuration: defaults, YAML, and the errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard import ConfigError
from shipyard.serving import ServeConfig, load_serve_config, make_serve_config


def test_a_uri_becomes_one_model_named_after_the_registered_model() -> None:
    config = ServeConfig.for_uri("models:/churn@production")
    model = config.models[0]
    assert (config.host, config.port, config.workers) == ("127.0.0.1", 8080, 1)
    assert (model.name, model.targets[0].label, model.targets[0].follows) == ("churn", "production", True)
    assert not ServeConfig.for_uri("models:/churn/3").models[0].targets[0].follows


def test_yaml_serves_several_models_with_routes_and_a_shadow(tmp_path: Path) -> None:
    path = tmp_path / "serve.yaml"
    path.write_text("""
port: 9000
workers: 2
models:
  churn: models:/churn@production
  fraud:
    routes:
      - {uri: "models:/fraud@production", weight: 90}
      - {uri: "models:/fraud@challenger", weight: 10}
    shadow: {uri: "models:/fraud@candidate", fraction: 0.2}
    batching: {max_batch_size: 32, max_latency_ms: 2}
inference_log: {sample_rate: 0.5}
""")
    config = make_serve_config(str(path), port=9001)
    assert config.port == 9001 and config.workers == 2 and config.inference_log.sample_rate == 0.5
    fraud = config.models[1]
    assert [t.label for t in fraud.targets] == ["production", "challenger"]
    assert fraud.shadow is not None and fraud.shadow.fraction == 0.2
    assert fraud.batching.max_batch_size == 32


@pytest.mark.parametrize(("data", "field"), [
    ({"models": {"m": {"uri": "models:/m/1", "max_queue": 0}}}, "max_queue"),
    ({"models": {"m": {"uri": "models:/m/1", "bogus": 1}}}, "bogus"),
    ({"models": {"m": {}}}, "uri"),
    ({"models": {"m": "models:/m/1"}, "workers": 0}, "workers"),
    ({"models": {"m": {"uri": "models:/m/1", "shadow": {"uri": "models:/m/2", "fraction": 2}}}}, "fraction"),
    ({"models": []}, "models"),
])
def test_bad_settings_name_their_field(data: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_serve_config(data)
    assert info.value.field == field
