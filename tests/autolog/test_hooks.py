"""Frameworks are patched when imported, and ``autolog(frameworks=...)`` picks which.

The import hook is tested on a tiny module written by the test, so that no heavy
framework needs importing for it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import shipyard
from shipyard.autolog import _hooks
from shipyard.errors import InvalidInput, MissingExtra

_MODULE = "shipyard_hooks_probe"


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """A module not yet imported whose ``train`` doubles; the list collects recorded calls."""
    (tmp_path / f"{_MODULE}.py").write_text("def train(x):\n    return 2 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, _MODULE, raising=False)
    calls: list[Any] = []

    def installer(module: ModuleType) -> list[_hooks.Patch]:
        def recorder(original: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            calls.append(args)
            return original(*args, **kwargs)

        return [_hooks.replace(module, "train", recorder)]

    _hooks.install({_MODULE: installer})
    yield calls
    _hooks.uninstall()
    sys.modules.pop(_MODULE, None)


def test_a_framework_imported_after_install_is_patched_on_import(probe: list[Any]) -> None:
    import shipyard_hooks_probe  # type: ignore[import-not-found]

    assert shipyard_hooks_probe.train(3) == 6
    assert probe == [(3,)]


def test_uninstall_removes_the_finder_and_puts_back_the_function(probe: list[Any]) -> None:
    import shipyard_hooks_probe

    _hooks.uninstall()
    assert shipyard_hooks_probe.train(3) == 6 and probe == []
    assert not any(isinstance(finder, _hooks._AfterImport) for finder in sys.meta_path)


def test_an_already_imported_framework_is_patched_at_once(probe: list[Any]) -> None:
    import shipyard_hooks_probe

    _hooks.uninstall()
    _hooks.install({_MODULE: lambda module: [_hooks.replace(module, "train", lambda f, a, k: -f(*a, **k))]})
    assert shipyard_hooks_probe.train(3) == -6


def test_a_nested_call_is_not_recorded_again(probe: list[Any]) -> None:
    import shipyard_hooks_probe

    outer = _hooks.outermost(lambda x: shipyard_hooks_probe.train(x) + 1, lambda f, a, k: f(*a, **k))
    assert outer(3) == 7 and probe == []


def test_unknown_frameworks_and_a_bare_string_are_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown frameworks \\['tensorflow'\\]") as caught:
        shipyard.autolog(frameworks=["tensorflow"])
    assert caught.value.field == "frameworks"
    with pytest.raises(InvalidInput, match="list of names"):
        shipyard.autolog(frameworks="keras")


def test_a_named_framework_that_is_not_installed_names_the_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # what an uninstalled package looks like to import
    with pytest.raises(MissingExtra, match=r"pip install 'shipyard\[lightgbm\]'"):
        shipyard.autolog(frameworks=["lightgbm"])


def test_autolog_imports_no_framework_and_patches_one_when_the_script_imports_it(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "import shipyard\n"
        f"shipyard.autolog(client=shipyard.Client(home={str(tmp_path)!r}), frameworks=['xgboost', 'keras'])\n"
        "loaded = {'xgboost', 'lightgbm', 'torch', 'keras', 'lightning'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
        "import xgboost\n"
        "assert hasattr(xgboost.train, '_shipyard_original_fit')\n"
        "assert hasattr(xgboost.XGBClassifier.fit, '_shipyard_original_fit')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
