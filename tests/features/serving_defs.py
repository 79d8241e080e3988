"""Feature definitions shared by the feature-serving tests (importable by serving workers)."""

from __future__ import annotations

import pandas as pd


def spend_ratio(frame: pd.DataFrame) -> pd.DataFrame:
    """An on-demand feature: a request's amount against the user's average spend."""
    return pd.DataFrame({"spend_ratio": frame["amount"] / (frame["avg_spend_7d"].abs() + 1.0)})
