"""Train a metanetwork under Hydra: ``python train.py task=generalization [model=M] ...``.

Composes ``conf/train.yaml``, seeds everything, builds the data module, the model
(``model`` partial called with the data's spec and the task's ``model_args``), the
task and the trainer; fits; tests the best checkpoint; writes ``results.json`` in the
run directory and prints the test metrics. ``train=false ckpt_path=CKPT`` only tests CKPT.
A bad configuration or a missing zoo ends with one line on stderr and exit code 2
(``HYDRA_FULL_ERROR=1`` shows the traceback). Under DDP only the first process writes.

``logger=wandb`` glue (the library never imports wandb): with no API key and no
``WANDB_MODE`` the run is logged offline (one line says so) instead of prompting; the
resolved config is the run's config (keys a W&B sweep set are kept as the sweep gave
them); the run summary holds the best value of the monitored metric; PNG figures of
the run directory go to the run as images. The function returns the best monitored
value, which Hydra sweepers (Optuna) optimize.
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

    from weightnet.tasks.console import EpochLines, is_terminal

    if not cfg.get("train", True) and not cfg.get("ckpt_path"):
        raise ValueError("train=false: give the checkpoint to test as ckpt_path=CKPT")
    _check_values(cfg)
    _check_not_empty(cfg)
    if cfg.get("ckpt_path"):
        cfg.ckpt_path = str(_checked_checkpoint(cfg))
    pl.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    _check_splits(datamodule)
    model_args = OmegaConf.to_container(cfg.get("model_args") or OmegaConf.create(), resolve=True)
    # a mixed-architecture datamodule (spec None) says what the graph metanet needs
    model_args = {**getattr(datamodule, "model_kwargs", {}), **model_args}
    factory = instantiate(cfg.model)
    if datamodule.spec is None:
        _check_reads_graphs(factory)
    elif model_args.get("probe_features", factory.keywords.get("probe_features", 0)):
        raise ValueError(
            "model.probe_features would run the normalized weights the model receives, not the "
            "networks themselves; use data.probe_features=P (computed on the raw weights)"
        )
    model = factory(datamodule.spec, **model_args)
    model_config = {**OmegaConf.to_container(cfg.model, resolve=True), **model_args}
    # called outside instantiate so that model_config (which has a _target_) stays plain data
    task = instantiate(cfg.task, _partial_=True)(model=model, model_config=model_config)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    progress = {}
    if not is_terminal():  # a log file: one line per epoch instead of a redrawn bar
        from lightning.pytorch.callbacks import ProgressBar

        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)] + [EpochLines()]
        progress = {"enable_progress_bar": False}
    if (cfg.get("logger") or {}).get("wandb"):
        _wandb_offline_unless_logged_in()
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, **progress)
    config = OmegaConf.to_container(cfg, resolve=True)
    for logger in trainer.loggers:
        if _is_wandb(logger):
            _wandb_log_config(logger, config)
        else:
            logger.log_hyperparams(config)
    return datamodule, task, trainer


#: integer knobs and their least allowed value (None: any integer)
_INTEGER_KNOBS = {
    "seed": None,
    "data.batch_size": 1,
    "data.num_workers": 0,
    "model.hidden_channels": 1,
    "model.num_layers": 1,
    "trainer.max_epochs": -1,
    "trainer.min_epochs": 0,
    "trainer.max_steps": -1,
}


def _check_values(cfg: DictConfig) -> None:
    """Reject integer knobs of the wrong type or range before anything is built."""
    for key, least in _INTEGER_KNOBS.items():
        value = OmegaConf.select(cfg, key, default=None)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{key}={value!r}: expected an integer")
        if least is not None and value < least:
            raise ValueError(f"{key}={value}: expected an integer >= {least}")


#: a test split smaller than this gets a warning: its metrics are noisy
SMALL_TEST_SPLIT = 30


def _check_not_empty(cfg: DictConfig) -> None:
    """Refuse a run that would train or test nothing (and still write results)."""
    knobs = ["trainer.limit_test_batches"]
    if cfg.get("train", True):
        knobs = ["trainer.max_epochs", "trainer.max_steps", "trainer.limit_train_batches", *knobs]
    for key in knobs:
        value = OmegaConf.select(cfg, key, default=None)
        if value is not None and not isinstance(value, bool) and value == 0:
            what = "tested" if "test" in key else "trained"
            raise ValueError(f"{key}={value}: nothing would be {what} (give a positive value)")


def _check_splits(datamodule: Any) -> None:
    """Refuse an empty split; warn, in one line, about a test split too small to trust."""
    from lightning.pytorch.utilities import rank_zero_only

    sizes = {name: len(getattr(datamodule, f"{name}_set", None) or ()) for name in SPLITS}
    empty = [name for name, size in sizes.items() if size == 0]
    if empty:
        raise ValueError(f"data.split: the {empty[0]} split is empty ({_sizes(sizes)})")
    if sizes["test"] < SMALL_TEST_SPLIT and rank_zero_only.rank == 0:
        print(
            f"warning: the test split has {sizes['test']} networks (under {SMALL_TEST_SPLIT}): "
            "its metrics are noisy; see test_ci95 in results.json",
            file=sys.stderr,
        )


SPLITS = ("train", "val", "test")


def _sizes(sizes: dict[str, int]) -> str:
    return ", ".join(f"{name} {size}" for name, size in sizes.items())


def _data_name(cfg: DictConfig, datamodule: Any) -> str:
    """The data config's name for its built-in zoo, else the zoo folders' own names."""
    choice = HydraConfig.get().runtime.choices.get("data")
    built_in = OmegaConf.select(cfg, "data.generate.out", default=None)
    paths = [Path(p) for p in getattr(datamodule, "paths", [])]
    if not paths or (built_in and [p.resolve() for p in paths] == [Path(built_in).resolve()]):
        return choice
    return "+".join(p.resolve().name for p in paths)


def _checked_checkpoint(cfg: DictConfig) -> Path:
    """``ckpt_path`` as a file that loads without unpickling code (``last``: the run's last.ckpt).

    ``ckpt_path=last`` resumes the run in ``hydra.run.dir`` from its ``checkpoints/last.ckpt``.
    """
    from weightnet.io import check_checkpoint

    path = Path(cfg.ckpt_path)
    if cfg.ckpt_path == "last":
        folder = OmegaConf.select(cfg, "callbacks.model_checkpoint.dirpath", default=None)
        path = Path(folder or Path(cfg.paths.output_dir) / "checkpoints") / "last.ckpt"
        if not path.is_file():
            raise FileNotFoundError(
                f"ckpt_path=last: no {path} to resume from (rerun with the same hydra.run.dir)"
            )
    return check_checkpoint(path)


def _check_reads_graphs(factory: Any) -> None:
    """Only graph metanets read a zoo that mixes architectures."""
    from weightnet.models.graph import GraphMetanet

    cls = getattr(factory, "func", factory)
    if not (isinstance(cls, type) and issubclass(cls, GraphMetanet)):
        name = (
            HydraConfig.get().runtime.choices.get("model")
            if HydraConfig.initialized()
            else getattr(cls, "__name__", str(cls))
        )
        raise ValueError(
            f"model={name} reads one architecture; use model=gnn or transformer for mixed zoos"
        )


def train(cfg: DictConfig, datamodule: Any, task: Any, trainer: Any) -> dict[str, Any]:
    """Fit, test the best checkpoint, write ``results.json``; returns its content."""
    fit_seconds, samples = 0.0, 0
    if cfg.get("train", True):
        start = time.perf_counter()
        trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True)
        fit_seconds = time.perf_counter() - start
        samples = task.train_samples_seen * trainer.world_size  # all processes
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        _wandb_summarize_best(trainer, cfg.get("monitor"))
    else:
        best = str(cfg.ckpt_path)
    test = trainer.test(
        task, datamodule=datamodule, ckpt_path=best or None, weights_only=True, verbose=False
    )[0]
    choices = HydraConfig.get().runtime.choices
    results = {
        "task": str(cfg.task_name),
        "model": choices.get("model"),
        "data": _data_name(cfg, datamodule),
        "seed": int(cfg.seed),
        "test": {k: float(v) for k, v in test.items() if k.startswith("test/")},
        "best_checkpoint": str(Path(best).resolve()) if best else None,
        "fit_seconds": fit_seconds,
        "train_samples_per_second": samples / fit_seconds if fit_seconds else 0.0,
        "data_config": choices.get("data"),
        "test_networks": len(datamodule.test_set),
        "test_ci95": dict(getattr(task, "test_intervals", {})),
    }
    out = Path(cfg.paths.output_dir)
    if trainer.is_global_zero:
        tmp = out / "results.json.tmp"
        tmp.write_text(json.dumps(results, indent=2) + "\n")
        tmp.replace(out / "results.json")
        print_results(results, out / "results.json")
    for logger in trainer.loggers:
        if _is_wandb(logger):
            _wandb_finish(logger, sorted(out.glob("*.png")))
    return results


def _is_wandb(logger: Any) -> bool:
    from lightning.pytorch.loggers import WandbLogger

    return isinstance(logger, WandbLogger)


def _wandb_api_key_found() -> bool:
    """Whether W&B has credentials: ``WANDB_API_KEY`` or a netrc entry for its host."""
    import netrc
    from urllib.parse import urlparse

    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        found = netrc.netrc(os.environ.get("NETRC") or None).authenticators(host or "")
    except (OSError, netrc.NetrcParseError):
        return False
    return found is not None


def _wandb_offline_unless_logged_in() -> None:
    """Without credentials and without ``WANDB_MODE``, log offline instead of prompting."""
    if os.environ.get("WANDB_MODE") or _wandb_api_key_found():
        return
    os.environ["WANDB_MODE"] = "offline"  # inherited by DDP processes and later multirun jobs
    print(
        "wandb: no API key (set WANDB_API_KEY or run `wandb login`): logging offline; "
        "`wandb sync` uploads the run later",
        file=sys.stderr,
    )


def _wandb_log_config(logger: Any, config: dict[str, Any]) -> None:
    """The resolved config and the Hydra group choices become the W&B run config.

    Keys already in the run config (set by a W&B sweep agent, e.g. ``model: dws``) are
    left as they are, so that the sweep reads back the values it chose.
    """
    from lightning.pytorch.utilities import rank_zero_only

    if rank_zero_only.rank != 0:
        return
    run = logger.experiment
    config = {**config, "choices": dict(HydraConfig.get().runtime.choices)}
    run.config.update({k: v for k, v in config.items() if k not in run.config})


def _wandb_summarize_best(trainer: Any, monitor: DictConfig | None) -> None:
    """Put the best (checkpointed) value of the monitored metric in the W&B run summary."""
    checkpoint = trainer.checkpoint_callback
    if monitor is None or checkpoint is None or checkpoint.best_model_score is None:
        return
    for logger in trainer.loggers:
        if _is_wandb(logger) and trainer.is_global_zero:
            logger.experiment.summary[monitor.metric] = float(checkpoint.best_model_score)


def _wandb_finish(logger: Any, figures: list[Path]) -> None:
    """Log the run directory's PNG figures, then close the run (the next job starts anew)."""
    from lightning.pytorch.utilities import rank_zero_only

    if rank_zero_only.rank != 0:
        return
    for figure in figures:
        logger.log_image(key=f"figures/{figure.stem}", images=[str(figure)])
    logger.experiment.finish()


def print_results(results: dict[str, Any], path: Path) -> None:
    """A short table of the test metrics."""
    from rich.console import Console
    from rich.table import Table

    title = f"{results['task']} / {results['model']} / {results['data']}"
    table = Table(title=title, min_width=len(title) + 4)
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
def main(cfg: DictConfig) -> float | None:
    """Entry point; configuration and data errors become one line and exit code 2.

    Returns the best value of the monitored validation metric (what sweepers optimize).
    """
    import logging

    import lightning  # noqa: F401  (adds a console handler of its own to the "lightning" logger)
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from weightnet.errors import WeightnetError
    from weightnet.tasks.console import quiet_lightning

    # Hydra's root handlers (console and train.log) print Lightning's messages, once
    logging.getLogger("lightning").handlers.clear()
    quiet_lightning()
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
    try:
        train(cfg, datamodule, task, trainer)
    except WeightnetError as err:  # e.g. a NaN loss
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {_one_line(err)}", file=sys.stderr)
        sys.exit(2)
    checkpoint = trainer.checkpoint_callback
    best = checkpoint.best_model_score if checkpoint is not None else None
    return float(best) if best is not None else None


#: the overrides the short help lists, with what each does
_COMMON_OVERRIDES = (
    ("data.path", "DIR", "a zoo folder, or a list [DIR1,DIR2]"),
    ("data.target", "COLUMN", "the metrics.csv column to predict"),
    ("trainer.max_epochs", "N", "training epochs"),
    ("data.batch_size", "N", "networks per batch"),
    ("seed", "S", "seed of the model and the batches (the split has data.split_seed)"),
)


def short_help(overrides: list[str]) -> str:
    """``python train.py [OVERRIDES] --help``: tasks, models, data, common overrides, outputs.

    The values shown are the defaults of the configuration ``overrides`` compose (by
    default ``task=generalization``'s).
    """
    import textwrap

    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    choices = cfg.hydra.runtime.choices

    def options(group: str) -> str:
        folder = CONFIG_DIR / group
        names = sorted(
            p.relative_to(folder).with_suffix("").as_posix() for p in folder.rglob("*.yaml")
        )
        chosen = choices.get(group, cfg.get("task_name"))
        text = f"{group + '=':<7}{', '.join(names)} (now: {chosen})"
        return textwrap.fill(text, 92, initial_indent="  ", subsequent_indent=" " * 9)

    lines = [
        "python train.py task=TASK [model=MODEL] [data=DATA] [KEY=VALUE ...]",
        "",
        "Trains a metanetwork on a zoo of trained networks, tests its best checkpoint and writes",
        "results.json. Each task picks its own model and data; choices on the command line win.",
        "",
        *(options(group) for group in ("task", "model", "data")),
        "",
        f"Overrides people use [their values now: the defaults of task={cfg.task_name}]:",
    ]
    for key, meta, what in _COMMON_OVERRIDES:
        value = OmegaConf.select(cfg, key, throw_on_missing=False)
        if key == "data.path" and OmegaConf.select(cfg, "data.generate.out") is not None:
            value = f"{cfg.data.generate.out}: built in, generated on first use"
        lines.append(f"  {key + '=' + meta:<26}{what} [{value}]")
    lines += [
        "  also: model.hidden_channels=N, model.num_layers=N, logger=wandb, trainer=ddp, -m (multirun)",
        "",
        f"Outputs go to {cfg.paths.log_dir}/{cfg.task_name}/runs/<date_time>/ (results.json,",
        "checkpoints/, figures, train.log), relative to the working directory; hydra.run.dir=DIR",
        "picks the folder, WEIGHTNET_ROOT=DIR moves outputs/ and data/.",
        "",
        "  python train.py --help-all     Hydra's full help: every config group, the whole config",
        "  python train.py --cfg job      the composed config of a run (with your overrides)",
        "  python train.py --hydra-help   Hydra's own flags",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if "--help-all" in arguments:  # Hydra's own, full application help
        sys.argv = [sys.argv[0], *("--help" if a == "--help-all" else a for a in arguments)]
    elif "--help" in arguments or "-h" in arguments:
        _check_overrides([a for a in arguments if a not in ("--help", "-h")])
        print(short_help([a for a in arguments if a not in ("--help", "-h")]))
        sys.exit(0)
    if os.environ.get("HYDRA_FULL_ERROR") != "1":
        _check_overrides(sys.argv[1:])
    main()
