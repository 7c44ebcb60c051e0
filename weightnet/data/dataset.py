"""A map-style dataset over the rows of one or more same-architecture zoos.

Rows are read from the zoos' memory-mapped ``weights.npy`` only when a batch asks
for them (``__getitems__`` reads a whole batch at once, in file order), so a zoo
larger than memory trains with a small resident set. :class:`WeightSpaceCollate`
turns the flat rows of a batch into a normalized, optionally augmented
:class:`~weightnet.weightspace.WeightSpace` (``C == 1``) and a target vector.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from weightnet.data.normalization import WeightStats
from weightnet.data.zoo import Zoo, ZooError
from weightnet.domain import TrainingDomain
from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = ["ZooDataset", "WeightSpaceCollate", "Transform"]

#: A batch transform ``(ws, spec) -> ws`` (see :mod:`weightnet.data.transforms`).
Transform = Callable[[WeightSpace, WeightSpec], WeightSpace]


class ZooDataset(Dataset):
    """Selected rows of one or more zoos of one architecture, with a target per row.

    Args:
        zoos: the zoos (all with the same :class:`WeightSpec`).
        rows: ``(n, 2)`` integer array of ``(zoo_index, row_index)`` pairs.
        target: the ``metrics.csv`` column to predict (e.g. ``"test_accuracy"``).

    Raises:
        ZooError: if the zoos differ in architecture, or the target column is missing, not
            numeric or NaN at some of ``rows``.
    """

    def __init__(self, zoos: Sequence[Zoo], rows: np.ndarray, target: str) -> None:
        self.zoos = list(zoos)
        if not self.zoos:
            raise ZooError("no zoo given")
        self.spec = self.zoos[0].spec
        for zoo in self.zoos[1:]:
            if zoo.spec != self.spec:
                raise ZooError(
                    f"{zoo.path}: architecture {zoo.spec.describe()} differs from "
                    f"{self.zoos[0].path}'s {self.spec.describe()} (one architecture per dataset)"
                )
        self.rows = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
        self.target = target
        self.targets = np.empty(len(self.rows), dtype=np.float32)
        for z, zoo in enumerate(self.zoos):
            mask = self.rows[:, 0] == z
            self.targets[mask] = zoo.target_values(target, self.rows[mask, 1])

    def __len__(self) -> int:
        return len(self.rows)

    @cached_property
    def domain(self) -> TrainingDomain:
        """The ranges of these networks (what a metanet trained on them has seen)."""
        return TrainingDomain.from_zoo_rows(self.zoos, self.rows)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        """One flat row ``(P,)`` and its target ``()``."""
        rows, targets = self.__getitems__([index])
        return rows[0], targets[0]

    def __getitems__(self, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
        """A batch: flat rows ``(B, P)`` (read in file order) and targets ``(B,)``."""
        indices = np.asarray(indices, dtype=np.int64)
        pairs = self.rows[indices]  # (B, 2)
        out = np.empty((len(indices), self.spec.num_params), dtype=np.float32)
        for z, zoo in enumerate(self.zoos):
            where = np.flatnonzero(pairs[:, 0] == z)
            if len(where) == 0:
                continue
            order = np.argsort(pairs[where, 1])
            out[where[order]] = zoo.weights[pairs[where[order], 1]]
        return torch.from_numpy(out), torch.from_numpy(self.targets[indices])


class WeightSpaceCollate:
    """Collate ``(rows (B, P), targets (B,))`` into ``(WeightSpace, targets)``.

    The steps, in order: ``transforms`` (augmentations), ``mixup`` (which also turns the
    targets into soft labels), ``canonical`` (a canonical form), normalization, ``probes``
    (probe activations of the raw weights appended as channels).

    Args:
        spec: the architecture of the rows.
        stats: per-tensor normalization statistics (``None``: no normalization).
        transforms: batch transforms applied to the raw weights before normalization, in
            order (so symmetry transforms act exactly).
        mixup: ``(ws, targets, spec) -> (ws, soft targets)``, e.g.
            :class:`~weightnet.data.mixup.WeightMixUp` (training only).
        canonical: a last transform, after the mixing (so a model reading canonical forms
            only ever sees canonical forms).
        probes: ``(raw ws, normalized ws, spec) -> ws`` with more channels, e.g.
            :class:`~weightnet.probes.ProbeChannels`.
    """

    def __init__(
        self,
        spec: WeightSpec,
        stats: WeightStats | None = None,
        transforms: Sequence[Transform] = (),
        mixup: Callable[[WeightSpace, Tensor, WeightSpec], tuple[WeightSpace, Tensor]]
        | None = None,
        canonical: Transform | None = None,
        probes: Callable[[WeightSpace, WeightSpace, WeightSpec], WeightSpace] | None = None,
    ) -> None:
        self.spec = spec
        self.stats = stats
        self.transforms = tuple(transforms)
        self.mixup = mixup
        self.canonical = canonical
        self.probes = probes

    def __call__(self, batch: tuple[Tensor, Tensor]) -> tuple[WeightSpace, Tensor]:
        rows, targets = batch
        ws = WeightSpace.from_flat(self.spec, rows)  # weights[i]: (B, n_out, n_in, *kernel, 1)
        for transform in self.transforms:
            ws = transform(ws, self.spec)
        if self.mixup is not None:
            ws, targets = self.mixup(ws, targets, self.spec)
        if self.canonical is not None:
            ws = self.canonical(ws, self.spec)
        raw = ws
        if self.stats is not None:
            ws = self.stats.normalize(ws)
        if self.probes is not None:
            ws = self.probes(raw, ws, self.spec)
        return ws, targets
