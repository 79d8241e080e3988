"""One model version, loaded, checked at the door, warmed and live behind its batcher.

A :class:`Deployment` never changes version: following an alias means building a new
deployment beside the old one, warming it, swapping it into the route and draining
the old one (:mod:`shipyard.serving._service`).

A model that declares features (:mod:`shipyard.serving._features`) takes entity keys at
the door; each batch looks its features up once and assembles the model's input.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.serving._batcher import AdaptiveBatcher
from shipyard.serving._config import ModelConfig
from shipyard.serving._features import MODEL_INPUT, FeatureInput
from shipyard.serving._metrics import Metrics
from shipyard.serving._validation import InputCheck

if TYPE_CHECKING:
    from shipyard.models import Model, Signature

__all__ = ["Deployment", "synthetic_input"]


class Deployment:
    """``model`` as version ``version`` of the served model ``name``.

    :attr:`check` turns raw input into validated rows (raising ``InvalidInput``);
    :attr:`batcher` runs them. ``names`` are the signature's column names when it has
    columns (the inference log flattens them into one column each). ``features`` is
    given for a model that declares features: then :attr:`check` takes the request's
    entity keys and fields, and each batch assembles the model's input.
    """

    def __init__(self, name: str, version: str, model: Model, config: ModelConfig,
                 metrics: Metrics | None = None, features: FeatureInput | None = None) -> None:
        self.name = name
        self.version = version
        self.model = model
        self.metrics = metrics
        signature = model.signature
        self.signature: Signature | None = signature
        self.names = tuple(signature.names) if signature is not None and signature.kind == "columns" else None
        self.has_proba = model.has_predict_proba
        self.features = features
        self.model_check = (features.model_check if features is not None
                            else InputCheck(signature, model.manifest.metadata.get("data_contract")))
        self.check = features.check if features is not None else self.model_check
        self._predict, self._predict_proba = _fast_path(model)
        run = self._run if features is None else self._run_with_features
        self.batcher = AdaptiveBatcher(run, config.batching, max_queue=config.max_queue,
                                       timeout_s=config.timeout_s, queue_delay_s=config.queue_delay_ms / 1000,
                                       on_batch=self._on_batch)

    def __repr__(self) -> str:
        return f"Deployment({self.name!r}, version={self.version!r})"

    def _run(self, inputs: Any, proba: bool) -> dict[str, Any]:
        outputs = {"predict": self._predict(inputs)}
        if proba and self.has_proba:
            outputs["predict_proba"] = self._predict_proba(inputs)
        return outputs

    def _run_with_features(self, request: Any, proba: bool) -> dict[str, Any]:
        assert self.features is not None
        inputs = self.features.assemble(request)  # one lookup for the whole batch
        outputs = self._run(inputs, proba)
        outputs[MODEL_INPUT] = inputs  # split per request with the predictions; logged as the input
        return outputs

    def _on_batch(self, rows: int, seconds: float, outputs: dict[str, Any] | None) -> None:
        if self.metrics is not None:
            self.metrics.batch(self.name, self.version, rows, seconds)
            if outputs is not None:
                self.metrics.predictions(self.name, self.version, outputs.get("predict"))

    def warm(self, rounds: int = 20, budget_s: float = 2.0) -> None:
        """Run the input example (or a synthetic row) through the model a few times.

        The first calls of a model are slow (lazy imports, allocations); doing them
        here keeps them off the first requests, and seeds the batcher's latency
        estimate. Warming stops after ``rounds`` single-row calls or once ``budget_s``
        is spent, whichever comes first (one timed call at least), so a model that
        takes seconds per call is not held back for minutes. A model that fails on the
        example still goes live: its requests will say why.
        """
        example = self.model.input_example
        if example is None and self.signature is not None:
            example = synthetic_input(self.signature)
        if example is None:
            return
        deadline = time.perf_counter() + budget_s
        try:
            inputs, _ = self.model_check(example)
            for _ in range(3):
                self._run(inputs, True)
                if time.perf_counter() > deadline:
                    break
            first = _first_row(inputs)
            for _ in range(rounds):
                started = time.perf_counter()
                self._run(first, False)
                self.batcher.observe_latency(time.perf_counter() - started)
                if started > deadline:
                    break
        except Exception:  # noqa: BLE001 - see docstring
            return


def _fast_path(model: Model) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """The calls a batch goes through: the model's own, or a faster equivalent.

    A scikit-learn estimator fitted on a DataFrame gets a DataFrame built around every
    call, and checks its column names, which costs ~0.5 ms a call. The door has
    already put the columns in the signature's order; when that order is the
    estimator's ``feature_names_in_``, the validated matrix goes to the estimator
    directly (its "no feature names" warning, moot here, is silenced for the call).
    """
    native = model.unwrap() if model.flavor == "sklearn" else None
    names = getattr(native, "feature_names_in_", None)
    signature = model.signature
    if native is None or names is None or signature is None or list(names) != signature.names:
        return model.predict, model.predict_proba
    predict, predict_proba = native.predict, getattr(native, "predict_proba", None)

    def direct(method: Callable[[Any], Any], fallback: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def call(inputs: Any) -> Any:
            if type(inputs) is not np.ndarray or inputs.ndim != 2:
                return fallback(inputs)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="X does not have valid feature names")
                return method(inputs)
        return call

    return (direct(predict, model.predict),
            direct(predict_proba, model.predict_proba) if predict_proba is not None else model.predict_proba)


def _first_row(inputs: Any) -> Any:
    if isinstance(inputs, dict):
        return {k: v[:1] for k, v in inputs.items()}
    if hasattr(inputs, "iloc"):
        return inputs.iloc[:1]
    return inputs[:1]


def synthetic_input(signature: Signature) -> Any:
    """One row of zeros (empty strings for string columns) shaped like the signature."""
    def column(dtype: np.dtype[Any] | None, shape: tuple[int, ...]) -> np.ndarray:
        if dtype is None:
            return np.full(shape, "", dtype=object)
        return np.zeros(shape, dtype=dtype)

    if signature.kind == "columns":
        return {spec.name: column(spec.numpy_dtype, (1,)) for spec in signature.inputs}
    arrays = {
        spec.name: column(spec.numpy_dtype, tuple(1 if d == -1 else d for d in (spec.shape or (-1,))))
        for spec in signature.inputs
    }
    return next(iter(arrays.values())) if len(arrays) == 1 else arrays
