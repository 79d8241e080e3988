"""The DAG comes from data flow; a cycle or a missing input is refused before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.pipelines import Pipeline, PipelineDefinitionError, pipeline, step
from tests.pipelines import steps


@step
def a(seed: int) -> int:
    return seed


@step
def b(a: int) -> int:
    return a + 1


@step
def c(b: int, d: int) -> int:
    return b + d


@step
def d(c: int) -> int:
    return c


def test_edges_follow_the_outputs_passed_to_inputs() -> None:
    dag = steps.frames.build({"n": 3})
    assert dag.order == ["make_frame", "column_sum", "column_sum_2", "add"]
    assert dag.nodes["add"].upstream == ["column_sum", "column_sum_2"]
    assert dag.nodes["column_sum_2"].args["column"].value == "y"  # type: ignore[union-attr]


def test_tuple_outputs_can_be_unpacked_into_separate_edges() -> None:
    @pipeline
    def halves(n: int = 4):
        evens, odds = steps.split(n)
        return steps.total(evens), steps.total(odds)

    dag = halves.build()
    assert dag.nodes["total"].args["xs"].index == 0  # type: ignore[union-attr]
    assert dag.nodes["total_2"].args["xs"].index == 1  # type: ignore[union-attr]


def test_from_steps_wires_parameters_to_steps_of_the_same_name() -> None:
    dag = Pipeline.from_steps("named", [a, b]).build({"seed": 1})
    assert dag.order == ["a", "b"] and dag.nodes["b"].upstream == ["a"]


def test_a_cycle_is_refused_naming_its_steps() -> None:
    with pytest.raises(PipelineDefinitionError) as info:
        Pipeline.from_steps("loop", [a, b, c, d]).build({"seed": 1})
    assert "cycle: c -> d -> c" in str(info.value)
    assert sorted(info.value.steps) == ["c", "d"]  # type: ignore[attr-defined]


def test_a_step_called_without_an_input_is_refused_before_anything_runs(tmp_path: Path) -> None:
    log = tmp_path / "ran"

    @pipeline
    def broken():
        steps.record(str(log), 1)
        return steps.add(1.0)  # b is missing

    with pytest.raises(PipelineDefinitionError) as info:
        broken.run(executor="inline", artifacts=str(tmp_path / "store"))
    assert "step 'add' is missing input 'b'" in str(info.value)
    assert info.value.steps == ["add"]  # type: ignore[attr-defined]
    assert not log.exists()


def test_a_missing_pipeline_parameter_names_the_steps_that_need_it(tmp_path: Path) -> None:
    with pytest.raises(PipelineDefinitionError) as info:
        steps.chain.run(executor="inline", artifacts=str(tmp_path))
    assert "input 'log' is missing" in str(info.value)
    assert info.value.steps == ["record", "record_2", "record_3", "record_4"]  # type: ignore[attr-defined]


def test_a_missing_input_of_a_named_pipeline_is_refused() -> None:
    with pytest.raises(PipelineDefinitionError, match="input 'seed' is missing.*'a'"):
        Pipeline.from_steps("named", [a, b]).build()


def test_an_unknown_parameter_is_refused() -> None:
    with pytest.raises(PipelineDefinitionError, match="has no parameter 'm'"):
        steps.frames.build({"m": 3})


def test_branching_on_a_step_output_while_defining_is_refused_with_advice() -> None:
    @pipeline
    def branchy():
        if steps.total([1]):
            return None
        return None

    with pytest.raises(PipelineDefinitionError, match="placeholder while the pipeline is being defined"):
        branchy.build()
