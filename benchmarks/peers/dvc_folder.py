"""DVC's side of ``benchmarks/datasets.py``: version a folder, then a new version of it.

    python dvc_folder.py WORKSPACE REMOTE --change 0,2000,4000,... [--rounds 3]

WORKSPACE holds the folder ``data``; REMOTE is an empty local folder used as the
DVC remote. Uses DVC's Python API in-process (``Repo.add`` + ``Repo.push``), so no
process start-up is counted. Each round then changes the files whose indices are
given (shifted by the round number) exactly as the Shipyard side does, and adds
and pushes again; the fastest round is reported, as on the Shipyard side. Prints one JSON
object (seconds) as its last stdout line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from datasets_common import change_files  # noqa: E402
from dvc.repo import Repo  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workspace")
    parser.add_argument("remote")
    parser.add_argument("--change", required=True, help="comma-separated file indices to change")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workspace = Path(args.workspace)
    os.chdir(workspace)  # DVC stages are relative to the working directory
    Repo.init(str(workspace), no_scm=True)
    repo = Repo(str(workspace))
    with repo.config.edit() as conf:
        conf["remote"]["local"] = {"url": args.remote}
        conf["core"]["remote"] = "local"
        conf["core"]["analytics"] = False
    start = time.perf_counter()
    repo.add("data")
    add_1 = time.perf_counter() - start
    repo.push()
    first = time.perf_counter() - start
    rounds = []
    for round_ in range(args.rounds):
        change_files(workspace / "data", [int(i) + round_ for i in args.change.split(",")])
        start = time.perf_counter()
        repo.add("data")
        added = time.perf_counter() - start
        repo.push()
        rounds.append((time.perf_counter() - start, added))
    second, add_2 = min(rounds)
    print(json.dumps({"v1_s": first, "v1_add_s": add_1, "v2_s": second, "v2_add_s": add_2,
                      "v2_rounds_s": [r[0] for r in rounds]}))


if __name__ == "__main__":
    main()
