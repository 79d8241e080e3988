"""``shipyard features apply|list|show|materialize|materialize-incremental|get|check-skew``"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from shipyard.cli.output import JSON_OPTION, console, fmt_time, print_json, table
from shipyard.cli.skew import check_skew
from shipyard.cli.user_code import loading
from shipyard.errors import InvalidInput, NotFound
from shipyard.timeutil import format_duration

app = typer.Typer(help="Feature store: definitions, materialization, online lookups.", no_args_is_help=True)


@contextlib.contextmanager
def _store() -> Iterator[Any]:
    """The feature store of the configuration; its client is closed at the end of the block."""
    from shipyard.client import Client

    with Client() as client:
        yield client.features


def load_definitions(path: Path) -> list[Any]:
    """Execute a Python file and collect the Entity, FeatureView and OnDemandFeatureView objects
    it defines at module level (its folder goes on ``sys.path`` so it can import neighbours)."""
    from shipyard.features import Entity, FeatureView, OnDemandFeatureView

    path = Path(path).resolve()
    if not path.is_file():
        raise NotFound(f"no definitions file at {str(path)!r}", resource="file", path=str(path))
    name = path.stem if path.stem.isidentifier() else "shipyard_feature_defs"
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # on-demand functions record this module name
    with loading(path):
        spec.loader.exec_module(module)
    found: dict[tuple[str, str], Any] = {}
    for value in vars(module).values():
        if isinstance(value, (Entity, FeatureView, OnDemandFeatureView)):
            found.setdefault((value.kind, value.name), value)
    if not found:
        raise InvalidInput(f"{path.name} defines no Entity, FeatureView or OnDemandFeatureView", field="path")
    return list(found.values())


@app.command("apply")
def apply(path: Path = typer.Argument(..., help="Python file defining entities and feature views"),
          force: bool = typer.Option(False, "--force", help="Store incompatible changes anyway")) -> None:
    """Store the definitions of PATH (a new version of each one that changed)."""
    objects = load_definitions(path)
    with _store() as store:
        results = store.apply(objects, force=force)
    console.print(table("Applied", ["kind", "name", "version", "status", "changes"], [
        [r.kind, r.name, r.version, r.status, "; ".join(r.changes)] for r in results]))


@app.command("list")
def list_(as_json: bool = JSON_OPTION) -> None:
    """List feature views and on-demand views."""
    from shipyard.features import FeatureView

    with _store() as store:
        rows, items = [], []
        for obj in store.registry.list_objects():
            if obj.kind == "entity":
                continue
            view = store.get_view(obj.name)
            state = store.registry.materialization(obj.name) if isinstance(view, FeatureView) else None
            keys = list(view.join_keys) if isinstance(view, FeatureView) else []
            ttl = view.ttl if isinstance(view, FeatureView) and view.ttl else None
            items.append({"name": obj.name, "kind": obj.kind, "version": obj.version, "join_keys": keys,
                          "features": list(view.features), "ttl_s": ttl.total_seconds() if ttl else None,
                          "materialization": state.to_json() if state else None})
            rows.append([obj.name, obj.version, ", ".join(keys) or "(on demand)", ", ".join(view.features),
                         format_duration(int(ttl.total_seconds())) if ttl else "-",
                         fmt_time(state.materialized_at) if state else "-"])
    if as_json:
        print_json({"items": items})
        return
    console.print(table("Feature views", ["name", "version", "keys", "features", "ttl", "materialized"], rows))


@app.command("show")
def show(view: str = typer.Argument(..., help="View name"), as_json: bool = JSON_OPTION) -> None:
    """Show a view's definition, its versions and its materialization state."""
    from shipyard.features import FeatureView

    with _store() as store:
        kind = "feature_view" if isinstance(store.get_view(view), FeatureView) else "on_demand_view"
        versions = store.registry.versions(kind, view)
        state = store.registry.materialization(view) if kind == "feature_view" else None
        newest = store.freshness(view) if kind == "feature_view" else None
    if as_json:
        print_json({"name": view, "kind": kind, "spec": versions[0].spec,
                    "versions": [{k: v for k, v in o.to_json().items() if k != "spec"} for o in versions],
                    "materialization": state.to_json() if state else None, "newest_value_age_s": newest})
        return
    console.print_json(data=versions[0].spec)
    console.print(table(f"Versions of {view}", ["version", "fingerprint", "forced", "created"], [
        [v.version, v.fingerprint[:12], "yes" if v.forced else "", fmt_time(v.created_at)] for v in versions]))
    if state is not None:
        console.print(f"materialized up to {fmt_time(state.end_us // 1000)} ({state.rows:,} rows, "
                      f"at {fmt_time(state.materialized_at)})")
    if newest is not None:
        console.print(f"newest online value: {newest:,.0f} s old")


def _views(view: list[str] | None) -> list[str] | None:
    return list(view) if view else None


@app.command("materialize")
def materialize(start: str = typer.Option(..., "--start", help="ISO time, inclusive"),
                end: str = typer.Option(..., "--end", help="ISO time, exclusive"),
                view: list[str] | None = typer.Option(None, "--view", help="Only this view (repeatable)")) -> None:
    """Write the latest value per entity with event time in [START, END) to the online store."""
    with _store() as store:
        states = store.materialize(start, end, _views(view))
    for state in states:
        console.print(f"{state.view}: {state.rows:,} entities")


@app.command("materialize-incremental")
def materialize_incremental(end: str | None = typer.Option(None, "--end", help="ISO time (default: now)"),
                            view: list[str] | None = typer.Option(None, "--view", help="Only this view")) -> None:
    """Materialize each view from where it last ended up to END."""
    with _store() as store:
        states = store.materialize_incremental(end, _views(view))
    for state in states:
        console.print(f"{state.view}: {state.rows:,} entities")


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_entity(text: str) -> dict[str, Any]:
    """``user_id=5,amount=12.5`` → ``{"user_id": 5, "amount": 12.5}``."""
    row = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--entity takes key=value[,key=value], got {text!r}", field="entity")
        row[key.strip()] = _value(value.strip())
    return row


@app.command("get")
def get(refs: list[str] = typer.Argument(..., help="Feature references, view:feature"),
        entity: list[str] = typer.Option(..., "--entity", help="key=value[,key=value] per entity (repeatable)"),
        as_json: bool = typer.Option(False, "--json", help="Print the columns as JSON.")) -> None:
    """Look features up in the online store."""
    rows = [parse_entity(e) for e in entity]
    with _store() as store:
        columns = store.get_online_features(refs, rows).to_dict()
    if as_json:
        print_json(columns)
        return
    names = list(columns)
    console.print(table(None, names, [[columns[n][i] for n in names] for i in range(len(rows))]))


app.command("check-skew")(check_skew)  # defined in shipyard.cli.skew
