"""What training prints: progress on a terminal, one line per epoch elsewhere, no noise.

:func:`quiet_lightning` drops the lines of Lightning (and of torch inside it) that say
nothing about the run: the advertisement for ``litlogger``, the note that a model-summary
callback is already configured, the advice to log steps less often than an epoch has
batches, and the ``FutureWarning`` torch raises when Lightning builds a ``LeafSpec``.
:class:`EpochLines` is the progress report for logs: a progress bar written to a file is
a flood of redraws, one line per epoch is readable.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from typing import IO

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback

__all__ = ["EpochLines", "is_terminal", "quiet_lightning"]

#: Lightning log messages that carry no information about the run (matched at their start).
_NOISE = ("💡 Tip:", "Trainer already configured with model summary callbacks")


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(_NOISE)


def quiet_lightning() -> None:
    """Drop Lightning's uninformative log lines and warnings (idempotent)."""
    for name in ("lightning.pytorch", "lightning.pytorch.utilities.rank_zero", "lightning.fabric"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropNoise) for f in logger.filters):
            logger.addFilter(_DropNoise())
    warnings.filterwarnings(
        "ignore",
        message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        category=FutureWarning,
    )
    # advice about per-step logging on runs with few batches (epoch metrics are unaffected)
    warnings.filterwarnings("ignore", message=r"The number of training batches \(\d+\) is smaller")


def is_terminal(stream: IO | None = None) -> bool:
    """Whether ``stream`` (default ``sys.stdout``) is an interactive terminal."""
    stream = sys.stdout if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)())


class EpochLines(Callback):
    """Print one line per training epoch: its number, the epoch's metrics and its seconds.

    For runs whose output goes to a file, where a progress bar would redraw itself into
    thousands of lines. Only the first process prints.

    Args:
        stream: where to print (default ``sys.stdout``).
    """

    def __init__(self, stream: IO | None = None) -> None:
        self.stream = stream
        self._start = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        metrics = {  # "train/loss_epoch" and "train/loss" are one value: shown once
            k.removesuffix("_epoch"): float(v)
            for k, v in sorted(trainer.callback_metrics.items())
            if not k.endswith("_step") and v.numel() == 1
        }
        shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
        total = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
        seconds = time.perf_counter() - self._start
        print(
            f"epoch {trainer.current_epoch + 1}{total}: {shown} ({seconds:.1f} s)",
            file=self.stream or sys.stdout,
            flush=True,
        )
