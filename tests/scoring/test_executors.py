"""Where units run: one worker in this process, several in processes, each with its share of threads."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shipyard import Client
from shipyard.scoring import _executors, batch_predict
from shipyard.scoring._executors import default_workers, start_method, worker_threads
from tests.scoring.conftest import features, register_model

# A script that fits with every core, then scores, so its workers are forked from a parent
# whose OpenMP pool is running: from its top level (no __main__ guard), or under the guard
# with a worker per core.
_SCRIPT = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import numpy as np, pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from shipyard import Client
    from shipyard.scoring import batch_predict
    client = Client(home=Path(sys.argv[1]))
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"f{i}": rng.normal(size=50_000) for i in range(4)})
    model = HistGradientBoostingClassifier(max_iter=10).fit(frame, (frame.f0 > 0).astype(int))
    model.predict(frame)
    run = client.create_run("fit")
    client.log_model(run.id, model, input_example=frame.head(2))
    client.end_run(run.id)
    uri = f"models:/m/{client.register_model(f'runs:/{run.id}/model', 'm').version}"
    data = client.register_dataset("in", frame).uri
    for workers in (1, max(2, len(os.sched_getaffinity(0)))):
        print(batch_predict(uri, data, f"ds:out-{workers}", workers=workers, client=client).scored, flush=True)
    client.close()
""")


def test_one_worker_scores_in_the_calling_process(client: Client) -> None:
    uri = register_model(client)
    client.register_dataset("small", features(5_000))
    result = batch_predict(uri, "ds:small@1", "ds:small-scored", workers=1, client=client)
    assert result.scored == 5_000 and result.ran_on == (f"pid {os.getpid()}",)


def test_forked_workers_get_one_native_thread_and_others_a_share_of_the_cores() -> None:
    assert worker_threads("fork", 1) == worker_threads("fork", 2) == 1
    assert worker_threads("forkserver", 1) == default_workers()
    assert worker_threads("forkserver", default_workers()) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")
def test_a_worker_per_core_is_forked_and_fewer_workers_start_from_the_forkserver(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_executors, "default_workers", lambda: 4)
    assert start_method(4) == start_method(8) == "fork"  # one native thread each either way
    assert start_method(2) == "forkserver"  # two threads each: a forked worker would be held to one


class _Torch:
    """What a driver that has put a model on a GPU has in ``sys.modules["torch"]``."""

    class cuda:  # noqa: N801 - torch's own name
        @staticmethod
        def is_initialized() -> bool:
            return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")
def test_a_driver_that_initialised_cuda_never_forks_its_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", _Torch)
    assert start_method(default_workers()) == "forkserver"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")
@pytest.mark.parametrize("guarded", [False, True], ids=["unguarded", "guarded"])
def test_a_script_that_fitted_with_openmp_scores_in_forked_workers_without_hanging(tmp_path: Path,
                                                                                    guarded: bool) -> None:
    script = tmp_path / "score.py"
    body = _SCRIPT.replace("\n", "\n    ") if guarded else _SCRIPT
    script.write_text(f'if __name__ == "__main__":\n    {body}' if guarded else body)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}  # OpenMP on every core
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "home")], env=env, capture_output=True,
                          text=True, timeout=180, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["50000", "50000"]  # one worker, then a worker per core
