"""What a user of a remote server sees: refusals by their class, one line per failure, and a
SHIPYARD_URL checked when the configuration loads."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from shipyard import Config, ConfigError
from shipyard.config import load_config
from shipyard.errors import PermissionDenied, ShipyardError, Unavailable
from shipyard.remote import RetryPolicy
from shipyard.remote._http import HttpTransport, _error_from
from tests.cli.test_cli import run_cli
from tests.services import free_port

_FAST = RetryPolicy(attempts=3, max_wait=5.0, wait_initial=0.01, wait_cap=0.02, wait_jitter=0.01)


def _refusal(code: str) -> httpx.Response:
    return httpx.Response(403, json={"error": {"code": code, "message": "user 'bob' (viewer) may not edit",
                                               "field": "x"}})


@pytest.mark.parametrize("code", ["PermissionDenied", "Forbidden", "SomethingNewer"])
def test_a_403_reaches_the_client_as_permission_denied_with_its_message(code: str) -> None:
    error = _error_from(_refusal(code))
    assert type(error) is PermissionDenied
    assert (error.message, error.field, error.status) == ("user 'bob' (viewer) may not edit", "x", 403)  # type: ignore[attr-defined]


def test_a_403_without_a_json_body_is_permission_denied_too() -> None:
    error = _error_from(httpx.Response(403, text="<html>no</html>"))
    assert type(error) is PermissionDenied and "403" in error.message


def test_other_statuses_keep_their_class() -> None:
    response = httpx.Response(409, json={"error": {"code": "Conflict", "message": "taken"}})
    assert type(_error_from(response)).__name__ == "Conflict"
    assert type(_error_from(httpx.Response(401, json={"error": {"code": "Unauthorized", "message": "m"}}))) \
        is ShipyardError


def _unreachable() -> HttpTransport:
    return HttpTransport(f"http://127.0.0.1:{free_port()}", retry=_FAST)


def test_retries_are_not_logged_at_the_default_level(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="stamina")
    transport = _unreachable()
    try:
        with pytest.raises(Unavailable):
            transport.request("GET", "/api/v1/health")
    finally:
        transport.close()
    assert [r for r in caplog.records if r.name == "stamina"] == []


def test_retries_are_logged_at_debug_when_debug_logging_is_on(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="stamina")
    transport = _unreachable()
    try:
        with pytest.raises(Unavailable):
            transport.request("GET", "/api/v1/health")
    finally:
        transport.close()
    retries = [r for r in caplog.records if r.name == "stamina"]
    assert len(retries) == 2 and {r.levelno for r in retries} == {logging.DEBUG}


def test_other_code_s_retries_keep_stamina_s_level(caplog: pytest.LogCaptureFixture) -> None:
    import stamina

    caplog.set_level(logging.WARNING, logger="stamina")
    with pytest.raises(ValueError):  # noqa: PT012 - the retry loop is the thing under test
        for attempt in stamina.retry_context(on=ValueError, attempts=2, wait_initial=0.001, wait_jitter=0):
            with attempt:
                raise ValueError("again")
    assert [r.levelno for r in caplog.records if r.name == "stamina"] == [logging.WARNING]


def test_an_unreachable_server_gives_one_line_on_stderr(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "runs", "list", "churn", SHIPYARD_URL=f"http://127.0.0.1:{free_port()}",
                   SHIPYARD_RETRY_MAX_WAIT="2")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: Unavailable: "), done.stderr
    assert "stamina" not in done.stderr


@pytest.mark.parametrize("url", ["notaurl", "127.0.0.1:5000", "ftp://host", "http://", "http://host:port",
                                 "https://user:s3cret@"])
def test_a_shipyard_url_that_is_not_an_http_url_is_a_config_error_naming_it(url: str) -> None:
    with pytest.raises(ConfigError, match="SHIPYARD_URL") as info:
        load_config(env={"SHIPYARD_URL": url})
    assert info.value.field == "url"  # type: ignore[attr-defined]
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:5000", "https://shipyard.example.com/", "http://[::1]:80"])
def test_http_and_https_urls_with_a_host_are_accepted(url: str, tmp_path: Path) -> None:
    assert Config(home=tmp_path, url=url).url == url


def test_the_cli_reports_a_bad_shipyard_url_in_one_line(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "runs", "list", "churn", SHIPYARD_URL="notaurl")
    assert done.returncode == 1
    assert done.stderr.startswith("error: ConfigError: SHIPYARD_URL") and "'notaurl'" in done.stderr
