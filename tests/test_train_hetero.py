"""train.py on a heterogeneous zoo: one graph metanet over all architectures."""

import json
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train  # noqa: E402

TINY = ["data.batch_size=8", "model.hidden_channels=4", "model.num_layers=1"]


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


@pytest.fixture(scope="module")
def hetero_root(tmp_path_factory, write_zoo):
    root = tmp_path_factory.mktemp("train_hetero")
    write_zoo(root / "mlp-4-6-5-3", sizes=(4, 6, 5, 3))
    write_zoo(root / "mlp-4-7-3", sizes=(4, 7, 3), seed=1)
    return root


def test_gnn_trains_on_a_mixed_zoo_and_reports_tau_per_architecture(hetero_root, tmp_path):
    cfg = _compose(
        [
            "task=generalization",
            "model=gnn",
            "data=digits_mlp_hetero",
            f"data.path={hetero_root}",
            "data.probe_features=2",
            "trainer.fast_dev_run=true",
            *TINY,
        ],
        tmp_path,
    )
    results = train.train(cfg, *train.build(cfg))
    assert results["data"] == "digits_mlp_hetero"
    keys = set(results["test"])
    assert {
        "test/kendall_tau",
        "test/kendall_tau/mlp-4-6-5-3",
        "test/kendall_tau/mlp-4-7-3",
    } <= keys
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["test"] == results["test"]


@pytest.mark.parametrize("model", ["dws", "statnn"])
def test_tensor_models_refuse_a_mixed_zoo_in_one_line(model, hetero_root, tmp_path):
    cfg = _compose(
        [
            "task=generalization",
            f"model={model}",
            "data=digits_mlp_hetero",
            f"data.path={hetero_root}",
        ],
        tmp_path,
    )
    with pytest.raises(ValueError, match=f"model={model} reads one architecture; use model=gnn"):
        train.build(cfg)
