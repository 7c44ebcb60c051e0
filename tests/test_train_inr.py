"""train.py's INR tasks compose and run (fast_dev_run) on a tiny digits-inr zoo."""

import pytest
from hydra_compose import compose_train as _compose
from hydra_compose import train
from inr_zoo import tiny_inr_zoo

TINY = ["data.batch_size=4", "model.hidden_channels=4", "model.num_layers=1"]


@pytest.fixture(scope="module")
def zoo():
    return tiny_inr_zoo()


def test_inr_task_defaults_compose(tmp_path):
    cls = _compose(["task=inr_classification"], tmp_path)
    assert cls.data.split_column == "split" and cls.data.target == "label"
    assert cls.model_args.out_features == 10 and cls.monitor.metric == "val/acc"
    edit = _compose(["task=inr_editing"], tmp_path)
    assert edit.data._target_.endswith("InrDilationDataModule")
    assert edit.model._target_ == "weightnet.models.EquivariantEditor"
    assert edit.data.path == cls.data.path and edit.monitor.mode == "min"


@pytest.mark.parametrize("model", ["dws", "statnn"])
def test_inr_classification_runs(model, zoo, tmp_path):
    overrides = ["task=inr_classification", f"model={model}", f"data.path={zoo}"]
    cfg = _compose(
        [*overrides, "trainer.fast_dev_run=true", "data.transforms.sign_flip.p=1", *TINY], tmp_path
    )
    results = train.train(cfg, *train.build(cfg))
    assert 0.0 <= results["test"]["test/acc"] <= 1.0
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 1000


@pytest.mark.parametrize("model", ["editor/dws", "editor/gnn"])
def test_inr_editing_runs(model, zoo, tmp_path):
    overrides = ["task=inr_editing", f"model={model}", f"data.path={zoo}"]
    cfg = _compose([*overrides, "trainer.fast_dev_run=true", *TINY], tmp_path)
    results = train.train(cfg, *train.build(cfg))
    assert results["model"] == model
    assert results["test"]["test/mse_identity"] > 0
    assert results["test"]["test/mse"] >= 0
    assert (tmp_path / "editing_examples.png").stat().st_size > 1000
