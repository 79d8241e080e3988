"""PyTorch Lightning: a logger that records into a Shipyard run, and ``Trainer.fit`` autologging.

:class:`LightningLogger` is a ``lightning.pytorch.loggers.Logger``: hyperparameters
become params (nested ones flattened with ``/``), ``self.log(...)`` values become
metrics at the trainer's global step, and with ``log_checkpoints=True`` every
checkpoint ``ModelCheckpoint`` writes is stored under ``checkpoints/``. It records
into ``run``, else the run active when it is first used, else a run it starts itself
and ends in ``finalize`` (FINISHED, or FAILED when training failed).

Autologging appends such a logger to the trainer for the duration of ``fit`` (a
trainer that already has one is left alone), records the optimizer, and packages
the model with the torch flavor when the module sets ``example_input_array``, which
``torch.export`` traces it with.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from argparse import Namespace
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from shipyard.client import Client
from shipyard.errors import MissingExtra, ShipyardError
from shipyard.fluent import ActiveRun, active_run, get_client, start_run
from shipyard.tracking import RunStatus

try:
    from lightning.fabric.utilities.logger import _convert_params, _flatten_dict, _sanitize_callable_params
    from lightning.pytorch import Trainer
    from lightning.pytorch.loggers import Logger
    from lightning.pytorch.utilities import rank_zero_only
except ImportError as error:
    if error.name is not None and error.name.partition(".")[0] == "lightning":
        raise MissingExtra("lightning", "lightning") from None
    raise

from shipyard.autolog._hooks import Patch, replace
from shipyard.autolog._record import Settings
from shipyard.autolog._run import log_metrics, log_params, recording

__all__ = ["LightningLogger", "patch"]

_ENDS = {"success": RunStatus.FINISHED, "finished": RunStatus.FINISHED, "failed": RunStatus.FAILED}


class LightningLogger(Logger):
    """Logs a Lightning training into a Shipyard run.

    ``run``: the run to record into (left running at the end); without one, the run
    active at first use, or a new one started with ``client`` (default: the fluent
    API's client) in ``experiment`` and ended by ``finalize``.

    >>> trainer = Trainer(logger=LightningLogger(experiment="mnist"))   # doctest: +SKIP
    """

    def __init__(self, run: ActiveRun | None = None, *, client: Client | None = None,
                 experiment: str | None = None, run_name: str | None = None, log_checkpoints: bool = False) -> None:
        super().__init__()
        self._run = run
        self._owns_run = False
        self._client = client
        self._experiment = experiment
        self._run_name = run_name
        self.log_checkpoints = log_checkpoints
        self._checkpoints_logged: set[str] = set()

    @property
    def run(self) -> ActiveRun:
        """The run this logger records into (started on first use when it has none)."""
        if self._run is None:
            self._run = active_run()
            if self._run is None:
                self._run = start_run(self._experiment, run_name=self._run_name,
                                      client=self._client or get_client())
                self._owns_run = True
        return self._run

    @property
    def experiment(self) -> ActiveRun:
        return self.run

    @property
    def name(self) -> str:
        return "shipyard"

    @property
    def version(self) -> str:
        return self.run.id

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        flat = _flatten_dict(_sanitize_callable_params(_convert_params(params)))
        log_params(self.run.client, self.run.id, flat)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        log_metrics(self.run.client, self.run.id, metrics, step or 0)

    @rank_zero_only
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if not self.log_checkpoints:
            return
        for path in (checkpoint_callback.last_model_path, checkpoint_callback.best_model_path):
            if path and path not in self._checkpoints_logged:
                self.run.client.log_artifact(self.run.id, path, "checkpoints")
                self._checkpoints_logged.add(path)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self._run is None:
            return
        if self._owns_run:
            self._run.end(_ENDS.get(status, RunStatus.FINISHED))
            self._run, self._owns_run = None, False  # a later trainer.test() starts a run of its own
        else:
            self._run.client.flush()


def patch(settings: Settings, module: ModuleType) -> list[Patch]:
    """Wrap ``Trainer.fit``."""
    return [replace(Trainer, "fit", functools.partial(_fit, settings))]


def _fit(settings: Settings, original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    trainer = args[0]
    if any(isinstance(logger, LightningLogger) for logger in trainer.loggers):
        return original(*args, **kwargs)  # the user chose where this training is recorded
    bound = inspect.signature(original).bind(*args, **kwargs).arguments
    model = bound.get("model")
    with recording(settings, type(model).__name__) as run:
        log_params(run.client, run.id, {"max_epochs": trainer.max_epochs, "max_steps": trainer.max_steps,
                                        "accumulate_grad_batches": trainer.accumulate_grad_batches})
        previous = trainer.loggers
        trainer.loggers = [*previous, LightningLogger(run)]
        try:
            result = original(*args, **kwargs)
        finally:
            trainer.loggers = previous
        _log_optimizer(run, trainer)
        if settings.log_models:
            _log_model(run, model)
        return result


def _log_optimizer(run: ActiveRun, trainer: Any) -> None:
    if not trainer.optimizers:
        return
    optimizer = trainer.optimizers[0]
    settings = {f"optimizer_{key}": value for key, value in optimizer.defaults.items()
                if isinstance(value, int | float | str | bool)}
    log_params(run.client, run.id, {"optimizer_name": type(optimizer).__name__, **settings})


def _log_model(run: ActiveRun, model: Any) -> None:
    example = getattr(model, "example_input_array", None)
    if example is None or not hasattr(example, "detach"):
        warnings.warn(f"autolog: {type(model).__name__} sets no example_input_array (a tensor), which exporting "
                      "it needs: its model package is not logged", RuntimeWarning, stacklevel=3)
        return
    training = model.training
    try:
        run.client.log_model(run.id, model, "model", input_example=example.detach().cpu().numpy())
    except ShipyardError as error:  # an export failure must not cost the user a finished training
        warnings.warn(f"autolog: the model package of {type(model).__name__} is not logged: {error}",
                      RuntimeWarning, stacklevel=3)
    finally:
        model.train(training)  # exporting switched it to eval mode
