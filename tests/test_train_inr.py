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


@pytest.mark.parametrize("probes", [0, 4])
@pytest.mark.parametrize("model", ["editor/dws", "editor/gnn"])
def test_inr_editing_runs(model, probes, zoo, tmp_path):
    overrides = ["task=inr_editing", f"model={model}", f"data.path={zoo}"]
    extra = [f"data.probe_features={probes}", "data.probe_domain=cosine"]
    cfg = _compose([*overrides, "trainer.fast_dev_run=true", *extra, *TINY], tmp_path)
    results = train.train(cfg, *train.build(cfg))
    assert results["model"] == model
    assert results["test"]["test/mse_identity"] > 0
    assert results["test"]["test/mse"] >= 0
    assert (tmp_path / "editing_examples.png").stat().st_size > 1000


@pytest.mark.parametrize("model", ["dws", "nfn_hnp", "gnn", "statnn"])
def test_probe_features_train_and_predict_through_one_pipeline(model, zoo, tmp_path):
    """data.probe_features: the model reads 1 + P channels; its checkpoint predicts the same."""
    import numpy as np
    import torch

    from weightnet.data.zoo import open_zoo
    from weightnet.pretrained import load_pretrained

    overrides = ["task=inr_classification", f"model={model}", f"data.path={zoo}"]
    cfg = _compose([*overrides, "trainer.max_epochs=1", "data.probe_features=4", *TINY], tmp_path)
    datamodule, task, trainer = train.build(cfg)
    results = train.train(cfg, datamodule, task, trainer)
    assert datamodule.model_kwargs == {"in_channels": 5}
    ws, _ = next(iter(datamodule.test_dataloader()))
    assert ws.channels == 5
    metanet = load_pretrained(results["best_checkpoint"])
    task.model.load_state_dict(metanet.model.state_dict())
    task.model.eval()
    opened = open_zoo(zoo)
    rows = datamodule.test_set.rows[: len(ws.weights[0]), 1]
    states = opened.weightspace(rows).to_state_dicts(opened.spec)
    probs = torch.tensor([p["probs"] for p in metanet.predict(states)])
    with torch.no_grad():
        expected = torch.softmax(task.model(ws), dim=-1)
    np.testing.assert_allclose(probs.numpy(), expected.numpy(), atol=1e-5)


def test_model_probe_features_on_normalized_weights_are_refused(zoo, tmp_path):
    cfg = _compose(
        ["task=inr_classification", "model=gnn", f"data.path={zoo}", "+model.probe_features=4"],
        tmp_path,
    )
    with pytest.raises(ValueError, match="use data.probe_features=P"):
        train.build(cfg)
