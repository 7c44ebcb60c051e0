"""The main job's output is clean: no warnings, tips or redrawn progress bars in a log file."""

from __future__ import annotations

import json
import re

import pytest
from run_train import run_train

#: what must not appear in the log of a healthy run
NOISE = re.compile(r"warn|deprecat|tip:|litlogger|weights_only", re.IGNORECASE)


@pytest.mark.slow
def test_the_main_job_logs_a_line_per_epoch_and_no_warning(tmp_path):
    """`python train.py task=generalization` on a fresh small built-in zoo, output to a pipe."""
    run_dir = tmp_path / "run"
    proc = run_train(
        "task=generalization",
        f"paths.data_dir={tmp_path / 'data'}",
        "data.generate.num_models=50",  # 5 test runs = 30 networks: no small-split warning
        "trainer.max_epochs=2",
        f"hydra.run.dir={run_dir}",
        env={"PYTHONWARNINGS": None},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    output = proc.stdout + proc.stderr
    assert [line for line in output.splitlines() if NOISE.search(line)] == []
    assert "\r" not in output  # no progress bar redraws
    epochs = [line for line in proc.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epochs] == ["epoch 1/2", "epoch 2/2"]
    assert all("val/kendall_tau " in line and line.endswith(" s)") for line in epochs)
    zoo = tmp_path / "data" / "digits-mlp-50runs-seed0"
    assert f"zoo digits-mlp: training 50 runs into {zoo}" in proc.stderr.splitlines()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["data"] == "digits_mlp" and results["test_networks"] == 30
