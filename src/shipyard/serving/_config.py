"""What to serve and how: small frozen value objects, built in code or from YAML.

One :class:`ServeConfig` holds the server's settings and one :class:`ModelConfig` per
served model. A model has one or more weighted :class:`Target` s (canary splits) and
at most one :class:`Shadow`; each target follows its URI (an alias moves → the new
version is loaded beside the old and swapped in).

>>> cfg = ServeConfig.for_uri("models:/churn@production")
>>> cfg.models[0].name, cfg.models[0].targets[0].label
('churn', 'production')

The YAML form (``shipyard serve --config serve.yaml``)::

    port: 8080
    workers: 2
    models:
      churn:
        uri: models:/churn@production
      fraud:
        routes:
          - {uri: "models:/fraud@production", weight: 90}
          - {uri: "models:/fraud@challenger", weight: 10}
        shadow: {uri: "models:/fraud@candidate", fraction: 0.2}
        batching: {max_batch_size: 32, max_latency_ms: 2}
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from shipyard.errors import ConfigError
from shipyard.serving._log_layout import SHADOW_ROUTE

__all__ = [
    "BatchingConfig",
    "InferenceLogConfig",
    "ModelConfig",
    "ServeConfig",
    "Shadow",
    "Target",
    "load_serve_config",
    "make_serve_config",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]{0,255}\Z")


def _check(condition: bool, message: str, field_name: str) -> None:
    if not condition:
        raise ConfigError(message, field=field_name)


def _positive(value: float, name: str) -> None:
    _check(isinstance(value, int | float) and math.isfinite(value) and value > 0,
           f"{name} must be a positive number, got {value!r}", name)


@dataclass(frozen=True)
class BatchingConfig:
    """Adaptive micro-batching of concurrent requests to one model version.

    Requests are merged into one model call of at most ``max_batch_size`` rows; no
    request waits longer than ``max_latency_ms`` for its batch to start. With
    ``adaptive`` the wait before a batch adapts to load (0 at low load); otherwise a
    batch starts as soon as the model is free. ``enabled=False`` calls the model once
    per request. ``inline_below_ms``: a model whose batches take less than this runs on
    the event loop; a slower one runs on a dedicated thread so the loop stays free.
    """

    enabled: bool = True
    max_batch_size: int = 64
    max_latency_ms: float = 5.0
    adaptive: bool = True
    inline_below_ms: float = 2.0

    def __post_init__(self) -> None:
        _check(isinstance(self.max_batch_size, int) and self.max_batch_size >= 1,
               f"max_batch_size must be an integer >= 1, got {self.max_batch_size!r}", "max_batch_size")
        _check(isinstance(self.max_latency_ms, int | float) and self.max_latency_ms >= 0,
               f"max_latency_ms must be >= 0, got {self.max_latency_ms!r}", "max_latency_ms")
        _check(isinstance(self.inline_below_ms, int | float) and self.inline_below_ms >= 0,
               f"inline_below_ms must be >= 0, got {self.inline_below_ms!r}", "inline_below_ms")


@dataclass(frozen=True)
class Target:
    """One version source of a route: a model URI and its share of traffic.

    ``label`` names the target in metrics, logs and headers (``route``); it defaults
    to the alias (``production``), ``latest`` or ``v3``.
    """

    uri: str
    weight: float = 100.0
    label: str = ""

    def __post_init__(self) -> None:
        _check(isinstance(self.uri, str) and bool(self.uri), f"uri must be a model URI, got {self.uri!r}", "uri")
        _check(isinstance(self.weight, int | float) and math.isfinite(self.weight) and self.weight >= 0,
               f"weight must be a number >= 0, got {self.weight!r}", "weight")
        if not self.label:
            object.__setattr__(self, "label", default_label(self.uri))

    @property
    def follows(self) -> bool:
        """Whether the URI can move (an alias or ``latest``) and so is polled."""
        return self.uri.startswith("models:/") and ("@" in self.uri or self.uri.rstrip("/").endswith("/latest"))


@dataclass(frozen=True)
class Shadow:
    """A version that receives a copy of ``fraction`` of the traffic; its answers are logged, never returned."""

    uri: str
    fraction: float = 1.0
    label: str = SHADOW_ROUTE

    def __post_init__(self) -> None:
        _check(isinstance(self.fraction, int | float) and 0 <= self.fraction <= 1,
               f"shadow fraction must be between 0 and 1, got {self.fraction!r}", "fraction")


@dataclass(frozen=True)
class ModelConfig:
    """One served model: its name in URLs, its targets, shadow, batching and limits.

    ``max_queue`` bounds the requests admitted to the model (beyond it: 503 with
    ``Retry-After``, before the body is read); under load the bound tightens to what
    the model answers within ``queue_delay_ms`` at its measured rate (never below two
    full batches). ``timeout_s`` bounds one request's wait (504); the registry is
    polled every ``poll_interval_s`` for moved aliases (0: never); ``sticky_header``
    names the request header whose value pins a client to one target. With ``traffic``
    (the default), a model served through an alias of a registered model follows that
    model's traffic split in the registry, polled likewise, whenever it has one: its
    routes and shadow then replace the ones configured here.
    """

    name: str
    targets: tuple[Target, ...]
    shadow: Shadow | None = None
    batching: BatchingConfig = field(default_factory=BatchingConfig)
    max_queue: int = 512
    queue_delay_ms: float = 500.0
    timeout_s: float = 10.0
    poll_interval_s: float = 3.0
    sticky_header: str = "shipyard-route-key"
    traffic: bool = True

    def __post_init__(self) -> None:
        _check(isinstance(self.name, str) and bool(_NAME.match(self.name)),
               f"model name must be letters, digits or _-. (got {self.name!r})", "name")
        _check(len(self.targets) >= 1, f"model {self.name!r} needs at least one target", "targets")
        labels = [t.label for t in self.targets]
        _check(len(set(labels)) == len(labels), f"model {self.name!r} has repeated route labels {labels}",
               "targets")
        _check(sum(t.weight for t in self.targets) > 0, f"model {self.name!r}: weights must not all be 0",
               "weight")
        _check(isinstance(self.max_queue, int) and self.max_queue >= 1,
               f"max_queue must be an integer >= 1, got {self.max_queue!r}", "max_queue")
        _positive(self.queue_delay_ms, "queue_delay_ms")
        _positive(self.timeout_s, "timeout_s")
        _check(isinstance(self.poll_interval_s, int | float) and self.poll_interval_s >= 0,
               f"poll_interval_s must be >= 0, got {self.poll_interval_s!r}", "poll_interval_s")
        _check(isinstance(self.traffic, bool), f"traffic must be true or false, got {self.traffic!r}", "traffic")
        object.__setattr__(self, "sticky_header", self.sticky_header.lower())

    @classmethod
    def for_uri(cls, uri: str, name: str | None = None, **options: Any) -> ModelConfig:
        return cls(name=name or default_name(uri), targets=(Target(uri),), **options)

    @property
    def traffic_model(self) -> str | None:
        """The registered model whose traffic split this model follows: the one its first
        alias target (``models:/NAME@alias``) names; None when ``traffic`` is off or no
        target follows an alias."""
        if not self.traffic:
            return None
        for target in self.targets:
            rest = target.uri[len("models:/"):].strip("/") if target.uri.startswith("models:/") else ""
            if "@" in rest:
                return rest.partition("@")[0]
        return None


@dataclass(frozen=True)
class InferenceLogConfig:
    """The inference log: which requests are recorded, and how segments roll.

    A Parquet segment is written every ``flush_interval_s`` or at ``segment_rows``
    rows, whichever comes first, off the request path; beyond ``max_buffer_rows``
    waiting rows new ones are dropped (and counted) rather than slowing requests.
    """

    enabled: bool = True
    sample_rate: float = 1.0
    flush_interval_s: float = 10.0
    segment_rows: int = 50_000
    max_buffer_rows: int = 500_000

    def __post_init__(self) -> None:
        _check(isinstance(self.sample_rate, int | float) and 0 <= self.sample_rate <= 1,
               f"sample_rate must be between 0 and 1, got {self.sample_rate!r}", "sample_rate")
        _positive(self.flush_interval_s, "flush_interval_s")
        _check(isinstance(self.segment_rows, int) and self.segment_rows >= 1,
               f"segment_rows must be an integer >= 1, got {self.segment_rows!r}", "segment_rows")


@dataclass(frozen=True)
class ServeConfig:
    """Everything ``shipyard serve`` needs besides the stores.

    Binds ``127.0.0.1`` by default; any other ``host`` needs ``token`` (bearer auth)
    or ``insecure``. ``threads`` caps OpenMP/BLAS threads per worker (1 is fastest for
    single-row work on few cores); ``gc_freeze`` moves everything loaded at start-up
    out of the garbage collector's sight and has it collect young objects every 10,000
    net allocations instead of 700 (process-wide), which keeps its pauses short and rare
    however many connections are open. ``trust`` lets a
    local model folder load on its own ``model.yaml`` (``shipyard serve PATH --trust``);
    ``models:/`` and ``runs:/`` URIs are always checked against what their store recorded.
    """

    models: tuple[ModelConfig, ...]
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    token: str | None = field(default=None, repr=False)
    insecure: bool = False
    max_request_bytes: int = 16 * 1024 * 1024
    access_log: bool = True
    drain_timeout_s: float = 30.0
    threads: int = 1
    gc_freeze: bool = True
    inference_log: InferenceLogConfig = field(default_factory=InferenceLogConfig)
    trust: bool = False
    # A hook accepting users' API tokens besides ``token`` (picklable: workers receive it).
    token_check: Callable[[str], bool] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check(len(self.models) >= 1, "nothing to serve: give at least one model", "models")
        names = [m.name for m in self.models]
        _check(len(set(names)) == len(names), f"model names repeat: {names}", "models")
        _check(isinstance(self.port, int) and 0 <= self.port < 65536, f"port must be 0-65535, got {self.port!r}",
               "port")
        _check(isinstance(self.workers, int) and self.workers >= 1,
               f"workers must be an integer >= 1, got {self.workers!r}", "workers")
        _check(isinstance(self.max_request_bytes, int) and self.max_request_bytes >= 1024,
               f"max_request_bytes must be an integer >= 1024, got {self.max_request_bytes!r}", "max_request_bytes")
        _positive(self.drain_timeout_s, "drain_timeout_s")
        _check(isinstance(self.threads, int) and self.threads >= 1,
               f"threads must be an integer >= 1, got {self.threads!r}", "threads")
        _check(self.token_check is None or callable(self.token_check), "token_check must be callable",
               "token_check")

    @classmethod
    def for_uri(cls, uri: str, *, name: str | None = None, **options: Any) -> ServeConfig:
        """Serve one model URI; ``options`` are :class:`ServeConfig` fields."""
        return cls(models=(ModelConfig.for_uri(uri, name),), **options)

    def with_(self, **changes: Any) -> ServeConfig:
        return replace(self, **changes)


def default_name(uri: str) -> str:
    """The served name of a URI: the registered model's name, or the folder's."""
    if uri.startswith("models:/"):
        rest = uri[len("models:/"):].strip("/")
        return rest.partition("@")[0] if "@" in rest else rest.rpartition("/")[0] or rest
    if uri.startswith("runs:/"):
        return "model"
    return Path(uri).name or "model"


def default_label(uri: str) -> str:
    if uri.startswith("models:/"):
        rest = uri[len("models:/"):].strip("/")
        if "@" in rest:
            return rest.partition("@")[2]
        version = rest.rpartition("/")[2]
        return "latest" if version == "latest" else f"v{version}"
    return "default"


# -- YAML -------------------------------------------------------------------------------


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {type(data).__name__}", field=where)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown} (known: {sorted(known)})", field=unknown[0])
    try:
        return cls(**data)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}", field=where) from None


def _model(name: str | None, data: Any) -> ModelConfig:
    if isinstance(data, str):
        data = {"uri": data}
    if not isinstance(data, Mapping):
        raise ConfigError(f"model {name!r} must be a URI or a mapping", field="models")
    data = dict(data)
    if name is not None:
        data.setdefault("name", name)
    uri = data.pop("uri", None)
    routes = data.pop("routes", None)
    if (uri is None) == (routes is None):
        raise ConfigError(f"model {data.get('name')!r}: give exactly one of 'uri' or 'routes'", field="uri")
    targets = [{"uri": uri}] if uri is not None else routes
    if not isinstance(targets, list) or not targets:
        raise ConfigError("routes must be a non-empty list of {uri, weight}", field="routes")
    data["targets"] = tuple(_build(Target, t, "routes[]") for t in targets)
    data.setdefault("name", default_name(data["targets"][0].uri))
    if data.get("shadow") is not None:
        data["shadow"] = _build(Shadow, data["shadow"], "shadow")
    if "batching" in data:
        data["batching"] = _build(BatchingConfig, data["batching"] or {}, "batching")
    return _build(ModelConfig, data, f"models.{data['name']}")


def load_serve_config(source: str | Path | Mapping[str, Any], **overrides: Any) -> ServeConfig:
    """A :class:`ServeConfig` from a YAML file (or an already-parsed mapping).

    ``overrides`` (e.g. ``port`` from the command line) win over the file when not None.
    """
    if isinstance(source, Mapping):
        data = dict(source)
    else:
        path = Path(source)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc}", field="config") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}", field="config") from None
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path} must hold a mapping", field="config")
        data = dict(data)
    models = data.pop("models", None)
    if isinstance(models, Mapping):
        data["models"] = tuple(_model(name, spec) for name, spec in models.items())
    elif isinstance(models, list):
        data["models"] = tuple(_model(None, spec) for spec in models)
    else:
        raise ConfigError("'models' must be a mapping of name → spec, or a list", field="models")
    if "inference_log" in data:
        data["inference_log"] = _build(InferenceLogConfig, data["inference_log"] or {}, "inference_log")
    data.update({k: v for k, v in overrides.items() if v is not None})
    return _build(ServeConfig, data, "serve config")  # type: ignore[no-any-return]


_MODEL_OPTIONS = frozenset({"name", "max_queue", "queue_delay_ms", "timeout_s", "poll_interval_s", "sticky_header",
                            "batching", "shadow", "traffic"})


def make_serve_config(source: str | Path | ServeConfig, **options: Any) -> ServeConfig:
    """A :class:`ServeConfig` from what a user names: a model URI or folder, a YAML file, or a config.

    ``options`` are :class:`ServeConfig` fields (``port``, ``workers``…); with a single
    URI they may also be :class:`ModelConfig` fields (``name``, ``batching``,
    ``max_queue``…). None values are ignored, so command-line defaults can pass through.

    >>> make_serve_config("models:/churn@production", port=9000, max_queue=64).models[0].max_queue
    64
    """
    options = {k: v for k, v in options.items() if v is not None}
    model_options = {k: options.pop(k) for k in list(options) if k in _MODEL_OPTIONS}
    if isinstance(source, ServeConfig):
        config = source.with_(**options) if options else source
        if model_options:
            raise ConfigError(f"{sorted(model_options)} apply to a single model URI, not to a ServeConfig",
                              field=next(iter(model_options)))
        return config
    text = str(source)
    if text.endswith((".yaml", ".yml")) and Path(text).is_file():
        if model_options:
            raise ConfigError(f"{sorted(model_options)} apply to a single model URI; set them in {text}",
                              field=next(iter(model_options)))
        return load_serve_config(text, **options)
    name = model_options.pop("name", None)
    return ServeConfig(models=(ModelConfig.for_uri(text, name, **model_options),), **options)
