"""Feature references: ``"view:feature"``.

>>> parse_ref("user_stats:avg_spend_7d")
('user_stats', 'avg_spend_7d')
"""

from __future__ import annotations

from typing import Any

from shipyard.errors import InvalidInput

__all__ = ["output_name", "parse_ref"]


def parse_ref(ref: Any) -> tuple[str, str]:
    """Split ``"view:feature"`` into its two names (InvalidInput naming the ref otherwise)."""
    if not isinstance(ref, str) or ref.count(":") != 1:
        raise InvalidInput(f"a feature reference reads 'view:feature', got {ref!r}", field="features", ref=ref)
    view, _, feature = ref.partition(":")
    if not view or not feature:
        raise InvalidInput(f"a feature reference reads 'view:feature', got {ref!r}", field="features", ref=ref)
    return view, feature


def output_name(view: str, feature: str, full: bool) -> str:
    """The column a feature lands in: its name, or ``view__feature`` with full names."""
    return f"{view}__{feature}" if full else feature
