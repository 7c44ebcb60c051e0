"""DDP on 2 CPU processes (gloo) through train.py: test metrics over the whole test set equal
a single-process evaluation of the same checkpoint; results.json is written once."""

from __future__ import annotations

import json

import pytest
from run_train import TINY, run_train

# 15 test networks (5 runs x 3 checkpoints): shards of 8 and 7, two batches each, so a
# padded DistributedSampler would count one network twice
DATA = ("data.split=[0.5,0.1,0.4]", "trainer.accelerator=cpu", "task=generalization", *TINY)


@pytest.mark.slow
def test_ddp_test_metrics_equal_single_process_on_the_same_checkpoint(write_zoo, tmp_path):
    zoo = f"data.path={write_zoo(tmp_path / 'zoo')}"
    fit = run_train(*DATA, zoo, "trainer.max_epochs=1", f"hydra.run.dir={tmp_path / 'fit'}")
    assert fit.returncode == 0, fit.stderr[-3000:]
    fitted = json.loads((tmp_path / "fit" / "results.json").read_text())
    test_only = (*DATA, zoo, "train=false", f"ckpt_path={fitted['best_checkpoint']}")

    single = run_train(*test_only, f"hydra.run.dir={tmp_path / 'single'}")
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = run_train(
        *test_only, "trainer=ddp", "trainer.devices=2", f"hydra.run.dir={tmp_path / 'ddp'}"
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert "Starting with 2 processes" in ddp.stdout + ddp.stderr

    one = json.loads((tmp_path / "single" / "results.json").read_text())
    two = json.loads((tmp_path / "ddp" / "results.json").read_text())
    assert one["best_checkpoint"] == two["best_checkpoint"] == fitted["best_checkpoint"]
    assert one["fit_seconds"] == 0.0 and one["train_samples_per_second"] == 0.0
    assert one["test"] == pytest.approx(fitted["test"], abs=1e-6)  # test-only = after fit
    assert two["test"]["test/kendall_tau"] == one["test"]["test/kendall_tau"]  # same ranks
    assert two["test"] == pytest.approx(one["test"], abs=1e-5)  # float32 sums in another order
    assert ddp.stdout.count("results:") == 1  # the first process alone prints and writes
    assert sorted(p.name for p in (tmp_path / "ddp").glob("*.json")) == ["results.json"]
