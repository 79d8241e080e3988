"""pandera's side of ``benchmarks/datasets.py``: validate 1,000,000 rows against 30 rules.

    python pandera_validate.py TABLE.parquet [--repeat 3]

The schema states the same 30 rules as the Shipyard contract in
``benchmarks/datasets.py`` (types, nullability, ranges, allowed values, a regex,
uniqueness, a row-count bound and one custom check). ``lazy=True`` makes pandera
collect every failure, as Shipyard's report does. Loading the table into pandas is
not timed. Prints one JSON object (seconds) as its last stdout line.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import pandas as pd
import pandera.pandas as pa
from pandera import Check, Column
from pandera.errors import SchemaErrors

warnings.filterwarnings("ignore")

PLANS = ["basic", "pro", "team", "enterprise"]
COUNTRIES = ["de", "fr", "us", "jp"]
EMAIL = r"^[^@]+@[^@]+\.[a-z]+$"


def schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "id": Column("int64", nullable=False, unique=True),                                   # 3
            "age": Column("int64", [Check.ge(18), Check.le(120)], nullable=False),               # 4
            "income": Column("float64", Check.ge(0), nullable=True),                             # 2
            "plan": Column(str, Check.isin(PLANS), nullable=False),                              # 3
            "email": Column(str, Check.str_matches(EMAIL), nullable=False),                      # 3
            "score": Column("float64", [Check.ge(0), Check.le(1)], nullable=False),              # 4
            "country": Column(str, Check.isin(COUNTRIES), nullable=False),                       # 3
            "signup": Column("datetime64[us]", Check.ge(pd.Timestamp("2024-01-01")), nullable=False),  # 3
            "clicks": Column("int64", Check.ge(0)),                                              # 2
            "churned": Column(bool),                                                             # 1
        },
        checks=[Check(lambda df: len(df) >= 1000, name="min_rows"),                              # 1
                Check(lambda df: df["income"].isna() | (df["income"] < 5e7), name="income_cap")],  # 1
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("table")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    frame = pd.read_parquet(args.table)
    checked = schema()
    times, failures = [], 0
    for _ in range(args.repeat):
        start = time.perf_counter()
        try:
            checked.validate(frame, lazy=True)
            failures = 0
        except SchemaErrors as exc:
            failures = len(exc.failure_cases)
        times.append(time.perf_counter() - start)
    print(json.dumps({"validate_s": min(times), "failure_cases": failures, "pandera": pa.__name__}))


if __name__ == "__main__":
    main()
