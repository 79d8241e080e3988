"""The PyTorch flavor: ``torch.export`` programs and TorchScript modules, run on CPU.

What is stored, by what is saved:

* an ``ExportedProgram`` → ``torch.export.save`` (``model.pt2``);
* a ``ScriptModule`` → ``torch.jit.save`` (``model.pt``); TorchScript is deprecated
  in recent PyTorch, whose warning is silenced here because the format is the
  caller's explicit choice;
* any other ``nn.Module`` → exported with ``torch.export`` on the input example,
  batch dimension dynamic (an example of one row is repeated to two, since PyTorch
  specialises a dimension of size one).

Prediction runs under ``torch.inference_mode()``: ndarrays in, ndarrays out; a
dict of arrays is passed as positional arguments in signature order.

>>> TorchFlavor().matches(object())
False
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.models.flavors._base import Predictor, defined_in, pinned, reject_options, require

if TYPE_CHECKING:
    from shipyard.models._manifest import ModelManifest

__all__ = ["TorchFlavor"]

_EXPORT, _SCRIPT = "model.pt2", "model.pt"


@contextmanager
def _torchscript_allowed() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)
        yield


class TorchFlavor:
    """Saves PyTorch models as ``torch.export`` programs or TorchScript."""

    name = "torch"
    framework = "torch"

    def matches(self, model: Any) -> bool:
        return defined_in(model, "torch")

    def requirements(self, model: Any) -> list[str]:
        return pinned("torch")

    def save(
        self, model: Any, directory: Path, *, input_example: Any = None, **options: Any
    ) -> dict[str, Any]:
        reject_options(self.name, options)
        torch = require("torch", "torch")
        directory = Path(directory)
        if isinstance(model, torch.jit.ScriptModule):
            with _torchscript_allowed():
                torch.jit.save(model, str(directory / _SCRIPT))
            return {"format": "torchscript", "file": _SCRIPT}
        if not isinstance(model, torch.export.ExportedProgram):
            if not isinstance(model, torch.nn.Module):
                raise InvalidInput(f"the torch flavor cannot save a {type(model).__name__}", field="model")
            if input_example is None:
                raise InvalidInput(
                    "saving an nn.Module exports it with torch.export, which needs input_example "
                    "(or pass a ScriptModule or an ExportedProgram)",
                    field="input_example",
                )
            model = _export(torch, model, input_example)
        torch.export.save(model, str(directory / _EXPORT))
        return {"format": "export", "file": _EXPORT}

    def load(self, directory: Path, manifest: ModelManifest) -> Predictor:
        torch = require("torch", "torch")
        options = manifest.flavor_options
        path = str(Path(directory) / options["file"])
        if options.get("format") == "torchscript":
            with _torchscript_allowed():
                module = torch.jit.load(path, map_location="cpu")
            module.eval()
        else:
            # An exported program was traced in eval mode; its module has no train/eval switch.
            module = torch.export.load(path).module()

        def predict(data: Any) -> Any:
            with torch.inference_mode():
                return _to_numpy(module(*_tensors(torch, data)))

        return Predictor(native=module, predict=predict)


def _export(torch: Any, module: Any, example: Any) -> Any:
    args = _tensors(torch, _example_arrays(example))
    # Size-one dimensions are specialised by torch.export; two rows keep batch dynamic.
    args = tuple(torch.cat([a, a]) if a.shape[0] == 1 else a for a in args)
    dynamic = tuple({0: torch.export.Dim("batch")} for _ in args)
    module.eval()
    try:
        return torch.export.export(module, args, dynamic_shapes=dynamic)
    except Exception as exc:  # torch raises many types; the message is what helps
        raise InvalidInput(
            f"torch.export could not export {type(module).__name__}: {exc}", field="model"
        ) from exc


def _example_arrays(example: Any) -> Any:
    if isinstance(example, pd.DataFrame):
        return example.to_numpy()
    if isinstance(example, Mapping):
        return {k: np.asarray(v) for k, v in example.items()}
    return np.asarray(example)


def _tensors(torch: Any, data: Any) -> tuple[Any, ...]:
    if isinstance(data, pd.DataFrame):
        data = data.to_numpy()
    arrays = list(data.values()) if isinstance(data, Mapping) else [data]
    tensors = []
    for array in arrays:
        array = np.asarray(array)
        if not (array.flags.writeable and array.flags.c_contiguous):
            # torch.from_numpy shares memory and warns on read-only arrays (pandas views).
            array = np.ascontiguousarray(array).copy()
        tensors.append(torch.from_numpy(array))
    return tuple(tensors)


def _to_numpy(output: Any) -> Any:
    if isinstance(output, tuple | list):
        return tuple(_to_numpy(o) for o in output)
    if isinstance(output, Mapping):
        return {k: _to_numpy(v) for k, v in output.items()}
    return output.detach().cpu().numpy() if hasattr(output, "detach") else output
