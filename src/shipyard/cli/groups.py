"""The class of command groups whose commands include groups.

Click suggests the commands of a group whose names are close to a mistyped one. A user who
types ``shipyard alerts add`` means ``shipyard alerts rule add``, one level down, which no
spelling check finds: :class:`NestedGroup` names it.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

__all__ = ["NestedGroup"]


class NestedGroup(TyperGroup):
    """A group that, for a word naming none of its commands but a command of one of its
    groups, adds "Did you mean 'shipyard alerts rule add'?" to Click's "No such command"."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except typer.TyperException as exc:
            message = getattr(exc, "message", None)
            word = args[0] if args else None
            if word is None or not isinstance(message, str) or "Did you mean" in message:
                raise
            nested = [f"{ctx.command_path} {name} {word}" for name, sub in sorted(self.commands.items())
                      if word in (getattr(sub, "commands", None) or {})]
            if nested:
                exc.message = f"{message.rstrip('.')}. Did you mean {', '.join(map(repr, nested))}?"  # type: ignore[attr-defined]
            raise
