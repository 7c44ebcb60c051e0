"""Every ``conf/experiment/*.yaml`` composes, resolves, and names arguments its classes take."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

CONF = Path(__file__).resolve().parents[1] / "conf"
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=overrides)


def _accepts(node) -> bool:
    """Whether the ``_target_`` of a config node takes every key of the node."""
    node = OmegaConf.to_container(node, resolve=True)
    module, name = node["_target_"].rsplit(".", 1)
    params = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return True
    return set(node) - {"_target_", "_partial_"} <= set(params)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes(experiment):
    cfg = _compose([f"experiment={experiment}"])
    assert _accepts(cfg.data) and _accepts(cfg.model)
    assert OmegaConf.to_container(cfg.task, resolve=False)["_target_"].startswith("weightnet.")


@pytest.mark.parametrize("dataset", ["cifar10", "svhn"])
def test_cnn_zoo_experiments_follow_nfn(dataset):
    cfg = _compose([f"experiment=cnn_zoo_{dataset}_gs"])
    assert cfg.data.path.endswith(f"data/cnn-zoo-{dataset}")
    assert cfg.data.split_column == "split" and cfg.data.batch_size == 8
    assert cfg.task.loss == "bce" and cfg.task.optimizer.lr == 1e-3 and cfg.task.scheduler is None
    assert cfg.model._target_ == "weightnet.models.NFN" and cfg.model.mode == "hnp"
    assert cfg.trainer.max_epochs == 50
    other = _compose([f"experiment=cnn_zoo_{dataset}_gs", "model=statnn"])
    assert other.model._target_ == "weightnet.models.StatNN"
