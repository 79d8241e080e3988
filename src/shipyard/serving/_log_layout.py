"""The inference log's layout: where its segments live and what their columns are called.

Serving writes the log (:mod:`shipyard.serving._inference_log`) and monitoring reads
it (:mod:`shipyard.monitoring._inference`); both spell every name from here, so the
two sides cannot drift apart. This module imports nothing but the standard library.

* **Runs.** One tracking run per served model and serving process, in experiment
  :func:`experiment_name` (``serving:<model>``), tagged :data:`MODEL_TAG`.
* **Segments.** Parquet artifacts of that run at :func:`segment_path`
  (``<kind>/<YYYY-MM-DD>/<worker>-<seq>.parquet``), ``kind`` being :data:`INFERENCE`
  (requests and answers) or :data:`FEEDBACK` (labels posted to ``/v1/feedback``); the
  date is the UTC day the segment was written.
* **Columns** of an inference segment, one row per input row: :data:`REQUEST_ID`,
  :data:`TIMESTAMP`, :data:`MODEL`, :data:`VERSION`, :data:`ROUTE`, :data:`LATENCY_MS`,
  :data:`STATUS`, :data:`ERROR`, :data:`ROW`, one :data:`INPUT_PREFIX` column per input
  (``in_age``), :data:`PREDICTION` (or ``prediction_<output>`` for named outputs) and
  :data:`PROBABILITIES`. A feedback segment holds :data:`FEEDBACK_COLUMNS`.

>>> experiment_name("churn"), segment_path(INFERENCE, "2026-01-31", "w1", 7)
('serving:churn', 'inference/2026-01-31/w1-000007.parquet')
>>> is_segment("inference/2026-01-31/w1-000007.parquet"), segment_day("feedback/2026-01-31/w1-000008.parquet")
(True, '2026-01-31')
>>> input_name("in_age"), input_name("prediction")
('age', None)
"""

from __future__ import annotations

import datetime as dt

__all__ = [
    "ERROR",
    "EXPERIMENT_PREFIX",
    "FEEDBACK",
    "FEEDBACK_COLUMNS",
    "INFERENCE",
    "INPUT_PREFIX",
    "LABEL",
    "LATENCY_MS",
    "MODEL",
    "MODEL_TAG",
    "PREDICTION",
    "PROBABILITIES",
    "REQUEST_ID",
    "ROUTE",
    "ROW",
    "SHADOW_ROUTE",
    "STATUS",
    "TIMESTAMP",
    "VERSION",
    "day_of",
    "experiment_name",
    "input_column",
    "input_name",
    "is_segment",
    "segment_day",
    "segment_path",
]

EXPERIMENT_PREFIX = "serving:"
MODEL_TAG = "shipyard.serving.model"

INFERENCE = "inference"
FEEDBACK = "feedback"

REQUEST_ID = "request_id"
TIMESTAMP = "timestamp"  # timestamp[ms, UTC]: when the request arrived (labels: when they arrived)
MODEL = "model"
VERSION = "version"
ROUTE = "route"
LATENCY_MS = "latency_ms"
STATUS = "status"  # the HTTP status the request was answered with
ERROR = "error"
ROW = "row"  # the row's index within its request
INPUT_PREFIX = "in_"
PREDICTION = "prediction"
PROBABILITIES = "probabilities"
LABEL = "label"
FEEDBACK_COLUMNS = (REQUEST_ID, TIMESTAMP, MODEL, LABEL)

#: The route of rows answered by a shadow copy (logged, never returned to the caller).
SHADOW_ROUTE = "shadow"

_DAY = "%Y-%m-%d"


def experiment_name(model: str) -> str:
    """The experiment holding the serving runs of ``model``."""
    return f"{EXPERIMENT_PREFIX}{model}"


def day_of(ms: int) -> str:
    """The UTC day (``YYYY-MM-DD``) of a time in ms since the epoch: a segment's folder."""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime(_DAY)


def segment_path(kind: str, day: str, worker: str, seq: int) -> str:
    """The artifact path of a segment: ``<kind>/<day>/<worker>-<seq>.parquet``."""
    return f"{kind}/{day}/{worker}-{seq:06d}.parquet"


def is_segment(path: str) -> bool:
    """Whether an artifact path of a serving run is a segment (``<kind>/<day>/<file>.parquet``)."""
    return path.endswith(".parquet") and path.count("/") == 2


def segment_day(path: str) -> str:
    """The day folder of a segment path."""
    return path.split("/")[1]


def input_column(name: str) -> str:
    """The log column of input ``name``."""
    return f"{INPUT_PREFIX}{name}"


def input_name(column: str) -> str | None:
    """The input a log column holds (``in_age`` → ``age``), None for other columns."""
    return column[len(INPUT_PREFIX):] if column.startswith(INPUT_PREFIX) else None
