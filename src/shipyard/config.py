"""Configuration: one frozen value object, read from the environment in one place.

Precedence, highest first: keyword arguments to :func:`load_config`, ``SHIPYARD_*``
environment variables, a ``shipyard.toml`` file (``SHIPYARD_CONFIG`` or the current
directory), then the defaults below. Nothing here ever writes the environment.

>>> cfg = Config(home=Path("/tmp/sy"))
>>> cfg.database_url
'sqlite:////tmp/sy/shipyard.db'
"""

from __future__ import annotations

import hashlib
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from shipyard.errors import ConfigError

__all__ = ["Config", "OidcConfig", "load_config"]

_ENV_KEYS = {
    "home": "SHIPYARD_HOME",
    "db": "SHIPYARD_DB",
    "db_busy_timeout": "SHIPYARD_DB_BUSY_TIMEOUT",
    "artifacts": "SHIPYARD_ARTIFACTS",
    "url": "SHIPYARD_URL",
    "token": "SHIPYARD_TOKEN",
    "s3_endpoint_url": "SHIPYARD_S3_ENDPOINT_URL",
    "flush_interval": "SHIPYARD_FLUSH_INTERVAL",
    "log_buffer_points": "SHIPYARD_LOG_BUFFER_POINTS",
    "log_buffer_bytes": "SHIPYARD_LOG_BUFFER_BYTES",
    "online_store": "SHIPYARD_ONLINE_STORE",
    "max_request_bytes": "SHIPYARD_MAX_REQUEST_BYTES",
    "max_upload_bytes": "SHIPYARD_MAX_UPLOAD_BYTES",
    "max_param_length": "SHIPYARD_MAX_PARAM_LENGTH",
    "max_tag_length": "SHIPYARD_MAX_TAG_LENGTH",
    "retries": "SHIPYARD_RETRIES",
    "retry_max_wait": "SHIPYARD_RETRY_MAX_WAIT",
    "system_metrics": "SHIPYARD_SYSTEM_METRICS",
    "system_metrics_interval": "SHIPYARD_SYSTEM_METRICS_INTERVAL",
}

_LIMITS = ("max_request_bytes", "max_upload_bytes", "max_param_length", "max_tag_length")


@dataclass(frozen=True)
class Config:
    """Where Shipyard keeps its state and how the client reaches it.

    ``db`` and ``artifacts`` default to locations inside ``home``; ``url``, when set,
    makes the client talk to a Shipyard server instead of the stores directly.
    ``token`` is a secret: it is excluded from ``repr`` so it never lands in logs.
    ``alerts`` is the ``[alerts]`` table of ``shipyard.toml`` (notifiers, see
    :mod:`shipyard.alerting._notifiers`); it holds webhook URLs and SMTP passwords,
    so it is kept out of ``repr`` too. ``retries`` is how many tries a remote call gets
    at most (1: never retry) and ``retry_max_wait`` how many seconds it may spend
    retrying; only calls that are safe to repeat are ever retried. ``db_busy_timeout``
    is how many seconds a SQLite write waits for another writer before it fails as
    ``Unavailable`` (a server answers 503 with ``Retry-After``); short, so that a held
    lock ties up a server's threads for seconds, not minutes.
    """

    home: Path = Path(".shipyard")
    db: str | None = None
    db_busy_timeout: float = 5.0
    artifacts: str | None = None
    url: str | None = None
    token: str | None = field(default=None, repr=False)
    s3_endpoint_url: str | None = None
    flush_interval: float = 1.0
    # The logging buffer's bound (see shipyard.tracking.BatchWriter): entries and bytes held
    # and not yet stored; a logging call that finds it full waits for the background writer.
    log_buffer_points: int = 20_000
    log_buffer_bytes: int = 32 << 20
    online_store: str | None = None  # feature store: "sqlite" (default), "sqlite:///path", "redis://…"
    retries: int = 5
    retry_max_wait: float = 30.0
    # Size limits (README, "Configuration"): anything over one is refused as TooLarge, HTTP 413.
    max_request_bytes: int = 64 << 20  # a server's request bodies, streamed uploads aside
    max_upload_bytes: int = 10 << 30  # a server's streamed uploads (run artifacts, dataset objects)
    max_param_length: int = 6000  # characters of a param value (MLflow's MAX_PARAM_VAL_LENGTH)
    max_tag_length: int = 8000  # characters of any tag value: run, experiment, model, version (MLflow's)
    # CPU, memory, disk, network and GPU use logged into each run under system/ (see
    # shipyard.tracking.SystemMetricsSampler): off for plain runs unless set, on for pipeline steps.
    system_metrics: bool = False
    system_metrics_interval: float = 10.0  # seconds between readings
    alerts: Mapping[str, Any] = field(default_factory=dict, repr=False, hash=False)
    auth: Mapping[str, Any] = field(default_factory=dict, repr=False, hash=False)  # [auth.oidc]: a client secret

    def __post_init__(self) -> None:
        if not isinstance(self.auth, Mapping) or set(self.auth) - {"oidc"}:
            raise ConfigError("auth must be a table holding only [auth.oidc]", field="auth")
        self.oidc  # noqa: B018 - a bad [auth.oidc] table fails here, at load, naming its field
        if not isinstance(self.home, Path):  # Config(home="/srv/shipyard") reads naturally
            object.__setattr__(self, "home", Path(self.home))
        if not math.isfinite(self.flush_interval) or self.flush_interval <= 0:
            raise ConfigError(
                f"flush_interval must be positive, got {self.flush_interval!r}",
                field="flush_interval",
            )
        for name in ("log_buffer_points", "log_buffer_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}", field=name)
        if not math.isfinite(self.db_busy_timeout) or self.db_busy_timeout < 0:
            raise ConfigError(f"db_busy_timeout must be a non-negative number of seconds, got "
                              f"{self.db_busy_timeout!r}", field="db_busy_timeout")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 1:
            raise ConfigError(f"retries must be an integer of at least 1, got {self.retries!r}", field="retries")
        for name in _LIMITS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}", field=name)
        if not isinstance(self.system_metrics, bool):
            raise ConfigError(f"system_metrics must be true or false, got {self.system_metrics!r}",
                              field="system_metrics")
        if not math.isfinite(self.system_metrics_interval) or self.system_metrics_interval <= 0:
            raise ConfigError(f"system_metrics_interval must be a positive number of seconds, got "
                              f"{self.system_metrics_interval!r}", field="system_metrics_interval")
        if not math.isfinite(self.retry_max_wait) or self.retry_max_wait < 0:
            raise ConfigError(
                f"retry_max_wait must be a non-negative number of seconds, got {self.retry_max_wait!r}",
                field="retry_max_wait",
            )
        if self.url:
            _check_server_url(self.url)

    @property
    def oidc(self) -> OidcConfig | None:
        """Single sign-on settings from the ``[auth.oidc]`` table, or None when it is absent."""
        raw = self.auth.get("oidc")
        return None if raw is None else OidcConfig.from_mapping(raw)

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL of the metadata store."""
        if self.db:
            return self.db
        return f"sqlite:///{self.home.absolute() / 'shipyard.db'}"

    @property
    def artifacts_uri(self) -> str:
        """The root of the artifact store: a local path or ``s3://bucket/prefix``."""
        if self.artifacts:
            return self.artifacts
        return str(self.home.absolute() / "artifacts")

    @property
    def spool_dir(self) -> Path:
        """Where logged points wait while the server at ``url`` is unreachable.

        One folder per server: spooled batches name runs of the server they were meant
        for, so a client of another server (or a test's throwaway one) never replays them.
        """
        server = hashlib.sha256((self.url or "").encode()).hexdigest()[:16]
        return self.home.absolute() / "spool" / server

    def with_(self, **changes: Any) -> Config:
        """A copy with some fields changed."""
        return replace(self, **changes)


_ROLES = ("viewer", "editor", "approver", "admin")  # as shipyard.access has them (a lower layer may not import it)


@dataclass(frozen=True)
class OidcConfig:
    """OpenID Connect login for ``shipyard server`` (the ``[auth.oidc]`` table).

    ``issuer`` is the provider's URL (discovery is read from its ``.well-known``);
    ``redirect_base`` the server's public URL, to which ``/auth/callback`` is appended.
    ``role_claim`` names the ID-token claim (a string or a list of strings) that
    ``roles`` maps to Shipyard roles; a user given several gets the strongest, and one
    given none gets ``default_role`` (None: refused). ``username_claim`` names the user.
    ``client_secret`` and ``session_secret`` (which signs session cookies; random per
    process when unset) never appear in ``repr`` or errors.

    >>> OidcConfig("https://id.example", "shipyard", "s", "https://ml.example").role_claim
    'groups'
    """

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_base: str
    role_claim: str = "groups"
    roles: Mapping[str, str] = field(default_factory=dict, hash=False)
    default_role: str | None = None
    username_claim: str = "preferred_username"
    scopes: str = "openid email profile"
    session_max_age: float = 8 * 3600.0
    session_secret: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("issuer", "client_id", "client_secret", "redirect_base", "role_claim", "username_claim"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ConfigError(f"auth.oidc.{name} must be a non-empty string", field=f"auth.oidc.{name}")
        for name in ("issuer", "redirect_base"):
            if not getattr(self, name).startswith(("https://", "http://")):
                raise ConfigError(f"auth.oidc.{name} must be an http(s) URL, got {getattr(self, name)!r:.80}",
                                  field=f"auth.oidc.{name}")
        if not isinstance(self.roles, Mapping) or any(
                not isinstance(k, str) or v not in _ROLES for k, v in self.roles.items()):
            raise ConfigError(f"auth.oidc.roles must map claim values to roles ({', '.join(_ROLES)})",
                              field="auth.oidc.roles")
        if self.default_role is not None and self.default_role not in _ROLES:
            raise ConfigError(f"auth.oidc.default_role must be one of {', '.join(_ROLES)}, "
                              f"got {self.default_role!r:.40}", field="auth.oidc.default_role")
        if (isinstance(self.session_max_age, bool) or not isinstance(self.session_max_age, int | float)
                or not math.isfinite(self.session_max_age) or self.session_max_age <= 0):
            raise ConfigError("auth.oidc.session_max_age must be a positive number of seconds",
                              field="auth.oidc.session_max_age")
        if self.session_secret is not None and (not isinstance(self.session_secret, str)
                                                or len(self.session_secret) < 32):
            raise ConfigError("auth.oidc.session_secret must be at least 32 characters",
                              field="auth.oidc.session_secret")

    @classmethod
    def from_mapping(cls, raw: Any) -> OidcConfig:
        """Build from a ``shipyard.toml`` table; unknown or missing keys are named, values never shown."""
        if isinstance(raw, OidcConfig):
            return raw
        if not isinstance(raw, Mapping):
            raise ConfigError("auth.oidc must be a table ([auth.oidc])", field="auth.oidc")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"auth.oidc: unknown keys {unknown}", field=f"auth.oidc.{unknown[0]}")
        missing = [n for n in ("issuer", "client_id", "client_secret", "redirect_base") if n not in raw]
        if missing:
            raise ConfigError(f"auth.oidc: missing keys {missing}", field=f"auth.oidc.{missing[0]}")
        return cls(**raw)


def _coerce(name: str, raw: Any) -> Any:
    if name == "home":
        return Path(raw)
    if name in ("alerts", "auth"):
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{name} must be a table ([{name}]), got {type(raw).__name__}", field=name)
        return dict(raw)
    if name == "system_metrics":
        return _flag(name, raw)
    if name in ("flush_interval", "retry_max_wait", "db_busy_timeout", "system_metrics_interval"):
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{name} must be a number of seconds, got {raw!r}", field=name
            ) from None
    if name in _LIMITS:
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be an integer, got {raw!r}", field=name) from None
    if name in ("log_buffer_points", "log_buffer_bytes"):
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be an integer, got {raw!r}", field=name) from None
    if name == "retries":
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"retries must be an integer, got {raw!r}", field=name) from None
    return str(raw) if raw is not None else None


def _flag(name: str, raw: Any) -> bool:
    """A boolean setting: a TOML boolean, or ``true/false``, ``1/0``, ``yes/no``, ``on/off`` as text."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}", field=name)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}", field=str(path)) from None
    # Accept both a flat file and one with a [shipyard] table.
    section = data.get("shipyard", data)
    for table in ("alerts", "auth"):  # [alerts…] and [auth.oidc] tables beside a [shipyard] table
        if section is not data and table in data:
            section = {**section, table: data[table]}
    known = {f.name for f in fields(Config)}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown keys {unknown}", field=unknown[0])
    return dict(section)


def _check_server_url(url: Any) -> None:
    """``SHIPYARD_URL`` (``url``) names a server: an http or https URL with a host."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        # .port raises ValueError for a port that is not a number
        good = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except (TypeError, ValueError, AttributeError):
        good = False
    if not good:
        shown = url.split("@")[-1] if isinstance(url, str) else url  # never echo credentials
        raise ConfigError(f"SHIPYARD_URL (url) must be the http:// or https:// URL of a Shipyard server, such as "
                          f"http://127.0.0.1:5000; got {shown!r:.80}", field="url")


def load_config(env: Mapping[str, str] | None = None, **overrides: Any) -> Config:
    """Build the configuration from overrides, the environment and ``shipyard.toml``."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    toml_path = Path(env.get("SHIPYARD_CONFIG", "shipyard.toml"))
    if toml_path.is_file():
        values.update(_read_toml(toml_path))
    for name, var in _ENV_KEYS.items():
        if env.get(var):
            values[name] = env[var]
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Config(**{k: _coerce(k, v) for k, v in values.items()})
