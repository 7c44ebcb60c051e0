"""train.py on a heterogeneous zoo: one graph metanet over all architectures."""

import json

import pytest
from hydra_compose import compose_train as _compose  # noqa: E402
from hydra_compose import train  # noqa: E402

TINY = ["data.batch_size=8", "model.hidden_channels=4", "model.num_layers=1"]


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
    assert (results["data"], results["data_config"]) == (hetero_root.name, "digits_mlp_hetero")
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
