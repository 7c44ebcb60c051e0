"""An INR zoo whose targets are the dilated images of its INRs (the DWSNets editing task).

Every INR is rendered on its zoo's grid (:func:`weightnet.inr.render`, from the raw
weights) and the rendering is dilated with a ``dilation x dilation`` flat structuring
element (:func:`scipy.ndimage.grey_dilation`): thin strokes get thicker. The targets
are computed once in :meth:`InrDilationDataModule.setup`, for every split, so a
batch is ``(WeightSpace, targets (B, H, W))``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from weightnet.data.datamodule import ZooDataModule
from weightnet.data.dataset import ZooDataset
from weightnet.data.zoo import ZooError
from weightnet.inr import InrGrid, render
from weightnet.weightspace import SpecError, WeightSpace, WeightSpec

__all__ = ["InrDilationDataModule", "dilate"]


def dilate(images: np.ndarray, size: int) -> np.ndarray:
    """Grey dilation of ``(n, H, W)`` images with a ``size x size`` square, image by image."""
    from scipy.ndimage import grey_dilation

    return grey_dilation(images, size=(1, size, size), mode="nearest")  # (n, H, W)


class InrDilationDataModule(ZooDataModule):
    """A :class:`ZooDataModule` over INRs of images whose targets are dilated renderings.

    Args:
        path: an INR zoo folder (its ``zoo.json`` ``dataset`` gives ``image_shape`` and
            ``output_offset``), or a list of them.
        dilation: side of the square structuring element (odd, at least 3).
        render_batch: INRs rendered at once when computing the targets.
        **kwargs: the other arguments of :class:`ZooDataModule` (``target`` is unused:
            it only has to name a ``metrics.csv`` column, ``model_id`` by default).

    After :meth:`setup`: ``grid`` (the :class:`~weightnet.inr.InrGrid`) besides the
    attributes of :class:`ZooDataModule`.
    """

    def __init__(
        self,
        path: str | os.PathLike | Sequence[str | os.PathLike],
        dilation: int = 3,
        render_batch: int = 1024,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("target", "model_id")
        super().__init__(path, **kwargs)
        if dilation < 3 or dilation % 2 == 0:
            raise ZooError(f"dilation {dilation}: use an odd size of at least 3")
        self.dilation = int(dilation)
        self.render_batch = int(render_batch)
        self.grid: InrGrid | None = None

    def setup(self, stage: str | None = None) -> None:
        """Open and split the zoo (once), then render and dilate every INR."""
        if self.grid is not None:
            return
        super().setup(stage)
        try:
            grids = {InrGrid.from_meta(zoo.meta.get("dataset", {})) for zoo in self.zoos}
        except SpecError as err:
            raise ZooError(f"{self.zoos[0].path / 'zoo.json'}: {err}") from err
        if len(grids) != 1:
            raise ZooError(
                f"{self.paths}: the zoos render on different grids {[g.to_meta() for g in grids]}"
            )
        grid = grids.pop()
        for dataset in (self.train_set, self.val_set, self.test_set):
            dataset.targets = self._dilated_renderings(dataset, grid)
        self.grid = grid

    @torch.no_grad()
    def _dilated_renderings(self, dataset: ZooDataset, grid: InrGrid) -> np.ndarray:
        """``(n, H, W)`` float32 dilated images of the dataset's INRs (raw weights)."""
        spec: WeightSpec = dataset.spec
        images = []
        for start in range(0, len(dataset), self.render_batch):
            rows, _ = dataset.__getitems__(
                range(start, min(start + self.render_batch, len(dataset)))
            )
            images.append(render(spec, WeightSpace.from_flat(spec, rows), grid).numpy())
        if not images:
            return np.zeros((0, *grid.shape), dtype=np.float32)
        return dilate(np.concatenate(images), self.dilation).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        """:meth:`ZooDataModule.state_dict` plus the grid and the dilation size."""
        state = super().state_dict()
        if self.grid is not None:
            state |= {"grid": self.grid.to_meta(), "dilation": self.dilation}
        return state
