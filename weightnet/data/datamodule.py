"""The LightningDataModule over one zoo or a list of same-architecture zoos.

It splits the rows by training run (``run_id``; checkpoints of one run stay in one
split) with a fixed seed, computes per-tensor normalization statistics on the
training split only, and serves ``(WeightSpace, targets)`` batches. A missing zoo
at the built-in location named by ``generate["out"]`` is generated on first use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler

from weightnet.data.dataset import Transform, WeightSpaceCollate, ZooDataset
from weightnet.data.mixup import WeightMixUp
from weightnet.data.normalization import WeightStats
from weightnet.data.splits import split_by_group
from weightnet.data.transforms import RandomPermutation
from weightnet.data.zoo import Zoo, ZooError, open_zoos
from weightnet.probes import ProbeChannels
from weightnet.weightspace import WeightSpec

__all__ = ["ZooDataModule"]

_CANONICAL_PARTS = ("permutation", "scale", "sign", "phase")


def _canonical_parts(option: bool | Mapping[str, bool] | None) -> dict[str, bool] | None:
    """``data.canonicalize`` as the keyword arguments of ``canonicalize`` (``None``: off)."""
    if option is None or option is False:
        return None
    if option is True:
        return dict.fromkeys(_CANONICAL_PARTS, True)
    if not isinstance(option, Mapping) or set(option) - set(_CANONICAL_PARTS):
        raise ZooError(
            f"data.canonicalize={option!r}: give true, false or a mapping of {_CANONICAL_PARTS}"
        )
    return {part: bool(option.get(part, True)) for part in _CANONICAL_PARTS}


class ZooDataModule(pl.LightningDataModule):
    """Train / val / test loaders over the networks of one architecture.

    Args:
        path: a zoo folder, or a list of zoo folders of the same architecture.
        batch_size: networks per batch.
        num_workers: DataLoader worker processes (``0``: load in the main process).
        split: relative sizes of the train, val and test splits, counted in training runs.
        split_seed: seed of the split (fixed across training seeds by default, so that
            runs with different ``seed`` are evaluated on the same test networks).
        target: the ``metrics.csv`` column to predict.
        normalize: normalize each weight / bias tensor with train-split statistics.
        augment: randomly permute hidden neurons of every training network
            (:class:`~weightnet.data.transforms.RandomPermutation`).
        generate: how to build the built-in zoo when it is missing: keyword arguments
            of :func:`weightnet.zoo.recipes.generate_zoo` (``recipe``, ``num_models``,
            ``seed``) plus ``out``, the folder it fills. Only a missing ``path`` equal to
            ``out`` is generated; any other missing path is an error.
        pin_memory: pin batches in page-locked memory (for GPU training).
        split_column: a ``metrics.csv`` column that fixes the split instead (rows marked
            ``train``, ``val``, ``test``; other rows unused), e.g. the ``split`` column
            that ``weightnet zoo convert`` writes for published protocols.
        transforms: more training-batch augmentations (:mod:`weightnet.data.transforms`),
            applied after ``augment``'s permutation; a mapping (name -> transform or
            ``None``, as Hydra configs give them) applies its non-``None`` values in order.
        verify_checksum: compare each ``weights.npy`` with the sha256 of its ``zoo.json``
            (reads the files once; an edited or corrupted zoo is refused).
        canonicalize: map every network of every split to its canonical form
            (:class:`~weightnet.align.transform.Canonicalize`) before normalization, whose
            statistics then come from the canonical training weights: ``True`` for the full
            form (neurons sorted, ReLU layers at unit incoming norm, tanh signs fixed), or a
            mapping of its parts, e.g. ``{"permutation": True, "scale": False, "sign": True}``.
            A cheap way to make any metanet invariant; saved with the checkpoint so that
            ``weightnet predict`` does the same.
        train_views: INR zoos: train on the INRs with ``inr_seed < train_views`` only (views
            per image; ``None``: all). Validation and test keep every view.
        train_images: INR zoos: train on the INRs of ``train_images`` training images only
            (``None``: all), for learning curves: a fixed random choice (``split_seed``),
            the same number per ``label`` where the zoo has labels.
        mixup: weight-space MixUp of the training batches
            (:class:`~weightnet.data.mixup.WeightMixUp`; classification targets become soft
            labels). ``None`` or ``alpha`` 0: off.
        probe_features: append every neuron's activations on this many fixed probe inputs,
            computed on the raw weights, as channels (:class:`~weightnet.probes.ProbeChannels`;
            the metanet then reads ``1 + probe_features`` channels, see :attr:`model_kwargs`).
            0: off.
        probe_domain: where the probe inputs come from (:func:`weightnet.probes.probe_inputs`;
            ``"auto"``: uniform coordinates for SIRENs, standard normal otherwise), or
            ``"cosine"``: the lowest 2D cosine coefficients of each neuron's map on a
            ``probe_grid x probe_grid`` grid (image INRs; ``probe_features`` a square).
        probe_seed: seed of the probe inputs.
        probe_grid: side of the grid of ``"cosine"`` probe features.

    After :meth:`setup`: ``spec``, ``stats`` (or ``None``), ``zoos`` and the datasets
    ``train_set``, ``val_set``, ``test_set``.
    """

    def __init__(
        self,
        path: str | os.PathLike | Sequence[str | os.PathLike],
        batch_size: int = 64,
        num_workers: int = 0,
        split: Sequence[float] = (0.8, 0.1, 0.1),
        split_seed: int = 0,
        target: str = "test_accuracy",
        normalize: bool = True,
        augment: bool = False,
        generate: Mapping[str, Any] | None = None,
        pin_memory: bool = False,
        split_column: str | None = None,
        transforms: Sequence[Transform] | Mapping[str, Transform | None] = (),
        verify_checksum: bool = True,
        canonicalize: bool | Mapping[str, bool] = False,
        train_views: int | None = None,
        train_images: int | None = None,
        mixup: WeightMixUp | None = None,
        probe_features: int = 0,
        probe_domain: str = "auto",
        probe_seed: int = 0,
        probe_grid: int = 28,
    ) -> None:
        super().__init__()
        paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
        if not paths:
            raise ZooError("data.path: no zoo folder given")
        if int(batch_size) < 1:
            raise ZooError(f"batch_size {batch_size}: give a positive number of networks")
        if len(split) != 3:
            raise ZooError(f"split {list(split)}: give three fractions (train, val, test)")
        self.paths = [Path(p) for p in paths]
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.split = tuple(float(f) for f in split)
        self.split_seed = int(split_seed)
        self.target = target
        self.normalize = normalize
        self.augment = augment
        self.generate = dict(generate) if generate else None
        self.pin_memory = pin_memory
        self.split_column = split_column
        self.verify_checksum = verify_checksum
        self.canonicalize = _canonical_parts(canonicalize)
        for name, value in (("train_views", train_views), ("train_images", train_images)):
            if value is not None and int(value) < 1:
                raise ZooError(f"data.{name}={value}: give a positive number or null")
        self.train_views = None if train_views is None else int(train_views)
        self.train_images = None if train_images is None else int(train_images)
        self.mixup = mixup if mixup is not None and mixup.alpha > 0 else None
        self.probes = (
            ProbeChannels(probe_features, probe_seed, probe_domain, probe_grid)
            if probe_features
            else None
        )
        if isinstance(transforms, Mapping):
            transforms = [t for t in transforms.values() if t is not None]
        self.transforms = list(transforms)
        self.zoos: list[Zoo] = []
        self.spec: WeightSpec | None = None
        self.stats: WeightStats | None = None
        self.train_set: ZooDataset | None = None
        self.val_set: ZooDataset | None = None
        self.test_set: ZooDataset | None = None

    # ------------------------------------------------------------------ setup
    def prepare_data(self) -> None:
        """Generate the built-in zoo if it is missing; fail clearly on any other missing path."""
        for path in self.paths:
            if path.exists():
                continue
            out = self.generate and Path(self.generate["out"])
            if out and path.resolve() == out.resolve():
                from weightnet.zoo.recipes import generate_zoo

                kwargs = {k: v for k, v in self.generate.items() if k != "out"}
                generate_zoo(out=path, progress=True, **kwargs)
            else:
                raise ZooError(f"{path}: no such zoo folder (data.path)")

    def setup(self, stage: str | None = None) -> None:
        """Open the zoos, split by run, compute train-split statistics (once)."""
        if self.spec is not None:
            return
        self.prepare_data()
        zoos = open_zoos([str(p) for p in self.paths], self.verify_checksum)
        rows = np.concatenate(
            [np.stack([np.full(len(z), i), np.arange(len(z))], axis=1) for i, z in enumerate(zoos)]
        )  # (N, 2): zoo index, row
        if self.split_column is None:
            parts = split_by_group(self._run_groups(zoos), self.split, self.split_seed)
        else:
            parts = self._marked_splits(zoos)
        parts = (self._training_subset(zoos, parts[0]), *parts[1:])
        self.train_set, self.val_set, self.test_set = (
            ZooDataset(zoos, rows[part], self.target) for part in parts
        )  # ZooDataset checks that the zoos share one architecture
        spec = self.train_set.spec
        self._check_canonical_form(zoos)
        if self.normalize:
            train_rows = self.train_set.rows
            self.stats = WeightStats.from_rows(
                spec,
                [(zoo.weights, train_rows[train_rows[:, 0] == i, 1]) for i, zoo in enumerate(zoos)],
                self._canonical_form(),
            )
        self.zoos, self.spec = zoos, spec

    def _marked_splits(self, zoos: Sequence[Zoo]) -> tuple[np.ndarray, ...]:
        """Global row numbers marked ``train``, ``val``, ``test`` in ``split_column``."""
        marks = []
        for zoo in zoos:
            if self.split_column not in zoo.metrics:
                raise ZooError(
                    f"{zoo.path}: metrics.csv has no column {self.split_column!r} (data.split_column)"
                )
            marks.append(np.asarray(zoo.metrics[self.split_column]).astype(str))
        marks = np.concatenate(marks)
        parts = tuple(np.flatnonzero(marks == name) for name in ("train", "val", "test"))
        for name, part in zip(("train", "val", "test"), parts, strict=True):
            if len(part) == 0:
                raise ZooError(f"data.split_column={self.split_column!r}: no row marked {name!r}")
        return parts

    def _training_subset(self, zoos: Sequence[Zoo], train: np.ndarray) -> np.ndarray:
        """The global training rows that ``train_views`` and ``train_images`` keep."""
        if self.train_views is None and self.train_images is None:
            return train
        columns = {}
        for name in ("inr_seed", "image_index"):
            if any(name not in zoo.metrics for zoo in zoos):
                raise ZooError(
                    f"{zoos[0].path}: data.train_views / data.train_images need the INR zoo "
                    f"column {name!r} in metrics.csv"
                )
            columns[name] = np.concatenate([np.asarray(zoo.metrics[name]) for zoo in zoos])
        keep = np.ones(len(train), dtype=bool)
        if self.train_views is not None:
            keep &= columns["inr_seed"][train] < self.train_views
        if self.train_images is not None:
            images = _balanced_image_order(zoos, train, columns["image_index"], self.split_seed)
            if self.train_images > len(images):
                raise ZooError(
                    f"data.train_images={self.train_images}: the training split has "
                    f"{len(images)} images"
                )
            keep &= np.isin(columns["image_index"][train], images[: self.train_images])
        return train[keep]

    @staticmethod
    def _run_groups(zoos: Sequence[Zoo]) -> np.ndarray:
        """``(N,)`` global run number of every row (a zoo without ``run_id``: one run per row)."""
        groups, offset = [], 0
        for zoo in zoos:
            runs = zoo.metrics.get("run_id")
            if runs is None:
                runs = np.arange(len(zoo))
            _, inverse = np.unique(np.asarray(runs), return_inverse=True)
            inverse = inverse.reshape(-1)
            groups.append(inverse + offset)
            offset += int(inverse.max(initial=-1)) + 1
        return np.concatenate(groups)

    def _check_canonical_form(self, zoos: Sequence[Zoo]) -> None:
        """Scale and sign canonical forms depend on the activation: refuse mixed zoos."""
        parts = self.canonicalize
        if parts is None or not (parts["scale"] or parts["sign"]):
            return
        kinds = sorted({str(a) for zoo in zoos for a in np.unique(zoo.activations)})
        if len(kinds) > 1:
            raise ZooError(
                f"{self.paths[0]}: data.canonicalize: the zoo mixes activations "
                f"({', '.join(kinds)}) and the scale and sign canonical forms hold for one "
                "only; use data.canonicalize={permutation:true,scale:false,sign:false}"
            )

    def _canonical_form(self) -> Transform | None:
        if self.canonicalize is None:
            return None
        from weightnet.align.transform import Canonicalize

        return Canonicalize(**self.canonicalize)

    @property
    def model_kwargs(self) -> dict[str, Any]:
        """What the metanet must be built with to read these batches (``in_channels``)."""
        return {} if self.probes is None else {"in_channels": 1 + self.probes.num_probes}

    # ------------------------------------------------------------- loaders
    def _loader(self, split: str) -> DataLoader:
        if self.spec is None:
            raise RuntimeError("call setup() before asking for a data loader")
        train = split == "train"
        transforms = [RandomPermutation()] if (train and self.augment) else []
        if train:
            transforms += self.transforms
        collate = WeightSpaceCollate(
            self.spec,
            self.stats,
            transforms,
            mixup=self.mixup if train else None,
            canonical=self._canonical_form(),  # every split, after the augmentations
            probes=self.probes,
        )
        return DataLoader(
            getattr(self, f"{split}_set"),
            batch_size=self.batch_size,
            sampler=(_training_sampler if train else _evaluation_sampler)(
                getattr(self, f"{split}_set")
            ),
            num_workers=self.num_workers,
            collate_fn=collate,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    # --------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """What a trained metanet needs to read new networks: spec, statistics, target.

        Lightning stores it in every checkpoint under the key ``"ZooDataModule"``; all
        values are plain Python types (safe for ``torch.load(weights_only=True)``).
        """
        if self.spec is None:
            return {}
        return {
            "spec": self.spec.to_dict(),
            "stats": self.stats.to_dict() if self.stats is not None else None,
            "target": self.target,
            "activations": list(self.train_set.domain.activations),
            "domain": self.train_set.domain.to_dict(),
            "paths": [str(p.resolve()) for p in self.paths],
            "split": list(self.split),
            "split_seed": self.split_seed,
            "split_column": self.split_column,
            "canonicalize": self.canonicalize,
            "probes": self.probes.to_dict() if self.probes is not None else None,
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the normalization statistics saved with a checkpoint."""
        if state_dict.get("stats") is not None:
            self.stats = WeightStats.from_dict(state_dict["stats"])


def _balanced_image_order(
    zoos: Sequence[Zoo], rows: np.ndarray, image_index: np.ndarray, seed: int
) -> np.ndarray:
    """The distinct images of ``rows`` in a fixed random order, classes taking turns.

    Any prefix of the order holds (nearly) the same number of images of every ``label``.
    """
    images, first = np.unique(image_index[rows], return_index=True)
    order = np.random.default_rng(seed).permutation(len(images))
    images, first = images[order], first[order]
    if all("label" in zoo.metrics for zoo in zoos):
        labels = np.concatenate([np.asarray(zoo.metrics["label"]) for zoo in zoos])[rows[first]]
        rank = np.zeros(len(images), dtype=np.int64)  # position within the image's class
        for label in np.unique(labels):
            rank[labels == label] = np.arange(np.sum(labels == label))
        images = images[np.lexsort((labels, rank))]
    return images


def _training_sampler(dataset: ZooDataset) -> Sampler:
    """Shuffles anew every epoch with a seed drawn once from the global RNG.

    The order of epoch ``e`` depends only on that seed and ``e`` (Lightning calls
    ``set_epoch``), so a run resumed from a checkpoint sees the batches an uninterrupted
    run would. Under DDP each process takes its shard of the same order.
    """
    from torch.utils.data import DistributedSampler

    distributed = dist.is_available() and dist.is_initialized()
    return DistributedSampler(
        dataset,
        num_replicas=dist.get_world_size() if distributed else 1,
        rank=dist.get_rank() if distributed else 0,
        shuffle=True,
        seed=int(torch.randint(2**31 - 1, ())),
    )


def _evaluation_sampler(dataset: ZooDataset) -> Sampler | None:
    """Under DDP, each process evaluates every ``world_size``-th network, none twice.

    Lightning's default ``DistributedSampler`` pads the last shard with repeated
    networks; metrics (synced by torchmetrics over processes) would count those twice.
    Shards may then differ by one network; a split needs at least ``world_size`` networks.
    """
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return None
    from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler

    return UnrepeatedDistributedSampler(dataset, shuffle=False)
