"""Loading a pipeline file: a file that runs its pipeline when imported is refused before it runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.errors import InvalidInput
from shipyard.pipelines._loader import load_pipeline
from shipyard.pipelines._main_guard import import_time_runs

DEFINES = """
import shipyard
from shipyard.pipelines import Pipeline, pipeline, step

@step
def double(n: int) -> int:
    return 2 * n

@shipyard.pipeline(name="doubled")
def doubled(n: int = 2):
    return double(n)
"""


def test_import_time_runs_finds_run_calls_outside_the_main_guard_and_outside_functions() -> None:
    source = DEFINES + """
other = Pipeline.from_steps("other", [double])
def main():
    doubled.run({"n": 1})          # runs when called, not when imported
doubled.build({"n": 1})            # builds, does not run
if __name__ == "__main__":
    doubled.run({"n": 1})
else:
    results = [other()]
print(doubled.run({"n": 3}).output)
"""
    lines = source.splitlines()
    assert import_time_runs(source) == [(lines.index("    results = [other()]") + 1, "other(...)"),
                                        (len(lines), "doubled.run(...)")]


def test_import_time_runs_ignores_guarded_files_and_source_that_does_not_parse() -> None:
    assert import_time_runs(DEFINES + '\nif "__main__" == __name__:\n    doubled.run()\n') == []
    assert import_time_runs("doubled.run(\n") == []
    assert import_time_runs("from elsewhere import train\n") == []


def test_load_pipeline_refuses_a_file_that_runs_its_pipeline_when_imported_before_executing_it(
        tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    path = tmp_path / "train.py"
    path.write_text(f"open({str(marker)!r}, 'w').close()\n" + DEFINES + "doubled.run({'n': 1}, executor='inline')\n")
    with pytest.raises(InvalidInput, match=r"train\.py runs a pipeline when imported "
                                           r"\(line \d+: doubled\.run\(\.\.\.\)\); "
                                           r"put that call under `if __name__ == \"__main__\":`"):
        load_pipeline(str(path))
    assert not marker.exists()


def test_load_pipeline_refuses_a_run_started_by_a_file_s_top_level_before_it_starts(tmp_path: Path) -> None:
    path = tmp_path / "indirect.py"
    source = DEFINES + "def main():\n    doubled.run({'n': 1}, executor='inline', artifacts='memory://x')\n\nmain()\n"
    path.write_text(source)
    with pytest.raises(InvalidInput, match=rf"indirect\.py runs a pipeline when imported \(line "
                                           rf"{len(source.splitlines())}: main\(\)\)"):
        load_pipeline(str(path))
    guarded = tmp_path / "guarded.py"
    guarded.write_text(DEFINES + 'if __name__ == "__main__":\n    doubled.run()\n')
    assert load_pipeline(str(guarded)).name == "doubled"
    assert load_pipeline(str(guarded)).run({"n": 4}, executor="inline", artifacts=str(tmp_path / "a")).output == 8
