"""Train a metanetwork under Hydra: ``python train.py task=generalization [model=M] ...``.

Composes ``conf/train.yaml``, seeds everything, builds the data module, the model
(``model`` partial called with the data's spec and the task's ``model_args``), the
task and the trainer; fits; tests the best checkpoint; writes ``results.json`` in the
run directory and prints the test metrics. A bad configuration or a missing zoo ends
with one line on stderr and exit code 2 (``HYDRA_FULL_ERROR=1`` shows the traceback).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

CONFIG_DIR = Path(__file__).resolve().parent / "conf"


def build(cfg: DictConfig) -> tuple[Any, Any, Any]:
    """Data module (set up), task and trainer from a composed config."""
    import lightning.pytorch as pl
    from hydra.utils import instantiate

    pl.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    model_args = OmegaConf.to_container(cfg.get("model_args") or {}, resolve=True)
    model = instantiate(cfg.model)(datamodule.spec, **model_args)
    model_config = {**OmegaConf.to_container(cfg.model, resolve=True), **model_args}
    # called outside instantiate so that model_config (which has a _target_) stays plain data
    task = instantiate(cfg.task, _partial_=True)(model=model, model_config=model_config)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    for logger in trainer.loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    return datamodule, task, trainer


def train(cfg: DictConfig, datamodule: Any, task: Any, trainer: Any) -> dict[str, Any]:
    """Fit, test the best checkpoint, write ``results.json``; returns its content."""
    start = time.perf_counter()
    trainer.fit(task, datamodule=datamodule)
    fit_seconds = time.perf_counter() - start
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    test = trainer.test(
        task, datamodule=datamodule, ckpt_path="best" if best else None, weights_only=True
    )[0]
    choices = HydraConfig.get().runtime.choices
    results = {
        "task": str(cfg.task_name),
        "model": choices.get("model"),
        "data": choices.get("data"),
        "seed": int(cfg.seed),
        "test": {k: float(v) for k, v in test.items() if k.startswith("test/")},
        "best_checkpoint": str(Path(best).resolve()) if best else None,
        "fit_seconds": fit_seconds,
        "train_samples_per_second": task.train_samples_seen / fit_seconds,
    }
    out = Path(cfg.paths.output_dir)
    tmp = out / "results.json.tmp"
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(out / "results.json")
    print_results(results, out / "results.json")
    return results


def print_results(results: dict[str, Any], path: Path) -> None:
    """A short table of the test metrics."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{results['task']} / {results['model']} / {results['data']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in results["test"].items():
        table.add_row(key, f"{value:.4f}")
    table.add_row("fit seconds", f"{results['fit_seconds']:.1f}")
    console = Console()
    console.print(table)
    console.print(f"results: {path}")


def _one_line(err: BaseException) -> str:
    """An exception's message on one line (Hydra's search-path listing dropped)."""
    return " ".join(str(err).split("Config search path")[0].split())


def _check_overrides(argv: list[str]) -> None:
    """Compose once before Hydra does, to report a bad override on one line (exit code 2)."""
    if any(arg.startswith("-") for arg in argv):  # --multirun, --cfg, ...: Hydra's own flags
        return
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException

    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            compose("train", overrides=argv)
    except HydraException as err:
        print(f"error: {_one_line(err)}", file=sys.stderr)
        sys.exit(2)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def main(cfg: DictConfig) -> None:
    """Entry point; configuration and data errors become one line and exit code 2."""
    import logging

    import lightning  # noqa: F401  (adds a console handler of its own to the "lightning" logger)
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from weightnet.errors import WeightnetError

    # Hydra's root handlers (console and train.log) print Lightning's messages, once
    logging.getLogger("lightning").handlers.clear()
    try:
        datamodule, task, trainer = build(cfg)
    except (
        WeightnetError,
        HydraException,
        OmegaConfBaseException,
        OSError,
        TypeError,
        ValueError,
    ) as err:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {_one_line(err)}", file=sys.stderr)
        sys.exit(2)
    train(cfg, datamodule, task, trainer)


if __name__ == "__main__":
    if os.environ.get("HYDRA_FULL_ERROR") != "1":
        _check_overrides(sys.argv[1:])
    main()
