"""Configuration: defaults, ``SHIPYARD_*`` variables, ``shipyard.toml`` and their precedence."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from shipyard.config import Config, load_config
from shipyard.errors import ConfigError


@pytest.fixture(autouse=True)
def _in_empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs in an empty directory, so no stray shipyard.toml is read."""
    monkeypatch.chdir(tmp_path)


def write_toml(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "conf" / "shipyard.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return {"SHIPYARD_CONFIG": str(path)}


def test_defaults_keep_everything_inside_dot_shipyard(tmp_path: Path) -> None:
    cfg = load_config(env={})
    assert cfg == Config()
    assert cfg.home == Path(".shipyard")
    assert cfg.database_url == f"sqlite:///{tmp_path / '.shipyard' / 'shipyard.db'}"
    assert cfg.artifacts_uri == str(tmp_path / ".shipyard" / "artifacts")
    assert cfg.spool_dir.parent == tmp_path / ".shipyard" / "spool"
    assert cfg.with_(url="http://a:1").spool_dir != cfg.with_(url="http://b:1").spool_dir  # one per server
    assert (cfg.db, cfg.artifacts, cfg.url, cfg.token, cfg.flush_interval) == (None, None, None, None, 1.0)


def test_home_moves_the_default_database_and_artifacts(tmp_path: Path) -> None:
    cfg = Config(home=tmp_path / "elsewhere")
    assert cfg.database_url == f"sqlite:///{tmp_path / 'elsewhere' / 'shipyard.db'}"
    assert cfg.artifacts_uri == str(tmp_path / "elsewhere" / "artifacts")


def test_explicit_db_and_artifacts_win_over_home() -> None:
    cfg = Config(home=Path("/h"), db="postgresql://db/x", artifacts="s3://bucket/p")
    assert (cfg.database_url, cfg.artifacts_uri) == ("postgresql://db/x", "s3://bucket/p")


def test_environment_variables_set_each_field(tmp_path: Path) -> None:
    cfg = load_config(env={
        "SHIPYARD_HOME": str(tmp_path / "h"),
        "SHIPYARD_DB": "sqlite:///elsewhere.db",
        "SHIPYARD_ARTIFACTS": "s3://bucket/prefix",
        "SHIPYARD_URL": "http://tracking:5000",
        "SHIPYARD_TOKEN": "tok",
        "SHIPYARD_S3_ENDPOINT_URL": "http://minio:9000",
        "SHIPYARD_FLUSH_INTERVAL": "0.25",
    })
    assert cfg == Config(
        home=tmp_path / "h", db="sqlite:///elsewhere.db", artifacts="s3://bucket/prefix",
        url="http://tracking:5000", token="tok", s3_endpoint_url="http://minio:9000", flush_interval=0.25,
    )


def test_empty_environment_variables_are_ignored() -> None:
    env = {"SHIPYARD_URL": "", "SHIPYARD_HOME": "", "SHIPYARD_FLUSH_INTERVAL": ""}
    assert load_config(env=env) == Config()


def test_load_config_reads_the_given_mapping_and_writes_nothing() -> None:
    env = {"SHIPYARD_DB": "sqlite:///a.db"}
    before = dict(os.environ)
    load_config(env=env, url="http://x")
    assert env == {"SHIPYARD_DB": "sqlite:///a.db"}
    assert dict(os.environ) == before


def test_flat_toml_file_sets_fields(tmp_path: Path) -> None:
    env = write_toml(tmp_path, 'home = "data"\ndb = "sqlite:///t.db"\nflush_interval = 2\n')
    cfg = load_config(env=env)
    assert (cfg.home, cfg.db, cfg.flush_interval) == (Path("data"), "sqlite:///t.db", 2.0)


def test_toml_file_with_a_shipyard_table_sets_fields(tmp_path: Path) -> None:
    env = write_toml(tmp_path, '[shipyard]\nurl = "http://from-toml"\nartifacts = "s3://b/p"\n')
    cfg = load_config(env=env)
    assert (cfg.url, cfg.artifacts) == ("http://from-toml", "s3://b/p")


def test_shipyard_toml_in_the_current_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text('url = "http://cwd"\n')
    assert load_config(env={}).url == "http://cwd"


def test_environment_overrides_toml_and_keywords_override_environment(tmp_path: Path) -> None:
    env = write_toml(tmp_path, 'url = "http://toml"\ndb = "sqlite:///toml.db"\ntoken = "toml"\n')
    env |= {"SHIPYARD_URL": "http://env", "SHIPYARD_DB": "sqlite:///env.db"}
    cfg = load_config(env=env, db="sqlite:///kw.db")
    assert (cfg.url, cfg.db, cfg.token) == ("http://env", "sqlite:///kw.db", "toml")


def test_keyword_set_to_none_does_not_clear_a_lower_layer() -> None:
    assert load_config(env={"SHIPYARD_DB": "sqlite:///env.db"}, db=None).db == "sqlite:///env.db"


@pytest.mark.parametrize("text", ['colour = "blue"\n', '[shipyard]\ncolour = "blue"\n'])
def test_unknown_toml_key_is_a_config_error_naming_it(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="colour") as info:
        load_config(env=write_toml(tmp_path, text))
    assert info.value.field == "colour"


def test_malformed_toml_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    env = write_toml(tmp_path, "url = \n")
    with pytest.raises(ConfigError, match="shipyard.toml"):
        load_config(env=env)


@pytest.mark.parametrize("raw", ["soon", "0", "-1"])
def test_bad_flush_interval_from_the_environment_is_a_config_error(raw: str) -> None:
    with pytest.raises(ConfigError, match="flush_interval") as info:
        load_config(env={"SHIPYARD_FLUSH_INTERVAL": raw})
    assert info.value.field == "flush_interval"


@pytest.mark.parametrize("raw", ["nan", "inf"])
def test_non_finite_flush_interval_is_a_config_error(raw: str) -> None:
    with pytest.raises(ConfigError, match="flush_interval"):
        load_config(env={"SHIPYARD_FLUSH_INTERVAL": raw})


def test_bad_flush_interval_in_toml_or_keyword_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="flush_interval"):
        load_config(env=write_toml(tmp_path, 'flush_interval = "x"\n'))
    with pytest.raises(ConfigError, match="flush_interval"):
        load_config(env={}, flush_interval=0)
    with pytest.raises(ConfigError, match="flush_interval"):
        Config(flush_interval=-0.5)


def test_token_never_appears_in_repr() -> None:
    cfg = load_config(env={"SHIPYARD_TOKEN": "s3cret-value"})
    assert cfg.token == "s3cret-value"
    assert "s3cret-value" not in repr(cfg)
    assert "s3cret-value" not in repr(cfg.with_(url="http://x"))


def test_config_is_frozen_and_with_returns_a_changed_copy() -> None:
    cfg = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.url = "http://x"  # type: ignore[misc]
    changed = cfg.with_(url="http://x")
    assert (cfg.url, changed.url) == (None, "http://x")


def test_home_given_as_a_string_is_a_path() -> None:
    config = Config(home="/tmp/shipyard-home")
    assert config.home == Path("/tmp/shipyard-home") and config.database_url.endswith("shipyard-home/shipyard.db")


def test_size_limits_default_to_mlflows_and_are_read_from_the_environment_and_toml(tmp_path: Path) -> None:
    defaults = Config()
    assert (defaults.max_param_length, defaults.max_tag_length) == (6000, 8000)
    assert (defaults.max_request_bytes, defaults.max_upload_bytes) == (64 << 20, 10 << 30)
    env = {"SHIPYARD_MAX_REQUEST_BYTES": "1048576", "SHIPYARD_MAX_UPLOAD_BYTES": "2097152",
           "SHIPYARD_MAX_PARAM_LENGTH": "100", "SHIPYARD_MAX_TAG_LENGTH": "200"}
    cfg = load_config(env=env)
    assert (cfg.max_request_bytes, cfg.max_upload_bytes, cfg.max_param_length, cfg.max_tag_length) == \
        (1 << 20, 2 << 20, 100, 200)
    assert load_config(env=write_toml(tmp_path, "max_param_length = 250\n")).max_param_length == 250


@pytest.mark.parametrize("raw", ["0", "-1", "many", "1.5"])
def test_a_size_limit_that_is_not_a_positive_integer_is_a_config_error_naming_it(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(env={"SHIPYARD_MAX_UPLOAD_BYTES": raw})
    assert caught.value.field == "max_upload_bytes"  # type: ignore[attr-defined]
