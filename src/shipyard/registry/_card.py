"""Model cards: a readable summary of a version, built only from what the registry knows.

Users fill in the prose through tags on the registered model (``intended_use``,
``limitations``, ``ethical_considerations``, ``owner``); everything else — metrics,
signature, source run, data, lineage, promotion history — is read, never typed.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.lineage import LineageGraph
from shipyard.registry._entities import ModelVersion, RegisteredModel
from shipyard.tracking import Run

__all__ = ["CARD_FIELDS", "render_card"]

CARD_FIELDS = ("intended_use", "limitations", "ethical_considerations", "owner")
_PLACEHOLDER = "_Not filled in yet: set the tag `{key}` on the registered model._"

Section = tuple[str, str | list[list[str]]]  # a title and either prose or table rows (first row = header)


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _sections(model: RegisteredModel, version: ModelVersion, run: Run | None,
              lineage: LineageGraph) -> list[Section]:
    details = [["field", "value"],
               ["name", version.name], ["version", str(version.version)],
               ["aliases", ", ".join(version.aliases) or "-"], ["flavor", version.flavor or "-"],
               ["registered", _when(version.created_at)], ["registered by", version.user or "-"],
               ["source", version.source]]
    if model.description:
        details.append(["description", model.description])
    sections: list[Section] = [("Model details", details)]
    for key in CARD_FIELDS[:3]:
        sections.append((key.replace("_", " ").capitalize(), model.tags.get(key) or _PLACEHOLDER.format(key=key)))
    if version.metrics:
        sections.append(("Metrics", [["metric", "value"]] +
                         [[k, f"{v:.6g}"] for k, v in sorted(version.metrics.items())]))
    inputs = (version.signature or {}).get("inputs") or []
    if inputs:
        sections.append(("Signature (inputs)", [["name", "type", "shape", "optional"]] + [
            [str(c.get("name", "")), str(c.get("dtype", "")), str(c.get("shape") or "-"),
             "yes" if c.get("optional") else "no"] for c in inputs]))
    if run is not None:
        rows = [["param", "value"]] + [[k, v] for k, v in sorted(run.params.items())]
        git = (run.environment or {}).get("git") or {}
        sections.append((f"Training run {run.id}", rows if len(rows) > 1 else "No params logged."))
        if git:
            sections.append(("Code", f"git commit `{git.get('commit')}`" + (" (dirty)" if git.get("dirty") else "")))
    data = sorted({str(e.src) for e in lineage.upstream if e.src.type == "dataset"})
    sections.append(("Training data", ", ".join(data) if data else "No dataset recorded in lineage."))
    edges = [["from", "relation", "to"]] + [[str(e.src), e.relation, str(e.dst)]
                                            for e in (*lineage.upstream, *lineage.downstream)]
    sections.append(("Lineage", edges if len(edges) > 1 else "No lineage recorded."))
    return sections


def _markdown(title: str, sections: list[Section]) -> str:
    out = [f"# {title}", ""]
    for heading, body in sections:
        out += [f"## {heading}", ""]
        if isinstance(body, str):
            out += [body, ""]
        else:
            out.append("| " + " | ".join(body[0]) + " |")
            out.append("|" + "---|" * len(body[0]))
            out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in body[1:]]
            out.append("")
    return "\n".join(out)


def _html(title: str, sections: list[Section]) -> str:
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>",
             "<style>body{font-family:system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}"
             "</style></head><body>", f"<h1>{e(title)}</h1>"]
    for heading, body in sections:
        parts.append(f"<h2>{e(heading)}</h2>")
        if isinstance(body, str):
            parts.append(f"<p>{e(body)}</p>")
        else:
            head = "".join(f"<th>{e(c)}</th>" for c in body[0])
            rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in body[1:])
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    parts.append("</body></html>")
    return "".join(parts)


def render_card(model: RegisteredModel, version: ModelVersion, run: Run | None, lineage: LineageGraph,
                format: str = "markdown") -> str:
    """Render the card of ``version`` as ``"markdown"`` or ``"html"``."""
    renderers: dict[str, Any] = {"markdown": _markdown, "md": _markdown, "html": _html}
    if format not in renderers:
        raise InvalidInput(f"format must be 'markdown' or 'html', got {format!r}", field="format")
    return str(renderers[format](f"Model card: {version.name} v{version.version}",
                                 _sections(model, version, run, lineage)))
