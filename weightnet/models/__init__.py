"""Whole metanetworks, assembled from :mod:`weightnet.nn` (no Lightning, no Hydra inside).

Every model is built as ``MODELS[name](spec, out_features=..., hidden_channels=...,
num_layers=..., dropout=..., **extra)`` and maps a :class:`~weightnet.WeightSpace` of
``spec`` (``C == 1`` by default, ``in_channels`` otherwise) to ``(B, out_features)``:

=========== ==================================== ==========================================
name        class                                 invariant to
=========== ==================================== ==========================================
``mlp``     :class:`FlatMLP`                      nothing (use permutation augmentation)
``statnn``  :class:`StatNN`                       every permutation of each tensor's entries
``dws``     :class:`DWSNet`                       hidden-neuron permutations
``nfn_np``  ``functools.partial(NFN, mode="np")`` hidden-neuron permutations (NP layers +
                                                  learned io embeddings, NPPool)
``nfn_hnp`` ``functools.partial(NFN, mode="hnp")`` hidden-neuron permutations (HNPPool)
=========== ==================================== ==========================================

``gnn`` (:class:`GraphNet`, NG-GNN) and ``transformer`` (:class:`GraphTransformer`, NG-T) work
on parameter graphs: invariant to hidden-neuron permutations, for any architecture; they also
take a (mixed-architecture) batch from :func:`weightnet.graph.to_graph_batch` (``spec=None``
then) and, with ``readout="weights"``, return per-weight outputs as WeightSpaces.

Extra keyword arguments of the equivariant models (``dws``, ``nfn_*``): ``in_channels``,
``head_hidden`` (default ``4 * hidden_channels``), ``head_layers`` (2), ``activation``
(``"relu"``); ``nfn_*`` also ``bf16`` (False: bfloat16 factors in the large CPU products,
see :mod:`weightnet.nn.gemm`), ``nfn_np`` also ``io_embed`` (True). ``mlp`` and ``statnn``
take ``in_channels``.

Inputs should be roughly normalized (the data pipeline standardizes each layer); the
models use no batch statistics, so a prediction never depends on the rest of the batch.

Weight editing: every equivariant model has ``model.body`` (WeightSpace -> WeightSpace with
``hidden_channels`` channels) and ``model.projection(out_channels)`` (a fresh equivariant
layer back to ``out_channels``). :class:`EquivariantEditor` packages both for
``kind in ("dws", "nfn_np", "nfn_hnp")``, with the projection zero-initialized::

    editor = EquivariantEditor(spec, kind="dws", hidden_channels=32, num_layers=3)
    edited = ws + editor(ws)     # editor(ws): WeightSpace delta with C == 1
"""

from functools import partial

from weightnet.models.dws import DWSNet
from weightnet.models.editor import EDITOR_LAYERS, EquivariantEditor
from weightnet.models.equivariant import EquivariantBody, InvariantMetanet
from weightnet.models.feature_mlp import FeatureMLP
from weightnet.models.flat_mlp import FlatMLP
from weightnet.models.graph import GraphNet, GraphTransformer
from weightnet.models.nfn import NFN
from weightnet.models.statnn import StatNN

__all__ = [
    "DWSNet",
    "EDITOR_LAYERS",
    "EquivariantBody",
    "EquivariantEditor",
    "FeatureMLP",
    "FlatMLP",
    "GraphNet",
    "GraphTransformer",
    "InvariantMetanet",
    "MODELS",
    "NFN",
    "StatNN",
]

#: Model name (the Hydra ``model=`` choice) -> constructor taking ``spec`` first.
MODELS = {
    "mlp": FlatMLP,
    "statnn": StatNN,
    "dws": DWSNet,
    "nfn_np": partial(NFN, mode="np"),
    "nfn_hnp": partial(NFN, mode="hnp"),
    "gnn": GraphNet,
    "transformer": GraphTransformer,
}
