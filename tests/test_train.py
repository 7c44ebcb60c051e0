"""train.py under Hydra: every task and model composes and runs; results.json follows DESIGN 5.2."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra_compose import ROOT, train  # noqa: E402
from hydra_compose import compose_train as _compose  # noqa: E402
from omegaconf import OmegaConf

from weightnet.models import MODELS as MODEL_REGISTRY  # noqa: E402

# the metanets of weightnet.models.MODELS that have a config (other model configs serve other tasks)
MODELS = sorted(set(MODEL_REGISTRY) & {p.stem for p in (ROOT / "conf" / "model").glob("*.yaml")})
TASKS = sorted(p.stem for p in (ROOT / "conf" / "task").glob("*.yaml"))
TINY = ["data.batch_size=8", "model.hidden_channels=4", "model.num_layers=1"]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory, write_zoo):
    return write_zoo(tmp_path_factory.mktemp("train") / "zoo")


@pytest.mark.parametrize("model", MODELS)
def test_every_model_runs_fast_dev_run(model, zoo, tmp_path):
    cfg = _compose(
        [
            "task=generalization",
            f"model={model}",
            f"data.path={zoo}",
            "trainer.fast_dev_run=true",
            *TINY,
        ],
        tmp_path,
    )
    assert cfg.data.augment == (model == "mlp")
    results = train.train(cfg, *train.build(cfg))
    assert results["model"] == model
    assert set(results["test"]) >= {"test/kendall_tau", "test/r2", "test/mse"}
    assert (tmp_path / "results.json").exists()


@pytest.mark.parametrize("task", TASKS)
def test_every_task_composes_with_its_default_model_and_data(task, tmp_path):
    cfg = _compose([f"task={task}"], tmp_path)
    assert cfg.task._target_.startswith("weightnet.tasks.")
    assert cfg.model._partial_ and cfg.task.optimizer._partial_
    assert cfg.callbacks.model_checkpoint.monitor == cfg.monitor.metric
    for knob in (
        "data.path",
        "data.batch_size",
        "model.hidden_channels",
        "model.num_layers",
        "seed",
    ):
        assert OmegaConf.select(cfg, knob) is not None


def test_command_line_choices_beat_the_task_defaults(tmp_path):
    cfg = _compose(
        ["task=generalization", "model=dws", "trainer.max_epochs=2", "logger=wandb"], tmp_path
    )
    assert cfg.model._target_ == "weightnet.models.DWSNet"
    assert cfg.trainer.max_epochs == 2 and cfg.task.scheduler.T_max == 2
    assert "wandb" in cfg.logger and "csv" not in cfg.logger


def _run(*args, env=None):
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})}, timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_train_py_writes_results_json(zoo, tmp_path):
    run_dir = tmp_path / "run"
    proc = _run(
        "task=generalization", "model=statnn", f"data.path={zoo}", "trainer.max_epochs=2",
        "trainer.accelerator=cpu", f"hydra.run.dir={run_dir}", *TINY,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert set(results) == {
        "task", "model", "data", "seed", "test", "best_checkpoint", "fit_seconds",
        "train_samples_per_second", "data_config", "test_networks", "test_ci95",
    }  # fmt: skip
    # "data": the zoo's own name, since data.path is not the config's built-in zoo
    assert (results["task"], results["model"], results["data"], results["seed"]) == (
        "generalization", "statnn", "zoo", 0,
    )  # fmt: skip
    assert results["data_config"] == "digits_mlp" and results["test_networks"] == 3
    low, high = results["test_ci95"]["test/kendall_tau"]
    assert -1 <= low <= high <= 1
    warning = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert warning == [
        "warning: the test split has 3 networks (under 30): its metrics are noisy; see "
        "test_ci95 in results.json"
    ]
    assert all(isinstance(v, float) for v in results["test"].values())
    assert {"test/kendall_tau", "test/r2"} <= set(results["test"])
    assert isinstance(results["fit_seconds"], float) and results["fit_seconds"] > 0
    assert results["train_samples_per_second"] > 0
    best = Path(results["best_checkpoint"])
    assert best.is_absolute() and best.exists()
    checkpoint = torch.load(best, weights_only=True)  # plain data only
    assert checkpoint["ZooDataModule"]["spec"]["layers"][0]["shape"] == [6, 4]
    assert checkpoint["hyper_parameters"]["model_config"]["_target_"] == "weightnet.models.StatNN"
    assert "test/kendall_tau" in proc.stdout


def _assert_one_line_error(proc, message, run_dir):
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if line.startswith("error:")]) == 1
    assert not (run_dir / "results.json").exists()


def test_bad_override_is_one_line_without_traceback(tmp_path):
    proc = _run("task=generalization", "model=nope", f"hydra.run.dir={tmp_path}")
    _assert_one_line_error(proc, "Could not find 'model/nope'", tmp_path)


@pytest.mark.slow
def test_missing_zoo_is_one_line_without_traceback(tmp_path):
    proc = _run("task=generalization", "data.path=/no/such/zoo", f"hydra.run.dir={tmp_path}")
    _assert_one_line_error(proc, "/no/such/zoo: no such zoo folder", tmp_path)


def test_help_is_a_short_summary_and_the_full_dump_is_one_flag_away():
    short = _run("--help")
    assert short.returncode == 0 and short.stderr == ""
    lines = short.stdout.splitlines()
    assert len(lines) < 40 and lines[0].startswith("python train.py task=TASK")
    text = short.stdout
    for task in TASKS:
        assert task in text
    assert all(model in text for model in MODELS)
    assert (
        "data.target=COLUMN" in text and "the metrics.csv column to predict [test_accuracy]" in text
    )
    assert "trainer.max_epochs=N      training epochs [10]" in text  # generalization's default
    assert "relative to the working directory" in text and "--help-all" in text
    editing = _run("task=inr_editing", "--help")
    assert (
        "training epochs [5]" in editing.stdout
        and "the defaults of task=inr_editing" in editing.stdout
    )
    full = _run("--help-all")
    assert full.returncode == 0 and "== Configuration groups ==" in full.stdout
    assert len(full.stdout.splitlines()) > 80
