"""Which of a model's inputs a monitor's reference can compare, checked when the monitor is made.

A window's drift compares the inputs in the log with the same columns of the
reference. A reference that holds none of the model's inputs (another dataset, or
columns renamed since training) can compare nothing: every window would show no
drift however far the traffic moved. So :func:`check_coverage` refuses such a
monitor, naming the inputs the reference lacks, and warns (:class:`CoverageWarning`)
when it lacks only some of them: those get no drift score.

The model's inputs come from, in order: the monitor's ``columns`` option; the
column signature of the registered version the monitor watches (the alias's
version, the version named, or the latest); the newest segment of the model's
inference log. When none of these is known yet (a registered model whose version has
no column signature, or no such alias yet, before its first request) nothing is
checked here; a window that then compares nothing is stored with status
``incomparable`` (see :mod:`shipyard.monitoring._window`). A model that is neither
registered nor has an inference log (a misspelt name, or one served from a folder
before its first request) is refused before this check (``Monitoring.check_model``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shipyard.errors import InvalidInput, NotFound, ShipyardError
from shipyard.monitoring._entities import ModelRef, Monitor

__all__ = ["Coverage", "CoverageWarning", "check_coverage", "check_monitor", "model_inputs"]

logger = logging.getLogger("shipyard.monitoring")

_SHOWN = 12  # column names quoted in a message before "… and N more"


class CoverageWarning(UserWarning):
    """A monitor's reference lacks some of the model's inputs: those get no drift score."""


@dataclass(frozen=True)
class Coverage:
    """The model's inputs (and where they were read), the reference's columns, and their overlap."""

    inputs: tuple[str, ...]
    source: str
    reference: tuple[str, ...]

    @property
    def compared(self) -> tuple[str, ...]:
        """The inputs the reference holds too: the ones whose drift is computed."""
        known = set(self.reference)
        return tuple(c for c in self.inputs if c in known)

    @property
    def missing(self) -> tuple[str, ...]:
        """The inputs the reference lacks."""
        known = set(self.reference)
        return tuple(c for c in self.inputs if c not in known)


def names(columns: Sequence[str]) -> str:
    """Column names for a message: the first few, then how many more."""
    shown = ", ".join(columns[:_SHOWN])
    return f"{shown} … and {len(columns) - _SHOWN} more" if len(columns) > _SHOWN else shown


def model_inputs(ref: ModelRef, *, registry: Any = None, tracking: Any = None) -> tuple[list[str], str] | None:
    """The input columns the model watched by ``ref`` reads, and where that was learnt;
    None when neither its registered signature nor its inference log tells."""
    from_signature = _signature_inputs(ref, registry) if registry is not None else None
    if from_signature is not None:
        return from_signature
    if tracking is not None:
        from shipyard.monitoring._inference import InferenceLogReader

        logged = InferenceLogReader(tracking, ref).logged_inputs()
        if logged:
            return logged, "its inference log's columns"
    return None


def _signature_inputs(ref: ModelRef, registry: Any) -> tuple[list[str], str] | None:
    from shipyard.models import Signature

    if ref.alias:
        uri = f"models:/{ref.name}@{ref.alias}"
    elif ref.version is not None:
        uri = f"models:/{ref.name}/{ref.version}"
    else:
        uri = f"models:/{ref.name}/latest"
    try:
        version = registry.resolve(uri)
    except NotFound:
        return None  # not registered (or no such alias yet): served from elsewhere
    except ShipyardError as exc:
        logger.warning("model %s: its signature could not be read: %s", ref, exc)
        return None
    if not version.signature:
        return None
    signature = Signature.from_dict(version.signature)
    if signature.kind != "columns" or not signature.names:
        return None  # tensors: the log holds no named inputs to compare
    return list(signature.names), f"the signature of {ref.name} version {version.version}"


def check_coverage(monitor: Monitor, reference_columns: Sequence[str], *, registry: Any = None,
                   tracking: Any = None) -> Coverage | None:
    """Refuse a monitor whose reference holds none of the model's inputs; warn when it lacks some.

    ``reference_columns`` are the columns of the monitor's reference. Raises
    :class:`~shipyard.errors.InvalidInput` (``field="reference"``, ``missing``: the
    inputs the reference lacks) when it holds none; warns with
    :class:`CoverageWarning` when it lacks some. Returns what was compared, or None
    when the model's inputs are not known yet (nothing is checked then).
    """
    label = monitor.label_column
    reference = tuple(c for c in reference_columns if c != label)
    if label is not None and label not in reference_columns:
        raise InvalidInput(f"label_column {label!r} is not a column of reference {monitor.reference!r} "
                           f"(it has {names(list(reference_columns))})", field="label_column")
    columns = monitor.options.get("columns")
    if columns:
        found: tuple[list[str], str] | None = (list(columns), "the monitor's columns")
    else:
        found = model_inputs(monitor.model_ref, registry=registry, tracking=tracking)
    if found is None:
        return None
    inputs, source = found
    coverage = Coverage(tuple(c for c in inputs if c != label), source, reference)
    if coverage.inputs and not coverage.compared:
        raise InvalidInput(
            f"reference {monitor.reference!r} has none of the inputs of {monitor.model} ({source}: "
            f"{names(list(coverage.inputs))}); it has {names(list(reference))}. Its windows could compare "
            f"nothing: give the dataset the model was trained on, or the inputs to watch as columns=[...]",
            field="reference", missing=list(coverage.missing))
    if coverage.missing:
        message = (f"reference {monitor.reference!r} lacks {len(coverage.missing)} of the "
                   f"{len(coverage.inputs)} inputs of {monitor.model} ({names(list(coverage.missing))}): "
                   f"they get no drift score; drift is computed for {names(list(coverage.compared))}")
        logger.warning("monitor %s: %s", monitor.name, message)
        warnings.warn(message, CoverageWarning, stacklevel=4)  # the caller of Client.create_monitor
    return coverage


def check_monitor(monitor: Monitor, *, datasets: Any, registry: Any = None, tracking: Any = None) -> Coverage | None:
    """:func:`check_coverage` against the monitor's reference, read from ``datasets``
    (refused too when the reference has no stored profile); None without a reference."""
    from shipyard.monitoring._monitor import load_reference

    if monitor.reference is None:
        return None
    profile = load_reference(datasets, monitor.reference)
    return check_coverage(monitor, list(profile.columns), registry=registry, tracking=tracking)
