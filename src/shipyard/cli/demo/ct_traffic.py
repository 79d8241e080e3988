"""Live traffic for the continuous-training stage: a stream's events sent to ``shipyard serve``, labels late.

:class:`Traffic` sends one request per event (MLflow scoring, ``/invocations``) from a few
threads at a steady rate until stopped, and posts each answered event's label
``label_delay`` events later to ``/v1/feedback`` — the ground truth arriving after the
prediction, as it does in production. Per event it keeps the version that answered
(``shipyard-model-version``) and whether it was right, which the stage's accuracy
figures come from; a request that gets no answer or a status other than 200 is failed.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd

from shipyard.cli.demo.ct_pipeline import FEATURES

__all__ = ["Traffic"]


class Traffic:
    """Sends ``frame``'s events (inputs and ``label``) to the model served at ``url`` (see the module
    docstring); ``token``, when given, goes as ``Authorization: Bearer``. No I/O until :meth:`start`."""

    def __init__(self, url: str, frame: pd.DataFrame, *, rate: float = 100.0, threads: int = 4,
                 label_delay: int = 100, token: str | None = None, prefix: str = "ct") -> None:
        self.url = url.rstrip("/")
        self.rate = rate
        self.threads = threads
        self.label_delay = label_delay
        self.headers = {"authorization": f"Bearer {token}"} if token else {}
        self.prefix = prefix
        self._rows = frame[list(FEATURES)].to_numpy(float).tolist()
        self.labels = frame["label"].to_numpy(np.int64)
        n = len(frame)
        self.sent_at = np.full(n, np.nan)
        self.status = np.zeros(n, dtype=np.int64)  # 0: not answered yet; -1: no answer
        self.version = np.zeros(n, dtype=np.int64)
        self.prediction = np.full(n, -1, dtype=np.int64)
        self.errors: list[str] = []
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._began = 0.0

    @property
    def sent(self) -> int:
        """Events handed to a sender so far."""
        return self._next

    @property
    def failed(self) -> int:
        """Requests sent that got no answer or a status other than 200."""
        return int(((self.status != 200) & ~np.isnan(self.sent_at)).sum())

    def start(self) -> None:
        """Begin sending, in the background."""
        self._began = time.monotonic()
        self._workers = [threading.Thread(target=self._send, name=f"demo-traffic-{i}", daemon=True)
                         for i in range(self.threads)]
        self._workers.append(threading.Thread(target=self._label, name="demo-labels", daemon=True))
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        """Stop sending, wait for the answers in flight and post the labels still due."""
        self._stop.set()
        for worker in self._workers:
            worker.join()

    def _take(self) -> int | None:
        with self._lock:
            i = self._next
            if i >= len(self._rows) or self._stop.is_set():
                return None
            self._next += 1
            return i

    def _send(self) -> None:
        import httpx

        with httpx.Client(base_url=self.url, timeout=30, headers=self.headers) as http:
            while (i := self._take()) is not None:
                delay = self._began + i / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self.sent_at[i] = time.time()
                try:
                    answer = http.post("/invocations", headers={"x-request-id": f"{self.prefix}-{i}"},
                                       json={"dataframe_split": {"columns": list(FEATURES), "data": [self._rows[i]]}})
                except httpx.HTTPError as exc:
                    self.status[i] = -1
                    self._error(f"event {i}: {type(exc).__name__}: {exc}")
                    continue
                if answer.status_code == 200:
                    self.version[i] = int(answer.headers.get("shipyard-model-version", 0))
                    self.prediction[i] = int(answer.json()["predictions"][0])
                else:
                    self._error(f"event {i}: HTTP {answer.status_code}: {answer.text[:200]}")
                self.status[i] = answer.status_code

    def _label(self) -> None:
        import httpx

        posted = 0  # labels of the events before this one are settled
        with httpx.Client(base_url=self.url, timeout=30, headers=self.headers) as http:
            while True:
                stopping = self._stop.is_set() and not any(w.is_alive() for w in self._workers[:-1])
                due = self._next if stopping else self._next - self.label_delay
                batch: list[dict[str, object]] = []
                while posted < due and self.status[posted] != 0 and len(batch) < 500:
                    if self.status[posted] == 200:
                        batch.append({"request_id": f"{self.prefix}-{posted}", "label": int(self.labels[posted])})
                    posted += 1
                if batch:
                    try:
                        http.post("/v1/feedback", json={"labels": batch}).raise_for_status()
                    except httpx.HTTPError as exc:
                        self._error(f"labels: {type(exc).__name__}: {exc}")
                    continue
                if stopping and posted >= due:
                    return
                time.sleep(0.1)

    def _error(self, message: str) -> None:
        with self._lock:
            if len(self.errors) < 20:
                self.errors.append(message)

    def accuracy(self, mask: np.ndarray) -> tuple[float, int]:
        """Accuracy of the answered events where ``mask`` holds, and how many there were."""
        chosen = mask & (self.status == 200)
        count = int(chosen.sum())
        return (float(np.mean(self.prediction[chosen] == self.labels[chosen])) if count else float("nan")), count

    def answered(self) -> int:
        """Requests answered with 200."""
        return int((self.status == 200).sum())
