"""train.py's INR tasks compose and run (fast_dev_run) on a tiny digits-inr zoo."""

import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from inr_zoo import write_tiny_inr_zoo
from omegaconf import open_dict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train  # noqa: E402

TINY = ["data.batch_size=4", "model.hidden_channels=4", "model.num_layers=1"]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return write_tiny_inr_zoo(tmp_path_factory.mktemp("train_inr") / "zoo")


def _compose(overrides, output_dir):
    with initialize_config_dir(config_dir=str(train.CONFIG_DIR), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[*overrides, f"paths.output_dir={output_dir}"],
            return_hydra_config=True,
        )
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


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
