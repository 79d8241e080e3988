"""Every scikit-learn estimator's top-level fit records exactly one run.

Each run holds the estimator's params, its training metrics (those that apply to its
kind), the data hash and, for an estimator that predicts, the model package.

The sweep covers each class of ``sklearn.utils.all_estimators()``: default
parameters (meta-estimators get a small sub-estimator), ``n_estimators`` kept small,
and a tiny data set of the shape the estimator takes (text for vectorizers, labels
for label encoders, 2-D targets for multi-output models).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from sklearn.base import RegressorMixin, is_classifier, is_regressor
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils import all_estimators

import shipyard
from shipyard import Client, Run

_RNG = np.random.default_rng(0)
_Y = np.arange(40) % 2
_X = _RNG.uniform(0.1, 1.0, size=(40, 4)) + np.outer(_Y, [1.0, 0.0, 0.0, 0.0])
_Y_REG = _X @ np.array([1.0, 2.0, 3.0, 4.0]) + _RNG.normal(scale=0.1, size=40)
_Y_REG_2D = np.column_stack([_Y_REG, _X[:, 0] - _X[:, 1]])
_Y_2D = np.column_stack([_Y, (_X[:, 1] > 0.5).astype(int)])
_DOCS = [f"{'red green' if label else 'blue yellow'} sample {i % 3}" for i, label in enumerate(_Y)]

# Data for estimators that do not take a numeric matrix and one target: (X, y) or (X,).
_INPUTS: dict[str, tuple[Any, ...]] = {
    **{name: (_DOCS, _Y) for name in ("CountVectorizer", "TfidfVectorizer", "HashingVectorizer")},
    **{name: ([{"colour": "red" if v else "blue", "size": float(i)} for i, v in enumerate(_Y)],)
       for name in ("DictVectorizer", "FeatureHasher")},
    "LabelBinarizer": (_Y,),
    "LabelEncoder": (_Y,),
    "MultiLabelBinarizer": ([{"a", "b"} if v else {"c"} for v in _Y],),
    "PatchExtractor": (_RNG.uniform(size=(3, 8, 8)),),
    "IsotonicRegression": (_X[:, 0], _Y_REG),
    "KernelCenterer": (_X @ _X.T,),
    "SelfTrainingClassifier": (_X, np.where(np.arange(40) % 5 == 0, -1, _Y)),  # -1: unlabeled
    **{name: (_X, _Y_REG_2D) for name in (
        "CCA", "PLSCanonical", "PLSRegression", "PLSSVD", "MultiOutputRegressor", "RegressorChain",
        "MultiTaskElasticNet", "MultiTaskElasticNetCV", "MultiTaskLasso", "MultiTaskLassoCV")},
    **{name: (_X, _Y_2D) for name in ("MultiOutputClassifier", "ClassifierChain")},
}


def _fitted_logistic() -> LogisticRegression:
    return LogisticRegression().fit(_X, _Y)


# Constructor arguments of estimators that have required ones (built when the test runs).
_ARGS: dict[str, Callable[[], dict[str, Any]]] = {
    **{name: lambda: {"estimator": LogisticRegression()} for name in (
        "ClassifierChain", "FixedThresholdClassifier", "MultiOutputClassifier", "OneVsOneClassifier",
        "OneVsRestClassifier", "OutputCodeClassifier", "RFE", "RFECV", "SelectFromModel",
        "SequentialFeatureSelector", "TunedThresholdClassifierCV")},
    **{name: lambda: {"estimator": Ridge()} for name in ("MultiOutputRegressor", "RegressorChain")},
    "FrozenEstimator": lambda: {"estimator": _fitted_logistic()},
    "ColumnTransformer": lambda: {"transformers": [("scaled", StandardScaler(), [0, 1])]},
    "FeatureUnion": lambda: {"transformer_list": [("pca", PCA(n_components=2)), ("scaled", StandardScaler())]},
    "Pipeline": lambda: {"steps": [("scale", StandardScaler()), ("lr", LogisticRegression())]},
    "GridSearchCV": lambda: {"estimator": LogisticRegression(), "param_grid": {"C": [0.1, 1.0]}, "cv": 3},
    "RandomizedSearchCV": lambda: {"estimator": LogisticRegression(), "n_iter": 2, "cv": 3,
                                   "param_distributions": {"C": [0.1, 1.0, 10.0]}, "random_state": 0},
    "SelfTrainingClassifier": lambda: {"estimator": LogisticRegression()},
    "SparseCoder": lambda: {"dictionary": np.eye(4)},
    # Defaults sized for more samples or features than the tiny data set has.
    **{name: lambda: {"n_components": 2} for name in ("GaussianRandomProjection", "SparseRandomProjection")},
    "Nystroem": lambda: {"n_components": 10},
    "QuantileTransformer": lambda: {"n_quantiles": 10},
    "SelectKBest": lambda: {"k": 2},
    "SpectralEmbedding": lambda: {"affinity": "rbf"},
    "StackingClassifier": lambda: {"estimators": [("lr", LogisticRegression()),
                                                  ("tree", DecisionTreeClassifier(max_depth=2))]},
    "VotingClassifier": lambda: {"estimators": [("lr", LogisticRegression()),
                                                ("tree", DecisionTreeClassifier(max_depth=2))]},
    "StackingRegressor": lambda: {"estimators": [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=2))]},
    "VotingRegressor": lambda: {"estimators": [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=2))]},
}

# Small settings that keep the sweep fast.
_SMALL = {"n_estimators": 5, "max_iter": 20}
_SMALL_FOR = {"n_estimators": None, "max_iter": {"HistGradientBoostingClassifier", "HistGradientBoostingRegressor",
                                                 "MLPClassifier", "MLPRegressor"}}


def _build(name: str, cls: type) -> Any:
    estimator = cls(**_ARGS[name]()) if name in _ARGS else cls()
    params = estimator.get_params(deep=False)
    for key, value in _SMALL.items():
        only = _SMALL_FOR[key]
        if key in params and (only is None or name in only):
            estimator.set_params(**{key: value})
    return estimator


def _target_kind(cls: type) -> str:
    return "regression" if issubclass(cls, RegressorMixin) else "classification"


_ESTIMATORS = sorted(all_estimators(), key=lambda pair: pair[0])


def _data(name: str, cls: type) -> tuple[Any, ...]:
    if name in _INPUTS:
        return _INPUTS[name]
    return (_X, _Y_REG) if _target_kind(cls) == "regression" else (_X, _Y)


def _runs(client: Client) -> dict[str, Run]:
    return {run.id: run for run in client.search_runs("Default").items}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """One store for the whole sweep (each case looks only at the runs it adds)."""
    client = Client(home=tmp_path_factory.mktemp("sweep"))
    shipyard.autolog(client=client)
    yield client
    shipyard.autolog(disable=True)
    client.close()


# Scikit-learn's notices about its own defaults and iteration limits are not under test.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning", "ignore::FutureWarning")
@pytest.mark.parametrize(("name", "cls"), _ESTIMATORS, ids=[name for name, _ in _ESTIMATORS])
def test_top_level_fit_records_one_run_with_params_and_training_metrics(client: Client, name: str, cls: type) -> None:
    missing = _required_arguments(cls) - set(_ARGS.get(name, dict)())
    if missing:
        pytest.skip(f"{name} needs constructor arguments this sweep does not provide: {sorted(missing)}")
    estimator = _build(name, cls)
    data = _data(name, cls)
    before = set(_runs(client))

    estimator.fit(*data)

    new = [run for run_id, run in _runs(client).items() if run_id not in before]
    parents = [run for run in new if run.parent_run_id is None]
    assert len(parents) == 1, [run.tags.get("estimator_class") for run in new]
    (run,) = parents
    assert run.status.value == "FINISHED"
    assert run.tags["estimator_class"] == f"{cls.__module__}.{cls.__name__}"
    assert len(run.tags["training_data_hash"]) == 64
    assert set(estimator.get_params(deep=True)) <= set(run.params)
    children = [child for child in new if child is not run]
    assert all(child.parent_run_id == run.id for child in children)
    candidates = getattr(estimator, "cv_results_", {}).get("params", [])  # searches only; RFECV has no candidates
    assert len(children) == len(candidates)
    if len(data) > 1 and np.ndim(data[1]) == 1 and hasattr(estimator, "predict"):
        if is_classifier(estimator):
            assert {"training_accuracy", "training_f1"} <= set(run.metrics)
        elif is_regressor(estimator):
            assert {"training_r2", "training_mse"} <= set(run.metrics)
    if hasattr(estimator, "score") and (len(data) > 1 or _score_takes_x_alone(estimator)):
        assert "training_score" in run.metrics
    logged = {info.path.partition("/")[0] for info in client.list_artifacts(run.id)}
    assert ("model" in logged) == hasattr(estimator, "predict")


def _required_arguments(cls: type) -> set[str]:
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return {p.name for p in parameters if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _score_takes_x_alone(estimator: Any) -> bool:
    parameters = list(inspect.signature(estimator.score).parameters.values())
    return len(parameters) < 2 or parameters[1].default is not inspect.Parameter.empty
