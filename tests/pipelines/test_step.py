"""Steps are plain functions with checked options; their signature says their inputs."""

from __future__ import annotations

import pytest

from shipyard.pipelines import PipelineDefinitionError, StepContext, step
from shipyard.pipelines._step import parse_memory


@step
def double(x: int) -> int:
    return 2 * x


def test_a_step_outside_a_pipeline_is_the_plain_function() -> None:
    assert double(21) == 42
    assert double.__name__ == "double"
    assert double.signature.params == ("x",)


def test_resources_retries_timeout_and_cache_are_kept() -> None:
    @step(cpus=2, gpus=1, memory="512MB", retries=3, retry_delay=0.5, backoff=3, timeout=60, cache=False)
    def heavy(x: int) -> int:
        return x

    assert (heavy.resources.cpus, heavy.resources.gpus, heavy.resources.memory) == (2.0, 1.0, 512_000_000)
    assert (heavy.retries, heavy.timeout, heavy.cache) == (3, 60.0, False)
    assert [heavy.delay_for(n) for n in (1, 2, 3)] == [0.5, 1.5, 4.5]


@pytest.mark.parametrize(("option", "value", "words"), [
    ("retries", -1, "an int >= 0"),
    ("retries", 1.5, "an int >= 0"),
    ("cpus", -2, "a number >= 0"),
    ("timeout", 0, "a positive number of seconds"),
    ("backoff", 0.5, "a number >= 1"),
    ("memory", "lots", "a size such as '512MB'"),
])
def test_a_bad_option_names_the_parameter_the_step_and_the_value(option: str, value: object, words: str) -> None:
    with pytest.raises(PipelineDefinitionError) as info:
        step(**{option: value})(lambda_free)
    message = str(info.value)
    assert f"The {option!r} parameter of step 'lambda_free' must be" in message
    assert words in message and f"Got {value!r} instead." in message


def lambda_free(x: int) -> int:
    return x


def test_variadic_parameters_are_refused() -> None:
    with pytest.raises(PipelineDefinitionError, match=r"takes \*args"):
        @step
        def bad(*args: int) -> int:
            return 0


def test_a_context_parameter_is_injected_not_an_input() -> None:
    @step
    def fit(x: int, ctx: StepContext) -> int:
        return x

    assert fit.signature.params == ("x",)
    assert fit.signature.context_param == "ctx"


def test_a_fixed_tuple_return_annotation_gives_the_number_of_outputs() -> None:
    @step
    def pair(x: int) -> tuple[int, str]:
        return x, str(x)

    assert pair.signature.arity == 2
    assert double.signature.arity is None


@pytest.mark.parametrize(("text", "expected"), [("1GiB", 2**30), ("2 GB", 2 * 10**9), ("100", 100),
                                                ("1.5k", 1500), (4096, 4096), (None, None)])
def test_memory_sizes_parse_to_bytes(text: object, expected: int | None) -> None:
    assert parse_memory(text) == expected  # type: ignore[arg-type]
