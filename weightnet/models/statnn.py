"""StatNN (Unterthiner et al. 2020): per-tensor weight statistics -> MLP."""

from __future__ import annotations

from weightnet.models.feature_mlp import FeatureMLP
from weightnet.nn.statistics import LayerStatistics
from weightnet.weightspace import WeightSpec

__all__ = ["StatNN"]


class StatNN(FeatureMLP):
    """Mean, variance and quantiles of every weight and bias tensor, then an MLP; invariant
    to permutations. Arguments as :class:`~weightnet.models.feature_mlp.FeatureMLP` (less
    ``featurizer``), plus ``in_channels``, the channels of the input weight space."""

    def __init__(self, spec: WeightSpec, out_features: int = 1, in_channels: int = 1, **kwargs):
        super().__init__(spec, LayerStatistics(spec, in_channels), out_features, **kwargs)
