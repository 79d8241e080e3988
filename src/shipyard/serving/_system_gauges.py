"""System gauges of a serving worker for ``/metrics``: its CPU and open files, its machine's CPU,
memory and GPUs.

The figures are the run metrics of :class:`~shipyard.tracking.SystemMetricsSampler`,
exposed as Prometheus gauges instead of logged. No thread of its own: a worker takes a
snapshot of its metrics every second and for each scrape anyway, and
:meth:`SystemGauges.collect` (registered with :meth:`Metrics.add_gauges`) reads the
machine at most once per ``interval`` within them (about 0.3 ms each time), keeping the
last reading in between. CPU percentages cover the time since the reading before; the
first reading of a worker has none.

Merged across workers (see :mod:`shipyard.serving._metrics`), the process gauges add up
(the server's workers together) while the machine's (:data:`MACHINE_GAUGES`) are taken
once: every worker sees the same machine. Disk and network counters of the machine are
left to a node exporter: per worker they would count from each worker's own start.

>>> gauges = SystemGauges()
>>> sorted({name for name, _, _ in gauges.collect()})[:2]
['process_open_fds', 'shipyard_system_memory_available_bytes']
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from shipyard.tracking import SystemMetricsSampler

__all__ = ["FAMILIES", "MACHINE_GAUGES", "SystemGauges"]

_MB = 1e6

# name: (type, help, label names, buckets), as shipyard.serving._metrics.FAMILIES has them.
FAMILIES: dict[str, tuple[str, str, tuple[str, ...], tuple[float, ...]]] = {
    "shipyard_process_cpu_percent": ("gauge", "CPU use of the live worker processes, 100 per busy core.", (), ()),
    "process_open_fds": ("gauge", "Open file descriptors of the live worker processes.", (), ()),
    "shipyard_system_cpu_percent": ("gauge", "CPU use of the machine, 0-100.", (), ()),
    "shipyard_system_memory_used_bytes": ("gauge", "Memory of the machine in use.", (), ()),
    "shipyard_system_memory_available_bytes": ("gauge", "Memory of the machine available to new work.", (), ()),
    "shipyard_gpu_utilization_percent": ("gauge", "Utilisation of each NVIDIA GPU, 0-100.", ("gpu",), ()),
    "shipyard_gpu_memory_used_bytes": ("gauge", "Memory in use on each NVIDIA GPU.", ("gpu",), ()),
}

MACHINE_GAUGES = frozenset({"shipyard_system_cpu_percent", "shipyard_system_memory_used_bytes",
                            "shipyard_system_memory_available_bytes", "shipyard_gpu_utilization_percent",
                            "shipyard_gpu_memory_used_bytes"})
"""Gauges of the machine rather than of a worker: merged by taking the largest, not summed."""

# reading key: (family, scale to the family's unit)
_PROCESS_AND_SYSTEM = {
    "process_cpu_percent": ("shipyard_process_cpu_percent", 1.0),
    "open_files": ("process_open_fds", 1.0),
    "cpu_percent": ("shipyard_system_cpu_percent", 1.0),
    "memory_used_mb": ("shipyard_system_memory_used_bytes", _MB),
    "memory_available_mb": ("shipyard_system_memory_available_bytes", _MB),
}
_GPU = {"utilization_percent": ("shipyard_gpu_utilization_percent", 1.0),
        "memory_used_mb": ("shipyard_gpu_memory_used_bytes", _MB)}


class SystemGauges:
    """This process's and its machine's gauges, read at most once per ``interval`` seconds."""

    def __init__(self, interval: float = 1.0, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._sampler = SystemMetricsSampler(_discard, interval)
        self._reading: dict[str, float] = {}
        self._read_at: float | None = None

    def collect(self) -> Iterator[tuple[str, tuple[str, ...], float]]:
        """``(family, labels, value)`` for each gauge, from a reading at most ``interval`` old."""
        now = self.clock()
        if self._read_at is None or now - self._read_at >= self.interval:
            self._reading, self._read_at = self._sampler.read(), now
        for key, value in self._reading.items():
            if key.startswith("gpu_"):
                device, _, figure = key[len("gpu_"):].partition("/")
                name, scale = _GPU.get(figure, ("", 0.0))
                labels: tuple[str, ...] = (device,)
            else:
                name, scale = _PROCESS_AND_SYSTEM.get(key, ("", 0.0))
                labels = ()
            if name:
                yield name, labels, value * scale


def _discard(key: str, value: float, timestamp: int, step: int) -> None:
    """The sampler's sink; never called, since :class:`SystemGauges` reads and never starts it."""
