"""A loaded model package: one interface over every flavor.

``predict`` and ``predict_proba`` accept a DataFrame, an ndarray, a dict of arrays
or a list of records, check it against the signature (see
:mod:`shipyard.models._validation`) and hand the result to the flavor. Without a
signature, input goes to the flavor as given (records become a DataFrame).

>>> model = load_model("churn-model", trust=True)  # doctest: +SKIP
>>> model.predict([{"age": 31, "plan": "pro"}])    # doctest: +SKIP
array([0])
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.models._example import load_example
from shipyard.models._manifest import ModelManifest
from shipyard.models._signature import Signature
from shipyard.models.flavors import Predictor

__all__ = ["Model"]


def _as_given(data: Any) -> Any:
    if isinstance(data, list) and data and all(isinstance(r, Mapping) for r in data):
        return pd.DataFrame.from_records(data)
    return data


class Model:
    """A model package loaded by ``load_model``: its manifest and a predictor.

    The validation a signature needs is worked out when the model loads, so a call
    does only the checks its input requires: an ndarray that already has the
    signature's dtype and width goes to the model untouched.
    """

    def __init__(self, manifest: ModelManifest, predictor: Predictor, path: str | Path) -> None:
        self.manifest = manifest
        self.path = Path(path)
        self._predictor = predictor
        signature = manifest.signature
        # Compiled here, at load, so the first request pays nothing extra.
        self._validate = signature.validator if signature is not None else _as_given
        self._predict = predictor.predict
        self._predict_proba = predictor.predict_proba

    @property
    def signature(self) -> Signature | None:
        """What the model takes and returns; None when saved without an example or signature."""
        return self.manifest.signature

    @property
    def flavor(self) -> str:
        return self.manifest.flavor

    @property
    def has_predict_proba(self) -> bool:
        """Whether :meth:`predict_proba` is available (classifiers, mostly)."""
        return self._predict_proba is not None

    def predict(self, data: Any) -> Any:
        """Validate ``data`` against the signature and return the model's predictions."""
        return self._predict(self._validate(data))

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities; ``InvalidInput`` when the model has none (see :attr:`has_predict_proba`)."""
        if self._predict_proba is None:
            raise InvalidInput(
                f"the {self.flavor} model at {self.path} has no predict_proba", field="predict_proba"
            )
        return self._predict_proba(self._validate(data))

    @property
    def input_example(self) -> pd.DataFrame | np.ndarray | dict[str, np.ndarray] | None:
        """The example stored with the model (read from the package on each access)."""
        name = self.manifest.input_example
        return None if name is None else load_example(self.path / name)

    def unwrap(self) -> Any:
        """The framework object underneath: an estimator, a Booster, a module, a session…"""
        return self._predictor.native

    def __repr__(self) -> str:
        return f"Model(flavor={self.flavor!r}, path={str(self.path)!r})"
