"""The shipped ``mnist-inr`` classifier's build on a tiny zoo: invariant, replayable, reproducible."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from weightnet.data.zoo import open_zoo
from weightnet.pretrained import RECIPES, build_pretrained, load_pretrained
from weightnet.pretrained_inr import MNIST_INR_INPUT, fit_sirens_plainly
from weightnet.symmetry import random_symmetry
from weightnet.zoo.inr import mnist_images


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """10 images x 4 INRs, one epoch."""
    import weightnet.pretrained as pretrained

    root = tmp_path_factory.mktemp("mnist-inr")
    tiny = replace(RECIPES["mnist-inr"], num_models=40, epochs=1, zoo_folder=str(root / "zoo"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(pretrained.RECIPES, "mnist-inr", tiny)
        paths = build_pretrained("mnist-inr", root / "out")
        again = build_pretrained("mnist-inr", root / "again")
    return root, paths, again


def test_the_build_records_its_input_and_quality_and_is_reproducible(built):
    root, (weights, description), (weights_again, _) = built
    meta = json.loads(description.read_text())
    assert meta["input"]["canonicalize"] == MNIST_INR_INPUT["canonicalize"]
    assert meta["input"]["probes"] == MNIST_INR_INPUT["probes"]
    assert meta["model"]["kwargs"]["in_channels"] == 65 and meta["model"]["kwargs"]["input_skip"]
    for key in ("test/acc", "test/acc/permuted_sign_flipped", "test/acc_fresh_init"):
        assert 0.0 <= meta["quality"][key] <= 1.0
    # a permuted, sign-flipped test INR is the same function: the same answer
    assert meta["quality"]["test/acc"] == meta["quality"]["test/acc/permuted_sign_flipped"]
    assert weights.read_bytes() == weights_again.read_bytes()


def test_predictions_are_invariant_to_permutations_and_sign_flips(built):
    root, (weights, _), _ = built
    metanet = load_pretrained(weights)
    zoo = open_zoo(root / "zoo")
    ws = zoo.weightspace(np.arange(8))
    moved = random_symmetry(ws, zoo.spec, torch.Generator().manual_seed(0), scaling=False)
    probs = np.array([p["probs"] for p in metanet.predict(ws.to_state_dicts(zoo.spec))])
    probs_moved = np.array([p["probs"] for p in metanet.predict(moved.to_state_dicts(zoo.spec))])
    np.testing.assert_allclose(probs, probs_moved, atol=1e-4)
    assert np.abs(probs[0] - probs[1]).max() > 1e-4  # different INRs, different answers


def test_plainly_fitted_sirens_draw_their_images_and_are_read():
    images, _ = mnist_images()
    states = fit_sirens_plainly(images[:2], seed=5, steps=60)
    assert set(states[0]) == {f"seq.{k}.{p}" for k in range(3) for p in ("weight", "bias")}
    assert states[0]["seq.0.bias"].abs().max() > 0.1  # torch's default biases, not the recipe's
    again = fit_sirens_plainly(images[:1], seed=5, steps=60)
    torch.testing.assert_close(states[0]["seq.1.weight"], again[0]["seq.1.weight"])
