"""The series contract: label sets have one canonical text, read back to the same labels."""

from __future__ import annotations

from shipyard.alerting._series import labels_key, parse_labels_key


def test_label_keys_are_canonical() -> None:
    assert labels_key({"b": "2", "a": "1"}) == labels_key({"a": "1", "b": "2"}) == '{"a":"1","b":"2"}'
    assert labels_key(None) == labels_key({}) == "{}"
    assert parse_labels_key(labels_key({"feature": "âge"})) == {"feature": "âge"}
