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
from shipyard.features.definitions import Definition, FeatureView, OnDemandFeatureView, RequestField
from shipyard.features.refs import output_name, parse_ref

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
    views: dict[str, ViewStep] = {}
    demand: dict[str, OnDemandStep] = {}
    outputs: list[str] = []

    def view_step(name: str) -> ViewStep | OnDemandStep:
        if name in views:
            return views[name]
        if name in demand:
            return demand[name]
        definition, version = lookup(name)
        if isinstance(definition, FeatureView):
            views[name] = ViewStep(definition, version)
            return views[name]
        if isinstance(definition, OnDemandFeatureView):
            inputs = {}
            for item in definition.inputs:
                if isinstance(item, RequestField):
                    inputs[item.name] = item.name
                else:
                    src_view, src_feature = parse_ref(item)
                    inputs[src_feature] = add(src_view, src_feature, hidden=True)
            demand[name] = OnDemandStep(definition, version, inputs)
            return demand[name]
        raise NotFound(f"no feature view {name!r}", resource="feature_view", name=name)

    def add(view: str, feature: str, hidden: bool) -> str:
        step = view_step(view)
        if feature not in step.view.features:
            raise NotFound(f"view {view!r} has no feature {feature!r} (it has {', '.join(step.view.features)})",
                           resource="feature", name=f"{view}:{feature}")
        if feature in step.features:
            return step.outputs[step.features.index(feature)]
        out = f"__sy_in__{view}__{feature}" if hidden else output_name(view, feature, full_feature_names)
        step.features.append(feature)
        step.outputs.append(out)
        return out

    for ref in refs:
        view, feature = parse_ref(ref)
        step = view_step(view)
        if feature in step.features and step.outputs[step.features.index(feature)].startswith("__sy_in__"):
            # Read already as an on-demand input: expose it under its public name too.
            index = step.features.index(feature)
            public = output_name(view, feature, full_feature_names)
            step.outputs[index] = public
            for other in demand.values():
                other.inputs = {k: (public if v == f"__sy_in__{view}__{feature}" else v)
                                for k, v in other.inputs.items()}
            outputs.append(public)
        else:
            outputs.append(add(view, feature, hidden=False))
    if len(set(outputs)) != len(outputs):
        raise InvalidInput("two references give columns of the same name: pass full_feature_names=True",
                           field="features")
    keys = list(dict.fromkeys(k for s in views.values() for k in s.view.join_keys))
    fields = list({f.name: f for s in demand.values() for f in s.view.request_fields}.values())
    return Plan(list(views.values()), list(demand.values()), keys, fields, outputs)


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
