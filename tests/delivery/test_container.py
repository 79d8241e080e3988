"""``shipyard build``: container build contexts for models, and the images built from them.

One offline context (every wheel, on the local Debian base) is written once for the module;
it is installed into a fresh venv, built into a real image with podman and run, and written
a second time to compare the bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from dockerfile_parse import DockerfileParser
from sklearn.linear_model import LogisticRegression

import shipyard
from shipyard import Config
from shipyard.delivery import DEFAULT_BASE, ContainerContext, build_image, write_container_context
from tests.cli.test_cli import SHIPYARD
from tests.services import free_port, running_server

# Every test here shares one context and one venv: keep them on one xdist worker.
pytestmark = pytest.mark.xdist_group("container-build")

ROOT = Path(__file__).resolve().parents[2]
MAKE_BASE_IMAGE = ROOT.parent / "shared" / "containers" / "make-base-image.sh"
PODMAN_DIR = Path("/tmp/shipyard-podman")
BASE = "localhost/shipyard-base:bookworm"
TOKEN = "t0ken-for-the-container-tests-0123456789abcdef"


@dataclass(frozen=True)
class Store:
    home: Path
    rows: list[list[float]]
    expected: list[int]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A registry with churn (v1, alias production) and three models build refuses."""
    home = tmp_path_factory.mktemp("build-home")
    x = np.random.default_rng(0).normal(size=(60, 3))
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    with shipyard.Client(Config(home=home)) as client:
        with shipyard.start_run("churn", client=client):
            shipyard.log_model(model, input_example=x[:2], registered_model_name="churn")
            shipyard.log_model(model, name="bare", registered_model_name="bare")  # no example: no signature
            shipyard.log_model(model, name="loose", input_example=x[:2], registered_model_name="loose",
                               requirements=["scikit-learn>=1.4"])
            shipyard.log_model(model, name="ghost", input_example=x[:2], registered_model_name="ghost",
                               requirements=["shipyard-no-such-distribution==1.0"])
        client.set_alias("churn", "production", 1)
    return Store(home, x[:4].tolist(), model.predict(x[:4]).tolist())


def _env(home: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    return {**clean, "SHIPYARD_HOME": str(home), **extra}


def build_cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``shipyard build ARGS`` as a user runs it, on the store at ``home``."""
    return subprocess.run([SHIPYARD, "build", *args], env=_env(home, **env), cwd=home, capture_output=True,
                          text=True, timeout=300)


def _offline_context(store: Store, out: Path) -> ContainerContext:
    with shipyard.Client(Config(home=store.home)) as client:
        return write_container_context(client, "models:/churn@production", out, base=BASE, wheels=True)


@pytest.fixture(scope="module")
def context(store: Store, tmp_path_factory: pytest.TempPathFactory) -> ContainerContext:
    started = time.monotonic()
    built = _offline_context(store, tmp_path_factory.mktemp("contexts") / "churn")
    print(f"offline build context written in {time.monotonic() - started:.1f} s")
    return built


@pytest.fixture(scope="module")
def venv(context: ContainerContext, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv made by the Dockerfile's own install step, run here with no index."""
    run = next(i for i in DockerfileParser(path=str(context.path / "Dockerfile")).structure
               if i["instruction"] == "RUN")["value"]
    folder = tmp_path_factory.mktemp("venv") / "venv"
    command = (run.split(" ", 1)[1]  # after --mount=...: the context is here, not mounted
               .replace("/mnt/context", str(context.path)).replace("/opt/shipyard/venv", str(folder))
               .replace("python3 -m venv", f"{sys.executable} -m venv"))
    assert "--no-index" in command and "--require-hashes" in command
    started = time.monotonic()
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=600,
                          env={k: v for k, v in os.environ.items() if not k.startswith("PIP_")})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(f"venv installed from the context's wheels in {time.monotonic() - started:.1f} s")
    return folder


@contextlib.contextmanager
def entrypoint(venv: Path, script: Path, home: Path, **env: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The image's entrypoint run from ``venv`` on loopback; yields it and its URL once ready."""
    port = free_port()
    log = home / f"entrypoint-{port}.log"
    home.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen([str(venv / "bin" / "python"), str(script), "--host", "127.0.0.1", "--port",
                                    str(port)], env=_env(home / "shipyard", **env), stdout=out,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".partial", ".old")))


# -- the Dockerfile ---------------------------------------------------------------------------


def test_the_dockerfile_parses_and_runs_a_health_checked_server_as_a_non_root_user(context: ContainerContext) -> None:
    parser = DockerfileParser(path=str(context.path / "Dockerfile"))
    instructions = {i["instruction"]: i["value"] for i in parser.structure}
    assert parser.baseimage == BASE
    user = instructions["USER"].split(":")[0]
    assert user.isdigit() and int(user) != 0
    assert "/v2/health/ready" in instructions["HEALTHCHECK"] and "urllib" in instructions["HEALTHCHECK"]
    assert "curl" not in instructions["HEALTHCHECK"]
    assert instructions["STOPSIGNAL"] == "SIGINT" and instructions["EXPOSE"] == "8080"
    assert json.loads(instructions["ENTRYPOINT"])[-1] == "/opt/shipyard/entrypoint.py"
    env = parser.envs
    assert env["HOME"] == env["TMPDIR"] == "/tmp" and env["SHIPYARD_HOME"].startswith("/tmp/")
    assert parser.labels["io.shipyard.model.uri"] == "models:/churn/1"
    assert parser.labels["io.shipyard.model.manifest-sha256"] == context.manifest_sha256
    assert "ADD" not in instructions and "SHIPYARD_TOKEN" not in parser.content
    assert context.files == tuple(sorted(_files(context.path)))
    expected = {".dockerignore", "Dockerfile", "entrypoint.py", "requirements.txt", "model/model.yaml"}
    assert expected <= set(context.files)


def test_an_offline_context_pins_every_wheel_it_carries_by_hash(context: ContainerContext) -> None:
    wheels = sorted(f for f in context.files if f.startswith("wheels/"))
    pins = [line for line in (context.path / "requirements.txt").read_text().splitlines() if "==" in line]
    assert len(pins) == len(wheels) and any(p.startswith("shipyard==") for p in pins)
    assert any(p.startswith("scikit-learn==") for p in pins) and any(p.startswith("numpy==") for p in pins)
    assert not any(p.startswith(("pytest", "mypy", "torch")) for p in pins)  # the serving runtime, not dev


# -- the entrypoint, from a venv installed off the context -------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_requirements_install_offline_and_the_entrypoint_serves_predictions_and_stops_on_sigint(
        store: Store, context: ContainerContext, venv: Path, tmp_path: Path) -> None:
    with entrypoint(venv, context.path / "entrypoint.py", tmp_path / "run") as (process, url):
        answer = httpx.post(f"{url}/invocations", json={"inputs": store.rows}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == store.expected
        assert httpx.get(f"{url}/v2/models/churn", timeout=10).status_code == 200  # served under its name
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        assert time.monotonic() - started < 10


@pytest.mark.slow
def test_the_entrypoint_refuses_a_baked_model_whose_model_yaml_was_changed(
        context: ContainerContext, venv: Path, tmp_path: Path) -> None:
    copy = tmp_path / "image"
    shutil.copytree(context.path / "model", copy / "model")
    shutil.copy(context.path / "entrypoint.py", copy / "entrypoint.py")
    manifest = copy / "model" / "model.yaml"
    manifest.write_text(manifest.read_text() + "# edited\n")
    done = subprocess.run([str(venv / "bin" / "python"), str(copy / "entrypoint.py")], env=_env(tmp_path / "home"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error: IntegrityError:") and context.manifest_sha256 in done.stderr


@pytest.mark.slow
def test_a_pull_context_carries_the_uri_not_the_model_and_pulls_it_from_shipyard_url_at_start(
        store: Store, venv: Path, tmp_path: Path) -> None:
    secret = "never-in-the-image-" + uuid.uuid4().hex
    done = build_cli(store.home, "models:/churn@production", "--out", str(tmp_path / "pull"), "--pull", "--json",
                     SHIPYARD_TOKEN=secret)
    assert done.returncode == 0, done.stderr
    built = json.loads(done.stdout)
    assert (built["pulled"], built["served"], built["offline"]) == (True, "models:/churn@production", False)
    folder = tmp_path / "pull"
    assert not (folder / "model").exists()
    assert all(secret.encode() not in (folder / f).read_bytes() for f in built["files"])
    parser = DockerfileParser(path=str(folder / "Dockerfile"))
    assert parser.baseimage == DEFAULT_BASE and ":3.11." in DEFAULT_BASE  # pinned to a patch release
    assert not any(k.startswith(("SHIPYARD_URL", "SHIPYARD_TOKEN")) for k in parser.envs)
    assert "--no-index" not in parser.content  # from an index, but Shipyard from its own wheel, by path
    assert "shipyard @ file:///mnt/context/wheels/shipyard-" in (folder / "requirements.txt").read_text()

    refused = subprocess.run([str(venv / "bin" / "python"), str(folder / "entrypoint.py")],
                             env=_env(tmp_path / "home"), capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "SHIPYARD_URL" in refused.stderr
    with running_server(Config(home=store.home)) as server, \
            entrypoint(venv, folder / "entrypoint.py", tmp_path / "run", SHIPYARD_URL=server.url) as (_, url):
        answer = httpx.post(f"{url}/invocations", json={"inputs": store.rows}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == store.expected


# -- a real image ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def podman() -> dict[str, str]:
    """The environment podman runs in here; skips where podman cannot run."""
    if not MAKE_BASE_IMAGE.is_file():
        pytest.skip(f"podman: {MAKE_BASE_IMAGE} (which sets podman up here) is missing")
    made = subprocess.run(["bash", str(MAKE_BASE_IMAGE), str(PODMAN_DIR)], capture_output=True, text=True,
                          timeout=900)
    if made.returncode != 0 or not shutil.which("podman"):
        pytest.skip(f"podman cannot run here: {(made.stdout + made.stderr).strip()[-500:]}")
    env = {**os.environ, "CONTAINERS_CONF": str(PODMAN_DIR / "containers.conf")}
    if subprocess.run(["podman", "image", "exists", BASE], env=env, capture_output=True).returncode != 0:
        pytest.skip(f"podman: no {BASE} after {MAKE_BASE_IMAGE}")
    return env


def _podman(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    # podman logs "unable to get systemd connection" on stderr here: judge by the exit status.
    return subprocess.run(["podman", *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_podman_image_built_offline_serves_answers_its_health_check_and_stops_gracefully(
        store: Store, context: ContainerContext, podman: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    image, name, port = f"localhost/shipyard-test-churn:{uuid.uuid4().hex[:8]}", f"churn-{uuid.uuid4().hex[:8]}", \
        free_port()
    monkeypatch.setenv("CONTAINERS_CONF", podman["CONTAINERS_CONF"])
    started = time.monotonic()
    assert build_image(context, image, engine="podman") == "podman"  # --network none: offline
    print(f"image built with podman in {time.monotonic() - started:.1f} s")
    try:
        ran = _podman(podman, "run", "-d", "--name", name, "--read-only", "--tmpfs", "/tmp",
                      "-p", f"127.0.0.1:{port}:8080", "-e", f"SHIPYARD_TOKEN={TOKEN}", image)
        assert ran.returncode == 0, ran.stderr
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, _podman(podman, "logs", name).stdout[-3000:]
            time.sleep(0.5)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        answer = httpx.post(f"{url}/invocations", json={"inputs": store.rows}, headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == store.expected
        assert httpx.post(f"{url}/invocations", json={"inputs": store.rows}, timeout=30).status_code == 401
        assert _podman(podman, "healthcheck", "run", name).returncode == 0
        user = _podman(podman, "exec", name, "id", "-u").stdout.strip()
        assert user == "10001"
        started = time.monotonic()
        assert _podman(podman, "stop", "-t", "20", name).returncode == 0
        assert time.monotonic() - started < 10  # SIGINT stops it; SIGKILL would come after 20 s
        state = _podman(podman, "inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        assert state == "0"
    finally:
        _podman(podman, "rm", "-f", name)
        _podman(podman, "rmi", "-f", image)


# -- reproducibility ---------------------------------------------------------------------------


@pytest.mark.slow
def test_the_same_model_and_shipyard_give_the_same_context_byte_for_byte(store: Store, tmp_path: Path) -> None:
    # Two builds back to back, so both wheels of Shipyard come from the same source tree.
    once, again = _offline_context(store, tmp_path / "once"), _offline_context(store, tmp_path / "again")
    first, second = _files(once.path), _files(again.path)
    assert first == second
    assert len(first) > 10 and any(f.startswith("wheels/shipyard-") for f in first)
    modes = {(p.relative_to(again.path).as_posix(), p.stat().st_mode, p.stat().st_mtime) for p in again.path.rglob("*")}
    assert {(mode & 0o777, mtime) for _, mode, mtime in modes} <= {(0o644, 315532800), (0o755, 315532800)}


# -- bad input ---------------------------------------------------------------------------------


def test_an_unknown_model_is_refused_and_nothing_is_written(store: Store, tmp_path: Path) -> None:
    done = build_cli(store.home, "models:/chrun@production", "--out", str(tmp_path / "new" / "ctx"))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["error: NotFound: registered model 'chrun' not found"]
    assert not (tmp_path / "new").exists()


def test_a_folder_instead_of_a_model_uri_is_refused_naming_how_to_register_it(store: Store, tmp_path: Path) -> None:
    done = build_cli(store.home, str(tmp_path), "--out", str(tmp_path / "ctx"))
    assert done.returncode == 1 and "InvalidInput" in done.stderr and "models register" in done.stderr
    assert not (tmp_path / "ctx").exists()


def test_a_model_without_a_signature_is_refused(store: Store, tmp_path: Path) -> None:
    done = build_cli(store.home, "models:/bare/1", "--out", str(tmp_path / "ctx"))
    assert done.returncode == 1
    assert done.stderr.startswith("error: InvalidInput: models:/bare/1 has no signature") and "input_example" in \
        done.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_output_folder_that_is_not_empty_is_refused_and_kept_unless_forced(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "ctx"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    done = build_cli(store.home, "models:/churn/1", "--out", str(out))
    assert done.returncode == 1 and "Conflict" in done.stderr and "--force" in done.stderr
    forced = build_cli(store.home, "models:/churn/1", "--out", str(out), "--force")
    assert forced.returncode == 1 and "does not hold a build context" in forced.stderr  # not somebody's folder
    assert [p.name for p in out.iterdir()] == ["notes.txt"]

    first = build_cli(store.home, "models:/churn/1", "--out", str(tmp_path / "built"))
    assert first.returncode == 0, first.stderr
    (tmp_path / "built" / "stale.txt").write_text("left from before")
    again = build_cli(store.home, "models:/churn/1", "--out", str(tmp_path / "built"), "--force")
    assert again.returncode == 0, again.stderr
    assert not (tmp_path / "built" / "stale.txt").exists() and (tmp_path / "built" / "Dockerfile").is_file()
    assert _leftovers(tmp_path) == []


def test_requirements_not_pinned_to_one_version_are_refused_without_wheels(store: Store, tmp_path: Path) -> None:
    done = build_cli(store.home, "models:/loose/1", "--out", str(tmp_path / "ctx"))
    assert done.returncode == 1
    assert "InvalidInput" in done.stderr and "scikit-learn>=1.4" in done.stderr and "--wheels" in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_requirement_with_no_published_version_is_refused_and_leaves_nothing(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "new" / "ctx"
    done = build_cli(store.home, "models:/ghost/1", "--out", str(out), "--wheels")
    assert done.returncode == 1
    assert done.stderr.startswith("error: InvalidInput: cannot pin the image's requirements")
    assert "shipyard-no-such-distribution==1.0" in done.stderr
    assert list(tmp_path.iterdir()) == []  # neither the context, nor its staging, nor the folder made for it


def test_image_without_an_installed_engine_fails_first_naming_what_to_install(store: Store, tmp_path: Path) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    done = build_cli(store.home, "models:/churn/1", "--out", str(tmp_path / "ctx"), "--image", "churn:1",
                     "--engine", "podman", PATH=str(bare))
    assert done.returncode == 1
    assert done.stderr.startswith("error: MissingTool: podman is not installed") and "apt-get install podman" in \
        done.stderr
    assert not (tmp_path / "ctx").exists()
