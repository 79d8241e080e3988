"""The public surface: ``shipyard.__all__`` is deliberate, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

import shipyard
import shipyard.tracking

EXPORTED = [
    "ActiveRun",
    "AlreadyExists",
    "BeatsHolder",
    "Client",
    "CompatibleSignature",
    "Config",
    "ConfigError",
    "Conflict",
    "Experiment",
    "IntegrityError",
    "InvalidInput",
    "MaxLatency",
    "Metric",
    "MinMetric",
    "MissingExtra",
    "ModelVersion",
    "NotFound",
    "PromotionPolicy",
    "PromotionRefused",
    "RegisteredModel",
    "Run",
    "RunStatus",
    "ShipyardError",
    "StorageError",
    "Unavailable",
    "active_run",
    "autolog",
    "data",
    "datasets",
    "end_run",
    "features",
    "get_client",
    "load_config",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_input",
    "log_labels",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_output",
    "log_param",
    "log_params",
    "monitoring",
    "pipeline",
    "register_model",
    "save_model",
    "serve",
    "set_client",
    "set_tag",
    "set_tags",
    "start_run",
    "step",
]

# Faces, migrations, storage drivers and optional extras: each is imported only by
# the module that needs it, never by ``import shipyard``.
HEAVY_MODULES = [
    "alembic",
    "boto3",
    "fastapi",
    "httpx",
    "psycopg",
    "ray",
    "redis",
    "rich",
    "s3fs",
    "sqlalchemy",
    "starlette",
    "torch",
    "typer",
    "uvicorn",
    "xgboost",
]


def test_top_level_exports_are_exactly_the_pinned_names() -> None:
    assert shipyard.__all__ == EXPORTED


@pytest.mark.parametrize("module", [shipyard, shipyard.tracking], ids=lambda m: m.__name__)
def test_all_is_sorted_and_unique(module: types.ModuleType) -> None:
    assert module.__all__ == sorted(set(module.__all__))


@pytest.mark.parametrize("module", [shipyard, shipyard.tracking], ids=lambda m: m.__name__)
def test_every_exported_name_resolves(module: types.ModuleType) -> None:
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert missing == []


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from shipyard import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == EXPORTED


def test_top_level_error_classes_are_the_ones_in_errors() -> None:
    import shipyard.errors

    exported = [name for name in EXPORTED if name in shipyard.errors.__all__]
    assert len(exported) >= 10
    for name in exported:
        assert getattr(shipyard, name) is getattr(shipyard.errors, name)


# Runs in a fresh interpreter: records, for each heavy module, which module imported it first.
_PROBE = """
import builtins, sys
heavy, first = set(HEAVY), {}
real_import = builtins.__import__
def spy(name, globals=None, *args, **kwargs):
    top = name.partition(".")[0]
    if top in heavy and top not in sys.modules and top not in first:
        first[top] = (globals or {}).get("__name__", "?")
    return real_import(name, globals, *args, **kwargs)
builtins.__import__ = spy
import shipyard
print(" ".join(f"{m}<-{first.get(m, '?')}" for m in sorted(heavy) if m in sys.modules))
"""


def test_importing_shipyard_does_not_import_heavy_modules() -> None:
    probe = f"HEAVY = {HEAVY_MODULES!r}\n{_PROBE}"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []  # each entry reads "heavy<-module that imported it"
