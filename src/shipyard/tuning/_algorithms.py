"""Samplers and pruners by name: what a search accepts, built for Optuna.

Samplers: ``tpe`` (default), ``random``, ``grid`` (every combination of a finite
space, each once) and ``cmaes``. Pruners: ``median`` (default), ``hyperband`` and
``none``. Options go to the Optuna class unchanged (``{"n_warmup_steps": 3}``).

A pruner is rebuilt from its name and options wherever a trial runs (a Ray worker),
so it must keep nothing that the study's storage does not: Optuna's median and
Hyperband pruners decide from the stored trials alone.

>>> make_pruner("median", {"n_startup_trials": 2}).__class__.__name__
'MedianPruner'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.tuning._space import Param, grid_values
from shipyard.tuning._storage import import_optuna

__all__ = ["PRUNERS", "SAMPLERS", "grid_size", "make_pruner", "make_sampler"]

SAMPLERS = ("tpe", "random", "grid", "cmaes")
PRUNERS = ("median", "hyperband", "none")


def _options(options: Mapping[str, Any] | None, field: str) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        raise InvalidInput(f"{field} must be a mapping of option names to values, got {options!r}", field=field)
    return dict(options)


def _build(cls: Any, options: dict[str, Any], field: str) -> Any:
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{field}: {cls.__name__} refused the options {options!r}: {exc}", field=field) from None


def grid_size(space: Mapping[str, Param]) -> int:
    """How many points a grid search over ``space`` has."""
    return math.prod(len(grid_values(name, p)) for name, p in space.items())


def make_sampler(name: str, space: Mapping[str, Param], seed: int | None,
                 options: Mapping[str, Any] | None = None) -> Any:
    """The Optuna sampler called ``name``; InvalidInput naming ``sampler`` for an unknown one."""
    optuna = import_optuna()
    opts = _options(options, "sampler_options")
    if name == "tpe":
        return _build(optuna.samplers.TPESampler, {"seed": seed, **opts}, "sampler_options")
    if name == "random":
        return _build(optuna.samplers.RandomSampler, {"seed": seed, **opts}, "sampler_options")
    if name == "grid":
        grid = {n: grid_values(n, p) for n, p in space.items()}
        return _build(optuna.samplers.GridSampler, {"search_space": grid, "seed": seed, **opts}, "sampler_options")
    if name == "cmaes":
        try:
            import cmaes  # noqa: F401  (Optuna imports it only when the first trial is sampled)
        except ImportError:
            from shipyard.errors import MissingExtra

            raise MissingExtra("cmaes", "tune") from None
        return _build(optuna.samplers.CmaEsSampler, {"seed": seed, **opts}, "sampler_options")
    raise InvalidInput(f"sampler must be one of {', '.join(SAMPLERS)}, got {name!r}", field="sampler")


def make_pruner(name: str | None, options: Mapping[str, Any] | None = None) -> Any:
    """The Optuna pruner called ``name`` (``none``/None: never prune); InvalidInput naming ``pruner``."""
    optuna = import_optuna()
    opts = _options(options, "pruner_options")
    if name is None or name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return _build(optuna.pruners.MedianPruner, opts, "pruner_options")
    if name == "hyperband":
        return _build(optuna.pruners.HyperbandPruner, opts, "pruner_options")
    raise InvalidInput(f"pruner must be one of {', '.join(PRUNERS)}, got {name!r}", field="pruner")
