"""``shipyard models list|show|register|alias|history|rollback|card|convert|policy``"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand

from shipyard.cli.output import JSON_OPTION, console, fmt_time, print_json, table
from shipyard.client import Client
from shipyard.errors import InvalidInput

app = typer.Typer(help="Model packages and the model registry.", no_args_is_help=True)


@app.command("list")
def list_(name_like: str | None = typer.Option(None, "--like", help="SQL LIKE pattern, e.g. 'churn%'"),
          as_json: bool = JSON_OPTION) -> None:
    """List registered models with their latest version and aliases."""
    with Client() as client:
        page = client.search_registered_models(name_like, max_results=1000)
    if as_json:
        from shipyard.registry._codec import to_json

        print_json({"items": [to_json(m) for m in page.items]})
        return
    console.print(table("Registered models", ["name", "latest", "aliases", "updated"], [
        [m.name, m.latest_version, ", ".join(f"{a}→v{v}" for a, v in sorted(m.aliases.items())) or "-",
         fmt_time(m.updated_at)] for m in page.items]))


def _model_uri(text: str) -> str:
    """``churn@production`` and ``churn/3`` as the ``models:/`` URIs they abbreviate."""
    return text if text.startswith(("models:/", "runs:/")) else f"models:/{text}"


@app.command("show")
def show(uri: str = typer.Argument(..., help="models:/name/3, models:/name@alias (or name/3, name@alias), "
                                             "or a model name for every version"),
         as_json: bool = JSON_OPTION) -> None:
    """Show a version (or every version of a model)."""
    from shipyard.registry._codec import to_json

    with Client() as client:
        if uri.startswith("models:/") or "@" in uri or "/" in uri:
            version = client.resolve_model(_model_uri(uri))
            document = to_json(version)
            versions = [version]
        else:
            model = client.get_registered_model(uri)  # a name nobody registered is an error, not an empty list
            versions = client.search_model_versions(uri, max_results=1000).items
            document = {**to_json(model), "versions": [to_json(v) for v in versions]}
    if as_json:
        print_json(document)
        return
    console.print(table("Model versions", ["model", "version", "aliases", "flavor", "run", "metrics", "created"], [
        [v.name, v.version, ", ".join(v.aliases) or "-", v.flavor, v.run_id,
         ", ".join(f"{k}={val:.4g}" for k, val in sorted(v.metrics.items())) or "-", fmt_time(v.created_at)]
        for v in versions]))


@app.command("register")
def register(source: str = typer.Argument(..., help="runs:/<run id>/<path> or a local package folder"),
             name: str = typer.Argument(..., help="Registered model name"),
             description: str | None = typer.Option(None)) -> None:
    """Register a model package as a new version."""
    with Client() as client:
        version = client.register_model(source, name, description=description)
    console.print(f"registered {version.uri}")


class _VersionCommand(TyperCommand):
    """A command whose VERSION argument Click would read as an option when negative
    (``-1``): that usage error says what a version is instead of "No such option"."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # Any: Click's Context, which typer vendors
        try:
            return super().parse_args(ctx, args)
        except typer.TyperException as exc:  # Click's usage errors
            option = getattr(exc, "option_name", "")
            if type(exc).__name__ != "NoSuchOption" or not re.fullmatch(r"-[0-9]+", option):
                raise
            raise typer.BadParameter(f"a version is a whole number of at least 1; got {option}",
                                     ctx=ctx, param_hint="'version'") from None


@app.command("alias", cls=_VersionCommand)
def alias(name: str, alias_: str = typer.Argument(..., metavar="ALIAS"),
          version: int = typer.Argument(..., min=1, help="Version number (1, 2, …)."),
          reason: str | None = typer.Option(None, help="Recorded in the audit log."),
          force: bool = typer.Option(False, "--force", help="Override a failing promotion policy.")) -> None:
    """Point ALIAS of model NAME at VERSION (guarded aliases check the promotion policy)."""
    with Client() as client:
        moved = client.set_alias(name, alias_, version, reason=reason, force=force)
    console.print(f"{name}@{alias_} → version {moved.version}" + (" (forced)" if force else ""))


@app.command("policy")
def policy(name: str, file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                                 help="JSON or YAML file with 'rules' and 'aliases'"),
           reason: str | None = typer.Option(None)) -> None:
    """Set the promotion policy of a model from a file."""
    import yaml

    text = file.read_text()
    try:
        data = yaml.safe_load(text) if file.suffix in (".yaml", ".yml") else json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{file} is not valid {'YAML' if file.suffix in ('.yaml', '.yml') else 'JSON'}: "
                           f"{' '.join(str(exc).split())}", field="file") from None
    with Client() as client:
        client.set_promotion_policy(name, data, reason=reason)
    console.print(f"policy of {name} set")


@app.command("history")
def history(name: str, as_json: bool = JSON_OPTION) -> None:
    """The audit trail of a model: who changed what, when, from what to what."""
    with Client() as client:
        events = client.model_history(name)
        if not events:  # the trail outlives a deleted model, so only a name never used has none
            client.get_registered_model(name)
    if as_json:
        from shipyard.registry._codec import to_json

        print_json({"items": [to_json(e) for e in events]})
        return
    console.print(table(f"History of {name}", ["#", "when", "who", "action", "entity", "before", "after", "reason"], [
        [e.id, fmt_time(e.at), e.actor, e.action + (" (forced)" if e.forced else ""), e.entity_id,
         json.dumps(e.before) if e.before else "-",
         json.dumps({k: v for k, v in (e.after or {}).items() if k != "checks"}) if e.after else "-", e.reason]
        for e in events]))


@app.command("rollback")
def rollback(name: str, alias_: str = typer.Option("production", "--alias"),
             reason: str | None = typer.Option(None)) -> None:
    """Move an alias back to the version that held it before."""
    with Client() as client:
        version = client.rollback_alias(name, alias_, reason=reason)
    console.print(f"{name}@{alias_} rolled back to version {version.version}")


@app.command("card")
def card(uri: str, html: bool = typer.Option(False, "--html", help="HTML instead of Markdown."),
         output: Path | None = typer.Option(None, "-o", "--output")) -> None:
    """Render the model card of a version."""
    with Client() as client:
        text = client.model_card(_model_uri(uri), "html" if html else "markdown")
    if output:
        output.write_text(text)
        console.print(f"wrote {output}")
    else:
        console.print(text, markup=False, highlight=False)


@app.command("convert")
def convert(uri: str, to: str = typer.Option("onnx", "--to", help="Target format (onnx).")) -> None:
    """Convert a scikit-learn version to ONNX and register the result as a new version."""
    with Client() as client:
        version = client.convert_model(uri, to=to)
    console.print(f"converted {uri} → {version.uri} ({version.flavor})")
