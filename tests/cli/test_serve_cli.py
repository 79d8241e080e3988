"""``shipyard serve`` and ``shipyard server`` at start: what they say, and how they refuse."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
from sklearn.linear_model import LogisticRegression

import shipyard
from tests.cli.test_cli import SHIPYARD, run_cli
from tests.services import free_port
from tests.serving.conftest import cli_server


def test_serving_a_misspelt_model_fails_at_once_in_one_line(tmp_path: Path) -> None:
    started = time.monotonic()
    done = run_cli(tmp_path, "serve", "models:/chrun@production", "--port", str(free_port()), columns=None)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["error: NotFound: registered model 'chrun' not found"]
    assert "Traceback" not in done.stdout + done.stderr
    assert time.monotonic() - started < 8  # no worker started, no retries


def test_serving_a_folder_that_is_no_model_fails_before_any_worker(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "serve", str(tmp_path / "nowhere"), columns=None)
    assert done.returncode == 1
    assert done.stderr.startswith("error: InvalidInput: ") and len(done.stderr.strip().splitlines()) == 1


def _saved_model(folder: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(60, 3))
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    shipyard.save_model(model, folder, input_example=x[:2])
    return folder, x[:4], model.predict(x[:4])


def test_serving_a_folder_without_trust_fails_at_once_naming_the_flag(tmp_path: Path) -> None:
    folder, _, _ = _saved_model(tmp_path / "pkg")
    done = run_cli(tmp_path, "serve", str(folder), "--port", str(free_port()), columns=None)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: UntrustedPackage: ") and "--trust" in lines[0]


def test_serving_a_folder_with_trust_answers_its_predictions(tmp_path: Path) -> None:
    folder, rows, expected = _saved_model(tmp_path / "pkg")
    (tmp_path / "home").mkdir()
    with cli_server(tmp_path / "home", str(folder), "--trust", "--no-access-log") as server:
        answer = httpx.post(f"{server.url}/invocations", json={"inputs": rows.tolist()}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == expected.tolist()


def test_a_config_files_port_is_where_it_serves_when_no_port_is_given(tmp_path: Path) -> None:
    folder, rows, expected = _saved_model(tmp_path / "pkg")
    port = free_port()
    config = tmp_path / "serve.yaml"
    config.write_text(f"port: {port}\ntrust: true\nmodels:\n  pkg:\n    uri: {folder}\n")
    env = {**os.environ, "SHIPYARD_HOME": str(tmp_path / "home")}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([SHIPYARD, "serve", str(config), "--no-access-log"], env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/invocations", json={"inputs": rows.tolist()},
                                    timeout=5)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "nothing answered on the config file's port"
                time.sleep(0.2)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == expected.tolist()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_batch_size_of_zero_is_refused_not_replaced_by_the_default(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "serve", "models:/churn@production", "--max-batch-size", "0", columns=None)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ConfigError: max_batch_size") and "got 0" in done.stderr


def _server_banner(home: Path, port: int, **env: str) -> list[str]:
    """What ``shipyard server`` prints on stderr before it serves (up to "Ctrl-C stops.")."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    clean |= {"SHIPYARD_HOME": str(home), **env}
    lines: list[str] = []
    with subprocess.Popen([SHIPYARD, "server", "--port", str(port)], env=clean, cwd=home,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as server:
        try:
            assert server.stderr is not None
            while not (lines and lines[-1].startswith("Ctrl-C")):
                line = server.stderr.readline()
                if not line:
                    break
                lines.append(line.rstrip())
        finally:
            server.terminate()
            server.wait(timeout=30)
    return lines


def test_server_says_where_it_serves_what_before_serving(tmp_path: Path) -> None:
    port = free_port()
    lines = _server_banner(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    text = "\n".join(lines)
    assert lines[0] == f"Shipyard server on {base} (auth off)", text
    assert f"{base}/api/v1" in text and f"{base}/api/2.0/mlflow" in text and f"{base}/metrics" in text
    assert f"{base}/docs" in text and lines[-1] == "Ctrl-C stops."
    assert f"  web UI       {base}/" in lines


def test_server_help_mentions_the_web_ui(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "server", "--help")
    assert done.returncode == 0 and "web UI at /" in " ".join(done.stdout.split())


def test_server_on_a_taken_port_fails_in_one_line_before_its_banner(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(tmp_path, "server", "--port", str(port), columns=None)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [f"error: ConfigError: cannot listen on 127.0.0.1:{port}: "
                                                "Address already in use"]


def test_server_on_an_unknown_host_fails_in_one_line_before_its_banner(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "server", "--host", "not a host", "--insecure", "--port", str(free_port()),
                   columns=None)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ConfigError: cannot listen on not a host:"), lines


def test_serving_a_uri_of_no_known_form_names_the_forms(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "serve", "models:churn", columns=None)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: InvalidInput: MODEL must be "), lines
    for form in ("models:/NAME/VERSION", "models:/NAME@ALIAS", "runs:/ID/PATH", "'models:churn'"):
        assert form in lines[0]


def test_server_says_when_requests_need_the_token(tmp_path: Path) -> None:
    first = _server_banner(tmp_path, free_port(), SHIPYARD_TOKEN="s3cret")[0]
    assert "auth on" in first and "s3cret" not in first
