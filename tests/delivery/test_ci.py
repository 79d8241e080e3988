"""``shipyard ci validate`` and ``shipyard ci compare``: gates and paired comparisons, as Markdown.

One registry is built for the module: model ``churn`` (v1 good, auc 0.9, at
``@production``; v2 poor, auc 0.7), both with a data contract; a run holding an
unregistered candidate; a dataset version with the label; and a few broken packages.
The gates are the registry's own (a version the registry refuses to promote fails the
same rules here), and the comparison's intervals are checked against scipy's paired
bootstrap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LinearRegression, LogisticRegression

import shipyard
from shipyard import Config, PromotionRefused
from shipyard.delivery import compare_models, load_policy, validate_model
from shipyard.errors import InvalidInput, NotFound
from shipyard.models import infer_signature
from tests.cli.test_cli import run_cli
from tests.serving.fixture_models import RowSum

ROOT = Path(__file__).resolve().parents[2]
FEATURES = ["a", "b", "c"]
CONTRACT = {"columns": {"a": {"type": "float", "min": -10, "max": 10}, "b": {"type": "float", "nullable": False}}}
POLICY = {"aliases": ["production"], "rules": [
    {"type": "min_metric", "metric": "auc", "threshold": 0.8},
    {"type": "beats_holder", "metric": "auc", "min_delta": 0.0},
    {"type": "compatible_signature"},
    {"type": "max_latency", "p99_ms": 2000},
]}


@dataclass(frozen=True)
class Home:
    path: Path
    run_uri: str  # an unregistered candidate with auc 0.95
    frame: pd.DataFrame


def table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(n, 3)), columns=FEATURES)
    return x.assign(label=(x["a"] + 0.7 * x["b"] + rng.normal(scale=0.6, size=n) > 0).astype(int))


def log(client: shipyard.Client, model: object, example: object, *, auc: float | None = None,
        name: str | None = None, contract: dict | None = None, **options: object) -> str:
    run = client.create_run("ci")
    if auc is not None:
        client.log_metric(run.id, "auc", auc)
    info = client.log_model(run.id, model, input_example=example, registered_model_name=name,
                            metadata={"data_contract": contract} if contract else None, **options)
    client.end_run(run.id)
    return info.uri


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    path = tmp_path_factory.mktemp("ci")
    frame = table(600, 0)
    train = frame.head(300)
    x, y = train[FEATURES], train["label"]
    with shipyard.Client(Config(home=path)) as client:
        log(client, LogisticRegression().fit(x, y), x.head(5), auc=0.9, name="churn", contract=CONTRACT)
        log(client, LogisticRegression().fit(x[["c"]], y), x[["c"]].head(5), auc=0.7, name="churn",
            contract={"columns": {"c": {"type": "float"}}})
        client.set_alias("churn", "production", 1)
        client.set_promotion_policy("churn", POLICY)
        run_uri = log(client, LogisticRegression().fit(x[["a", "b"]], y), x[["a", "b"]].head(5), auc=0.95,
                      contract=CONTRACT)
        # A contract the input example breaks; one naming a column the model never receives.
        log(client, LogisticRegression().fit(x, y), x.head(5), auc=0.9, name="strict",
            contract={"columns": {"a": {"max": -50}}})
        log(client, LogisticRegression().fit(x, y), x.head(5), auc=0.9, name="wider",
            contract={"columns": {"a": {"type": "float"}, "zip": {"type": "string"}}})
        example = np.array([[-1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        # Given a signature, saving does not call the model, which raises on the example.
        log(client, RowSum(fail_below=0.0), example, auc=0.9, name="fragile", signature=infer_signature(example))
        log(client, LogisticRegression().fit(x, y), None, auc=0.9, name="blind")
        client.register_dataset("scored", frame.tail(300).reset_index(drop=True))
        regression = frame.assign(target=frame["a"] * 2.0 + frame["b"] + 0.1 * frame["c"])
        log(client, LinearRegression().fit(regression[FEATURES], regression["target"]), x.head(3), name="reg")
        log(client, LinearRegression().fit(regression[["c"]], regression["target"]), x[["c"]].head(3), name="reg")
        client.register_dataset("regression", regression.drop(columns="label"))
    return Home(path, run_uri, frame)


@pytest.fixture
def client(home: Home) -> shipyard.Client:
    with shipyard.Client(Config(home=home.path)) as c:
        yield c


def statuses(report: object) -> dict[str, str]:
    return {g.name: g.status for g in report.gates}  # type: ignore[attr-defined]


# -- validate ---------------------------------------------------------------------------------


def test_a_version_that_passes_every_gate_exits_0_and_writes_the_markdown_report(home: Home, tmp_path: Path) -> None:
    report = tmp_path / "validation.md"
    done = run_cli(home.path, "ci", "validate", "models:/churn/1", "--report", str(report))
    assert done.returncode == 0, done.stderr
    assert report.read_text() == done.stdout
    lines = done.stdout.splitlines()
    assert "| gate | result | detail |" in lines and "every gate passed" in done.stdout
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines if line.startswith("| ") and "---" not in line}
    for gate in ("package loads", "smoke test", "data contract", "auc >= 0.8", "beats holder on auc by >= 0.0",
                 "signature compatible with holder", "latency p99 <= 2000 ms"):
        assert "✅ pass" in rows[gate], rows
    assert "current holder: v1" in done.stdout and "p99" in rows["smoke test"]


def test_a_version_the_registry_refuses_fails_the_same_rules_and_exits_3(home: Home, client: shipyard.Client) -> None:
    done = run_cli(home.path, "ci", "validate", "models:/churn/2")
    assert done.returncode == 3, done.stderr
    result = validate_model(client, "models:/churn/2")
    failed = {g.name for g in result.failed}
    assert failed == {"auc >= 0.8", "beats holder on auc by >= 0.0"}
    with pytest.raises(PromotionRefused) as refused:
        client.set_alias("churn", "production", 2)
    assert {c["rule"] for c in refused.value.report["checks"] if not c["passed"]} == failed
    assert client.get_model_version_by_alias("churn", "production").version == 1


def test_a_run_candidate_is_judged_on_the_run_metrics_against_the_holder(home: Home, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("aliases: [production]\nrules:\n  - {type: beats_holder, metric: auc, min_delta: 0.04}\n")
    done = run_cli(home.path, "ci", "validate", home.run_uri, "--name", "churn", "--policy", str(policy), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert (document["name"], document["version"], document["holder"]) == ("churn", None, 1)
    [rule] = [g for g in document["gates"] if g["name"].startswith("beats holder")]
    assert rule["status"] == "pass" and "auc 0.95 vs holder v1 0.9" in rule["detail"]
    assert document["policy"] == f"file {policy}"


def test_the_latency_rule_reads_the_smoke_test_timing(client: shipyard.Client) -> None:
    result = validate_model(client, "models:/churn/1", policy=load_policy_text("max_latency", p99_ms=1e-6))
    [gate] = [g for g in result.gates if g.name.startswith("latency")]
    assert gate.status == "fail" and result.latency is not None
    assert gate.detail == f"p99 {result.latency.p99_ms:.3f} ms on the input example"
    assert result.latency.calls == 100 and result.latency.rows == 5


def load_policy_text(kind: str, **rule: object) -> shipyard.PromotionPolicy:
    return shipyard.PromotionPolicy.from_json({"aliases": ["production"], "rules": [{"type": kind, **rule}]})


@pytest.mark.parametrize(("uri", "gate", "detail"), [
    ("models:/strict/1", "data contract", "breaks the data contract's 'max' rule"),
    ("models:/wider/1", "data contract", "contract columns ['zip'] are not inputs of the signature"),
    ("models:/fragile/1", "smoke test", "raised ValueError: a row starts below 0.0"),
    ("models:/blind/1", "smoke test", "no input example"),
], ids=["example-breaks-contract", "contract-column-not-an-input", "model-raises", "no-example"])
def test_a_broken_package_fails_its_gate_and_exits_3(home: Home, uri: str, gate: str, detail: str) -> None:
    # The python-flavor model is imported from this checkout's tests package.
    done = run_cli(home.path, "ci", "validate", uri, "--json", PYTHONPATH=str(ROOT))
    assert done.returncode == 3, done.stderr
    found = {g["name"]: g for g in json.loads(done.stdout)["gates"]}
    assert found[gate]["status"] == "fail" and detail in found[gate]["detail"], found[gate]
    assert found["package loads"]["status"] == "pass"


def test_a_package_with_a_changed_file_fails_the_load_gate(home: Home, tmp_path: Path) -> None:
    with shipyard.Client(Config(home=tmp_path / "copy")) as client:
        uri = log(client, LogisticRegression().fit(home.frame[FEATURES], home.frame["label"]),
                  home.frame[FEATURES].head(3), name="tampered")
        folder = client.registry.model_path("models:/tampered/1")
        pickle = next(p for p in folder.iterdir() if p.suffix in (".pkl", ".skops", ".joblib"))
        pickle.chmod(0o644)
        pickle.write_bytes(pickle.read_bytes() + b"\0")
        result = validate_model(client, "models:/tampered/1", policy=load_policy_text("max_latency", p99_ms=100))
    assert uri.startswith("runs:/")
    assert statuses(result) == {"package loads": "fail", "smoke test": "skip", "data contract": "skip",
                                "latency p99 <= 100 ms": "fail"}
    assert "not measured" in result.gates[-1].detail


def test_a_model_without_a_policy_or_contract_skips_those_gates_and_passes(client: shipyard.Client) -> None:
    result = validate_model(client, "models:/reg/1")
    assert statuses(result) == {"package loads": "pass", "smoke test": "pass", "data contract": "skip"}
    assert result.passed and result.policy == "none" and "No promotion policy" in result.to_markdown()


@pytest.mark.parametrize(("args", "message"), [
    (["models:/nobody/1"], "NotFound"),
    (["runs:/0123456789abcdef0123456789abcdef/model", "--name", "churn"], "NotFound"),
    (["models:/churn/1", "--policy", "missing.yaml"], "InvalidInput"),
], ids=["unknown-model", "unknown-run", "missing-policy-file"])
def test_bad_input_is_one_error_line_with_status_1_and_no_report(home: Home, tmp_path: Path, args: list[str],
                                                                 message: str) -> None:
    report = tmp_path / "validation.md"
    done = run_cli(home.path, "ci", "validate", *args, "--report", str(report))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(f"error: {message}") and len(done.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_run_candidate_needs_the_model_it_is_for(client: shipyard.Client, home: Home) -> None:
    with pytest.raises(InvalidInput, match="--name"):
        validate_model(client, home.run_uri)
    with pytest.raises(NotFound):
        validate_model(client, home.run_uri.replace("/model", "/elsewhere"), name="churn")


def test_a_policy_file_is_read_as_the_registry_reads_it(tmp_path: Path) -> None:
    file = tmp_path / "policy.json"
    file.write_text(json.dumps(POLICY))
    assert load_policy(file).to_json() == shipyard.PromotionPolicy.from_json(POLICY).to_json()
    file.write_text('{"rules": [{"type": "fastest"}]}')
    with pytest.raises(InvalidInput, match="unknown rule type 'fastest'"):
        load_policy(file)


def test_markdown_cells_never_break_the_table(client: shipyard.Client) -> None:
    result = validate_model(client, "models:/churn/1")
    odd = type(result.gates[0])("a | b", "fail", "line one\nline | two")
    text = type(result)(result.uri, "churn", 1, "production", 1, "registry", (odd,)).to_markdown()
    assert "| a \\| b | ❌ fail | line one line \\| two |" in text.splitlines()


# -- compare ----------------------------------------------------------------------------------


def test_a_better_candidate_is_reported_better_with_an_interval_above_zero(home: Home, tmp_path: Path) -> None:
    report = tmp_path / "compare.md"
    done = run_cli(home.path, "ci", "compare", "models:/churn/1", "models:/churn/2", "--data", "ds:scored@1",
                   "--report", str(report))
    assert done.returncode == 0, done.stderr
    assert "the candidate is better" in done.stdout and report.read_text() == done.stdout
    assert "| model | accuracy | 95% interval |" in done.stdout and "target `label`" in done.stdout


def test_a_significantly_worse_candidate_exits_3(home: Home) -> None:
    done = run_cli(home.path, "ci", "compare", "models:/churn/2", "models:/churn@production", "--data",
                   "ds:scored@1", "--metric", "roc_auc", "--json")
    assert done.returncode == 3, done.stderr
    document = json.loads(done.stdout)
    assert document["verdict"] == "worse" and document["difference"]["high"] < 0 and document["metric"] == "roc_auc"


def test_a_model_against_itself_shows_no_significant_difference(client: shipyard.Client) -> None:
    result = compare_models(client, "models:/churn/1", "models:/churn/1", "ds:scored@1")
    assert result.verdict == "no significant difference" and result.p_value == 1.0
    assert result.difference == type(result.difference)(0.0, 0.0, 0.0)


def test_the_difference_interval_is_paired_and_matches_scipy(client: shipyard.Client, home: Home) -> None:
    result = compare_models(client, home.run_uri, "models:/churn@production", "ds:scored@1", resamples=2000,
                            seed=7)
    again = compare_models(client, home.run_uri, "models:/churn@production", "ds:scored@1", resamples=2000, seed=7)
    assert again == result  # a fixed seed gives the same figures
    scored = home.frame.tail(300)
    hits = [np.asarray(client.load_model(uri).predict(scored[columns])) == scored["label"].to_numpy()
            for uri, columns in ((home.run_uri, ["a", "b"]), ("models:/churn/1", FEATURES))]
    assert (hits[0] != hits[1]).sum() > 3  # the two models disagree on some rows
    paired = stats.bootstrap((hits[0].astype(float), hits[1].astype(float)), lambda a, b, axis: a.mean(axis)
                             - b.mean(axis), paired=True, method="percentile", n_resamples=4000, random_state=1)
    unpaired = stats.bootstrap((hits[0].astype(float), hits[1].astype(float)), lambda a, b, axis: a.mean(axis)
                               - b.mean(axis), paired=False, method="percentile", n_resamples=4000, random_state=1)
    ours = result.difference.high - result.difference.low
    theirs = paired.confidence_interval.high - paired.confidence_interval.low
    assert abs(ours - theirs) < 0.25 * theirs + 1e-9
    assert ours < 0.6 * (unpaired.confidence_interval.high - unpaired.confidence_interval.low)
    assert result.difference.value == pytest.approx(hits[0].mean() - hits[1].mean())


def test_a_lower_is_better_metric_reverses_the_verdict(client: shipyard.Client) -> None:
    result = compare_models(client, "models:/reg/1", "models:/reg/2", "ds:regression@1")
    assert (result.metric, result.target, result.verdict) == ("rmse", "target", "better")
    assert result.difference.high < 0 and not result.higher_is_better


@pytest.mark.parametrize(("args", "message"), [
    (["--target", "churned"], "has no column 'churned'"),
    (["--metric", "speed"], "unknown metric 'speed'"),
], ids=["no-target-column", "unknown-metric"])
def test_bad_comparison_input_is_an_error_with_status_1(home: Home, tmp_path: Path, args: list[str],
                                                        message: str) -> None:
    report = tmp_path / "compare.md"
    done = run_cli(home.path, "ci", "compare", "models:/churn/1", "models:/churn/2", "--data", "ds:scored@1",
                   *args, "--report", str(report))
    assert done.returncode == 1 and message in done.stderr and done.stderr.startswith("error: InvalidInput")
    assert not report.exists()


def test_an_unknown_dataset_or_model_is_not_found(client: shipyard.Client) -> None:
    with pytest.raises(NotFound):
        compare_models(client, "models:/churn/1", "models:/churn/2", "ds:nothing@1")
    with pytest.raises(NotFound):
        compare_models(client, "models:/churn/9", "models:/churn/2", "ds:scored@1")
