"""Keras 3: a callback that records into a Shipyard run, and ``Model.fit`` autologging.

:class:`KerasCallback` records, at the start of training, ``fit``'s parameters
(epochs, steps per epoch) and the optimizer's (name, learning rate and
its other scalar settings); after each epoch, every value in ``logs`` (loss, the
compiled metrics, their ``val_`` twins) as a metric at step = epoch; at the end,
the model package (the Keras flavor), whose signature comes from ``input_example``.

It records into ``run``, else the run active when training begins, else a run it
starts and ends when training ends. Autologging adds one to the callbacks of every
outermost ``Model.fit`` (unless the call already has one), with the first rows of
``x`` as the example, and records the call's ``batch_size`` when it sets one.

Keras chooses its backend when first imported (``KERAS_BACKEND``; TensorFlow by
default); with none chosen and no TensorFlow, PyTorch is chosen (see the Keras flavor).
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

from shipyard.autolog._describe import example_rows
from shipyard.autolog._hooks import Patch, replace
from shipyard.autolog._record import Settings
from shipyard.autolog._run import log_metrics, log_params, recording
from shipyard.client import Client
from shipyard.errors import ConfigError, MissingExtra
from shipyard.fluent import ActiveRun, active_run, get_client, start_run
from shipyard.models.flavors._keras import choose_backend

choose_backend()
try:
    import keras
except ImportError as error:
    if error.name is None or error.name.partition(".")[0] == "keras":
        raise MissingExtra("keras", "keras") from None
    raise ConfigError(f"keras could not import its backend {error.name!r}: set KERAS_BACKEND=torch (or jax) "
                      "before keras is first imported", module=error.name) from None


__all__ = ["KerasCallback", "patch"]


class KerasCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Records a Keras training into a Shipyard run (see the module docstring).

    >>> model.fit(x, y, epochs=5, callbacks=[KerasCallback(input_example=x[:5])])   # doctest: +SKIP
    """

    def __init__(self, run: ActiveRun | None = None, *, client: Client | None = None,
                 experiment: str | None = None, run_name: str | None = None, log_models: bool = True,
                 input_example: Any = None) -> None:
        super().__init__()
        self.run = run
        self.client = client
        self.experiment = experiment
        self.run_name = run_name
        self.log_models = log_models
        self.input_example = input_example
        self._owned: ActiveRun | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.run is None:
            self.run = active_run()
            if self.run is None:
                self.run = self._owned = start_run(self.experiment, run_name=self.run_name,
                                                   client=self.client or get_client())
        params = {key: value for key, value in (self.params or {}).items() if key != "verbose"}
        log_params(self.run.client, self.run.id, {**params, **_optimizer_params(self.model)})

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.run is not None:
            log_metrics(self.run.client, self.run.id, logs or {}, epoch)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.run is None:
            return
        if self.log_models:
            self.run.client.log_model(self.run.id, self.model, "model", input_example=self.input_example)
        if self._owned is not None:
            self._owned.end()
            self.run = self._owned = None  # a later fit starts a run of its own


def _optimizer_params(model: Any) -> dict[str, Any]:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return {}
    with warnings.catch_warnings():
        # Keras's variables predate NumPy 2's copy keyword; reading them warns, and the values are right.
        warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept a copy keyword",
                                category=DeprecationWarning)
        config = optimizer.get_config()
    out: dict[str, Any] = {f"optimizer_{key}": value for key, value in config.items()
                           if isinstance(value, int | float | str | bool) and key != "name"}
    out["optimizer_name"] = type(optimizer).__name__
    if "optimizer_learning_rate" not in out:  # a schedule: its config is not a number, its value now is
        out["optimizer_learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    return out


def patch(settings: Settings, module: ModuleType) -> list[Patch]:
    """Wrap ``keras.Model.fit`` (inherited by ``Sequential`` and functional models)."""
    return [replace(keras.Model, "fit", functools.partial(_fit, settings))]


def _fit(settings: Settings, original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        bound = inspect.signature(original).bind(*args, **kwargs)
    except TypeError:  # the call itself is wrong: fit will say so
        return original(*args, **kwargs)
    callbacks = list(bound.arguments.get("callbacks") or [])
    if any(isinstance(callback, KerasCallback) for callback in callbacks):
        return original(*args, **kwargs)  # the user chose where this training is recorded
    model = args[0]
    with recording(settings, type(model).__name__) as run:
        if bound.arguments.get("batch_size") is not None:
            log_params(run.client, run.id, {"batch_size": bound.arguments["batch_size"]})
        recorder = KerasCallback(run, log_models=settings.log_models,
                                 input_example=example_rows(bound.arguments.get("x")))
        bound.arguments["callbacks"] = [*callbacks, recorder]
        return original(*bound.args, **bound.kwargs)
