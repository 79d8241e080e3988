"""The one error tree: every class under ShipyardError, carrying its context."""

from __future__ import annotations

import inspect
import re

import pytest

import shipyard.errors as errors
from shipyard.errors import (
    ConfigError,
    InvalidInput,
    MissingExtra,
    NotFound,
    ShipyardError,
    StorageError,
    Unavailable,
    error_from_name,
)

ERROR_CLASSES = [
    obj for name in errors.__all__
    if inspect.isclass(obj := getattr(errors, name)) and issubclass(obj, BaseException)
]
# Classes built from a message and keyword context (MissingExtra builds its own message).
PLAIN_CLASSES = [cls for cls in ERROR_CLASSES if cls is not MissingExtra]


def test_the_tree_has_the_documented_classes() -> None:
    names = {cls.__name__ for cls in ERROR_CLASSES}
    assert {"ShipyardError", "ConfigError", "NotFound", "AlreadyExists", "InvalidInput", "Conflict",
            "IntegrityError", "StorageError", "Unavailable", "MissingExtra"} <= names


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_error_class_derives_from_shipyard_error(cls: type[Exception]) -> None:
    assert issubclass(cls, ShipyardError)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_error_class_is_drawn_in_the_module_docstring(cls: type[Exception]) -> None:
    assert re.search(rf"^[\s│├└─]*{cls.__name__}\b", errors.__doc__ or "", re.MULTILINE)


def test_unavailable_is_a_storage_error() -> None:
    assert issubclass(Unavailable, StorageError)


def test_context_keywords_become_attributes_and_message_is_str() -> None:
    exc = NotFound("run 'abc' not found", resource="run", run_id="abc")
    assert (exc.resource, exc.run_id) == ("run", "abc")  # type: ignore[attr-defined]
    assert exc.context == {"resource": "run", "run_id": "abc"}
    assert exc.message == str(exc) == "run 'abc' not found"
    assert exc.args == ("run 'abc' not found",)


def test_error_without_context_has_an_empty_context() -> None:
    exc = ConfigError("bad")
    assert exc.context == {}
    assert not hasattr(exc, "field")


@pytest.mark.parametrize("cls", PLAIN_CLASSES, ids=lambda c: c.__name__)
def test_error_from_name_rebuilds_each_class_with_its_context(cls: type[ShipyardError]) -> None:
    exc = error_from_name(cls.__name__, "it broke", field="x", status=422)
    assert type(exc) is cls
    assert (exc.message, exc.field, exc.status) == ("it broke", "x", 422)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["Unauthorized", "HTTPError", "", "object", "__class__", "KeyError"])
def test_error_from_name_falls_back_to_the_base_class(name: str) -> None:
    exc = error_from_name(name, "who knows", status=401)
    assert type(exc) is ShipyardError
    assert (exc.message, exc.status) == ("who knows", 401)  # type: ignore[attr-defined]


def test_error_from_name_rebuilds_missing_extra() -> None:
    sent = MissingExtra("s3fs", "s3")
    exc = error_from_name("MissingExtra", sent.message, **sent.context)
    assert type(exc) is MissingExtra
    assert (exc.message, exc.module, exc.extra) == (sent.message, "s3fs", "s3")  # type: ignore[attr-defined]


def test_missing_extra_names_the_pip_install_and_carries_module_and_extra() -> None:
    exc = MissingExtra("s3fs", "s3")
    assert "pip install 'shipyard[s3]'" in str(exc)
    assert "s3fs" in str(exc)
    assert (exc.module, exc.extra) == ("s3fs", "s3")  # type: ignore[attr-defined]


def test_invalid_input_names_the_field() -> None:
    exc = InvalidInput("lr must be a number", field="lr")
    assert exc.field == "lr"  # type: ignore[attr-defined]
    with pytest.raises(ShipyardError, match="lr must be a number"):
        raise exc


def _declared_extras() -> set[str]:
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    return set(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["optional-dependencies"])


def _raised_extras() -> list[tuple[str, str, str]]:
    """(where, module, extra) of every ``MissingExtra(module, "extra")`` and ``require(module, "extra")``
    call in the package whose extra is written out."""
    import ast
    from pathlib import Path

    import shipyard

    found = []
    root = Path(shipyard.__file__).parent
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or len(node.args) != 2:
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            module, extra = node.args
            if name in ("MissingExtra", "require") and isinstance(extra, ast.Constant):
                shown = module.value if isinstance(module, ast.Constant) else ast.unparse(module)
                found.append((f"{path.relative_to(root)}:{node.lineno}", shown, extra.value))
    return found


def test_every_missing_extra_hint_names_an_extra_that_pyproject_declares() -> None:
    raised = _raised_extras()
    extras = _declared_extras()
    # The scan sees the raises it is meant to check (it would pass vacuously otherwise).
    assert {"postgres", "s3", "redis", "ray", "sklearn", "demo"} <= {extra for _, _, extra in raised}
    for where, module, extra in raised:
        hint = str(MissingExtra(module, extra))
        assert f"pip install 'shipyard[{extra}]'" in hint, where
        assert extra in extras, f"{where} names the extra {extra!r}, which pyproject.toml does not declare"
