"""The shipped INR classifier digits-inr (weightnet.pretrained_inr) and its build."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from inr_zoo import tiny_inr_zoo

from weightnet.cli import main as cli
from weightnet.errors import WeightnetError
from weightnet.io import save_state_dict
from weightnet.pretrained import RECIPES, load_pretrained
from weightnet.pretrained_inr import build_inr_classifier
from weightnet.symmetry import permute, rescale, sample_permutations, sample_signs
from weightnet.testing import mlp_spec, random_weightspace
from weightnet.weightspace import WeightSpace
from weightnet.zoo.inr import DIGITS_INR, digit_images


@pytest.fixture(scope="module")
def metanet():
    return load_pretrained("digits-inr")


@pytest.fixture(scope="module")
def sirens(metanet):
    """12 SIRENs of six held-out digit images, fitted as the digits-inr recipe does: (ws, labels)."""
    test_images = np.asarray(metanet.meta["quality"]["test_image_indices"][:6])
    images, labels = digit_images()
    chosen = np.repeat(test_images, 2)
    fitted = DIGITS_INR.fit_images(images[chosen], np.tile([0, 1], len(test_images)), seed=0)
    ws = WeightSpace.from_flat(DIGITS_INR.spec, torch.from_numpy(fitted["params"]))
    return ws, labels[chosen]


def _probs(metanet, ws):
    return torch.tensor([p["probs"] for p in metanet.predict(ws.to_state_dicts(DIGITS_INR.spec))])


def test_the_shipped_file_is_small_and_says_how_good_it_is(metanet):
    meta = metanet.meta
    assert meta["task"]["output"] == "classification" and meta["model"]["class"] == "mlp"
    assert meta["input"]["align"] == {"recipe": "digits-inr", "seed": 0, "inr_seeds": [0, 1]}
    assert meta["quality"]["test/acc"] > 0.8
    assert 0 <= meta["quality"]["test/acc_fresh_init"] <= 1
    assert meta["quality"]["test/acc/permuted_sign_flipped"] == meta["quality"]["test/acc"]
    size = Path(metanet.meta["name"]).name
    assert size == "digits-inr" and meta["num_parameters"] < 100_000


def test_held_out_sirens_of_the_recipe_are_mostly_classified_right(metanet, sirens):
    ws, labels = sirens
    predictions = metanet.predict(ws.to_state_dicts(DIGITS_INR.spec))
    classes = np.array([p["class"] for p in predictions])
    assert (classes == labels).mean() >= 0.75, (classes, labels)
    for p in predictions:
        assert len(p["probs"]) == 10 and sum(p["probs"]) == pytest.approx(1, abs=1e-5)
        assert p["class"] == int(np.argmax(p["probs"]))


def test_predictions_are_invariant_to_permutations_and_sign_flips(metanet, sirens):
    ws, _ = sirens
    spec = DIGITS_INR.spec
    gen = torch.Generator().manual_seed(0)
    moved = permute(
        rescale(ws, spec, sample_signs(spec, 12, gen)), sample_permutations(spec, 12, gen)
    )
    torch.testing.assert_close(_probs(metanet, moved), _probs(metanet, ws), atol=1e-5, rtol=0)
    other = _probs(metanet, random_weightspace(spec, 12, seed=1, scale=0.1))
    assert (other - _probs(metanet, ws)).abs().max() > 1e-2  # sensitive to the weights


def test_cli_json_gives_class_and_probabilities_per_file(metanet, sirens, tmp_path, capsys):
    ws, labels = sirens
    files = []
    for i, state in enumerate(ws[:2].to_state_dicts(DIGITS_INR.spec)):
        path = tmp_path / (f"{i}.pt" if i == 0 else f"{i}.safetensors")
        if i == 0:
            torch.save({f"net.{k[4:]}": v for k, v in state.items()}, path)  # other key names
        else:
            save_state_dict(state, path)
        files.append(str(path))
    assert cli(["predict", "--checkpoint", "digits-inr", *files, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["file"] for r in rows] == files
    expected = metanet.predict(ws[:2].to_state_dicts(DIGITS_INR.spec))
    for row, want in zip(rows, expected, strict=True):
        assert row["prediction"]["class"] == want["class"]
        assert row["prediction"]["probs"] == pytest.approx(want["probs"], abs=1e-6)
    assert cli(["predict", "--checkpoint", "digits-inr", files[0]]) == 0
    assert capsys.readouterr().out.split()[-2:] == ["class", str(expected[0]["class"])]


def test_a_file_that_is_not_a_siren_of_the_recipe_gets_one_line(tmp_path, capsys):
    spec = mlp_spec((64, 32, 10))
    path = tmp_path / "mlp.pt"
    torch.save(random_weightspace(spec, 1).to_state_dicts(spec)[0], path)
    assert cli(["predict", "--checkpoint", "digits-inr", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{path}: digits-inr reads 2-32-32-1 SIRENs (sin activations), this is a" in err
    with pytest.raises(WeightnetError, match="digits-inr reads 2-32-32-1 SIRENs"):
        load_pretrained("digits-inr").predict(
            [{"w.weight": torch.ones(3, 2), "w.bias": torch.ones(3)}]
        )


def test_pretrained_lists_digits_inr_with_its_accuracy(capsys):
    assert cli(["pretrained"]) == 0
    out = capsys.readouterr().out
    assert "digits-inr: classifies the digit" in out and "acc_fresh_init" in out


def test_the_build_is_deterministic_on_a_tiny_zoo(tmp_path):
    recipe = replace(RECIPES["digits-inr"], epochs=2, batch_size=4)
    first = build_inr_classifier(recipe, tmp_path / "a" / "digits-inr", tiny_inr_zoo())
    second = build_inr_classifier(recipe, tmp_path / "b" / "digits-inr", tiny_inr_zoo())
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    meta = json.loads(first[1].read_text())
    assert meta["training_data"]["num_networks"] == 8 and "test/acc" in meta["quality"]
