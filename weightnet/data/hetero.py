"""Heterogeneous zoos: one graph metanet over zoo folders of different architectures.

:class:`HeteroZooDataModule` reads a list of zoo folders (or a parent folder of zoo
folders, as ``weightnet zoo generate digits-mlp-hetero`` writes) whose architectures
differ. Each folder is split by training run on its own (so every architecture has
train, val and test networks), and batches are parameter graphs
(:func:`weightnet.graph.to_graph_batch`): a batch's networks are grouped by
(architecture, activation) and each group is converted at once.

Normalization: :class:`~weightnet.data.fan_in_scaling.FanInScaling` (weights times
``sqrt(fan_in)``, then one zoo-wide scale for weights and one for biases, from the
training split). Per-layer statistics would differ from depth to depth and do not
exist for architectures outside the zoo; this scheme keeps graphs of all
architectures on one scale, so a trained metanet also reads unseen widths and depths.

Activations are not part of the graph's weights; with ``probe_features > 0`` each
neuron also carries its activations on fixed random inputs computed with the network's
own activation function (on the raw weights), which tells ReLU and tanh networks apart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from weightnet.data.datamodule import ZooDataModule, _evaluation_sampler
from weightnet.data.fan_in_scaling import FanInScaling
from weightnet.data.graph_collate import GraphCollate, Group
from weightnet.data.splits import split_by_group
from weightnet.data.transforms import RandomPermutation
from weightnet.data.zoo import Zoo, ZooError, open_zoos
from weightnet.domain import TrainingDomain
from weightnet.errors import WeightnetError
from weightnet.weightspace import WeightSpec

__all__ = ["HeteroZooDataModule", "HeteroZooDataset"]


class HeteroZooDataset(Dataset):
    """Selected rows of zoos of any architectures, with a target per row.

    Args:
        zoos: the zoos.
        rows: ``(n, 2)`` integer array of ``(zoo_index, row_index)`` pairs.
        target: the ``metrics.csv`` column to predict.
    """

    def __init__(self, zoos: Sequence[Zoo], rows: np.ndarray, target: str) -> None:
        self.zoos = list(zoos)
        self.rows = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
        self.target = target
        self.targets = np.empty(len(self.rows), dtype=np.float32)
        self.activations = np.empty(len(self.rows), dtype=object)
        for z, zoo in enumerate(self.zoos):
            mask = self.rows[:, 0] == z
            picked = self.rows[mask, 1]
            self.targets[mask] = zoo.target_values(target, picked)
            self.activations[mask] = np.asarray(zoo.activations).astype(str)[picked]

    def __len__(self) -> int:
        return len(self.rows)

    @cached_property
    def domain(self) -> TrainingDomain:
        """The ranges of these networks (what a metanet trained on them has seen)."""
        return TrainingDomain.from_zoo_rows(self.zoos, self.rows)

    def __getitem__(self, index: int) -> list[Group]:
        return self.__getitems__([index])

    def __getitems__(self, indices: Sequence[int]) -> list[Group]:
        """The rows of ``indices`` grouped by (zoo, activation), each read in file order."""
        indices = np.asarray(indices, dtype=np.int64)
        pairs = self.rows[indices]  # (B, 2)
        acts = self.activations[indices]
        groups = []
        for z in np.unique(pairs[:, 0]):
            for act in sorted(set(acts[pairs[:, 0] == z])):
                where = np.flatnonzero((pairs[:, 0] == z) & (acts == act))
                where = where[np.argsort(pairs[where, 1])]
                rows = np.asarray(self.zoos[z].weights[pairs[where, 1]], dtype=np.float32)
                groups.append(
                    (
                        int(z),
                        str(act),
                        torch.from_numpy(rows),
                        torch.from_numpy(self.targets[indices[where]]),
                    )
                )
        return groups


class HeteroZooDataModule(ZooDataModule):
    """Train / val / test graph batches over zoos of different architectures.

    Args:
        path: a list of zoo folders, a folder of zoo folders, or a list of either.
        batch_size: networks per batch.
        num_workers: DataLoader worker processes.
        split: relative sizes of train, val, test, counted in training runs, per zoo.
        split_seed: seed of the split.
        target: the ``metrics.csv`` column to predict.
        normalize: apply train-split :class:`FanInScaling`.
        augment: randomly permute hidden neurons of every training network.
        generate: how to build the built-in zoo when ``path`` is missing (as for
            :class:`~weightnet.data.datamodule.ZooDataModule`); ``num_steps`` and
            ``checkpoint_steps`` entries shorten the recipe's training (a variant recipe).
        pin_memory: pin batches in page-locked memory.
        probe_features: probe activations per neuron (0: none); the model must be built
            with the same number (:attr:`model_kwargs`).
        probe_seed: seed of the probe inputs.

    After :meth:`setup`: ``zoos``, ``specs`` (one per zoo), ``group_names`` (the zoo
    folder names), ``scaling`` and the datasets. ``spec`` stays ``None``: there is no
    single architecture, so only graph metanets (``gnn``, ``transformer``) read it.
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
        probe_features: int = 16,
        probe_seed: int = 0,
    ) -> None:
        super().__init__(
            path,
            batch_size=batch_size,
            num_workers=num_workers,
            split=split,
            split_seed=split_seed,
            target=target,
            normalize=normalize,
            augment=augment,
            generate=generate,
            pin_memory=pin_memory,
        )
        if self.generate and {"num_steps", "checkpoint_steps"} & set(self.generate):
            self.generate = _shortened(self.generate)
        self.probe_features = int(probe_features)
        self.probe_seed = int(probe_seed)
        self.specs: list[WeightSpec] = []
        self.group_names: list[str] = []
        self.scaling: FanInScaling | None = None

    @property
    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments the graph metanet needs to read these batches."""
        return {"probe_features": self.probe_features, "probe_seed": self.probe_seed}

    def setup(self, stage: str | None = None) -> None:
        """Open the zoos, split each by run, compute train-split scales (once)."""
        if self.zoos:
            return
        self.prepare_data()
        zoos = open_zoos([str(p) for p in self.paths])
        parts: list[list[np.ndarray]] = [[], [], []]
        for z, zoo in enumerate(zoos):
            runs = zoo.metrics.get("run_id")
            runs = np.arange(len(zoo)) if runs is None else np.asarray(runs)
            try:
                split = split_by_group(runs, self.split, self.split_seed)
            except WeightnetError as err:
                raise ZooError(f"{zoo.path}: {err}") from None
            for k, rows in enumerate(split):
                parts[k].append(np.stack([np.full(len(rows), z), rows], axis=1))  # (n, 2)
        self.train_set, self.val_set, self.test_set = (
            HeteroZooDataset(zoos, np.concatenate(part), self.target) for part in parts
        )
        if self.normalize:
            train_rows = self.train_set.rows
            self.scaling = FanInScaling.from_rows(
                [
                    (zoo.spec, zoo.weights, train_rows[train_rows[:, 0] == z, 1])
                    for z, zoo in enumerate(zoos)
                ]
            )
        names = [zoo.path.name for zoo in zoos]
        self.group_names = [
            name if names.count(name) == 1 else f"{name}-{z}" for z, name in enumerate(names)
        ]
        self.specs = [zoo.spec for zoo in zoos]
        self.zoos = zoos

    def _loader(self, split: str) -> DataLoader:
        if not self.zoos:
            raise RuntimeError("call setup() before asking for a data loader")
        train = split == "train"
        dataset = getattr(self, f"{split}_set")
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=train,
            sampler=None if train else _evaluation_sampler(dataset),
            num_workers=self.num_workers,
            collate_fn=GraphCollate(
                self.specs,
                self.scaling,
                [RandomPermutation()] if (train and self.augment) else [],
                self.probe_features,
                self.probe_seed,
            ),
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )

    def state_dict(self) -> dict[str, Any]:
        """What a trained metanet needs to read new networks (plain Python values)."""
        if not self.zoos:
            return {}
        return {
            "specs": [spec.to_dict() for spec in self.specs],
            "group_names": list(self.group_names),
            "activations": sorted({str(a) for zoo in self.zoos for a in zoo.activations}),
            "domain": self.train_set.domain.to_dict(),
            "scaling": self.scaling.to_dict() if self.scaling is not None else None,
            "probe_features": self.probe_features,
            "probe_seed": self.probe_seed,
            "target": self.target,
            "paths": [str(p.resolve()) for p in self.paths],
            "split": list(self.split),
            "split_seed": self.split_seed,
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the normalization scales saved with a checkpoint."""
        if state_dict.get("scaling") is not None:
            self.scaling = FanInScaling.from_dict(state_dict["scaling"])


def _shortened(generate: Mapping[str, Any]) -> dict[str, Any]:
    """``generate`` with its recipe replaced by a variant of other ``num_steps`` / ``checkpoint_steps``."""
    import dataclasses

    from weightnet.zoo.recipes import RECIPES

    generate = dict(generate)
    changes = {k: generate.pop(k) for k in ("num_steps", "checkpoint_steps") if k in generate}
    if "checkpoint_steps" in changes:
        changes["checkpoint_steps"] = tuple(int(s) for s in changes["checkpoint_steps"])
    name = generate["recipe"]
    if name not in RECIPES:
        raise ZooError(f"data.generate.recipe: unknown recipe {name!r}")
    generate["recipe"] = dataclasses.replace(RECIPES[name], **changes)
    return generate
