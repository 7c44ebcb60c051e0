import pytest
import torch
import torch.nn.functional as F

from weightnet.align.learned import (
    LearnedAligner,
    align_pairs,
    alignment_loss,
    learned_alignment,
    planted_pairs,
    round_scores,
    sinkhorn,
    soft_permute,
)
from weightnet.symmetry import permute, sample_permutations
from weightnet.testing import cnn_spec, mlp_spec, random_weightspace
from weightnet.weightspace import SpecError, WeightSpace

SPECS = {
    "mlp": (mlp_spec((4, 6, 5, 2)), (4,)),
    "cnn": (cnn_spec(2, (4, 3), 3, 3), (2, 5, 5)),
}


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("kind", ["dws", "nfn_np", "nfn_hnp", "neuron_mp"])
def test_scores_are_equivariant_to_both_networks_permutations(name, kind):
    spec, _ = SPECS[name]
    torch.manual_seed(0)
    model = LearnedAligner(spec, kind=kind, hidden_channels=8, num_layers=2)
    a, b = random_weightspace(spec, 3, seed=0), random_weightspace(spec, 3, seed=1)
    gen = torch.Generator().manual_seed(0)
    p, q = sample_permutations(spec, 3, gen), sample_permutations(spec, 3, gen)
    scores, moved = model(a, b), model(permute(a, p), permute(b, q))
    for s, s_moved, pl, ql in zip(scores, moved, p, q, strict=True):
        expected = torch.stack([s[i][pl[i]][:, ql[i]] for i in range(3)])  # P S Q^T
        torch.testing.assert_close(s_moved, expected, atol=1e-5, rtol=1e-5)
        assert float((s_moved - s).abs().max()) > 1e-4  # not invariant
    other = model(a, random_weightspace(spec, 3, seed=2))
    assert float((other[0] - scores[0]).abs().max()) > 1e-4  # sensitive to the other network


@pytest.mark.parametrize("name", list(SPECS))
def test_learned_alignment_preserves_the_function(name, assert_same_function):
    spec, input_shape = SPECS[name]
    torch.manual_seed(0)
    model = LearnedAligner(spec, hidden_channels=8, num_layers=2)
    a, b = random_weightspace(spec, 2, seed=0), random_weightspace(spec, 2, seed=1)
    result = learned_alignment(model, a, b)
    assert result.aligned.allclose(permute(b, result.permutations), atol=0, rtol=0)
    assert_same_function(spec, b, result.aligned, input_shape)
    assert model.training  # the mode is restored


def test_sinkhorn_is_doubly_stochastic_and_soft_permute_extends_permute():
    scores = torch.randn(2, 5, 5, generator=torch.Generator().manual_seed(0))
    p = sinkhorn(scores, num_iters=50).exp()
    torch.testing.assert_close(p.sum(dim=1), torch.ones(2, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(p.sum(dim=2), torch.ones(2, 5), atol=1e-5, rtol=0)
    spec, _ = SPECS["cnn"]
    ws = random_weightspace(spec, 2, channels=3)
    perms = sample_permutations(spec, 2, torch.Generator().manual_seed(1))
    one_hot = [F.one_hot(perm, perm.shape[1]).float() for perm in perms]
    assert soft_permute(ws, one_hot).allclose(permute(ws, perms), atol=0, rtol=0)
    with pytest.raises(SpecError, match="hidden layers"):
        soft_permute(ws, one_hot[:1])


def test_losses():
    spec, _ = SPECS["mlp"]
    a = random_weightspace(spec, 4, seed=0)
    b, target = planted_pairs(spec, a, torch.Generator().manual_seed(0))
    assert permute(b, target).allclose(a, atol=0, rtol=0)
    # scores that point at the true partners give a small loss, wrong ones a large one
    good = [50 * F.one_hot(t, t.shape[1]).float() for t in target]
    bad = [50 * F.one_hot(t.roll(1, dims=1), t.shape[1]).float() for t in target]
    assert float(alignment_loss(good, a, b, target)) < 1e-3
    assert float(alignment_loss(bad, a, b, target)) > 10
    assert float(alignment_loss(good, a, b)) < 1e-6  # unsupervised: A == P B
    assert float(alignment_loss(bad, a, b)) > 0.1


@pytest.mark.slow
def test_training_on_planted_pairs_lowers_the_loss_and_recovers_permutations(single_thread):
    spec, _ = SPECS["mlp"]
    torch.manual_seed(0)
    model = LearnedAligner(spec, hidden_channels=16, num_layers=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for step in range(60):
        a = random_weightspace(spec, 16, seed=step)
        b, target = planted_pairs(spec, a, gen, noise=0.05)
        loss = alignment_loss(model(a, b), a, b, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert sum(losses[-10:]) < 0.5 * sum(losses[:10])
    a = random_weightspace(spec, 32, seed=1000)
    b, target = planted_pairs(spec, a, torch.Generator().manual_seed(1), noise=0.05)
    found = learned_alignment(model, a, b).permutations
    accuracy = torch.cat([(f == t).float().flatten() for f, t in zip(found, target, strict=True)])
    assert float(accuracy.mean()) > 0.9


def test_round_scores_is_the_linear_assignment_optimum():
    from scipy.optimize import linear_sum_assignment

    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(20, 7, 7, generator=gen)
    scores[:10] += 10 * torch.eye(7)[torch.randperm(7, generator=gen)]  # distinct row maxima
    (found,) = round_scores([scores])
    for score, perm in zip(scores, found, strict=True):
        _, cols = linear_sum_assignment(score.double().numpy(), maximize=True)
        assert perm.tolist() == cols.tolist()


@pytest.mark.parametrize("name", list(SPECS))
def test_align_pairs_matches_learned_alignment_pair_by_pair(name):
    spec, _ = SPECS[name]
    torch.manual_seed(0)
    model = LearnedAligner(spec, hidden_channels=8, num_layers=2)
    networks = random_weightspace(spec, 4, seed=0)
    pairs = torch.tensor([[0, 1], [2, 1], [3, 0], [1, 3]])
    found = align_pairs(model, networks, pairs)
    expected = learned_alignment(model, networks[pairs[:, 0]], networks[pairs[:, 1]])
    for f, e in zip(found, expected.permutations, strict=True):
        assert torch.equal(f, e)


def test_round_scores_gives_the_same_permutations_with_or_without_sinkhorn():
    # Sinkhorn subtracts row and column potentials: every permutation's total shifts alike
    gen = torch.Generator().manual_seed(0)
    scores = 3 * torch.randn(50, 9, 9, generator=gen)
    raw = round_scores([scores])[0]
    for num_iters, temperature in ((1, 1.0), (20, 1.0), (20, 0.3)):
        normalized = round_scores([sinkhorn(scores, num_iters, temperature)])[0]
        assert torch.equal(normalized, raw)
    assert not torch.equal(raw, scores.argmax(dim=2))  # rows' maxima alone collide here


@pytest.mark.parametrize("name", list(SPECS))
def test_body_passes_in_chunks_give_the_same_alignment(name):
    spec, _ = SPECS[name]
    torch.manual_seed(0)
    model = LearnedAligner(spec, hidden_channels=8, num_layers=2)
    a, b = random_weightspace(spec, 5, seed=0), random_weightspace(spec, 5, seed=1)
    whole = learned_alignment(model, a, b, chunk=None)
    for chunk in (1, 2, 64):
        result = learned_alignment(model, a, b, chunk=chunk)
        for found, expected in zip(result.permutations, whole.permutations, strict=True):
            assert torch.equal(found, expected)
    pairs = torch.tensor([[0, 1], [2, 1], [4, 3]])
    networks = WeightSpace.collate([a, b])
    for found, expected in zip(
        align_pairs(model, networks, pairs, chunk=3),
        align_pairs(model, networks, pairs, chunk=None),
        strict=True,
    ):
        assert torch.equal(found, expected)
    assert model.training  # the mode is restored
