"""``python train.py ... ckpt_path=last`` resumes a run where it stopped, with the same result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from run_train import TINY, run_train


def _fit(zoo, run_dir, epochs, *extra):
    result = run_train(
        f"data.path={zoo}",
        *TINY,
        f"trainer.max_epochs={epochs}",
        "callbacks.rich_progress_bar=null",
        f"hydra.run.dir={run_dir}",
        *extra,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((run_dir / "results.json").read_text())


@pytest.mark.slow
def test_resuming_from_the_last_checkpoint_matches_an_uninterrupted_run(tiny_zoo, tmp_path):
    straight = _fit(tiny_zoo, tmp_path / "straight", 2)
    first_epoch = torch.load(
        next((tmp_path / "straight" / "checkpoints").glob("epoch_000*.ckpt")), weights_only=True
    )
    # stopped after the first epoch (same learning-rate schedule), then resumed
    _fit(tiny_zoo, tmp_path / "resumed", 2, f"+trainer.max_steps={first_epoch['global_step']}")
    resumed = _fit(tiny_zoo, tmp_path / "resumed", 2, "ckpt_path=last")
    assert Path(resumed["best_checkpoint"]).name == Path(straight["best_checkpoint"]).name
    assert resumed["test"].keys() == straight["test"].keys()
    for key, value in straight["test"].items():
        assert resumed["test"][key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    ours, theirs = (
        torch.load(tmp_path / run / "checkpoints" / "last.ckpt", weights_only=True)
        for run in ("resumed", "straight")
    )
    assert ours["global_step"] == theirs["global_step"] == 2 * first_epoch["global_step"]
    assert ours["state_dict"].keys() == theirs["state_dict"].keys()
    for name, tensor in theirs["state_dict"].items():
        torch.testing.assert_close(ours["state_dict"][name], tensor, rtol=1e-5, atol=1e-6)
    first = first_epoch["state_dict"]
    assert any(not torch.equal(first[k], t) for k, t in theirs["state_dict"].items())
