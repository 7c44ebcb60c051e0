"""Compose ``conf/train.yaml`` as ``train.py`` sees it under ``@hydra.main`` (for tests)."""

from __future__ import annotations

import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train  # noqa: E402

__all__ = ["ROOT", "compose_train", "train"]


def compose_train(overrides: list[str], output_dir: Path) -> DictConfig:
    """The composed config with ``paths.output_dir=output_dir``; HydraConfig is set, as in a run."""
    with initialize_config_dir(config_dir=str(train.CONFIG_DIR), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[*overrides, f"paths.output_dir={output_dir}"],
            return_hydra_config=True,
        )
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]  # as under @hydra.main, the task function sees no hydra node
    return cfg
