"""The CLI reference page, written from the ``shipyard`` command tree itself.

Used two ways:

- as an MkDocs hook (``hooks:`` in ``mkdocs.yml``): every build adds ``reference/cli.md``
  to the site, generated from the installed CLI, so the page can never disagree with it;
  nothing generated is committed;
- as a script: ``python scripts/cli_reference.py`` prints the same Markdown.

Each command gets a heading (``## `shipyard models show` ``) and its ``--help`` text as
Click prints it with plain (non-rich) formatting.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click
import typer

PAGE = "reference/cli.md"
WIDTH = 100


def commands() -> Iterator[tuple[tuple[str, ...], click.Context]]:
    """Every command of ``shipyard``, groups included, with its path and a Click context."""
    from shipyard.cli.main import app, walk

    root = typer.main.get_command(app)
    for _, command in walk(root):
        command.rich_markup_mode = None  # type: ignore[attr-defined]  # plain help text
    contexts: dict[tuple[str, ...], click.Context] = {}
    for path, command in walk(root):
        parent = contexts.get(path[:-1]) if path else None
        name = path[-1] if path else "shipyard"
        ctx = click.Context(command, info_name=name, parent=parent, terminal_width=WIDTH, max_content_width=WIDTH)
        contexts[path] = ctx
        yield path, ctx


def render() -> str:
    """The Markdown of the CLI reference page."""
    out = [
        "# CLI reference",
        "",
        "Generated from the `shipyard` command itself when the site is built: each command's",
        "`--help`. Exit codes: 0 done, 1 error, 2 usage mistake, 3 a check failed.",
        "",
    ]
    for path, ctx in commands():
        title = " ".join(("shipyard", *path))
        out += [f"## `{title}`", "", "```text", ctx.command.get_help(ctx).rstrip(), "```", ""]
    return "\n".join(out)


def on_files(files: Any, config: Any) -> Any:
    """MkDocs hook: add the generated page to the build."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, PAGE, content=render()))
    return files


if __name__ == "__main__":
    print(render())
