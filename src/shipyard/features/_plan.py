"""From feature references to a plan: which views to read, which features, under which names.

The same plan drives the offline join and the online lookup, and on-demand
features run through :func:`run_on_demand` in both, so a training set and a
served request compute them with the same function on the same inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput, NotFound
from shipyard.features._definitions import Definition, FeatureView, OnDemandFeatureView, RequestField
from shipyard.features._refs import output_name, parse_ref

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["OnDemandStep", "Plan", "ViewStep", "build_plan", "run_on_demand"]

#: Looks a view up by name: (definition, stored version) or NotFound.
ViewLookup = Callable[[str], tuple[Definition, int]]


@dataclass
class ViewStep:
    """Features read from one feature view; ``outputs`` are their column names."""

    view: FeatureView
    version: int
    features: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


@dataclass
class OnDemandStep:
    """An on-demand view: ``inputs`` maps each function input name to the column holding it."""

    view: OnDemandFeatureView
    version: int
    inputs: dict[str, str]
    features: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


@dataclass
class Plan:
    views: list[ViewStep]
    on_demand: list[OnDemandStep]
    join_keys: list[str]
    request_fields: list[RequestField]
    outputs: list[str]  # the requested columns, in the order of the references

    @property
    def offline_columns(self) -> list[str]:
        return [o for step in self.views for o in step.outputs]

    @property
    def versions(self) -> list[tuple[str, int]]:
        return [(s.view.name, s.version) for s in self.views]


def build_plan(refs: Sequence[str], lookup: ViewLookup, full_feature_names: bool = False) -> Plan:
    """Resolve ``refs`` (``"view:feature"``); NotFound names an unknown view or feature."""
    if isinstance(refs, str) or not isinstance(refs, Sequence) or not refs:
        raise InvalidInput("features must be a non-empty list of 'view:feature' references", field="features")
    if len(set(refs)) != len(refs):
        raise InvalidInput(f"a feature reference is listed twice: {list(refs)}", field="features")
    planner = _Planner(lookup, full_feature_names)
    outputs = [planner.request(*parse_ref(ref)) for ref in refs]
    if len(set(outputs)) != len(outputs):
        raise InvalidInput("two references give columns of the same name: pass full_feature_names=True",
                           field="features")
    return planner.plan(outputs)


#: Prefix of the columns that carry an on-demand view's inputs without being requested.
_HIDDEN = "__sy_in__"


def _hidden_name(view: str, feature: str) -> str:
    return f"{_HIDDEN}{view}__{feature}"


class _Planner:
    """The steps of a plan as references are added: each view looked up once, each feature read once.

    The features an on-demand view reads are read from their views under hidden
    column names, unless (or until) they are requested themselves.
    """

    def __init__(self, lookup: ViewLookup, full_feature_names: bool) -> None:
        self.lookup = lookup
        self.full_feature_names = full_feature_names
        self.views: dict[str, ViewStep] = {}
        self.demand: dict[str, OnDemandStep] = {}

    def request(self, view: str, feature: str) -> str:
        """Add the requested ``view:feature``; return its column."""
        step = self.step(view)
        if feature in step.features and step.outputs[step.features.index(feature)].startswith(_HIDDEN):
            return self._expose(step, view, feature)
        return self.add(view, feature, hidden=False)

    def step(self, name: str) -> ViewStep | OnDemandStep:
        """The step reading view ``name``, made on first use."""
        if name in self.views:
            return self.views[name]
        if name in self.demand:
            return self.demand[name]
        definition, version = self.lookup(name)
        if isinstance(definition, FeatureView):
            self.views[name] = ViewStep(definition, version)
            return self.views[name]
        if isinstance(definition, OnDemandFeatureView):
            self.demand[name] = self._on_demand_step(definition, version)
            return self.demand[name]
        raise NotFound(f"no feature view {name!r}", resource="feature_view", name=name)

    def _on_demand_step(self, definition: OnDemandFeatureView, version: int) -> OnDemandStep:
        """The step of an on-demand view, its feature inputs added (hidden) to the views they come from."""
        inputs = {}
        for item in definition.inputs:
            if isinstance(item, RequestField):
                inputs[item.name] = item.name
            else:
                src_view, src_feature = parse_ref(item)
                inputs[src_feature] = self.add(src_view, src_feature, hidden=True)
        return OnDemandStep(definition, version, inputs)

    def add(self, view: str, feature: str, hidden: bool) -> str:
        """Read ``feature`` from ``view`` (once); return the column holding it."""
        step = self.step(view)
        if feature not in step.view.features:
            raise NotFound(f"view {view!r} has no feature {feature!r} (it has {', '.join(step.view.features)})",
                           resource="feature", name=f"{view}:{feature}")
        if feature in step.features:
            return step.outputs[step.features.index(feature)]
        out = _hidden_name(view, feature) if hidden else output_name(view, feature, self.full_feature_names)
        step.features.append(feature)
        step.outputs.append(out)
        return out

    def _expose(self, step: ViewStep | OnDemandStep, view: str, feature: str) -> str:
        """A feature read already as an on-demand input, exposed under its public name too."""
        public = output_name(view, feature, self.full_feature_names)
        step.outputs[step.features.index(feature)] = public
        hidden = _hidden_name(view, feature)
        for other in self.demand.values():
            other.inputs = {k: (public if v == hidden else v) for k, v in other.inputs.items()}
        return public

    def plan(self, outputs: list[str]) -> Plan:
        """The plan of the steps added, giving ``outputs``."""
        keys = list(dict.fromkeys(k for s in self.views.values() for k in s.view.join_keys))
        fields = list({f.name: f for s in self.demand.values() for f in s.view.request_fields}.values())
        return Plan(list(self.views.values()), list(self.demand.values()), keys, fields, outputs)


def run_on_demand(step: OnDemandStep, columns: Mapping[str, Any], n: int) -> dict[str, Any]:
    """Call the view's function on a DataFrame of its inputs; return its features by output name.

    ``columns`` maps column names (see ``step.inputs``) to sequences of length ``n``.
    """
    import pandas as pd

    frame = pd.DataFrame({name: columns[col] for name, col in step.inputs.items()}, index=pd.RangeIndex(n))
    fn = step.view.resolve()
    result = fn(frame)
    if not isinstance(result, pd.DataFrame):
        raise InvalidInput(f"on-demand view {step.view.name!r} returned {type(result).__name__}, not a DataFrame",
                           field=step.view.name)
    if len(result) != n:
        raise InvalidInput(f"on-demand view {step.view.name!r} returned {len(result)} rows for {n}",
                           field=step.view.name)
    out = {}
    for feature, name in zip(step.features, step.outputs, strict=True):
        if feature not in result.columns:
            raise InvalidInput(f"on-demand view {step.view.name!r} did not return feature {feature!r}",
                               field=f"{step.view.name}:{feature}")
        out[name] = _cast(result[feature].reset_index(drop=True), step.view.features[feature])
    return out


def _cast(series: pd.Series, dtype: str) -> pd.Series:
    import pandas as pd

    try:
        if dtype in ("float64", "float32"):
            return pd.to_numeric(series, errors="raise").astype(dtype)
        if dtype in ("int64", "int32"):
            return series.astype("Int64" if series.isna().any() else dtype)
        if dtype == "bool":
            return series.astype("boolean" if series.isna().any() else "bool")
        if dtype == "string":
            return series.astype(object).where(series.notna(), None)
        return pd.to_datetime(series)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"an on-demand feature cannot be read as {dtype}: {exc}", field="features") from None
