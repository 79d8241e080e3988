"""Cache keys follow code, parameters and input content; stale or missing outputs are recomputed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from shipyard import Client
from shipyard.pipelines import PipelineFailed, pipeline, step
from shipyard.pipelines._fingerprint import code_fingerprint
from shipyard.pipelines._loader import load_module
from tests.pipelines import steps

PROJECT = '''
LIMIT = {limit}

def helper(x):
    return x + {inc}  # {comment}

def step_fn(x):
    return helper(x) * LIMIT
'''


def fingerprint_of(tmp_path: Path, name: str, **values: object) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(PROJECT.format(**{"limit": 1, "inc": 1, "comment": "", **values})))
    return code_fingerprint(load_module(path, name).step_fn)


def test_the_fingerprint_covers_called_project_functions_and_constants(tmp_path: Path) -> None:
    base = fingerprint_of(tmp_path, "fp_base")
    assert fingerprint_of(tmp_path, "fp_comment", comment="only a comment") == base
    assert fingerprint_of(tmp_path, "fp_helper", inc=2) != base
    assert fingerprint_of(tmp_path, "fp_const", limit=2) != base


def test_library_code_is_not_part_of_the_fingerprint() -> None:
    import json

    def uses_json(x: object) -> str:
        return json.dumps(x)

    assert code_fingerprint(uses_json) == code_fingerprint(uses_json)


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_a_second_run_with_the_same_inputs_is_served_from_the_cache(client: Client, tmp_path: Path) -> None:
    log = tmp_path / "log"
    first = steps.chain.run({"log": str(log)}, client=client, executor="inline")
    second = steps.chain.run({"log": str(log)}, client=client, executor="inline")
    assert first.output == second.output == 4
    assert lines(log) == ["1", "2", "3", "4"]  # nothing ran twice
    assert second.cached == list(second.steps)
    assert second.steps["record"].cached_from == first.steps["record"].run_id


def test_a_changed_parameter_recomputes_only_what_depends_on_it(client: Client, tmp_path: Path) -> None:
    steps.frames.run({"n": 5}, client=client, executor="inline")
    again = steps.frames.run({"n": 6}, client=client, executor="inline")
    assert again.computed == ["make_frame", "column_sum", "column_sum_2", "add"]
    assert again.output == float(sum(range(6)) * 3)


def test_the_key_is_content_not_names(client: Client, tmp_path: Path) -> None:
    log = tmp_path / "log"

    @pipeline
    def renamed(path: str):
        steps.record(path, 99)
        return steps.record(path, 1)  # node "record_2", fed by parameter "path": chain's "record"

    steps.chain.run({"log": str(log)}, client=client, executor="inline", experiment="shared")
    result = renamed.run({"path": str(log)}, client=client, executor="inline", experiment="shared")
    assert result.cached == ["record_2"] and result.computed == ["record"]


def test_an_output_whose_artifact_is_gone_is_recomputed(client: Client, tmp_path: Path) -> None:
    first = steps.frames.run({"n": 7}, client=client, executor="inline")
    store = client.tracking_store.artifacts  # type: ignore[attr-defined]
    store.delete(first.steps["make_frame"].output.digest)  # type: ignore[union-attr]
    second = steps.frames.run({"n": 7}, client=client, executor="inline")
    # Recomputed, it has the same content, so what depends on it is still cached.
    assert second.computed == ["make_frame"]
    assert second.output == first.output


def test_a_resumed_run_recomputes_only_from_the_failed_step(client: Client, tmp_path: Path) -> None:
    log = tmp_path / "log"

    @pipeline
    def resumable(log: str, marker: str):
        a = steps.uncached(log, 1)  # cache=False: reused only because this is a resume
        b = steps.flaky(marker, steps.add(steps.record(log, a), 2.0))  # fails 3 times: beyond its retries
        return steps.record(log, b)

    marker = str(tmp_path / "marker")
    with pytest.raises(PipelineFailed) as info:
        resumable.run({"log": str(log), "marker": marker}, client=client, executor="inline")
    failed_run = info.value.run_id  # type: ignore[attr-defined]
    assert lines(log) == ["1", "1"]
    resumed = resumable.run(client=client, executor="inline", resume=failed_run)
    assert resumed.computed == ["flaky", "record_2"]
    assert set(resumed.cached) == {"uncached", "record", "add"}
    assert lines(log) == ["1", "1", "4"]
    assert client.get_run(resumed.run_id).tags["shipyard.resumed_from"] == failed_run


def test_cache_false_always_recomputes(client: Client, tmp_path: Path) -> None:
    log = tmp_path / "log"

    @pipeline
    def twice(log: str):
        return steps.uncached(log, 5)

    twice.run({"log": str(log)}, client=client, executor="inline")
    twice.run({"log": str(log)}, client=client, executor="inline")
    assert lines(log) == ["5", "5"]


@step(cache=False)
def fit_again(n: int) -> object:
    """Trains the same model every run: its package differs only in model.yaml's created_at."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    return LogisticRegression().fit(rng.normal(size=(n, 2)), np.arange(n) % 2)


@step
def coef_sum(model: object, log: str) -> float:
    with open(log, "a") as f:
        f.write("scored\n")
    return float(model.coef_.sum())  # type: ignore[attr-defined]


@step
def pair_coef(pair: tuple[object, int], log: str) -> float:
    return coef_sum.fn(pair[0], log) + pair[1]


@step(cache=False)
def fit_pair(n: int) -> tuple[object, int]:
    return fit_again.fn(n), n


def test_an_identical_model_trained_again_keeps_downstream_steps_cached(client: Client, tmp_path: Path) -> None:
    log = tmp_path / "log"

    @pipeline
    def retrain(n: int = 30, log: str = str(log)):
        return coef_sum(fit_again(n), log), pair_coef(fit_pair(n), log)

    first = retrain.run(client=client, executor="inline")
    second = retrain.run(client=client, executor="inline")
    for node in ("fit_again", "fit_pair"):
        before, after = first.steps[node].output, second.steps[node].output
        assert before is not None and after is not None
        assert before.digest != after.digest  # recomputed: new bytes (a new created_at) ...
        assert before.content == after.content is not None  # ... but the same model
    assert second.computed == ["fit_again", "fit_pair"] and sorted(second.cached) == ["coef_sum", "pair_coef"]
    assert lines(log) == ["scored", "scored"]  # each consumer ran once, in the first run
    assert second.output == first.output
    # What users see is unchanged: the package still records when it was made.
    package = client.list_artifacts(second.steps["fit_again"].run_id, "outputs/fit_again")  # type: ignore[arg-type]
    assert "outputs/fit_again/model.yaml" in {a.path for a in package}
    yaml_text = b"".join(client.tracking_store.open_artifact(
        second.steps["fit_again"].run_id, "outputs/fit_again/model.yaml")).decode()  # type: ignore[arg-type]
    assert "created_at:" in yaml_text


def test_a_model_with_other_weights_misses_the_cache() -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from shipyard.pipelines import SerializerRegistry

    registry = SerializerRegistry()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 2)), np.arange(30) % 2
    a = registry.content_digest(*registry.dumps(LogisticRegression().fit(x, y)))
    b = registry.content_digest(*registry.dumps(LogisticRegression(C=0.01).fit(x, y)))
    assert a and b and a != b
    assert registry.content_digest(*registry.dumps({"plain": 1})) is None
