import torch

from weightnet.nn.flatten import FlattenWeights
from weightnet.testing import cnn_spec, random_weightspace


def test_flatten_matches_layout_and_round_trips():
    spec = cnn_spec()
    ws = random_weightspace(spec, batch_size=3)
    flat = FlattenWeights(spec)(ws)
    assert flat.shape == (3, spec.num_params) == (3, FlattenWeights(spec).out_features)
    back = type(ws).from_flat(spec, flat)
    assert all(torch.equal(a, b) for a, b in zip(back.tensors(), ws.tensors(), strict=True))
