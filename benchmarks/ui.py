"""Web UI benchmark: Shipyard's run pages against MLflow's UI, side by side in one run.

The data (``benchmarks/ui_data.py``): 10,000 runs x 20 metrics x 1,000 steps with 5
params and 2 tags each, plus one run with a 1,000,000-step curve, written into a
Shipyard store (its batch API, ``record_runs``) and into MLflow's SQLite store, both
built once and cached under ``~/.cache/shipyard-bench``. ``--history-runs N`` gives only
the first N runs their whole histories (the others their last point): the full volume is
200,000,000 points, tens of GB per store. The runs charted below are among the first ten.

Each side's server runs on loopback (``shipyard server``; ``mlflow server`` from a
throwaway venv, ``/tmp/mlflow-peer-venv``, made with ``python -m venv`` and
``pip install 'mlflow==3.*'`` on first use), and the same headless Chromium (Debian's,
through Playwright) opens the same views on both, alternating sides, ``--rounds`` times:

* runs table: the experiment's page, until the newest run's name shows in the table;
* run chart: one run's page, until its first metric chart is drawn (MLflow draws only the
  charts in view, so "every chart" is not comparable);
* compare: 10 runs compared, until the parallel-coordinates plot and the first chart of
  overlaid curves are drawn (Shipyard) / until the parallel-coordinates plot is drawn
  (MLflow's compare page);
* long curve: the run with the 1,000,000-step curve, until its chart is drawn, with the
  number of metric points the browser received.

Both servers run one process (``mlflow server --workers 1``: on a loaded two-core machine
MLflow's default four workers are killed by their health check while they start).
Server time per request is Playwright's request timing (response start - request start,
on loopback: the server's time to the first byte) of every API request a view made.
Each opening is timed twice: by the page's own clock (``performance.now()`` at the first
animation frame in which the view is drawn, counted from the start of navigation) and by
this script's wall clock around ``goto`` and the wait (Playwright's round trips included,
the same fixed cost on both sides). Targets: each view usable < 1 s; < 300 ms server
time per request; Shipyard's runs table >= 10x faster than MLflow's at 10,000 runs; the
long curve drawn from at most a few thousand points. Compare the ratios, not the seconds:
this machine is shared and noisy.

    .venv/bin/python benchmarks/ui.py [--quick] [--history-runs N] [--rounds 3] [--skip-peer]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import free_port, start_process, wait_http  # noqa: E402
from ui_data import LONG_NAME, Sizes, cached, run_id, run_name  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PEER_VENV = Path("/tmp/mlflow-peer-venv")
PEER_REQUIREMENT = "mlflow==3.*"
TIMEOUT_MS = 90_000
COMPARED = 10


def log(message: str) -> None:
    print(f"[ui-bench] {message}", file=sys.stderr, flush=True)


def peer_python() -> Path:
    """MLflow's interpreter in its own throwaway venv, created on first use."""
    python = PEER_VENV / "bin" / "python"
    if not (PEER_VENV / "bin" / "mlflow").exists():
        log(f"creating {PEER_VENV} with {PEER_REQUIREMENT} (a few minutes, once)")
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", PEER_REQUIREMENT], check=True)
    return python


@dataclass
class View:
    """One timed opening of a page: seconds until usable, API requests and what they sent."""

    seconds: float
    drawn_s: float | None = None  # the page's own clock: navigation start to the first frame drawn
    server_ms: list[float] = field(default_factory=list)
    points: int = 0
    timed_out: bool = False
    slowest: str = ""  # the API request with the most server time, for the log


@dataclass
class Side:
    name: str
    url: str
    paths: dict[str, str]
    ready: dict[str, str]  # a JavaScript expression, true once the view is drawn
    api: Callable[[str], bool]
    points_in: Callable[[str, Any], int]


def measure(browser: Any, side: Side, view: str) -> View:
    """Open ``view`` in a fresh browser context and time it until ``side.ready[view]`` holds."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    requests: list[Any] = []
    page.on("requestfinished", lambda r: requests.append(r) if side.api(r.url) else None)
    started = time.perf_counter()
    page.goto(side.url + side.paths[view])
    timed_out = False
    drawn_ms = None
    try:
        # Checked at every animation frame; the answer is the page's clock (ms since its navigation
        # began) at the first frame where the view is drawn, free of this driver's round trips.
        drawn_ms = page.wait_for_function(f"() => ({side.ready[view]}) ? performance.now() : false",
                                          polling="raf", timeout=TIMEOUT_MS).json_value()
    except PlaywrightTimeout:
        timed_out = True
    seconds = time.perf_counter() - started
    page.wait_for_timeout(200)  # let the last responses' timings settle
    result = View(seconds, drawn_s=drawn_ms / 1000 if drawn_ms else None, timed_out=timed_out)
    for request in requests:
        timing = request.timing
        if timing.get("responseStart", -1) >= 0 and timing.get("requestStart", -1) >= 0:
            ms = timing["responseStart"] - timing["requestStart"]
            if ms >= max(result.server_ms, default=0):
                result.slowest = f"{request.method} {request.url.split('/', 3)[-1][:90]}"
            result.server_ms.append(ms)
        if view == "long curve":
            with contextlib.suppress(Exception):  # not a JSON answer: no points in it
                result.points += side.points_in(request.url, request.response().json())
    context.close()
    return result


# -- Shipyard's side --------------------------------------------------------------------------

def shipyard_side(url: str, built: dict[str, Any], sizes: Sizes) -> Side:
    experiment = built["shipyard"]["experiment"]
    newest = run_name(sizes.runs - 1)
    compared = ",".join(run_id(i) for i in range(COMPARED))

    def charts_drawn(count: int, also: str = "true") -> str:
        return f"document.querySelectorAll('figure.chart .plot[data-points] canvas').length >= {count} && {also}"

    def metric_points(request_url: str, body: Any) -> int:
        return len(body.get("items", [])) if "/metric-history" in request_url else 0

    return Side("Shipyard", url, {
        "runs table": f"/#/experiments/{experiment}",
        "run chart": f"/#/runs/{run_id(0)}",
        "compare 10": f"/#/compare?runs={compared}",
        "long curve": f"/#/runs/{built['shipyard']['long_run']}",
    }, {
        "runs table": f"[...document.querySelectorAll('#runs td.name')]"
                      f".some((td) => td.textContent.includes('{newest}'))",
        "run chart": charts_drawn(1),
        "compare 10": charts_drawn(1, "document.querySelector('#parallel svg') !== null"),
        "long curve": charts_drawn(1),
    }, lambda u: "/api/v1/" in u, metric_points)


# -- MLflow's side ----------------------------------------------------------------------------

def mlflow_side(url: str, built: dict[str, Any], sizes: Sizes) -> Side:
    experiment = built["mlflow"]["experiment"]
    newest = run_name(sizes.runs - 1)
    compared = json.dumps([run_id(i) for i in range(COMPARED)], separators=(",", ":"))
    experiments = json.dumps([experiment])
    long_run = built["mlflow"]["long_run"]

    def plotly(selector: str) -> str:
        # MLflow draws its charts with Plotly: an SVG per line chart, a canvas for parallel coordinates.
        return f"document.querySelector('.js-plotly-plot {selector}') !== null"

    def metric_points(request_url: str, body: Any) -> int:
        return len(body.get("metrics", [])) if "/metrics/get-history" in request_url else 0

    return Side("MLflow", url, {
        "runs table": f"/#/experiments/{experiment}/runs",
        "run chart": f"/#/experiments/{experiment}/runs/{run_id(0)}/model-metrics",
        "compare 10": f"/#/compare-runs?runs={compared}&experiments={experiments}",
        "long curve": f'/#/metric?runs={json.dumps([long_run])}&metric="loss"&experiments={experiments}'
                      '&plot_metric_keys=["loss"]&x_axis=step',
    }, {
        "runs table": f"document.evaluate(\"//*[normalize-space(text())='{newest}']\", document, null, "
                      "XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue !== null",
        "run chart": plotly(".trace.scatter path"),
        "compare 10": plotly("canvas"),
        "long curve": plotly(".trace.scatter path"),
    }, lambda u: "/ajax-api/" in u or "/api/2.0/" in u or "/graphql" in u, metric_points)


# -- the run ------------------------------------------------------------------------------------

def shipyard_server(home: Path, port: int) -> Any:
    exe = Path(sys.executable).with_name("shipyard")
    cmd = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "shipyard"]),
           "server", "--host", "127.0.0.1", "--port", str(port)]
    return start_process(cmd, {"SHIPYARD_HOME": str(home)}, clean_env=False,
                         log_path=home.parent / "shipyard-server.log")


def mlflow_server(python: Path, uri: str, folder: Path, port: int) -> Any:
    cmd = [str(python.with_name("mlflow")), "server", "--backend-store-uri", uri, "--host", "127.0.0.1",
           "--port", str(port), "--default-artifact-root", str(folder / "artifacts"), "--workers", "1"]
    return start_process(cmd, {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"},
                         log_path=folder / "mlflow-server.log")


def summarize(results: dict[str, dict[str, list[View]]]) -> None:
    views = ["runs table", "run chart", "compare 10", "long curve"]
    sides = list(results)
    print()
    head = f"{'view':<12}" + "".join(f"{s + ' drawn s':>16}{s + ' wall s':>15}{s + ' srv ms':>18}" for s in sides)
    if len(sides) == 2:
        head += f"{'ratio drawn':>13}{'ratio wall':>12}"
    print(head)
    for view in views:
        line = f"{view:<12}"
        drawn: list[float | None] = []
        wall: list[float | None] = []
        for side in sides:
            got = results[side].get(view, [])
            if not got or all(v.timed_out for v in got):
                line += f"{'failed' if not got else 'timed out':>16}{'':>15}{'':>18}"
                drawn.append(None)
                wall.append(None)
                continue
            done = [v.drawn_s for v in got if not v.timed_out and v.drawn_s is not None]
            drawn.append(statistics.median(done) if done else None)
            wall.append(statistics.median(v.seconds for v in got))
            server = [ms for v in got for ms in v.server_ms]
            srv = f"{statistics.median(server):.0f} / {max(server):.0f}" if server else "-"
            line += f"{drawn[-1] or 0:>16.3f}{wall[-1]:>15.3f}{srv:>18}"
        if len(sides) == 2:
            for pair, width in ((drawn, 12), (wall, 11)):
                ours, theirs = pair
                line += f"{theirs / ours:>{width}.1f}x" if ours and theirs else f"{'-':>{width + 1}}"
        print(line)
    print("\ndrawn s: the page's own clock from the start of navigation to the first frame in which the view is"
          " drawn;\nwall s: the same seen from this script, Playwright's round trips included;"
          "\nsrv ms: median / max server time of the view's API requests (request start -> response start).")
    for side in sides:
        for v in results[side].get("long curve", [])[:1]:
            print(f"{side}: the {LONG_NAME} chart received {v.points:,} metric points.")


def measure_all(sides: list[Side], rounds: int) -> dict[str, dict[str, list[View]]]:
    """Each view of each side ``rounds`` times, alternating which side goes first, after one untimed opening."""
    from playwright.sync_api import sync_playwright

    results: dict[str, dict[str, list[View]]] = {side.name: {} for side in sides}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        for side in sides:  # one untimed opening of each view: the servers' first-use costs
            for view in side.paths:
                try:
                    measure(browser, side, view)
                except Exception as exc:  # noqa: BLE001 - reported, the other views still run
                    log(f"warm-up {side.name} {view}: {str(exc).splitlines()[0]}")
        for round_ in range(rounds):
            for view in sides[0].paths:
                for side in sides if round_ % 2 == 0 else sides[::-1]:
                    try:
                        got = measure(browser, side, view)
                    except Exception as exc:  # noqa: BLE001
                        log(f"{side.name} {view}: {str(exc).splitlines()[0]}")
                        continue
                    results[side.name].setdefault(view, []).append(got)
                    log(f"round {round_ + 1} {side.name:<8} {view:<11} drawn {got.drawn_s or 0:.3f} s, "
                        f"wall {got.seconds:.3f} s"
                        f"{' (timed out)' if got.timed_out else ''}, "
                        f"{len(got.server_ms)} requests, max {max(got.server_ms, default=0):.0f} ms"
                        f" ({got.slowest})")
        browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 runs and a 100,000-step curve")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--history-runs", type=int, default=None,
                        help="runs that carry their whole histories (default: all)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-peer", action="store_true", help="Shipyard alone")
    args = parser.parse_args(argv)
    sizes = Sizes(runs=args.runs or (1_000 if args.quick else 10_000),
                  long_steps=100_000 if args.quick else 1_000_000, history_runs=args.history_runs)
    python = None if args.skip_peer else peer_python()
    log(f"store: {sizes.runs:,} runs x {sizes.metrics} metrics, {sizes.with_history:,} with {sizes.steps:,} steps, "
        f"{sizes.points:,} points per side (cached under {sizes.folder()})")
    started = time.perf_counter()
    built = cached(sizes, python, log)
    log(f"store ready in {time.perf_counter() - started:.0f} s "
        f"(built: shipyard {built['shipyard']['seconds']:.0f} s"
        + (f", mlflow {built['mlflow']['seconds']:.0f} s)" if "mlflow" in built else ")"))

    folder = Path(built["folder"])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped run still stops its servers
    with contextlib.ExitStack() as servers:
        sy_port = free_port()
        sy_proc = servers.enter_context(shipyard_server(folder / "shipyard", sy_port))
        wait_http(f"http://127.0.0.1:{sy_port}/api/v1/health", timeout=120, proc=sy_proc)
        sides = [shipyard_side(f"http://127.0.0.1:{sy_port}", built, sizes)]
        if python is not None:
            ml_port = free_port()
            ml_proc = servers.enter_context(mlflow_server(python, built["mlflow"]["uri"], folder / "mlflow", ml_port))
            wait_http(f"http://127.0.0.1:{ml_port}/health", timeout=180, proc=ml_proc)
            sides.append(mlflow_side(f"http://127.0.0.1:{ml_port}", built, sizes))
        results = measure_all(sides, args.rounds)
    summarize(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
