"""System metrics: what the machine and this process use while a run goes, read with psutil.

A :class:`SystemMetricsSampler` reads on a daemon thread of its own every ``interval``
seconds and hands each figure to ``sink(key, value, timestamp_ms, step)``; a run's sink
is its ordinary buffered logging (``Tracking.log_metric``), so the points travel with
the rest of its data. One reading holds, each key under ``system/``:

===============================  =======================================================
``cpu_percent``                  the machine's CPU use since the previous reading, 0-100
``process_cpu_percent``          this process's, 100 per busy core (so it may pass 100)
``rss_mb``                       this process's resident memory
``memory_used_mb``               the machine's memory in use
``memory_available_mb``          the machine's memory available to new work
``disk_read_mb``,                bytes the machine's disks read and wrote since sampling
``disk_write_mb``                began
``network_sent_mb``,             bytes its network interfaces sent and received since then
``network_received_mb``
``open_files``                   this process's open file descriptors (files, sockets, pipes)
``gpu_<i>/utilization_percent``  each NVIDIA device's utilisation, and its memory in use
``gpu_<i>/memory_used_mb``       (only with ``nvidia-ml-py``: ``pip install shipyard[gpu]``)
===============================  =======================================================

Megabytes are 10^6 bytes. All points of one reading share its timestamp and its step,
the reading's number (0, 1, 2...).

The contract:

* Sampling begins ``min(interval, 1 s)`` after :meth:`~SystemMetricsSampler.start`
  with a baseline, from which CPU use and disk and network bytes count, so a run
  shorter than that records nothing and costs one sleeping thread.
  :meth:`~SystemMetricsSampler.stop` takes a last reading, covering the time since
  the one before, if none was taken yet or at least as long has passed since the one
  before; then the thread is gone (joined).
* A figure that cannot be read (psutil raises, the platform lacks it, a GPU stops
  answering) is left out of that reading; nothing here ever fails the run. A sink that
  raises (the run is gone) stops the sampling, with one warning.
* GPUs are read only when ``pynvml`` imports and a driver answers; otherwise there are
  no GPU figures, silently.
* Only the process that started a sampler reads with it: in a forked child, ``stop``
  forgets it without reading or logging (the child has no sampling thread, and its
  figures are not the run's).
* The cost is a few hundred microseconds of one core per reading: at the default
  interval of 10 s, a few thousandths of a percent (``benchmarks/system_metrics.py``).

>>> points = []
>>> sampler = SystemMetricsSampler(lambda *point: points.append(point), interval=0.05).start()
>>> time.sleep(0.2)
>>> sampler.stop()
>>> {key for key, *_ in points} >= {"system/cpu_percent", "system/rss_mb"}
True
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    import psutil

__all__ = ["PREFIX", "Sink", "SystemMetricsSampler"]

PREFIX = "system/"
_MB = 1e6
_MAX_SETTLE_S = 1.0

Sink = Callable[[str, float, int, int], None]
"""Takes one point: ``(key, value, timestamp in epoch milliseconds, step)``."""

logger = logging.getLogger("shipyard.tracking")


class SystemMetricsSampler:
    """Reads system metrics every ``interval`` seconds into ``sink`` (see the module docstring).

    ``clock`` gives the epoch seconds each reading is stamped with; ``gpu=False``
    leaves GPUs alone. Building one reads nothing; :meth:`start` begins, :meth:`stop`
    ends (joining the thread), and a ``with`` block does both. :meth:`read` takes one
    reading at once, for callers that pace themselves (a Prometheus scrape).

    With ``keep_thread``, :meth:`stop` leaves the thread waiting for the next
    :meth:`start` instead of ending it, and :meth:`close` ends it: for an owner that
    samples many short spans in turn (a worker's step attempts), each costing a few
    microseconds instead of a thread. Each span counts afresh: its own baseline, its
    readings numbered from 0.
    """

    def __init__(self, sink: Sink, interval: float = 10.0, *, clock: Callable[[], float] = time.time,
                 gpu: bool = True, keep_thread: bool = False) -> None:
        if isinstance(interval, bool) or not isinstance(interval, int | float) or not math.isfinite(interval) \
                or interval <= 0:
            raise InvalidInput(f"The 'interval' parameter of SystemMetricsSampler must be a positive number of "
                               f"seconds. Got {interval!r} instead.", field="interval")
        self.sink = sink
        self.interval = float(interval)
        self.clock = clock
        self.gpu = gpu
        self.keep_thread = keep_thread
        self._settle = min(self.interval, _MAX_SETTLE_S)
        self._fresh()
        # The baseline: when the previous reading was taken and what the counters said then.
        self._last_at: float | None = None
        self._process: psutil.Process | None = None
        self._process_cpu: float | None = None
        self._system_cpu: tuple[float, float] | None = None  # (busy, total) seconds
        self._io_start: dict[str, float] = {}
        self._gpus: list[Any] | None = None  # NVML device handles; None: not looked for yet
        self._nvml: Any = None

    def _fresh(self) -> None:
        """No thread and no span (as built, and in a forked child, whose copy of a lock may be held)."""
        # One reading at a time, each moving the baseline; the thread waits on it for its next turn.
        self._lock = threading.Condition()
        self._made_in = os.getpid()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._active = False  # a span is on: between start() and stop(), unless the sink gave up
        self._since = 0.0  # when the span began (monotonic)
        self._based = False  # the span has its baseline
        self._closing = False
        self._step = 0

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether a span is being sampled in this process (started, not stopped, its sink still taking)."""
        return self._active and self._pid == os.getpid()

    def start(self) -> SystemMetricsSampler:
        """Begin a span on the sampler's daemon thread; returns ``self``. Starting a running sampler does nothing."""
        if self._made_in != os.getpid():
            self._fresh()  # a forked copy: the parent's thread does not run here
        with self._lock:
            if self._active:
                return self
            self._active, self._since, self._based, self._step = True, time.monotonic(), False, 0
            if self._thread is not None and self._thread.is_alive():
                # The kept thread looks for a span every settling time, in time for its baseline:
                # not waking it keeps a short span's cost to this call (no hand-over of the GIL).
                return self
            self._closing, self._pid = False, os.getpid()
            self._thread = threading.Thread(target=self._loop, name="shipyard-system-metrics", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """End the span: take its last reading when due (see the module docstring), then end the
        thread and join it, unless ``keep_thread``. Idempotent. In a forked child of the starting
        process it only forgets the span and the thread, reading and logging nothing."""
        if self._pid != os.getpid():
            self._fresh()
            return
        with self._lock:
            # The span's first reading, or one at least a settling time after the one before.
            if self._active and self._based and (
                    self._step == 0 or time.monotonic() - (self._last_at or 0.0) >= self._settle):
                self._emit()
            self._active = False
            if not self.keep_thread:
                self._closing = True
                self._lock.notify_all()
        if not self.keep_thread:
            self._join()

    def close(self) -> None:
        """Stop, and end the thread even with ``keep_thread`` (joined). Idempotent."""
        self.stop()
        if self._pid == os.getpid():
            with self._lock:
                self._closing = True
                self._lock.notify_all()
            self._join()

    def _join(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self._close_gpus()

    def __enter__(self) -> SystemMetricsSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        with self._lock:
            while not self._closing:
                if not self._active:
                    self._lock.wait(self._settle)  # idle: look again (see start())
                    continue
                # A span's baseline comes a settling time after it starts; each reading an interval after the last.
                due = self._since + self._settle if not self._based else (self._last_at or 0.0) + self.interval
                pause = due - time.monotonic()
                if pause > 0:
                    # Never longer than a settling time: a span that ends and the next that starts
                    # meanwhile (not waking the thread, see start()) still gets its baseline on time.
                    self._lock.wait(min(pause, self._settle))
                elif not self._based:
                    self._io_start.clear()  # disk and network bytes count from the span's baseline
                    self._read()
                    self._based = True
                else:
                    self._emit()

    def _emit(self) -> None:
        """With the lock held: one reading to the sink; a sink that raises ends the span."""
        values = self._read()
        stamp, step = int(self.clock() * 1000), self._step
        self._step += 1
        try:
            for key, value in values.items():
                self.sink(PREFIX + key, value, stamp, step)
        except Exception:  # the run is gone or its storage refuses: stop quietly, once
            self._active = False
            logger.warning("system metrics: logging a reading failed; sampling stops", exc_info=True)
            if not self.keep_thread:
                self._closing = True

    # -- reading ------------------------------------------------------------------------

    def read(self) -> dict[str, float]:
        """One reading now, keys without the ``system/`` prefix; it becomes the new baseline.

        The first reading of a sampler has no CPU figures (there is nothing to measure
        them against) and zero disk and network bytes. Unreadable figures are left out.
        """
        if self._made_in != os.getpid():
            self._fresh()  # a forked copy: its lock may have been held by a thread left behind
        with self._lock:
            return self._read()

    def _read(self) -> dict[str, float]:
        now = time.monotonic()
        elapsed = None if self._last_at is None else now - self._last_at
        out: dict[str, float] = {}
        for part in (self._read_process, self._read_open_files, self._read_system_cpu, self._read_memory,
                     self._read_io):
            try:
                part(out, elapsed)
            except Exception:  # psutil.Error, OSError, a platform without it: skip the figure
                logger.debug("system metrics: %s failed", part.__name__, exc_info=True)
        if self.gpu:
            self._read_gpus(out)
        self._last_at = now
        return out

    # psutil is imported where it is read, not with the module: ``import shipyard`` stays fast.

    def _read_process(self, out: dict[str, float], elapsed: float | None) -> None:
        import psutil

        if self._process is None or self._process.pid != os.getpid():
            self._process = psutil.Process()
            self._process_cpu = None
        process = self._process
        with process.oneshot():
            times = process.cpu_times()
            cpu = times.user + times.system
            if elapsed and self._process_cpu is not None:
                out["process_cpu_percent"] = max(0.0, 100.0 * (cpu - self._process_cpu) / elapsed)
            self._process_cpu = cpu
            out["rss_mb"] = process.memory_info().rss / _MB

    def _read_open_files(self, out: dict[str, float], elapsed: float | None) -> None:
        process = self._process
        if process is not None:  # counting descriptors is cheap; listing open files (open_files()) is not
            count = process.num_fds() if hasattr(process, "num_fds") else process.num_handles()
            out["open_files"] = float(count)

    def _read_system_cpu(self, out: dict[str, float], elapsed: float | None) -> None:
        import psutil

        times = psutil.cpu_times()
        total = sum(times)
        # Time waiting for I/O is idle time, as psutil.cpu_percent counts it.
        busy = total - times.idle - getattr(times, "iowait", 0.0)
        if self._system_cpu is not None:
            busy0, total0 = self._system_cpu
            if total > total0:
                out["cpu_percent"] = min(100.0, max(0.0, 100.0 * (busy - busy0) / (total - total0)))
        self._system_cpu = (busy, total)

    def _read_memory(self, out: dict[str, float], elapsed: float | None) -> None:
        import psutil

        memory = psutil.virtual_memory()
        out["memory_used_mb"] = memory.used / _MB
        out["memory_available_mb"] = memory.available / _MB

    def _read_io(self, out: dict[str, float], elapsed: float | None) -> None:
        import psutil

        counters: dict[str, float] = {}
        disk = psutil.disk_io_counters()
        if disk is not None:  # None on a machine without disks psutil can see
            counters["disk_read_mb"], counters["disk_write_mb"] = disk.read_bytes, disk.write_bytes
        net = psutil.net_io_counters()
        if net is not None:
            counters["network_sent_mb"], counters["network_received_mb"] = net.bytes_sent, net.bytes_recv
        for key, value in counters.items():
            start = self._io_start.setdefault(key, value)
            out[key] = max(0.0, value - start) / _MB

    def _read_gpus(self, out: dict[str, float]) -> None:
        if self._gpus is None:
            self._gpus = self._open_gpus()
        nvml = self._nvml
        for index, handle in enumerate(self._gpus):
            try:
                out[f"gpu_{index}/utilization_percent"] = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            except Exception:  # pynvml.NVMLError: this device, this time
                logger.debug("system metrics: GPU %d utilisation failed", index, exc_info=True)
            try:
                out[f"gpu_{index}/memory_used_mb"] = nvml.nvmlDeviceGetMemoryInfo(handle).used / _MB
            except Exception:
                logger.debug("system metrics: GPU %d memory failed", index, exc_info=True)

    def _open_gpus(self) -> list[Any]:
        try:
            import pynvml
        except ImportError:  # the [gpu] extra is not installed: no GPU figures
            return []
        try:
            pynvml.nvmlInit()
        except Exception:  # no driver, no device
            logger.debug("system metrics: NVML did not start", exc_info=True)
            return []
        self._nvml = pynvml
        try:
            return [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception:
            logger.debug("system metrics: NVML lists no devices", exc_info=True)
            return []

    def _close_gpus(self) -> None:
        nvml, self._nvml, self._gpus = self._nvml, None, None
        if nvml is not None:
            try:
                nvml.nvmlShutdown()
            except Exception:
                logger.debug("system metrics: NVML did not shut down", exc_info=True)
