"""Traffic for a closed-loop scenario: a stream's events sent to a real server, their labels posted late.

:class:`TrafficDriver` sends one request per event of a
:class:`~shipyard.testing.closed_loop.DriftingStream` frame to ``shipyard serve``
(MLflow scoring, ``/invocations``) from many threads, posts each label ``label_delay``
events later to ``/v1/feedback``, and records per event which model version answered,
whether it was right and whether the request failed — what accuracy over time and the
regret are computed from.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.testing.closed_loop import FEATURES

__all__ = ["LabelPoster", "TrafficDriver"]

LabelPoster = Callable[[list[tuple[str, int]]], None]


class TrafficDriver:
    """Sends ``frame``'s events (a stream's frame) to the model served at ``url``, one request each.

    ``threads`` clients (one keep-alive connection each) take events in order; with
    ``rate`` events are paced to that many per second, so wall time maps linearly onto
    the stream's simulated time. Event ``i`` is request ``{prefix}-{i}`` (its
    ``x-request-id``). Its label is posted once event ``i + label_delay`` has been sent
    — to ``{url}/v1/feedback`` in batches, or to ``post_labels`` when given — and only
    for requests that were answered. A request fails when it gets no answer or a status
    other than 200; it is not retried.

    Per event the driver records when it was sent, the status, the version that answered
    (``shipyard-model-version``) and the prediction: see :meth:`records`. Run it in the
    foreground with :meth:`run`, or :meth:`start` it and :meth:`wait`.
    """

    def __init__(self, url: str, frame: pd.DataFrame, *, threads: int = 8, rate: float | None = None,
                 label_delay: int = 0, label_batch: int = 1000, prefix: str = "ev", timeout_s: float = 30.0,
                 post_labels: LabelPoster | None = None) -> None:
        if threads < 1:
            raise InvalidInput(f"threads must be >= 1, got {threads!r}", field="threads")
        if rate is not None and not rate > 0:
            raise InvalidInput(f"rate must be positive, got {rate!r}", field="rate")
        self.url = url.rstrip("/")
        self.threads = threads
        self.rate = rate
        self.label_delay = label_delay
        self.label_batch = label_batch
        self.prefix = prefix
        self.timeout_s = timeout_s
        self._post_labels = post_labels
        self._rows = frame[list(FEATURES)].to_numpy(float).tolist()
        self._labels = frame["label"].to_numpy(np.int64)
        n = len(frame)
        self.sent_at = np.full(n, np.nan)
        self.status = np.zeros(n, dtype=np.int64)  # 0: not answered yet; -1: no answer (connection error)
        self.version = np.zeros(n, dtype=np.int64)
        self.prediction = np.full(n, -1, dtype=np.int64)
        self.label_failures = 0
        self.errors: list[str] = []
        self._sent = 0  # events handed to a client so far (the next index to send)
        self._stop = self._start_index = 0
        self._next = itertools.count()
        self._began = 0.0
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._labeller: threading.Thread | None = None

    # -- running --------------------------------------------------------------------------

    def run(self, start: int = 0, stop: int | None = None) -> None:
        """Send events ``[start, stop)`` and wait for every answer and due label."""
        self.start(start, stop)
        self.wait()

    def start(self, start: int = 0, stop: int | None = None) -> None:
        """Begin sending events ``[start, stop)`` in the background."""
        import httpx

        stop = len(self._rows) if stop is None else stop
        self._next = itertools.count(start)
        self._stop, self._start_index = stop, start
        self._sent = start
        self._done = threading.Event()
        # Connections are made before the clock starts, so pacing begins with the first request.
        clients = [httpx.Client(timeout=self.timeout_s) for _ in range(self.threads)]
        self._began = time.monotonic()
        self._workers = [threading.Thread(target=self._client, args=(http,), name=f"traffic-{i}", daemon=True)
                         for i, http in enumerate(clients)]
        labeller = threading.Thread(target=self._label_loop, args=(start,), name="labels", daemon=True)
        self._labeller = labeller
        for worker in self._workers:
            worker.start()
        labeller.start()

    def wait(self) -> None:
        """Block until every event given to :meth:`start` is answered and its due labels posted."""
        for worker in self._workers:
            worker.join()
        self._done.set()
        if self._labeller is not None:
            self._labeller.join()

    def finish_after(self, events: int) -> None:
        """Send at most ``events`` more events (from the next one not yet sent), then stop."""
        with self._lock:
            self._stop = min(self._stop, self._sent + events)

    @property
    def sent(self) -> int:
        """The index of the next event to send (events before it have been sent or are in flight)."""
        return self._sent

    def _client(self, http: Any) -> None:
        import httpx
        import orjson

        columns = list(FEATURES)
        with http:
            for i in self._next:
                if i >= self._stop:
                    return
                if self.rate is not None:
                    delay = self._began + (i - self._start_index) / self.rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                with self._lock:
                    self._sent = max(self._sent, i + 1)
                body = orjson.dumps({"dataframe_split": {"columns": columns, "data": [self._rows[i]]}})
                self.sent_at[i] = time.time()
                try:
                    answer = http.post(f"{self.url}/invocations", content=body, headers={
                        "content-type": "application/json", "x-request-id": f"{self.prefix}-{i}"})
                except httpx.HTTPError as exc:
                    self.status[i] = -1
                    self._error(f"event {i}: {type(exc).__name__}: {exc}")
                    continue
                if answer.status_code == 200:
                    self.version[i] = int(answer.headers.get("shipyard-model-version", 0))
                    self.prediction[i] = int(orjson.loads(answer.content)["predictions"][0])
                else:
                    self._error(f"event {i}: HTTP {answer.status_code}: {answer.text[:200]}")
                self.status[i] = answer.status_code

    def _error(self, message: str) -> None:
        with self._lock:
            if len(self.errors) < 100:
                self.errors.append(message)

    # -- delayed labels ---------------------------------------------------------------------

    def _label_loop(self, start: int) -> None:
        import httpx

        posted = start  # labels of events before this one are settled (posted, or never due)
        with httpx.Client(timeout=self.timeout_s) as http:
            while True:
                finished = self._done.is_set()
                due = self._sent - self.label_delay if not finished else self._stop - self.label_delay
                batch: list[tuple[str, int]] = []
                while posted < due and self.status[posted] != 0 and len(batch) < self.label_batch:
                    if self.status[posted] == 200:
                        batch.append((f"{self.prefix}-{posted}", int(self._labels[posted])))
                    posted += 1
                if batch:
                    self._send_labels(http, batch)
                    continue
                if finished and posted >= due:
                    return
                time.sleep(0.05)

    def _send_labels(self, http: Any, batch: list[tuple[str, int]]) -> None:
        try:
            if self._post_labels is not None:
                self._post_labels(batch)
                return
            answer = http.post(f"{self.url}/v1/feedback",
                               json={"labels": [{"request_id": rid, "label": label} for rid, label in batch]})
            if answer.status_code >= 300:
                raise RuntimeError(f"HTTP {answer.status_code}: {answer.text[:200]}")
        except Exception as exc:  # counted, never fatal: a lost label is the monitor's problem
            self.label_failures += 1
            self._error(f"labels: {type(exc).__name__}: {exc}")

    # -- results ------------------------------------------------------------------------------

    @property
    def failed(self) -> int:
        """Requests sent that got no answer or a status other than 200."""
        sent = ~np.isnan(self.sent_at)
        return int(((self.status != 200) & sent).sum())

    def records(self) -> pd.DataFrame:
        """One row per sent event: ``event``, ``sent_at`` (unix s), ``status``, ``version``
        (0: none), ``prediction`` (-1: none), ``label``, ``correct`` (NaN when not answered)."""
        sent = ~np.isnan(self.sent_at)
        index = np.flatnonzero(sent)
        answered = self.status[index] == 200
        correct = np.where(answered, (self.prediction[index] == self._labels[index]).astype(float), np.nan)
        return pd.DataFrame({"event": index, "sent_at": self.sent_at[index], "status": self.status[index],
                             "version": self.version[index], "prediction": self.prediction[index],
                             "label": self._labels[index], "correct": correct})
