"""Serving benchmark: Shipyard against ``mlflow models serve`` (MLflow 3.17), side by side.

The same two scikit-learn models (logistic regression on 20 features; a 100-iteration
HistGradientBoosting classifier), trained on the same data, each served with one
worker by Shipyard (adaptive batching on, and off) and by MLflow, then loaded with
``wrk`` (Debian's) at 1 and 64 connections: single-row ``dataframe_split`` requests to
``/invocations`` (the body MLflow's own clients send), ``--warmup`` seconds of warm-up
then ``--seconds`` measured. Both servers get ``OMP_NUM_THREADS=1``; Shipyard runs
with its defaults (access log and inference log on). Also measured: the models alone
in-process (single-row ``predict`` on a DataFrame, the same through Shipyard's
``Model.predict`` on a validated row, and 1,000-row batches).

Targets (issue 6): at 64 connections >= 10x MLflow's requests/s with p99 under a third
of MLflow's; p50 under 2 ms at 1 connection; with batching >= 20x MLflow's requests/s
on the gradient-boosting model.

With ``--auth`` only the main workload runs (logistic regression, batching on), without
the peer: Shipyard with authentication off against on (a user ``bench`` with the editor
role and an API token created in a copy of the home, which turns token checks on for
``shipyard serve``; wrk sends ``Authorization: Bearer <token>``), alternating for
``--rounds`` rounds, and reports per connection count auth-on time per request / auth-off
time per request (auth-off req/s / auth-on req/s; target: at most 1.05) and the p50s.

With ``--overload`` only the overload curve runs (logistic regression, batching on, one
worker, no peer): ``wrk`` with two threads at 64, 512, 2,048 and 4,096 connections
(``--connections``), the open-file limit raised to its hard limit first. A Lua script
stamps each request's ``x-request-id`` with the time it was sent (the server echoes it)
and records, per status, the count and the latency of every answer: goodput (200s per
second), p50/p99 of successes and of refusals (503), other statuses, refusals without
``Retry-After``, requests unanswered after 10 s, wrk's socket errors, and the CPU used by
the server's processes and by wrk (which share the machine's cores), and the mean
client cycle (connections / answers per second: what a client spends per attempt,
waiting for a connection included). Targets: goodput at 4,096 connections >= 80 % of
the curve's peak; refusal p99 under 50 ms (raw clients, which resend at once).

Clients (``--clients``): ``raw`` resend the moment an answer arrives, ignoring
``Retry-After``; ``retry-after`` wait what a 503's ``Retry-After`` says, times a random
factor in [0.5, 1.5), before sending again (as clients with a retry policy and load
balancers do) - a second curve, never a replacement for the first. ``--baseline SRC``
serves another version of Shipyard's sources (a ``src`` folder, e.g. from ``git archive``)
beside this one and alternates the two at each level; ``--noop`` adds servers that only
answer 503: an ASGI app under the same uvicorn (kept alive, and with ``Connection:
close``) and a bare uvloop + httptools protocol writing a prebuilt answer (the floor of
what a Python server on the machine can do).

    .venv/bin/python benchmarks/serving.py [--seconds 15] [--warmup 3] [--skip-peer]
    .venv/bin/python benchmarks/serving.py --auth [--rounds 2]
    .venv/bin/python benchmarks/serving.py --overload [--connections 64,512,2048,4096]
        [--clients raw,retry-after] [--baseline /tmp/old/src] [--noop]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import (  # noqa: E402
    BENCH_DIR,
    PeerError,
    create_token,
    expect_refused,
    free_port,
    peer_venv,
    run_in_venv,
    run_wrk,
    scratch_dir,
    start_process,
    wait_http,
)

MLFLOW_VENV = "mlflow-3.17"
MLFLOW_REQUIREMENTS = ["mlflow==3.17.0"]
PEER_SCRIPT = BENCH_DIR / "peers" / "mlflow_serving.py"
ROOT = BENCH_DIR.parent
LUA = """wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
"""
AUTH_LUA = 'wrk.headers["Authorization"] = "Bearer {token}"\n'
AUTH_MAX_RATIO = 1.05  # authentication may cost a request at most 5 %
OVERLOAD_CONNECTIONS = (64, 512, 2048, 4096)
OVERLOAD_MIN_GOODPUT = 0.8  # goodput at the most connections, as a share of the curve's peak
OVERLOAD_MAX_REFUSAL_P99_MS = 50.0
# Per-request timing in wrk: the send time (µs, CLOCK_MONOTONIC through LuaJIT's FFI) goes
# out in x-request-id, which the server echoes; each thread keeps its latencies by status,
# and done() reads them from every thread and prints one line per figure. Requests sent in
# the first --warmup seconds are left out: wrk opens every connection at once, and thousands of
# simultaneous connects overflow the kernel's accept queue, so some connections (and the
# first request on them) wait seconds in SYN and data retransmissions, whatever the server
# does (a trivial ASGI app shows the same); the figures are those of the steady state.
OVERLOAD_LUA = """local ffi = require("ffi")
ffi.cdef[[ typedef struct {{ long tv_sec; long tv_nsec; }} sy_timespec;
int clock_gettime(int clock, sy_timespec *tp); ]]
local ts = ffi.new("sy_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end
local body = [==[{body}]==]
local measure_from = now_us() + {warmup_us}
local sent = 0
local backoff, delays, first, last = {backoff}, {{}}, 1, 0
ok, refused, other, unstamped, no_retry_after, pending = {{}}, {{}}, {{}}, 0, 0, {{}}
function request()
  local now = now_us()
  sent = sent + 1
  local id = string.format("%d-%d", now, sent)
  pending[id] = now
  return wrk.format("POST", nil, {{["Content-Type"] = "application/json", ["x-request-id"] = id}}, body)
end
function response(status, headers, _)
  local id = headers["x-request-id"]
  local t0 = id and tonumber(string.match(id, "^(%d+)-"))
  if id then pending[id] = nil end
  if backoff then  -- the wait before this connection's next request, taken by delay() in turn
    local after = tonumber(headers["retry-after"] or headers["Retry-After"] or "")
    last = last + 1
    delays[last] = (status == 503 and after) and math.floor(after * 1000 * (0.5 + math.random())) or 0
  end
  if t0 and t0 < measure_from then return end
  if status == 503 and headers["retry-after"] == nil and headers["Retry-After"] == nil then
    no_retry_after = no_retry_after + 1
  end
  if t0 == nil then unstamped = unstamped + 1 end
  local ms = t0 and (now_us() - t0) / 1000 or -1
  if status == 200 then ok[#ok + 1] = ms
  elseif status == 503 then refused[#refused + 1] = ms
  else other[status] = (other[status] or 0) + 1 end
end
{delay_function}
local threads = {{}}
function setup(thread) threads[#threads + 1] = thread end
local function pct(list, p)
  if #list == 0 then return -1 end
  return list[math.max(1, math.ceil(#list * p))]
end
function done(summary, _, _)
  local all = {{ok = {{}}, refused = {{}}}}
  local counts, others, missing, blind, stuck = {{ok = 0, refused = 0}}, {{}}, 0, 0, 0
  local long_ago = now_us() - 10000000
  for _, t in ipairs(threads) do
    for _, name in ipairs({{"ok", "refused"}}) do
      local list = t:get(name)
      counts[name] = counts[name] + #list
      for _, v in ipairs(list) do if v >= 0 then all[name][#all[name] + 1] = v end end
    end
    for code, n in pairs(t:get("other")) do others[code] = (others[code] or 0) + n end
    missing = missing + t:get("no_retry_after")
    blind = blind + t:get("unstamped")
    for _, t0 in pairs(t:get("pending")) do if t0 < long_ago then stuck = stuck + 1 end end
  end
  stuck = math.max(0, stuck - 1)  -- wrk calls request() once to check the script, and never sends it
  local seconds = summary.duration / 1e6 - {warmup_us} / 1e6
  io.write(string.format("SY seconds %f\\nSY ok %d\\nSY refused %d\\n", seconds, counts.ok, counts.refused))
  for _, name in ipairs({{"ok", "refused"}}) do
    table.sort(all[name])
    io.write(string.format("SY %s_p50 %f\\nSY %s_p99 %f\\nSY %s_max %f\\n", name, pct(all[name], 0.5),
                           name, pct(all[name], 0.99), name, pct(all[name], 1.0)))
  end
  for code, n in pairs(others) do io.write(string.format("SY status_%d %d\\n", code, n)) end
  local e = summary.errors
  io.write(string.format("SY connect %d\\nSY read %d\\nSY write %d\\nSY timeout %d\\n",
                         e.connect, e.read, e.write, e.timeout))
  io.write(string.format("SY no_retry_after %d\\nSY unstamped %d\\nSY stuck %d\\n", missing, blind, stuck))
end
"""


def data() -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(5000, 20)), columns=[f"f{i}" for i in range(20)])
    y = ((x["f0"] + 0.5 * x["f1"] - x["f2"] + rng.normal(scale=0.5, size=len(x))) > 0).astype(int).to_numpy()
    return x, y


def per_second(fn: Any, seconds: float = 1.0) -> float:
    fn()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        calls += 1
    return calls / (time.perf_counter() - start)


def shipyard_models(home: Path) -> dict[str, dict[str, float]]:
    """Train, log and register both models; measure them in-process."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    import shipyard
    from shipyard.serving._deployment import _fast_path

    x, y = data()
    models = {"lr": LogisticRegression(max_iter=1000).fit(x, y),
              "hgb": HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(x, y)}
    ceilings: dict[str, dict[str, float]] = {}
    with shipyard.Client(home=home) as client:
        run = client.create_run("serving-bench")
        for name, model in models.items():
            client.log_model(run.id, model, name, input_example=x[:5], registered_model_name=name)
            client.set_alias(name, "production", 1)
        client.end_run(run.id)
        with threadpool_limits(1):
            for name, model in models.items():
                loaded = client.load_model(f"models:/{name}@production")
                row, batch = x[:1], x[:1000]
                validated = loaded.signature.validate(row)  # what the server's batcher hands the model
                serving_call = _fast_path(loaded)[0]  # the call a server's batch makes
                ceilings[name] = {
                    "single_row_per_s": per_second(lambda m=model, r=row: m.predict(r)),
                    "shipyard_single_row_per_s": per_second(lambda f=serving_call, v=validated: f(v)),
                    "batch_rows_per_s": 1000 * per_second(lambda m=model, b=batch: m.predict(b)),
                }
    return ceilings


def wrk(url: str, body: str, connections: int, seconds: int, warmup: int, work: Path,
        token: str | None = None) -> dict[str, float]:
    script = work / "post.lua"
    script.write_text(LUA.format(body=body) + (AUTH_LUA.format(token=token) if token else ""))
    return run_wrk(url, script, connections, seconds, warmup)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by the processes below ``pid`` (the server's workers)."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    total = 0.0
    for child in (int(p) for p in found.split()):
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it just ended
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") + cpu_seconds(child)
    return total


# Defined only for the clients that honour Retry-After: wrk then schedules every request
# through a timer, which costs it CPU. Answers and writes follow each other closely, so
# the delays are taken first in, first out (per wrk thread).
DELAY_LUA = """function delay()
  if first > last then return 0 end
  local d = delays[first]
  delays[first] = nil
  first = first + 1
  return d
end"""
OVERLOAD_CLIENTS = ("raw", "retry-after")
NOOP_APP = """import os
CLOSE = os.environ.get("NOOP_CLOSE") == "1"
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"2"), (b"retry-after", b"1")]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    headers = [*HEADERS, (b"x-request-id", dict(scope["headers"]).get(b"x-request-id", b"-"))]
    if CLOSE:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})
"""

# The floor under any Python server on the machine: uvloop and httptools, no ASGI, a
# prebuilt 503 written the moment a request is parsed (echoing x-request-id for the timing).
NOOP_PROTOCOL = """import asyncio, sys
import httptools, uvloop
HEAD = b"HTTP/1.1 503 Service Unavailable\\r\\ncontent-type: application/json\\r\\ncontent-length: 2\\r\\n" \\
    b"retry-after: 1\\r\\nx-request-id: "


class Refuse(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.parser, self.rid = transport, httptools.HttpRequestParser(self), b"-"

    def on_header(self, name, value):
        if name.lower() == b"x-request-id":
            self.rid = value

    def on_message_complete(self):
        self.transport.write(HEAD + self.rid + b"\\r\\n\\r\\n{}")
        self.rid = b"-"

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()


async def main(port):
    server = await asyncio.get_running_loop().create_server(Refuse, "127.0.0.1", port, backlog=4096)
    await server.serve_forever()


uvloop.run(main(int(sys.argv[sys.argv.index("--port") + 1])))
"""


def overload_wrk(url: str, body: str, connections: int, seconds: int, warmup: int, work: Path,
                 server: int, client: str = "raw") -> dict[str, float]:
    """wrk with two threads and ``connections`` connections on ``url`` for ``warmup + seconds``,
    measuring the last ``seconds``; the figures the Lua script prints (see OVERLOAD_LUA),
    goodput, and the CPU shares of the server's processes (below pid ``server``) and of wrk."""
    script = work / "overload.lua"
    backoff = client == "retry-after"
    script.write_text(OVERLOAD_LUA.format(body=body, warmup_us=warmup * 1_000_000, backoff=str(backoff).lower(),
                                          delay_function=DELAY_LUA if backoff else ""))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk = subprocess.Popen(["wrk", "-t2", f"-c{connections}", "--timeout", "10s", "-s", str(script),
                            f"-d{warmup + seconds}s", url], stdout=subprocess.PIPE, text=True)
    time.sleep(warmup)
    server_before = cpu_seconds(server)
    out, _ = wrk.communicate()
    server_used = cpu_seconds(server) - server_before
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if wrk.returncode:
        raise PeerError(f"wrk exited with status {wrk.returncode}")
    figures = {key: float(value) for key, value in re.findall(r"^SY (\w+) (\S+)$", out, re.M)}
    figures["goodput"] = figures["ok"] / figures["seconds"]
    figures["refused_per_s"] = figures["refused"] / figures["seconds"]
    figures["server_cpu"] = server_used / figures["seconds"]
    figures["cycle_ms"] = 1000 * connections / max(figures["ok"] + figures["refused"], 1) * figures["seconds"]
    figures["wrk_cpu"] = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / (warmup + seconds)
    return figures


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Wait until something listens on ``port`` (fail if ``proc`` exits first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PeerError(f"server exited with code {proc.returncode} before port {port} opened")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise PeerError(f"nothing listens on port {port} after {timeout:.0f} s")


def overload(args: argparse.Namespace) -> int:
    """Shipyard (and any --baseline, --noop) along the connection curve, for each kind of client.

    Every server is started first; at each level they are measured one after another, so
    the machine's state is as alike as it can be for all of them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * max(args.connections) + 1024  # wrk's sockets, and the server's (it inherits the limit)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard == resource.RLIM_INFINITY else min(hard, need),
                                                    hard))
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if limit < need:
        print(f"the open-file limit is {limit}; {need} are needed for {max(args.connections)} connections",
              file=sys.stderr)
        return 2
    shipyard_bin = str(Path(sys.executable).parent / "shipyard")
    curves: dict[tuple[str, str], dict[int, dict[str, float]]] = {}
    with scratch_dir("sy-serving-overload-") as work, contextlib.ExitStack() as stack:
        home = work / "sy"
        shipyard_models(home)
        env = {"SHIPYARD_HOME": str(home), "OMP_NUM_THREADS": "1"}
        servers: dict[str, tuple[str, int]] = {}  # name -> (url, pid whose children serve)

        def start(name: str, cmd: list[str], extra: dict[str, str], ping: str | None = "/ping",
                  cwd: Path = ROOT) -> None:
            proc = stack.enter_context(start_process(cmd, {**env, **extra}, cwd=cwd, clean_env=False,
                                                     log_path=work / f"{name.replace(' ', '-')}.log"))
            url = f"http://127.0.0.1:{cmd[cmd.index('--port') + 1]}"
            if ping:
                wait_http(url + ping, timeout=120, proc=proc)
            else:  # the no-op app answers nothing but 503: wait for its port
                wait_port(int(url.rsplit(":", 1)[1]), proc)
            servers[name] = (url, proc.pid)

        serve = [shipyard_bin, "serve", "models:/lr@production"]
        start("shipyard", [*serve, "--port", str(free_port())], {})
        if args.baseline:
            start("baseline", [*serve, "--port", str(free_port())], {"PYTHONPATH": str(args.baseline)})
        if args.noop:
            (work / "noop503.py").write_text(NOOP_APP)
            for name, close in (("no-op 503", "0"), ("no-op 503, close", "1")):
                uvicorn = [sys.executable, "-m", "uvicorn", "noop503:app", "--loop", "uvloop", "--http", "httptools",
                           "--backlog", "4096", "--no-access-log", "--log-level", "warning"]
                wrapper = [sys.executable, "-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"]
                start(name, [*wrapper, *uvicorn, "--port", str(free_port())], {"NOOP_CLOSE": close}, ping=None,
                      cwd=work)
            (work / "noop_protocol.py").write_text(NOOP_PROTOCOL)
            start("no-op 503 protocol", [*wrapper, sys.executable, "noop_protocol.py", "--port", str(free_port())], {},
                  ping=None, cwd=work)
        for connections in args.connections:
            for name, (url, pid) in servers.items():
                model = name in ("shipyard", "baseline")
                for client in args.clients if model else ("raw",):  # the no-op servers answer everyone alike
                    path = "/invocations" if model else "/"
                    figures = overload_wrk(url + path, body(), connections, args.seconds, args.warmup, work, pid,
                                           client)
                    curves.setdefault((name, client), {})[connections] = figures
                    print(f"  {name} {client} c={connections:<5d} {figures}", file=sys.stderr, flush=True)
    failed = False
    for (name, client), curve in curves.items():
        failed |= report_overload(curve, name, client) and (name, client) == ("shipyard", "raw")
    return 1 if failed else 0


def report_overload(curve: dict[int, dict[str, float]], name: str = "shipyard", client: str = "raw") -> bool:
    """Print the overload table of one server and kind of client; True if a target failed."""
    print(f"\n## Overload: {name}, {client} clients (wrk -t2; Shipyard: logistic regression, batching, one worker)\n")
    print("| connections | goodput (200/s) | 200 p50 | 200 p99 | 200 max | 503/s | 503 p50 | 503 p99 | 503 max "
          "| other statuses | 503 without Retry-After | unanswered after 10 s "
          "| wrk errors (connect/read/write/timeout) | client cycle | server CPU | 200/s per server CPU-second "
          "| 503/s per server CPU-second | wrk CPU |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|")
    for connections, f in curve.items():
        others = ", ".join(f"{k.removeprefix('status_')}: {int(v)}" for k, v in f.items() if k.startswith("status_"))
        refusal = (f"{f['refused_p50']:.2f} ms | {f['refused_p99']:.2f} ms | {f['refused_max']:.0f} ms"
                   if f["refused"] else "- | - | -")
        success = (f"{f['ok_p50']:.2f} ms | {f['ok_p99']:.2f} ms | {f['ok_max']:.0f} ms" if f["ok"] else "- | - | -")
        print(f"| {connections:,} | {f['goodput']:,.0f} | {success} | {f['refused_per_s']:,.0f} | {refusal} | "
              f"{others or '-'} | {int(f['no_retry_after'])} | {int(f['stuck'])} | "
              f"{int(f['connect'])}/{int(f['read'])}/{int(f['write'])}/{int(f['timeout'])} | "
              f"{f['cycle_ms']:,.0f} ms | {f['server_cpu']:.0%} | "
              f"{f['goodput'] / max(f['server_cpu'], 1e-9):,.0f} | "
              f"{f['refused_per_s'] / max(f['server_cpu'], 1e-9):,.0f} | {f['wrk_cpu']:.0%} |")
    peak = max(f["goodput"] for f in curve.values())
    if peak <= 0:  # a server that only refuses
        return False
    most = curve[max(curve)]
    share = most["goodput"] / peak
    p99s = [f["refused_p99"] for f in curve.values() if f["refused"]]
    worst = max(p99s, default=0.0)
    slow = sum(f["ok_max"] >= 10_000 or f["refused_max"] >= 10_000 for f in curve.values())
    bad = slow + sum(f["no_retry_after"] + f["stuck"] for f in curve.values()) + sum(
        v for f in curve.values() for k, v in f.items() if k.startswith("status_"))
    failed = share < OVERLOAD_MIN_GOODPUT or worst >= OVERLOAD_MAX_REFUSAL_P99_MS or bad > 0
    per_cpu = [f["goodput"] / max(f["server_cpu"], 1e-9) for f in curve.values()]
    print(f"\n- goodput per server CPU-second at {max(curve):,} connections: {per_cpu[-1] / max(per_cpu):.0%} "
          "of the curve's best (the machine's other tenants and wrk share its cores, so the server's CPU "
          "share varies from level to level)")
    print(f"- goodput at {max(curve):,} connections: {share:.0%} of the peak ({peak:,.0f}/s) "
          f"(target >= {OVERLOAD_MIN_GOODPUT:.0%}); worst 503 p99 {worst:.2f} ms "
          f"(target < {OVERLOAD_MAX_REFUSAL_P99_MS:g} ms); timeouts, other statuses and 503s without "
          f"Retry-After: {int(bad)} (target 0): {'FAIL' if failed else 'PASS'}")
    return failed


def body() -> str:
    import json

    x, _ = data()
    return json.dumps({"dataframe_split": {"columns": list(x.columns), "data": x[:1].to_numpy().tolist()}})


def measure(name: str, cmd: list[str], env: dict[str, str], url: str, args: argparse.Namespace, work: Path,
            clean_env: bool, token: str | None = None) -> dict[int, dict[str, float]]:
    results = {}
    log = work / f"{name}.log"
    with start_process(cmd, env, cwd=ROOT, log_path=log, clean_env=clean_env) as proc:
        wait_http(url + "/ping", timeout=120, proc=proc)
        if token:
            expect_refused(url + "/invocations", body().encode())
        for connections in (1, 64):
            results[connections] = wrk(url + "/invocations", body(), connections, args.seconds, args.warmup, work,
                                       token)
            print(f"  {name:24s} c={connections:<3d} {results[connections]}", file=sys.stderr, flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--auth", action="store_true",
                        help="logistic regression, batching: Shipyard with authentication off against on (no peer)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per side with --auth (2)")
    parser.add_argument("--overload", action="store_true",
                        help="only the overload curve: goodput and refusal latency by connections (no peer)")
    parser.add_argument("--connections", type=lambda text: tuple(int(c) for c in text.split(",")),
                        default=OVERLOAD_CONNECTIONS, help="connection counts of --overload (64,512,2048,4096)")
    parser.add_argument("--clients", type=lambda text: tuple(text.split(",")), default=OVERLOAD_CLIENTS,
                        help="kinds of client of --overload: raw (resend at once), retry-after (back off)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="--overload: also serve this src folder of another Shipyard version, side by side")
    parser.add_argument("--noop", action="store_true", help="--overload: also an ASGI app that only answers 503")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install -y wrk", file=sys.stderr)
        return 2
    if args.overload:
        return overload(args)
    if args.auth:
        return auth_overhead(args)
    results: dict[tuple[str, str], dict[int, dict[str, float]]] = {}
    with scratch_dir("sy-serving-") as work:
        home = work / "sy"
        ceilings = shipyard_models(home)
        peer: dict[str, Any] = {}
        if not args.skip_peer:
            try:
                venv = peer_venv(MLFLOW_VENV, MLFLOW_REQUIREMENTS)
                peer = run_in_venv(venv, PEER_SCRIPT, [str(work / "mlflow")], timeout=900,
                                   env={"OMP_NUM_THREADS": "1"})
            except PeerError as exc:
                print(exc, file=sys.stderr)
        shipyard_bin = str(Path(sys.executable).parent / "shipyard")
        for model in ("lr", "hgb"):
            for variant, extra in (("batching", []), ("no batching", ["--no-batching"])):
                port = free_port()
                cmd = [shipyard_bin, "serve", f"models:/{model}@production", "--port", str(port), *extra]
                results[(model, f"Shipyard, {variant}")] = measure(
                    f"shipyard {model} {variant}", cmd, {"SHIPYARD_HOME": str(home), "OMP_NUM_THREADS": "1"},
                    f"http://127.0.0.1:{port}", args, work, clean_env=False)
            if peer:
                port = free_port()
                cmd = [str(venv / "bin" / "mlflow"), "models", "serve", "-m", peer[model]["path"], "--env-manager",
                       "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
                results[(model, "MLflow 3.17")] = measure(
                    f"mlflow {model}", cmd, {"OMP_NUM_THREADS": "1", "MLFLOW_DISABLE_TELEMETRY": "true",
                                             "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"},
                    f"http://127.0.0.1:{port}", args, work, clean_env=True)
    report(results, ceilings, peer)
    return 0


def auth_overhead(args: argparse.Namespace) -> int:
    """Logistic regression with batching, served with authentication off and on in turn."""
    shipyard_bin = str(Path(sys.executable).parent / "shipyard")
    samples: dict[str, list[dict[int, dict[str, float]]]] = {"auth off": [], "auth on": []}
    with scratch_dir("sy-serving-auth-") as work:
        home = work / "sy"
        shipyard_models(home)
        # Users turn token checks on for every server on a home: the auth-on side gets a copy.
        auth_home = work / "sy-auth"
        shutil.copytree(home, auth_home)
        token = create_token([shipyard_bin], {"SHIPYARD_HOME": str(auth_home)})
        sides = {"auth off": (home, None), "auth on": (auth_home, token)}
        for round_no in range(1, args.rounds + 1):
            for side, (side_home, side_token) in sides.items():
                port = free_port()
                cmd = [shipyard_bin, "serve", "models:/lr@production", "--port", str(port)]
                samples[side].append(measure(
                    f"shipyard lr {side} round {round_no} of {args.rounds}", cmd,
                    {"SHIPYARD_HOME": str(side_home), "OMP_NUM_THREADS": "1"}, f"http://127.0.0.1:{port}", args,
                    work, clean_env=False, token=side_token))
    failed = report_auth(samples, args.rounds)
    return 1 if failed else 0


def report_auth(samples: dict[str, list[dict[int, dict[str, float]]]], rounds: int) -> bool:
    """Print the auth-off / auth-on table (the best round of each side per figure); True if a target failed."""
    print(f"\n## Authentication overhead: logistic regression, batching, best of {rounds} alternating rounds\n")
    print("| connections | auth off req/s | auth on req/s | time per request on/off | p50 off | p50 on "
          "| p99 off | p99 on | non-2xx | target | result |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    failed = False
    for connections in (1, 64):
        off = [s[connections] for s in samples["auth off"]]
        on = [s[connections] for s in samples["auth on"]]
        rps_off, rps_on = max(r["rps"] for r in off), max(r["rps"] for r in on)
        ratio = rps_off / rps_on
        non2xx = int(sum(r["non2xx"] for r in off + on))
        passed = ratio <= AUTH_MAX_RATIO and non2xx == 0
        failed |= not passed
        print(f"| {connections} | {rps_off:,.0f} | {rps_on:,.0f} | {ratio:.3f} | "
              f"{min(r['p50_ms'] for r in off):.2f} ms | {min(r['p50_ms'] for r in on):.2f} ms | "
              f"{min(r['p99_ms'] for r in off):.2f} ms | {min(r['p99_ms'] for r in on):.2f} ms | {non2xx} | "
              f"<= {AUTH_MAX_RATIO:g} | {'PASS' if passed else 'FAIL'} |")
    print("\nEvery round (req/s off / on): " + "; ".join(
        f"c={c}: " + ", ".join(f"{a[c]['rps']:,.0f}/{b[c]['rps']:,.0f}"
                               for a, b in zip(samples["auth off"], samples["auth on"], strict=True))
        for c in (1, 64)))
    return failed


def report(results: dict[tuple[str, str], dict[int, dict[str, float]]], ceilings: dict[str, Any],
           peer: dict[str, Any]) -> None:
    print("\n## Serving: single-row requests, one worker each (wrk, /invocations)\n")
    print("| model | server | c=1 req/s | c=1 p50 | c=1 p99 | c=64 req/s | c=64 p50 | c=64 p99 | non-2xx |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for (model, server), by_c in results.items():
        one, many = by_c[1], by_c[64]
        print(f"| {model} | {server} | {one['rps']:,.0f} | {one['p50_ms']:.2f} ms | {one['p99_ms']:.2f} ms | "
              f"{many['rps']:,.0f} | {many['p50_ms']:.2f} ms | {many['p99_ms']:.2f} ms | "
              f"{int(one['non2xx'] + many['non2xx'])} |")
    print("\n## Against the targets (64 connections unless said)\n")
    for model in ("lr", "hgb"):
        mlflow = results.get((model, "MLflow 3.17"))
        ours = results[(model, "Shipyard, batching")]
        line = f"- {model}: p50 at 1 connection {ours[1]['p50_ms']:.2f} ms (target < 2 ms)"
        if mlflow:
            ratio = ours[64]["rps"] / mlflow[64]["rps"]
            p99 = ours[64]["p99_ms"] / mlflow[64]["p99_ms"]
            unbatched = results[(model, "Shipyard, no batching")][64]["rps"] / mlflow[64]["rps"]
            line += (f"; req/s {ratio:,.1f}x MLflow's batched, {unbatched:,.1f}x unbatched (target >= 10x, "
                     f">= 20x batched for hgb); p99 {p99:.3f} of MLflow's (target < 0.333)")
        print(line)
    print("\n## The models alone, in-process (one thread)\n")
    print("| model | single-row predict on a DataFrame | Shipyard's serving call on a validated row "
          "| rows/s in batches of 1,000 | MLflow venv: single row | MLflow venv: rows/s batched |")
    print("|---|---:|---:|---:|---:|---:|")
    for model, c in ceilings.items():
        p = peer.get(model, {})
        print(f"| {model} | {c['single_row_per_s']:,.0f}/s | {c['shipyard_single_row_per_s']:,.0f}/s | "
              f"{c['batch_rows_per_s']:,.0f} | {p.get('single_row_per_s', 0):,.0f}/s | "
              f"{p.get('batch_rows_per_s', 0):,.0f} |")


if __name__ == "__main__":
    sys.exit(main())
