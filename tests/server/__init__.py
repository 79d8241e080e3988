"""Tests of the REST face (a package so its test_errors.py does not clash with tests/test_errors.py)."""
