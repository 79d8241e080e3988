"""Password hashing (Argon2id) and token hashing (sha256 of a high-entropy secret)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["hash_password", "hash_token", "new_token", "verify_password"]

_HASHER = PasswordHasher()  # Argon2id with the library's current recommended parameters
TOKEN_PREFIX = "shp_"


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password``, salt and parameters included."""
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored``; a malformed hash never matches."""
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A fresh API token: 256 random bits, so a plain sha256 is a safe stored form."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The stored form of ``token`` (hex sha256): a leaked table reveals no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()
