"""A checkpoint of the latest training state after every epoch, for resuming.

Lightning 2.6's ``ModelCheckpoint(save_last=True)`` refreshes ``last.ckpt`` only when it
saves a new best checkpoint, so after an epoch without improvement ``last.ckpt`` is
stale and a resumed run would repeat epochs. :class:`LastCheckpoint` rewrites it at the
end of every training epoch. Being a :class:`~lightning.pytorch.callbacks.Checkpoint`,
Lightning runs it after the LightningModule's hooks and after the ``ModelCheckpoint``
listed before it, so the best-checkpoint bookkeeping it saves includes this epoch.
"""

from __future__ import annotations

import os
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Checkpoint

__all__ = ["LastCheckpoint"]


class LastCheckpoint(Checkpoint):
    """Write ``dirpath/filename`` with the full training state after every training epoch.

    The file is written under a temporary name and renamed, so a run killed while
    saving keeps the previous epoch's checkpoint. ``python train.py ... ckpt_path=last``
    resumes from it.

    Args:
        dirpath: the run's checkpoint folder.
        filename: the checkpoint's file name.
    """

    def __init__(self, dirpath: str | os.PathLike, filename: str = "last.ckpt") -> None:
        self.path = Path(dirpath) / filename

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.fast_dev_run:
            return
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        trainer.save_checkpoint(tmp, weights_only=False)  # all processes; the first writes
        if trainer.is_global_zero:
            os.replace(tmp, self.path)
