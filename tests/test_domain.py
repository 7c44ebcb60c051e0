"""weightnet.domain: the ranges of a metanet's training networks, and why a network lies outside."""

import numpy as np
import pytest

from weightnet.data.zoo import open_zoo
from weightnet.domain import TrainingDomain, neuron_weight_norms
from weightnet.testing import mlp_spec


def test_neuron_weight_norms_are_the_rms_of_incoming_weight_norms():
    spec = mlp_spec((3, 2, 1))
    flat = np.zeros((1, spec.num_params))
    # layout: net.0.weight (2x3), net.0.bias (2), net.2.weight (1x2), net.2.bias (1)
    flat[0, :6] = [3, 4, 0, 0, 0, 0]  # neuron norms 5 and 0: rms sqrt(25 / 2)
    flat[0, 6:8] = [7, 7]  # biases are not weights
    flat[0, 8:10] = [1, 1]  # one neuron of norm sqrt(2)
    np.testing.assert_allclose(neuron_weight_norms(spec, flat), [[np.sqrt(12.5), np.sqrt(2)]])


def test_the_domain_of_networks_spans_their_depths_widths_activations_and_norms():
    small, deep = mlp_spec((4, 6, 3)), mlp_spec((4, 8, 5, 3))
    rng = np.random.default_rng(0)
    groups = [
        (small, ["relu"], rng.standard_normal((5, small.num_params))),
        (deep, ["tanh", "relu"], 2 * rng.standard_normal((5, deep.num_params))),
    ]
    domain = TrainingDomain.from_networks(groups)
    norms = np.concatenate([neuron_weight_norms(s, rows).ravel() for s, _, rows in groups])
    assert domain.depths == (2, 3) and domain.widths == (5, 8)
    assert domain.activations == ("relu", "tanh")
    assert domain.weight_norm == pytest.approx((norms.min(), norms.max()))
    assert TrainingDomain.from_dict(domain.to_dict()) == domain
    assert TrainingDomain.from_dict(None) == TrainingDomain()
    for spec, _, rows in groups:  # every training network lies inside
        assert domain.why_outside(spec, rows[0]) == []


def test_each_reason_names_what_lies_outside_and_the_training_range():
    domain = TrainingDomain(
        depths=(2, 3), widths=(5, 8), activations=("relu",), weight_norm=(0.5, 2)
    )
    spec = mlp_spec((4, 6, 3))
    inside = np.full(spec.num_params, 0.3)  # incoming norms 0.6 (4 inputs) and 0.73 (6 inputs)
    assert domain.why_outside(spec, inside) == []
    assert (
        domain.why_outside(mlp_spec((4, 3)), np.zeros(15))[0] == "depth 1 layers (trained on 2-3)"
    )
    wide = mlp_spec((4, 16, 2, 3))
    assert domain.why_outside(wide) == ["hidden width 2, 16 (trained on 5-8)"]
    assert domain.why_outside(spec.with_activation("tanh")) == ["activation tanh (trained on relu)"]
    assert domain.why_outside(spec, inside * 10) == [
        "neuron weight norm 6 in net.0.weight and 1 more layer(s) (trained on 0.5-2)"
    ]
    assert TrainingDomain().why_outside(wide, inside) == []  # nothing recorded: nothing to flag


def test_the_domain_of_zoo_rows_reads_their_activations_and_weights(write_zoo, tmp_path):
    zoo = open_zoo(write_zoo(tmp_path / "zoo", num_runs=4, checkpoints=2))
    rows = np.stack([np.zeros(3, int), [0, 5, 7]], axis=1)
    domain = TrainingDomain.from_zoo_rows([zoo], rows)
    norms = neuron_weight_norms(zoo.spec, np.asarray(zoo.weights[[0, 5, 7]]))
    assert domain.depths == (3, 3) and domain.widths == (5, 6) and domain.activations == ("relu",)
    assert domain.weight_norm == pytest.approx((norms.min(), norms.max()))
