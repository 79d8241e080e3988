"""Lightning: ``LightningLogger`` records a training into a run, and autologging attaches one.

The module is a one-layer regression trained for two epochs of four batches on CPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import shipyard
from shipyard import Client, Run
from shipyard.autolog import LightningLogger

pl: Any = pytest.importorskip("lightning.pytorch")

pytestmark = [
    # Lightning's advice for real workloads (loader workers) and a notice it raises itself about
    # PyTorch's tree helpers are not what these tests are about.
    pytest.mark.filterwarnings("ignore:.*does not have many workers"),
    pytest.mark.filterwarnings(r"ignore:`isinstance\(treespec, LeafSpec\)` is deprecated:FutureWarning"),
]


class Regression(pl.LightningModule):
    def __init__(self, lr: float = 0.1, fail: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(3, 1)
        self.example_input_array = torch.zeros(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.hparams.fail:
            raise RuntimeError("diverged")
        x, y = batch
        loss = torch.nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def _loader() -> torch.utils.data.DataLoader[Any]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, generator=generator)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)


def _trainer(tmp_path: Path, logger: Any = False, **options: Any) -> Any:
    settings = {"max_epochs": 2, "enable_checkpointing": False, **options}
    return pl.Trainer(logger=logger, enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=1,
                      accelerator="cpu", default_root_dir=tmp_path, **settings)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    client = Client(home=tmp_path / "home")
    yield client
    client.close()


def _only_run(client: Client) -> Run:
    (run,) = client.search_runs("Default").items
    return run


def test_logger_records_hyperparams_and_each_step_and_ends_its_own_run(client: Client, tmp_path: Path) -> None:
    logger = LightningLogger(client=client, log_checkpoints=True)
    _trainer(tmp_path, logger, enable_checkpointing=True).fit(Regression(lr=0.05), _loader())
    run = _only_run(client)
    assert run.status.value == "FINISHED" and run.params["lr"] == "0.05"
    assert [m.step for m in client.get_metric_history(run.id, "train_loss")] == list(range(8))
    checkpoints = [a.path for a in client.list_artifacts(run.id, "checkpoints")]
    assert checkpoints and all(path.endswith(".ckpt") for path in checkpoints)


def test_a_failed_training_ends_the_logger_s_run_failed(client: Client, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="diverged"):
        _trainer(tmp_path, LightningLogger(client=client)).fit(Regression(fail=True), _loader())
    assert _only_run(client).status.value == "FAILED"


def test_autolog_attaches_a_logger_and_packages_the_module(client: Client, tmp_path: Path) -> None:
    shipyard.autolog(client=client, frameworks=["lightning"])
    try:
        trainer = _trainer(tmp_path)
        module = Regression()
        trainer.fit(module, _loader())
    finally:
        shipyard.autolog(disable=True)
    assert trainer.loggers == []  # the logger was lent for the fit only
    run = _only_run(client)
    assert run.name == "autolog-Regression"
    assert run.params["max_epochs"] == "2" and run.params["optimizer_name"] == "SGD"
    assert len(client.get_metric_history(run.id, "train_loss")) == 8
    model = client.load_model(f"runs:/{run.id}/model")
    assert model.flavor == "torch" and module.training  # exporting left the module as it was
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5)


def test_autolog_leaves_a_trainer_that_already_has_a_shipyard_logger_to_it(client: Client, tmp_path: Path) -> None:
    shipyard.autolog(client=client, frameworks=["lightning"], log_models=False)
    try:
        with shipyard.start_run("mine", client=client) as run:
            _trainer(tmp_path, LightningLogger(run), max_epochs=1).fit(Regression(), _loader())
    finally:
        shipyard.autolog(disable=True)
    assert client.search_runs("Default").items == []
    assert len(client.get_metric_history(run.id, "train_loss")) == 4
