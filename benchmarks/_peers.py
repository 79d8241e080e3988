"""Shared helpers for benchmarks that run Shipyard and a peer product side by side.

A peer (MLflow, Evidently, Feast, ...) is never a project dependency: each one lives in
its own throwaway virtual environment under ``benchmarks/.venvs/<name>`` (git-ignored),
created on first use and reused afterwards. The peer's side of a workload is a small
script run with that venv's interpreter; it prints one JSON object as the last line of
its stdout, which :func:`run_in_venv` reads back.

Machines here are noisy (disk swings 20x, CPU +-20-50%), so a benchmark runs both sides
in one invocation and reports the ratio, which is far more stable than either figure.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BENCH_DIR",
    "VENVS_DIR",
    "PeerError",
    "Row",
    "Timer",
    "best_of",
    "create_token",
    "expect_refused",
    "fmt_seconds",
    "free_port",
    "peer_venv",
    "print_table",
    "run_in_venv",
    "scratch_dir",
    "start_process",
    "step",
    "wait_http",
]

BENCH_DIR = Path(__file__).resolve().parent
VENVS_DIR = BENCH_DIR / ".venvs"
# Written into a venv once its requirements installed; a venv without it is rebuilt.
_MARKER = "shipyard-peer.json"


class PeerError(RuntimeError):
    """A peer could not be installed, started or run; the message says where to look."""


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def peer_venv(name: str, requirements: Sequence[str], *, python: str = "python3") -> Path:
    """Return a venv named ``name`` with ``requirements`` installed, creating it once.

    The venv is cached under ``benchmarks/.venvs/<name>``; pip's output goes to
    ``benchmarks/.venvs/<name>.log``. A venv whose recorded requirements differ from
    ``requirements`` (or that never finished installing) is installed into again.
    """
    venv = VENVS_DIR / name
    marker = venv / _MARKER
    wanted = sorted(requirements)
    if marker.is_file():
        try:
            if json.loads(marker.read_text()).get("requirements") == wanted:
                return venv
        except (OSError, ValueError):
            pass  # a damaged marker: fall through and reinstall
    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    log_path = VENVS_DIR / f"{name}.log"
    print(
        f"[peers] installing {' '.join(wanted)} into {venv} (log: {log_path})",
        file=sys.stderr,
        flush=True,
    )
    started = time.perf_counter()
    with log_path.open("a") as log:
        steps: list[list[str]] = []
        if not (venv / "bin" / "python").exists():
            steps.append([python, "-m", "venv", str(venv)])
        steps.append([str(venv / "bin" / "python"), "-m", "pip", "install", *wanted])
        for cmd in steps:
            log.write(f"$ {' '.join(cmd)}\n")
            log.flush()
            rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
            if rc != 0:
                raise PeerError(
                    f"setting up peer venv {name!r} failed (exit {rc}) at: {' '.join(cmd)}\n"
                    f"--- last lines of {log_path} ---\n{_tail(log_path.read_text())}"
                )
    marker.write_text(json.dumps({"requirements": wanted}))
    print(f"[peers] {name} ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return venv


def _clean_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    """The environment for a peer: ours minus anything that would leak our venv into it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(extra or {})
    return env


def run_in_venv(
    venv: Path,
    script: Path | str,
    args: Sequence[str] = (),
    timeout: float = 600,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> dict[str, Any]:
    """Run a peer script with the venv's Python and return the JSON on its last stdout line.

    ``script`` is a file when given as a :class:`~pathlib.Path`, inline code when a ``str``.
    Stderr is kept only to explain a failure.
    """
    target = [str(script)] if isinstance(script, Path) else ["-c", script]
    cmd = [str(venv / "bin" / "python"), *target, *args]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=_clean_env(env), cwd=cwd
        )
    except subprocess.TimeoutExpired as exc:
        raise PeerError(f"peer timed out after {timeout:.0f} s: {' '.join(cmd)}") from exc
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        raise PeerError(
            f"peer failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"--- stderr ---\n{_tail(proc.stderr)}\n--- stdout ---\n{_tail(proc.stdout)}"
        )
    try:
        result = json.loads(lines[-1])
    except ValueError as exc:
        raise PeerError(f"peer's last stdout line is not JSON: {lines[-1]!r}") from exc
    if not isinstance(result, dict):
        raise PeerError(f"peer returned {type(result).__name__}, expected a JSON object")
    return result


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 60, proc: subprocess.Popen[Any] | None = None) -> None:
    """Poll ``url`` until it answers 200; fail early if ``proc`` (the server) has exited."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise PeerError(f"server exited with code {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
                last = resp.status
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = exc
        time.sleep(0.1)
    raise PeerError(f"{url} did not answer 200 within {timeout:.0f} s (last: {last})")


@contextlib.contextmanager
def start_process(
    cmd: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    cwd: Path | None = None,
    log_path: Path | None = None,
    clean_env: bool = True,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``cmd`` in its own process group and kill the whole group on exit.

    Servers fork workers (uvicorn, gunicorn), so killing only the parent would leave
    them running. Output goes to ``log_path`` (a temporary file by default) rather than
    a pipe, which a chatty server could otherwise fill and block on. ``env`` is added
    to ours; with ``clean_env`` (for peers) our venv's variables are dropped first.
    """
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix="peer-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            list(cmd),
            env=_clean_env(env) if clean_env else {**os.environ, **(env or {})},
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a new process group whose id is proc.pid
        )
        try:
            yield proc
        except BaseException as exc:
            # Attach the server's own words to whatever went wrong while it ran.
            log.flush()
            exc.add_note(f"--- {log_path} ---\n{_tail(log_path.read_text(errors='replace'))}")
            raise
        finally:
            _kill_group(proc)


def _kill_group(proc: subprocess.Popen[Any]) -> None:
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def create_token(cli: Sequence[str], env: Mapping[str, str], user: str = "bench", role: str = "editor") -> str:
    """Create ``user`` with ``role`` and an API token for it with Shipyard's CLI (``cli``, e.g.
    ``[".venv/bin/shipyard"]``) in the home ``env`` names; return the token's secret.

    Creating the first user turns authentication on for servers started on that home.
    """
    full_env = {**os.environ, **env}
    for args in (["users", "create", user, "--role", role], ["tokens", "create", user, "--name", "benchmark"]):
        proc = subprocess.run([*cli, *args], capture_output=True, text=True, env=full_env, timeout=120)
        if proc.returncode != 0:
            raise PeerError(f"{' '.join(args)} failed (exit {proc.returncode}):\n{_tail(proc.stderr)}")
    # `tokens create` prints the secret alone on stdout.
    return proc.stdout.strip().splitlines()[-1]


def expect_refused(url: str, body: bytes | None = None) -> None:
    """Check that ``url`` answers 401 to a request without credentials (POST when ``body``
    is given), so that a side timed "with authentication" really had it on."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            status = resp.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    if status != 401:
        raise PeerError(f"{url} answered {status} without credentials, expected 401: authentication is off")


@contextlib.contextmanager
def step(label: str) -> Iterator[None]:
    """Show ``label`` with a spinner and elapsed time while a long step runs (stderr)."""
    try:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    except ImportError:
        print(f"{label} ...", file=sys.stderr, flush=True)
        yield
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task = progress.add_task(label, total=1)
        try:
            yield
        finally:
            progress.update(task, completed=1)


class Timer:
    """Wall-clock stopwatch: ``with Timer() as t: ...`` then ``t.seconds``."""

    def __init__(self) -> None:
        self.start = 0.0
        self.seconds = 0.0

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def best_of(n: int, fn: Any) -> float:
    """The fastest of ``n`` timed calls of ``fn()``, in seconds (the least noisy figure)."""
    times = []
    for _ in range(n):
        with Timer() as t:
            fn()
        times.append(t.seconds)
    return min(times)


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary directory on tmpfs when there is one: disk here swings 20x."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix=prefix, dir=base, ignore_cleanup_errors=True) as d:
        yield Path(d)


@dataclass
class Row:
    """One line of a comparison: seconds for Shipyard and for the peer, and a target.

    A target is either ``min_ratio`` (peer seconds / Shipyard seconds must reach it),
    ``max_ratio`` (peer seconds / Shipyard seconds must not exceed it: the "peer" is then
    Shipyard itself in another configuration, e.g. with authentication on) or
    ``max_seconds`` (an absolute bound on Shipyard's time), or none.
    """

    workload: str
    ours: float | None
    peer: float | None
    min_ratio: float | None = None
    max_seconds: float | None = None
    max_ratio: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.peer is None or self.ours <= 0:
            return None
        return self.peer / self.ours

    @property
    def target(self) -> str:
        if self.min_ratio is not None:
            return f">= {self.min_ratio:g}x"
        if self.max_ratio is not None:
            return f"<= {self.max_ratio:g}x"
        if self.max_seconds is not None:
            return f"< {self.max_seconds * 1e3:g} ms" if self.max_seconds < 1 else f"< {self.max_seconds:g} s"
        return ""

    @property
    def passed(self) -> bool | None:
        """True/False against the target; None when there is no target or no figure."""
        if self.min_ratio is not None:
            return None if self.ratio is None else self.ratio >= self.min_ratio
        if self.max_ratio is not None:
            return None if self.ratio is None else self.ratio <= self.max_ratio
        if self.max_seconds is not None:
            return None if self.ours is None else self.ours < self.max_seconds
        return None


def fmt_seconds(s: float | None) -> str:
    """Seconds with a unit that keeps three significant digits readable."""
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def print_table(rows: Sequence[Row], *, peer: str = "peer", title: str = "") -> None:
    """Print workload, Shipyard, peer, ratio (peer seconds / Shipyard seconds), target, verdict."""
    header = ["workload", "Shipyard", peer, "ratio", "target", "result"]
    body = []
    for r in rows:
        # A ratio near 1 (an overhead) needs more digits than a speed-up does.
        digits = 3 if r.max_ratio is not None else 1
        ratio = "-" if r.ratio is None else f"{r.ratio:,.{digits}f}x"
        verdict = {True: "PASS", False: "FAIL", None: "-"}[r.passed]
        body.append([r.workload, fmt_seconds(r.ours), fmt_seconds(r.peer), ratio, r.target, verdict])
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # plain fallback so a bare interpreter can still print results
        widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=True)]
        if title:
            print(title)
        for line in [header, *body]:
            print("  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)))
        return
    table = Table(title=title or None)
    # Piped output would otherwise be wrapped at 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for line in body:
        style = {"PASS": "green", "FAIL": "red"}.get(line[-1], "")
        table.add_row(*line[:-1], f"[{style}]{line[-1]}[/]" if style else line[-1])
    console.print(table)


def _ms(text: str) -> float:
    value, unit = float(re.match(r"([\d.]+)", text).group(1)), re.sub(r"[\d.]", "", text)  # type: ignore[union-attr]
    return value * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def run_wrk(url: str, script: Path, connections: int, seconds: int, warmup: int) -> dict[str, float]:
    """Load ``url`` with wrk (one thread, ``connections``, the Lua ``script``) after a warm-up;
    requests/s, p50 and p99 in ms, non-2xx responses and socket timeouts."""
    base = ["wrk", "-t1", f"-c{connections}", "--timeout", "10s", "-s", str(script)]
    subprocess.run([*base, f"-d{warmup}s", url], capture_output=True, text=True, check=True)
    out = subprocess.run([*base, f"-d{seconds}s", "--latency", url], capture_output=True, text=True,
                         check=True).stdout
    pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*timeout (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "p50_ms": _ms(pct["50"]), "p99_ms": _ms(pct["99"]),
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "timeouts": int(errors.group(1)) if errors else 0}
