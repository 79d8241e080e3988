"""Every package's surface is its ``__init__`` and a sorted ``__all__``; the modules behind it are private.

The names each package exports are pinned in ``package_surfaces.json`` beside this
file, so a change to any package's public surface is a deliberate edit of that file.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "shipyard"
PINNED = json.loads((Path(__file__).with_name("package_surfaces.json")).read_text())
# Faces and helpers whose modules are named for the commands or suites they hold.
OPEN_MODULES = ("shipyard.cli", "shipyard.testing", "shipyard.store.migrations", "shipyard.store.schema")


def _packages() -> list[str]:
    found = []
    for init in sorted(SRC.rglob("__init__.py")):
        name = ".".join(init.parent.relative_to(SRC.parent).parts)
        if not name.startswith(("shipyard.store.migrations", "shipyard.cli.demo")):
            found.append(name)
    return found


PACKAGES = _packages()


def test_every_package_is_pinned() -> None:
    assert sorted(PINNED) == sorted(p for p in PACKAGES if p != "shipyard")


@pytest.mark.parametrize("package", [p for p in PACKAGES if p != "shipyard"])
def test_all_is_sorted_unique_resolvable_and_the_pinned_names(package: str) -> None:
    module = importlib.import_module(package)
    names = list(getattr(module, "__all__", []))
    assert names == sorted(set(names))
    assert [n for n in names if getattr(module, n, None) is None] == []
    assert names == PINNED[package]


@pytest.mark.parametrize("package", [p for p in PACKAGES if not p.startswith(OPEN_MODULES) and p != "shipyard"])
def test_implementation_modules_are_private(package: str) -> None:
    folder = SRC.parent.joinpath(*package.split("."))
    public = [f.name for f in folder.glob("*.py") if not f.name.startswith("_")]
    assert public == [], f"{package}: name them _module.py and export through __init__"
