"""Steps the pipeline tests run in worker processes (module level, so workers import them)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd

from shipyard.pipelines import StepContext, pipeline, step

SCALE = 10  # a module constant the fingerprint of `scaled` depends on


def helper(x: int) -> int:
    return x + 1


@step
def make_frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(n), "y": np.arange(n) * 2.0})


@step
def column_sum(df: pd.DataFrame, column: str = "x") -> float:
    return float(df[column].sum())


@step
def add(a: float, b: float) -> float:
    return a + b


@step
def scaled(x: int) -> int:
    return helper(x) * SCALE


@step
def record(path: str, value: int) -> int:
    """Appends to ``path`` so tests can see which steps really ran."""
    with open(path, "a") as f:
        f.write(f"{value}\n")
    return value


@step
def sleep_for(seconds: float, tag: int = 0) -> float:
    time.sleep(seconds)
    return time.time()


@step(retries=2, retry_delay=0.05, backoff=2.0)
def flaky(marker: str, fail_times: int) -> int:
    """Fails its first ``fail_times`` attempts (counted in the ``marker`` file)."""
    path = Path(marker)
    count = int(path.read_text()) if path.exists() else 0
    path.write_text(str(count + 1))
    if count < fail_times:
        raise RuntimeError(f"flaky failure {count + 1}")
    return count + 1


@step(retries=1, retry_delay=0.01)
def always_fails(x: int) -> int:
    raise ValueError(f"bad input {x}")


@step
def die_once(marker: str) -> int:
    """Killed by SIGKILL on its first attempt, as if the OOM killer struck."""
    path = Path(marker)
    if not path.exists():
        path.write_text("died")
        os.kill(os.getpid(), signal.SIGKILL)
    return 7


@step(timeout=0.5)
def too_slow(seconds: float) -> int:
    time.sleep(seconds)
    return 1


@step
def with_context(x: int, ctx: StepContext) -> int:
    print(f"hello from step, x={x}")
    ctx.log_metric("x_squared", x * x)
    ctx.log_param("note", "ok")
    return x * x


@step
def split(n: int) -> tuple[list[int], list[int]]:
    values = list(range(n))
    return values[::2], values[1::2]


@step
def total(xs: list[int]) -> int:
    return sum(xs)


@step(cache=False)
def uncached(path: str, value: int) -> int:
    with open(path, "a") as f:
        f.write(f"{value}\n")
    return value


@step
def burn(seconds: float, tag: int = 0) -> str:
    """Busy CPU for ``seconds``; returns the host that ran it."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
    return f"{os.getpid()}"


@pipeline
def frames(n: int = 10):
    df = make_frame(n)
    return add(column_sum(df), column_sum(df, "y"))


@pipeline
def chain(log: str, fail_at: int = -1):
    """record(1) -> record(2) -> always_fails|record(3) -> record(4)."""
    a = record(log, 1)
    b = record(log, add(a, 1))
    c = always_fails(b) if fail_at == 3 else record(log, add(b, 1))
    return record(log, add(c, 1))
