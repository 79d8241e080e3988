"""The one way delivery commands put a finished output folder in place.

Every command writes its files into a staging folder beside ``--out`` and moves it in
at the end, so a failure never leaves a partial output behind and a replaced folder
(``--force``) is swapped whole: the old one is set aside, the new one renamed in, and
the old one removed only once the new one is there.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

__all__ = ["move_into_place"]


def move_into_place(staging: Path, target: Path) -> None:
    """Make ``staging`` (a folder beside ``target``) be ``target``, replacing what was there."""
    if not target.exists() or not any(target.iterdir()):
        os.replace(staging, target)  # an empty folder is replaced in one step
        return
    old = target.with_name(f".{target.name}.{secrets.token_hex(4)}.old")
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
