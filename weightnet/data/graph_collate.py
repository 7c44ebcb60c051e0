"""Collate rows of networks of several architectures into one parameter-graph batch.

Shared by training (:class:`~weightnet.data.hetero.HeteroZooDataModule`) and inference
(:mod:`weightnet.pretrained`), so both see exactly the same inputs. Imports no Lightning.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from weightnet.data.fan_in_scaling import FanInScaling
from weightnet.graph import probe_activations, to_graph_batch
from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = ["GraphCollate", "Group"]

#: One (architecture, activation) group of a batch: spec index, activation, flat rows
#: ``(B_g, P_g)`` (``WeightSpec.layout`` order), targets ``(B_g,)``.
Group = tuple[int, str, Tensor, Tensor]


class GraphCollate:
    """Collate grouped rows into ``(graph batch, targets)``.

    The batch (from :func:`weightnet.graph.to_graph_batch`) has one extra graph-level
    field, ``group`` ``(G,)``: the zoo index of every network, in graph order (targets
    follow the same order).

    Args:
        specs: the spec of every zoo (its activation replaced per row).
        scaling: normalization (``None``: raw weights).
        transforms: batch transforms ``(ws, spec) -> ws`` applied to the raw weights first.
        probe_features: probe activations per node (computed on the raw weights).
        probe_seed: seed of the probe inputs.
        pyg: build a torch_geometric ``Batch`` (``False``: the same fields in a plain
            namespace, without importing PyG; see :func:`weightnet.graph.to_graph_batch`).
    """

    def __init__(
        self,
        specs: Sequence[WeightSpec],
        scaling: FanInScaling | None = None,
        transforms: Sequence[Callable[[WeightSpace, WeightSpec], WeightSpace]] = (),
        probe_features: int = 0,
        probe_seed: int = 0,
        pyg: bool = True,
    ) -> None:
        self.specs = list(specs)
        self.scaling = scaling
        self.transforms = tuple(transforms)
        self.probe_features = probe_features
        self.probe_seed = probe_seed
        self.pyg = pyg

    def __call__(self, groups: Sequence[Group]) -> tuple[Any, Tensor]:
        pairs, probes, targets, labels = [], [], [], []
        for zoo_index, activation, rows, target in groups:
            spec = self.specs[zoo_index].with_activation(activation)
            ws = WeightSpace.from_flat(spec, rows)  # weights[i]: (B_g, n_out, n_in, 1)
            for transform in self.transforms:
                ws = transform(ws, spec)
            if self.probe_features:
                probe = probe_activations(spec, ws, self.probe_features, self.probe_seed)
                probes.append(probe.flatten(0, 1))  # (B_g * N_g, P)
            if self.scaling is not None:
                ws = self.scaling.normalize(spec, ws)
            pairs.append((spec, ws))
            targets.append(target)
            labels.append(torch.full((len(target),), zoo_index, dtype=torch.long))
        batch = to_graph_batch(pairs, pyg=self.pyg)
        if probes:
            batch.probe = torch.cat(probes)  # (N, P), nodes in batch order
        batch.group = torch.cat(labels)  # (G,)
        return batch, torch.cat(targets)
