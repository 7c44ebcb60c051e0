"""Sweeps: W&B sweep files (conf/sweep), Hydra multirun, the Optuna sweeper and the SLURM
launcher configs compose into valid train.py runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from run_train import ROOT, TINY, run_train

CONF = ROOT / "conf"
SWEEPS = sorted((CONF / "sweep").glob("*.yaml"))
GOALS = {"maximize": "max", "minimize": "min"}


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=True)


def _first_values(parameters: dict) -> dict:
    """Each W&B sweep parameter's first value (``value``, ``values[0]`` or ``min``)."""
    first = {}
    for name, spec in parameters.items():
        assert len({"value", "values", "min"} & set(spec)) == 1, name
        first[name] = spec["value"] if "value" in spec else spec.get("values", [None])[0]
        if "min" in spec:
            assert spec["min"] < spec["max"], name
            first[name] = spec["min"]
    return first


def _override(name: str, value) -> str:
    return f"{name}={str(value).lower() if isinstance(value, bool) else value}"


def test_there_is_a_sweep_file_per_task_config():
    tasks = {p.stem for p in (CONF / "task").glob("*.yaml")}
    swept = {yaml.safe_load(p.read_text())["parameters"]["task"]["value"] for p in SWEEPS}
    assert swept == tasks


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_sweep_file_parameters_are_hydra_overrides(path):
    sweep = yaml.safe_load(path.read_text())
    assert {"program", "method", "metric", "parameters", "command"} <= set(sweep)
    assert sweep["method"] in {"bayes", "random", "grid"} and sweep["program"] == "train.py"
    assert sweep["command"] == ["${env}", "python", "${program}", "${args_no_hyphens}"]
    first = _first_values(sweep["parameters"])
    assert first["task"] == path.stem and first["logger"] == "wandb"
    cfg = _compose([_override(k, v) for k, v in first.items()])
    choices = cfg.hydra.runtime.choices
    for name, value in first.items():
        if name in choices:  # a config group (task, model, logger)
            assert choices[name] == value, name
        else:
            assert OmegaConf.select(cfg, name, throw_on_missing=True) == value, name
    assert sweep["metric"]["name"] == cfg.monitor.metric  # train.py puts its best in the summary
    assert GOALS[sweep["metric"]["goal"]] == cfg.monitor.mode


def test_sweep_command_runs(write_zoo, tmp_path):
    """The command W&B's agent builds from the generalization sweep's first values."""
    sweep = yaml.safe_load((CONF / "sweep" / "generalization.yaml").read_text())
    args = [_override(k, v) for k, v in _first_values(sweep["parameters"]).items()]
    command = [a for a in sweep["command"] if a != "${env}"]
    assert command[:2] == ["python", "${program}"]  # run_train runs python train.py
    run_dir = tmp_path / "run"
    proc = run_train(
        *args, f"data.path={write_zoo(tmp_path / 'zoo')}", "trainer.fast_dev_run=true",
        f"hydra.run.dir={run_dir}", env={"WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["model"] == "nfn_np" and "test/kendall_tau" in results["test"]


@pytest.mark.slow
def test_multirun_writes_results_per_job(write_zoo, tmp_path):
    proc = run_train(
        "-m", "model=dws,nfn_np", "seed=0,1,2", f"data.path={write_zoo(tmp_path / 'zoo')}",
        "trainer.fast_dev_run=true", *TINY, f"hydra.sweep.dir={tmp_path / 'multi'}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = [json.loads(p.read_text()) for p in sorted((tmp_path / "multi").glob("*/results.json"))]
    assert sorted((r["model"], r["seed"]) for r in jobs) == [
        (m, s) for m in ("dws", "nfn_np") for s in (0, 1, 2)
    ]


def _hparams_searches() -> list[Path]:
    return sorted((CONF / "hparams_search").glob("*.yaml"))


@pytest.mark.parametrize("path", _hparams_searches(), ids=lambda p: p.stem)
def test_optuna_search_space_is_made_of_overrides(path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep

    cfg = _compose([f"hparams_search={path.stem}"])
    sweeper = cfg.hydra.sweeper
    assert "OptunaSweeper" in sweeper._target_ and cfg.hydra.mode.name == "MULTIRUN"
    assert GOALS[sweeper.direction] == cfg.monitor.mode  # train.py returns the best monitored
    parser = OverridesParser.create()
    overrides = []
    for name, space in sweeper.params.items():
        sweep = parser.parse_override(f"{name}={space}").value()
        first = sweep.list[0] if isinstance(sweep, ChoiceSweep) else None
        if isinstance(sweep, IntervalSweep):
            first = sweep.start
        assert first is not None, f"{name}: {space}"
        overrides.append(f"{name}={first}")
    _compose([f"hparams_search={path.stem}", *overrides])  # every name is a valid override


@pytest.mark.slow
def test_optuna_sweep_runs_two_trials(write_zoo, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    out = tmp_path / "optuna"
    proc = run_train(
        "-m", "hparams_search=generalization_optuna", "hydra.sweeper.n_trials=2",
        "hydra.sweeper.params.model='choice(statnn)'", "trainer.max_epochs=1",
        "trainer.accelerator=cpu", f"data.path={write_zoo(tmp_path / 'zoo')}",
        "data.split=[0.5,0.2,0.3]", f"hydra.sweep.dir={out}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list(out.glob("*/results.json"))) == 2
    best = yaml.safe_load((out / "optimization_results.yaml").read_text())
    assert isinstance(best["best_value"], float) and -1 <= best["best_value"] <= 1


def test_slurm_launcher_gets_one_task_per_device():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    cfg = _compose(
        ["hydra/launcher=slurm", "trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2",
         "hydra.sweep.dir=/tmp/sweep", "hydra.job.name=train"]
    )  # fmt: skip
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (2, 4, 4)
    assert launcher.submitit_folder == "/tmp/sweep/.submitit/%j"


def test_optional_extras_are_declared():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        tomllib = pytest.importorskip("tomli")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert any(d.startswith("hydra-optuna-sweeper") for d in extras["sweep"])
    assert any(d.startswith("hydra-submitit-launcher") for d in extras["cluster"])
    # [dev] (the README's set-up, CI) installs both: their tests run, none is skipped
    assert any(d.startswith("hydra-optuna-sweeper") for d in extras["dev"])
    assert any(d.startswith("hydra-submitit-launcher") for d in extras["dev"])
