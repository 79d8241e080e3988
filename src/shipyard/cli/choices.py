"""Options that take one word of a fixed set (an ``Enum``'s values).

Typer checks such a word through pydantic and reports a stray one as "Value error, 'x' is
not one of …". Parsing the word here keeps Click's own wording ("Invalid value for '--ci':
'x' is not one of 'github', 'gitlab'.") and shows the words in the help.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

import typer

__all__ = ["choice"]

E = TypeVar("E", bound=Enum)


def choice(enum: type[E]) -> dict[str, Any]:
    """Keyword arguments for ``typer.Option``: a parser that turns a word into ``enum``'s member
    (refusing any other word, naming the allowed ones) and the words as the metavar.

    >>> typer.Option(CiSystem.github, "--ci", **choice(CiSystem))  # doctest: +SKIP
    """
    words = [str(member.value) for member in enum]

    def parse(value: object) -> E:
        if isinstance(value, enum):
            return value
        try:
            return enum(value)
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(map(repr, words))}.") from None

    parser: Callable[[object], E] = parse
    return {"parser": parser, "metavar": f"[{'|'.join(words)}]"}
