"""Pairs of independently trained networks for learning to align weights.

:class:`AlignmentDataModule` keeps, from each training run of a zoo, its last checkpoint
when it is accurate enough (well-trained networks: the ones whose loss barrier matters),
splits the runs like :class:`~weightnet.data.datamodule.ZooDataModule`, and serves

* for training, single networks (normalized), sampled with replacement: the task plants
  random permutations in them (:func:`weightnet.align.learned.planted_pairs`);
* for validation and test, one :class:`PairBatch` per split: its networks (raw and
  normalized), every pair of them that shares an activation, and the zoo's test images
  and labels on which loss barriers are measured.

Normalization is one affine map per weight / bias tensor, so it commutes with neuron
permutations: permutations found on normalized weights apply unchanged to raw ones.
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, RandomSampler

from weightnet.data.datamodule import ZooDataModule
from weightnet.data.dataset import WeightSpaceCollate, ZooDataset
from weightnet.data.normalization import WeightStats
from weightnet.data.transforms import RandomPermutation
from weightnet.data.zoo import Zoo, ZooError
from weightnet.weightspace import WeightSpace

__all__ = ["AlignmentDataModule", "PairBatch", "PairSet", "evaluation_data"]

_DIGITS = "sklearn-digits"


class PairBatch(NamedTuple):
    """Networks, pairs of them, and the data their loss barriers are measured on.

    Attributes:
        networks: ``U`` raw networks (``C == 1``).
        normalized: ``networks`` normalized (what an aligner reads).
        pairs: ``(M, 2)`` long: (reference, other) indices into ``networks``.
        activations: the hidden activation shared by both networks of each pair.
        inputs: ``(N, *input_shape)`` test inputs of the zoo's dataset.
        labels: ``(N,)`` their class labels.
    """

    networks: WeightSpace
    normalized: WeightSpace
    pairs: Tensor
    activations: tuple[str, ...]
    inputs: Tensor
    labels: Tensor

    @property
    def reference(self) -> WeightSpace:
        """``M`` raw networks to align to."""
        return self.networks[self.pairs[:, 0]]

    @property
    def other(self) -> WeightSpace:
        """``M`` raw networks to permute."""
        return self.networks[self.pairs[:, 1]]


def evaluation_data(zoo: Zoo) -> tuple[Tensor, Tensor]:
    """The test images and labels of a digits zoo (``zoo.json``'s ``dataset`` entry).

    Returns:
        ``(N, *input_shape)`` float32 inputs and ``(N,)`` int64 labels.

    Raises:
        ZooError: if the zoo was not trained on scikit-learn digits.
    """
    from sklearn.datasets import load_digits

    meta = zoo.meta.get("dataset") or {}
    shape = tuple(int(s) for s in meta.get("input_shape", ()))
    if meta.get("name") != _DIGITS or int(np.prod(shape)) != 64:
        raise ZooError(
            f"{zoo.path}: zoo.json dataset is {meta.get('name')!r} with input shape {list(shape)};"
            f" loss barriers need {_DIGITS} networks reading 64 pixels"
        )
    digits = load_digits()
    index = np.asarray(meta["test_indices"], dtype=np.int64)
    images = digits.images[index].astype(np.float32) * np.float32(meta["input_scale"])
    inputs = torch.from_numpy(images.reshape(len(index), *shape))  # (N, *input_shape)
    return inputs, torch.from_numpy(digits.target[index].astype(np.int64))


class PairSet(Dataset):
    """A one-item dataset: the :class:`PairBatch` of a split (its networks and their pairs).

    Args:
        networks: the split's rows.
        pairs: ``(M, 2)`` indices into ``networks``.
        activations: ``(len(networks),)`` hidden activation of each row.
        stats: per-tensor normalization statistics (``None``: none).
        inputs: the barrier's test inputs.
        labels: their labels.
    """

    def __init__(
        self,
        networks: ZooDataset,
        pairs: np.ndarray,
        activations: np.ndarray,
        stats: WeightStats | None,
        inputs: Tensor,
        labels: Tensor,
    ) -> None:
        self.networks = networks
        self.pairs = torch.as_tensor(np.asarray(pairs, dtype=np.int64).reshape(-1, 2))
        self.activations = np.asarray(activations).astype(str)
        self.stats, self.inputs, self.labels = stats, inputs, labels

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> PairBatch:
        if index != 0:
            raise IndexError(index)
        rows, _ = self.networks.__getitems__(range(len(self.networks)))  # (U, P)
        networks = WeightSpace.from_flat(
            self.networks.spec, rows
        )  # weights[i]: (U, n_out, n_in, 1)
        normalized = self.stats.normalize(networks) if self.stats is not None else networks
        activations = tuple(self.activations[self.pairs[:, 0].numpy()])
        return PairBatch(networks, normalized, self.pairs, activations, self.inputs, self.labels)


def _as_is(batch: PairBatch) -> PairBatch:
    return batch


class AlignmentDataModule(ZooDataModule):
    """Well-trained networks of a zoo: single ones for training, pairs for val / test.

    Takes every argument of :class:`ZooDataModule` (``target`` only selects networks here,
    ``split`` is by run as there), and:

    Args:
        min_accuracy: keep networks whose ``test_accuracy`` is at least this.
        last_checkpoint: keep only the last checkpoint (largest ``step``) of each run, so
            that no two kept networks come from one training run.
        train_samples_per_epoch: training networks drawn (with replacement) per epoch.
        max_pairs: at most this many val / test pairs each (a seeded subset; ``None``: all).
        **kwargs: :class:`ZooDataModule` arguments.

    After :meth:`setup`, besides the attributes of :class:`ZooDataModule`: ``val_pairs``,
    ``test_pairs`` (:class:`PairSet`), ``inputs`` and ``labels`` (barrier data).
    """

    def __init__(
        self,
        *args: Any,
        min_accuracy: float = 0.9,
        last_checkpoint: bool = True,
        train_samples_per_epoch: int = 1024,
        max_pairs: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.min_accuracy = float(min_accuracy)
        self.last_checkpoint = bool(last_checkpoint)
        self.train_samples_per_epoch = int(train_samples_per_epoch)
        self.max_pairs = max_pairs
        self.val_pairs: PairSet | None = None
        self.test_pairs: PairSet | None = None
        self.inputs: Tensor | None = None
        self.labels: Tensor | None = None

    def setup(self, stage: str | None = None) -> None:
        """Split as :class:`ZooDataModule`, keep well-trained networks, pair val / test ones."""
        if self.val_pairs is not None:
            return
        super().setup(stage)
        keep = [self._kept_rows(zoo) for zoo in self.zoos]
        sets = []
        for name, dataset in zip(
            ("train", "val", "test"), (self.train_set, self.val_set, self.test_set), strict=True
        ):
            rows = dataset.rows[[keep[z][r] for z, r in dataset.rows]]  # (n, 2)
            if len(rows) < (1 if name == "train" else 2):
                raise ZooError(
                    f"{self.paths[0]}: only {len(rows)} {name} networks with test_accuracy >= "
                    f"{self.min_accuracy} (data.min_accuracy, data.split)"
                )
            sets.append(ZooDataset(self.zoos, rows, self.target))
        self.train_set, self.val_set, self.test_set = sets
        if self.normalize:
            rows = self.train_set.rows
            self.stats = WeightStats.from_rows(
                self.spec,
                [(zoo.weights, rows[rows[:, 0] == z, 1]) for z, zoo in enumerate(self.zoos)],
            )
        self.inputs, self.labels = evaluation_data(self.zoos[0])
        self.val_pairs, self.test_pairs = self._pairs(sets[1], 1), self._pairs(sets[2], 2)

    def _kept_rows(self, zoo: Zoo) -> np.ndarray:
        """``(len(zoo),)`` bool: accurate enough and (optionally) the last checkpoint of its run."""
        keep = np.asarray(zoo.metrics[self.target], dtype=np.float64) >= self.min_accuracy
        if self.last_checkpoint and "step" in zoo.metrics:
            runs = np.asarray(zoo.metrics.get("run_id", np.arange(len(zoo))))
            steps = np.asarray(zoo.metrics["step"])
            order = np.lexsort((steps, runs))  # by run, then step
            last = np.ones(len(zoo), dtype=bool)
            last[order[:-1]] = runs[order[:-1]] != runs[order[1:]]
            keep &= last
        return keep

    def _pairs(self, networks: ZooDataset, seed: int) -> PairSet:
        """Every pair of networks with one activation (at most ``max_pairs``, seeded subset)."""
        activations = np.asarray([self.zoos[z].activations[r] for z, r in networks.rows], dtype=str)
        pairs = np.asarray(
            [(i, j) for i, j in itertools.combinations(range(len(networks)), 2)
             if activations[i] == activations[j]],
            dtype=np.int64,
        ).reshape(-1, 2)  # fmt: skip
        if len(pairs) == 0:
            raise ZooError(f"{self.paths[0]}: no two networks of one split share an activation")
        if self.max_pairs is not None and len(pairs) > self.max_pairs:
            chosen = np.random.default_rng(self.split_seed + seed).choice(
                len(pairs), self.max_pairs, replace=False
            )
            pairs = pairs[np.sort(chosen)]
        return PairSet(networks, pairs, activations, self.stats, self.inputs, self.labels)

    def train_dataloader(self) -> DataLoader:
        """Normalized single networks ``(WeightSpace, targets)``, drawn with replacement."""
        if self.spec is None:
            raise RuntimeError("call setup() before asking for a data loader")
        transforms = [RandomPermutation()] if self.augment else []
        sampler = RandomSampler(
            self.train_set, replacement=True, num_samples=self.train_samples_per_epoch
        )
        return DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=WeightSpaceCollate(self.spec, self.stats, transforms),
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )

    def val_dataloader(self) -> DataLoader:
        """One :class:`PairBatch`: the validation networks and their pairs."""
        return DataLoader(self.val_pairs, batch_size=None, collate_fn=_as_is)

    def test_dataloader(self) -> DataLoader:
        """One :class:`PairBatch`: the test networks and their pairs."""
        return DataLoader(self.test_pairs, batch_size=None, collate_fn=_as_is)
