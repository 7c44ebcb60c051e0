"""weightnet.preprocessing: input scalings folded exactly into the first layer."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from weightnet.errors import WeightnetError
from weightnet.functional import forward
from weightnet.preprocessing import digits_preprocessing, fold_input_affine
from weightnet.testing import cnn_spec, mlp_spec, random_weightspace
from weightnet.weightspace import WeightSpace
from weightnet.zoo.digits import load_digits_data


def _net(sizes=(64, 12, 10), seed=0):
    spec = mlp_spec(sizes)
    return spec, random_weightspace(spec, 1, seed=seed).to_state_dicts(spec)[0]


def _outputs(spec, state, x):
    return forward(spec, WeightSpace.from_state_dicts(spec, [state]).to(torch.float64), x)[0]


def test_a_folded_affine_map_computes_the_same_function():
    spec, state = _net((5, 7, 3))
    gen = torch.Generator().manual_seed(0)
    scale, shift = torch.rand(5, generator=gen) + 0.5, torch.randn(5, generator=gen)
    x = torch.randn(20, 5, generator=gen, dtype=torch.float64)
    folded = fold_input_affine(state, spec, scale, shift)
    torch.testing.assert_close(
        _outputs(spec, folded, x), _outputs(spec, state, scale * x + shift), atol=1e-5, rtol=1e-5
    )
    assert all(torch.equal(folded[k], state[k]) for k in spec.keys[2:])  # only layer 1 changes
    with pytest.raises(WeightnetError, match="an input scaling of 4 features for a network of 5"):
        fold_input_affine(state, spec, torch.ones(4), torch.zeros(4))
    conv = cnn_spec(1, (3,), 2)
    with pytest.raises(WeightnetError, match="only a linear first layer"):
        fold_input_affine(random_weightspace(conv, 1).to_state_dicts(conv)[0], conv, 1, 0)


@pytest.mark.parametrize("frame", ["raw", "standardized", "0.5", "x/16"])
def test_a_network_of_another_frame_reads_the_zoos_inputs_after_folding(frame):
    """Its outputs on the zoos' x = raw / 16 equal the network's own on its own inputs."""
    spec, state = _net()
    raw = torch.from_numpy(load_digits().data[:50]).double()  # (50, 64), 0..16
    if frame == "standardized":
        train = load_digits().data[load_digits_data(0).train_indices]
        own = torch.from_numpy(StandardScaler().fit(train).transform(raw.numpy()))
    else:
        own = raw * {"raw": 1.0, "0.5": 0.5, "x/16": 1 / 16}[frame]
    folded = fold_input_affine(state, spec, *digits_preprocessing(frame, 1 / 16))
    torch.testing.assert_close(
        _outputs(spec, folded, raw / 16), _outputs(spec, state, own), atol=1e-4, rtol=1e-5
    )
    if frame == "x/16":
        assert all(torch.equal(folded[k], state[k]) for k in state)
    if frame == "raw":
        np.testing.assert_allclose(folded["net.0.weight"], 16 * state["net.0.weight"], rtol=1e-6)


def test_an_unknown_frame_is_one_line():
    with pytest.raises(WeightnetError, match=r"--input-scale 'sixteen': give x/16, raw, "):
        digits_preprocessing("sixteen", 1 / 16)
