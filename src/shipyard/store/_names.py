"""What every backend accepts as a name: one rule, checked before anything is stored.

The metadata schema gives names 256 characters and keys (of params, metrics and tags)
250. Within those, a name may hold any printable text, but no control character: NUL,
which SQLite stores and PostgreSQL refuses, so a backend would decide what is legal;
newlines and other C0/C1 controls, which make names that print as something else; and
lone surrogates, which no database encoding can hold. Domains layer their own character
rules (keys, dataset and model names) on top of :func:`check_name`.

>>> check_name("churn model", "name")
'churn model'
>>> check_name("a\\x00b", "name")
Traceback (most recent call last):
...
shipyard.errors.InvalidInput: name 'a\\x00b' contains a control character (U+0000)
"""

from __future__ import annotations

import re

from shipyard.errors import InvalidInput

__all__ = ["MAX_KEY_LENGTH", "MAX_NAME_LENGTH", "check_name"]

#: Characters of a name column (experiments, runs, models, datasets).
MAX_NAME_LENGTH = 256
#: Characters of a key column (params, metrics, tags).
MAX_KEY_LENGTH = 250

_REFUSED = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def check_name(value: object, field: str, *, max_length: int = MAX_NAME_LENGTH) -> str:
    """Return ``value`` if it is a string of 1 to ``max_length`` characters with no control
    character or lone surrogate; else raise ``InvalidInput(field=field)``."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{field} must be a non-empty string, got {value!r:.80}", field=field)
    if len(value) > max_length:
        raise InvalidInput(f"{field} {value[:40]!r}… is {len(value)} characters; the limit is {max_length}",
                           field=field, limit=max_length)
    refused = _REFUSED.search(value)
    if refused:
        raise InvalidInput(f"{field} {value[:80]!r} contains a control character "
                           f"(U+{ord(refused.group()):04X})", field=field)
    return value
