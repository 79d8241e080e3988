"""The Keras flavor beyond the shared round trip: matching, what the manifest records, the backend.

Keras runs on the PyTorch backend here (``KERAS_BACKEND=torch``, set before Keras is
first imported).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shipyard.errors import InvalidInput
from shipyard.models import flavor_for_model, get_flavor, save_model

os.environ.setdefault("KERAS_BACKEND", "torch")
keras: Any = pytest.importorskip("keras")


def _net() -> Any:
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def test_a_keras_model_is_matched_to_keras_though_it_is_a_torch_module() -> None:
    import torch

    net = _net()
    assert isinstance(net, torch.nn.Module)  # on this backend every Keras layer is one
    assert flavor_for_model(net).name == "keras"


def test_the_manifest_records_the_backend_and_pins_keras_and_it(tmp_path: Path) -> None:
    import torch

    manifest = save_model(_net(), tmp_path / "pkg", input_example=np.zeros((2, 3), dtype=np.float32))
    assert manifest.flavor_options["backend"] == "torch" and "model.keras" in manifest.files
    assert f"keras=={keras.__version__}" in manifest.requirements
    assert f"torch=={torch.__version__.split('+')[0]}" in [r.split("+")[0] for r in manifest.requirements]


def test_something_that_is_not_a_keras_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot save a Dense") as caught:
        save_model(keras.layers.Dense(2), tmp_path / "pkg", flavor=get_flavor("keras"))
    assert caught.value.field == "model"


def _load_without_tensorflow(package: Path, backend: str | None) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = None\n"  # what a machine without TensorFlow looks like to import
        "from shipyard.errors import ConfigError\n"
        "from shipyard.models import load_model\n"
        "try:\n"
        f"    print(type(load_model({str(package)!r}, trust=True).unwrap()).__name__)\n"
        "except ConfigError as error:\n"
        "    print(error)\n"
    )
    environment = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    if backend is not None:
        environment["KERAS_BACKEND"] = backend
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=environment)


def test_with_no_backend_chosen_and_no_tensorflow_keras_runs_on_pytorch(tmp_path: Path) -> None:
    save_model(_net(), tmp_path / "pkg", input_example=np.zeros((2, 3), dtype=np.float32))
    done = _load_without_tensorflow(tmp_path / "pkg", backend=None)
    assert done.returncode == 0, done.stderr
    assert "KERAS_BACKEND" not in done.stdout and done.stdout.strip(), done.stdout


def test_loading_with_a_backend_that_is_missing_names_keras_backend(tmp_path: Path) -> None:
    save_model(_net(), tmp_path / "pkg", input_example=np.zeros((2, 3), dtype=np.float32))
    done = _load_without_tensorflow(tmp_path / "pkg", backend="tensorflow")
    assert done.returncode == 0, done.stderr
    assert "KERAS_BACKEND=torch" in done.stdout and "saved with the torch backend" in done.stdout
