import pytest
import torch

from weightnet.nn.neuron_mp import NeuronMessagePassing
from weightnet.symmetry import permute, sample_permutations
from weightnet.testing import assert_sensitive, cnn_spec, mlp_spec, random_weightspace

SPECS = {"mlp": mlp_spec((4, 6, 5, 2)), "cnn": cnn_spec(2, (4, 3), 3, 3)}


def _flat(states):
    return torch.cat([s.flatten(1) for s in states], dim=1)


@pytest.mark.parametrize("name", list(SPECS))
def test_states_are_equivariant_and_sensitive(name):
    spec = SPECS[name]
    torch.manual_seed(0)
    model = NeuronMessagePassing(spec, in_channels=2, hidden_channels=8, num_rounds=3)
    ws = random_weightspace(spec, 3, channels=2, seed=0)
    perms = sample_permutations(spec, 3, torch.Generator().manual_seed(1))
    states, moved = model(ws), model(permute(ws, perms))
    assert [s.shape for s in states] == [(3, n, 8) for n in spec.hidden_sizes]
    for s, s_moved, perm in zip(states, moved, perms, strict=True):
        expected = torch.stack([s[b][perm[b]] for b in range(3)])  # row j of P h is h[perm[j]]
        torch.testing.assert_close(s_moved, expected, atol=1e-5, rtol=1e-5)
        assert float((s_moved - s).abs().max()) > 1e-3  # equivariant, not invariant
    # the input and output neurons are fixed: permuting them is a different network
    assert_sensitive(lambda w: _flat(model(w)), spec, ws, io=True)


def _naive_round(model, ws, hidden, r):
    """One round of the update, written as the sums of the module docstring."""
    sizes = model.spec.layer_sizes
    states = [model.input_embedding.expand(ws.batch_size, -1, -1), *hidden]
    states.append(model.output_embedding.expand(ws.batch_size, -1, -1))
    c = model.hidden_channels
    new = []
    for i, h in enumerate(hidden):
        total = model.self_maps[r][i](torch.cat([h, ws.biases[i]], dim=-1))
        for layer, maps, source, n_src, incoming in (
            (i, model.prev_maps[r][i], states[i], sizes[i], True),
            (i + 1, model.next_maps[r][i], states[i + 2], sizes[i + 2], False),
        ):
            w = ws.weights[layer].flatten(3)  # (B, n_out, n_in, K)
            e = torch.cat([w, w.abs()], dim=-1)  # edge features f = (sign kind, k)
            mapped = maps.map(source).unflatten(-1, (2, -1, c)).flatten(-3, -2)  # (B, m, F, c)
            for b in range(ws.batch_size):
                for i in range(h.shape[1]):
                    for j in range(n_src):
                        edge = e[b, i, j] if incoming else e[b, j, i]  # (F,)
                        total[b, i] += (edge[:, None] * mapped[b, j]).sum(0) / n_src
        new.append(h + torch.relu(total))
    return new


@pytest.mark.parametrize("name", list(SPECS))
def test_batched_messages_match_the_plain_sums(name):
    spec = SPECS[name]
    torch.manual_seed(0)
    model = NeuronMessagePassing(spec, in_channels=1, hidden_channels=4, num_rounds=2)
    ws = random_weightspace(spec, 2, seed=3)
    with torch.no_grad():
        hidden = [start(b) for start, b in zip(model.start, ws.biases[:-1], strict=True)]
        for r in range(2):
            hidden = _naive_round(model, ws, hidden, r)
        for got, expected in zip(model(ws), hidden, strict=True):
            torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_rounds"):
        NeuronMessagePassing(SPECS["mlp"], num_rounds=0)
    with pytest.raises(ValueError, match="activation"):
        NeuronMessagePassing(SPECS["mlp"], activation="swish")
