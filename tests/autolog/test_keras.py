"""Keras 3: ``KerasCallback`` records a training into a run, and autologging adds one to ``fit``.

Keras runs on the PyTorch backend here (``KERAS_BACKEND=torch``, set before Keras is
first imported); the model is a two-layer classifier trained for three epochs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shipyard
from shipyard import Client, Run

os.environ.setdefault("KERAS_BACKEND", "torch")
keras: Any = pytest.importorskip("keras")

from shipyard.autolog import KerasCallback  # noqa: E402  (imports Keras: the backend is chosen above)

_RNG = np.random.default_rng(11)
_X = _RNG.normal(size=(32, 3)).astype(np.float32)
_Y = (_X[:, 0] > 0).astype(np.float32)


def _model() -> Any:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    client = Client(home=tmp_path)
    yield client
    client.close()


def _only_run(client: Client, experiment: str = "Default") -> Run:
    (run,) = client.search_runs(experiment).items
    return run


def test_callback_records_params_each_epoch_and_the_model(client: Client) -> None:
    model = _model()
    callback = KerasCallback(client=client, input_example=_X[:5])
    model.fit(_X, _Y, epochs=3, batch_size=8, verbose=0, validation_split=0.25, callbacks=[callback])
    run = _only_run(client)
    assert run.status.value == "FINISHED"
    assert run.params["epochs"] == "3" and run.params["optimizer_name"] == "Adam"
    assert float(run.params["optimizer_learning_rate"]) == pytest.approx(0.01)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert [m.step for m in client.get_metric_history(run.id, key)] == [0, 1, 2]
    packaged = client.load_model(f"runs:/{run.id}/model")
    assert packaged.flavor == "keras" and packaged.signature is not None
    expected = model(_X, training=False).detach().numpy()  # predict() warns under NumPy 2 on this backend
    np.testing.assert_allclose(packaged.predict(_X), expected, rtol=1e-5)


def test_autolog_adds_the_callback_and_records_the_batch_size(client: Client) -> None:
    shipyard.autolog(client=client, frameworks=["keras"])
    try:
        _model().fit(_X, _Y, epochs=2, batch_size=16, verbose=0)
    finally:
        shipyard.autolog(disable=True)
    run = _only_run(client)
    assert run.name == "autolog-Sequential" and run.params["batch_size"] == "16"
    assert len(client.get_metric_history(run.id, "loss")) == 2
    packaged = client.load_model(f"runs:/{run.id}/model")
    example = packaged.input_example
    assert isinstance(example, np.ndarray) and example.shape == (5, 3)  # the first rows of x


def test_autolog_leaves_a_fit_that_has_its_own_callback_and_disable_restores_fit(client: Client) -> None:
    shipyard.autolog(client=client, frameworks=["keras"], log_models=False)
    try:
        with shipyard.start_run("mine", client=client) as run:
            _model().fit(_X, _Y, epochs=1, verbose=0, callbacks=[KerasCallback(run, log_models=False)])
    finally:
        shipyard.autolog(disable=True)
    assert client.search_runs("Default").items == [] and _only_run(client, "mine").id == run.id
    assert not hasattr(keras.Model.fit, "_shipyard_original_fit")
