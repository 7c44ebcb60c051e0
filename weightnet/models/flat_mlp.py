"""The naive baseline: flatten all weights and feed an MLP (not permutation invariant)."""

from __future__ import annotations

from weightnet.models.feature_mlp import FeatureMLP
from weightnet.nn.flatten import FlattenWeights
from weightnet.weightspace import WeightSpec

__all__ = ["FlatMLP"]


class FlatMLP(FeatureMLP):
    """Flattened weights -> MLP. Not invariant to neuron permutations: train it with
    permutation augmentation. Arguments as :class:`~weightnet.models.feature_mlp.FeatureMLP`
    (less ``featurizer``), plus ``in_channels``, the channels of the input weight space."""

    def __init__(self, spec: WeightSpec, out_features: int = 1, in_channels: int = 1, **kwargs):
        super().__init__(spec, FlattenWeights(spec, in_channels), out_features, **kwargs)
