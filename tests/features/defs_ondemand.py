"""On-demand functions used by the tests (a module, as on-demand functions must live in one)."""

from __future__ import annotations

import pandas as pd


def spend_ratio(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"ratio": df["spend"] / df["amount"], "big": df["amount"] > 100})
