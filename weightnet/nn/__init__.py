"""Equivariant building blocks for metanetworks, one concept per module."""

from weightnet.nn.channels import WeightSpaceActivation, WeightSpaceDropout
from weightnet.nn.dws import DWSLinear
from weightnet.nn.flatten import FlattenWeights
from weightnet.nn.layout import NeuronSetLayout, Slot
from weightnet.nn.linear import WeightSpaceLinear
from weightnet.nn.mlp import MLP
from weightnet.nn.neuron_mp import NeuronMessagePassing
from weightnet.nn.nfn import HNPLinear, NPLinear
from weightnet.nn.pooling import InvariantPool
from weightnet.nn.statistics import LayerStatistics

__all__ = [
    "DWSLinear",
    "FlattenWeights",
    "HNPLinear",
    "InvariantPool",
    "LayerStatistics",
    "MLP",
    "NPLinear",
    "NeuronMessagePassing",
    "NeuronSetLayout",
    "Slot",
    "WeightSpaceActivation",
    "WeightSpaceDropout",
    "WeightSpaceLinear",
]
