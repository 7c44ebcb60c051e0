"""Generated zoos: the exact on-disk format, determinism, honest metrics, recipes."""

from __future__ import annotations

import csv
import hashlib
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

from weightnet.errors import WeightnetError
from weightnet.weightspace import WeightSpec, read_layout_csv
from weightnet.zoo.architectures import build_module
from weightnet.zoo.recipes import RECIPES, HyperparameterSpace, generate_zoo
from weightnet.zoo.seeding import stream

METRIC_COLUMNS = [
    "model_id",
    "run_id",
    "config.activation",
    "config.optimizer",
    "config.learning_rate",
    "config.l2_reg",
    "config.init_std",
    "config.train_fraction",
    "test_accuracy",
    "test_loss",
    "train_accuracy",
    "train_loss",
    "step",
]


@pytest.mark.parametrize("zoo_name", ["mlp_zoo", "cnn_zoo"])
def test_format_is_exact(zoo_name, request):
    path = request.getfixturevalue(zoo_name)
    assert sorted(p.name for p in path.iterdir()) == [
        "layout.csv",
        "metrics.csv",
        "weights.npy",
        "zoo.json",
    ]
    meta = json.loads((path / "zoo.json").read_text())
    assert list(meta) == [
        "format_version",
        "recipe",
        "seed",
        "num_models",
        "architecture",
        "dataset",
        "weights_sha256",
    ]
    assert meta["format_version"] == 1
    assert set(meta["architecture"]) == {"kind", "layers", "activation"}
    assert set(meta["dataset"]) == {
        "name",
        "input_scale",
        "input_shape",
        "train_indices",
        "test_indices",
    }
    assert meta["dataset"]["name"] == "sklearn-digits" and meta["dataset"]["input_scale"] == 0.0625
    train, test = meta["dataset"]["train_indices"], meta["dataset"]["test_indices"]
    assert sorted(train + test) == list(range(1797)) and len(test) == 450
    assert meta["weights_sha256"] == hashlib.sha256((path / "weights.npy").read_bytes()).hexdigest()

    spec = WeightSpec.from_dict(meta["architecture"])
    weights = np.load(path / "weights.npy")
    assert weights.dtype == np.float32 and weights.shape == (
        meta["num_models"] * 3,
        spec.num_params,
    )
    layout = read_layout_csv(path / "layout.csv")
    assert [row[0] for row in layout] == list(spec.keys)
    assert [tuple(row[1:]) for row in layout] == [tuple(row[1:]) for row in spec.layout()]

    with open(path / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == METRIC_COLUMNS
    assert [int(r["model_id"]) for r in rows] == list(range(len(weights)))
    assert [int(r["step"]) for r in rows] == [0, 4, 12] * meta["num_models"]
    assert [int(r["run_id"]) for r in rows] == [
        r for r in range(meta["num_models"]) for _ in range(3)
    ]
    assert len({r["run_id"] for r in rows}) == meta["num_models"]


def _rebuild_and_score(path):
    """Rebuild every network from the files alone with plain PyTorch; ``(correct, loss)`` per row."""
    meta = json.loads((path / "zoo.json").read_text())
    layout = read_layout_csv(path / "layout.csv")
    weights = np.load(path / "weights.npy")
    with open(path / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    digits = load_digits()
    test = meta["dataset"]["test_indices"]
    inputs = torch.tensor(digits.data[test] / 16, dtype=torch.float32)
    inputs = inputs.reshape(len(test), *meta["dataset"]["input_shape"])
    labels = torch.tensor(digits.target[test])
    spec = WeightSpec.from_dict(meta["architecture"])
    results = []
    for row, flat in zip(rows, weights, strict=True):
        module = build_module(spec.with_activation(row["config.activation"]))
        state = {
            name: torch.from_numpy(flat[start:end].reshape(shape))
            for name, start, end, _, shape in layout
        }
        module.load_state_dict(state)
        with torch.no_grad():
            logits = module(inputs)
        results.append(
            (int((logits.argmax(1) == labels).sum()), float(F.cross_entropy(logits, labels)))
        )
    return rows, results, len(test)


@pytest.mark.parametrize("zoo_name", ["mlp_zoo", "cnn_zoo"])
def test_metrics_are_honest(zoo_name, request):
    rows, results, num_test = _rebuild_and_score(request.getfixturevalue(zoo_name))
    for row, (correct, loss) in zip(rows, results, strict=True):
        assert float(row["test_accuracy"]) == correct / num_test
        assert math.isclose(float(row["test_loss"]), loss, abs_tol=1e-4)
    accuracy = np.array([float(r["test_accuracy"]) for r in rows])
    steps = np.array([int(r["step"]) for r in rows])
    assert accuracy[steps == 12].mean() > accuracy[steps == 0].mean()  # training does something


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, mlp_zoo, tiny):
    again = generate_zoo(tiny("digits-mlp"), tmp_path / "again", 10, seed=3, progress=False)
    for name in ("weights.npy", "metrics.csv", "zoo.json", "layout.csv"):
        assert (again / name).read_bytes() == (mlp_zoo / name).read_bytes()
    other = generate_zoo(tiny("digits-mlp"), tmp_path / "other", 10, seed=4, progress=False)
    assert (other / "weights.npy").read_bytes() != (mlp_zoo / "weights.npy").read_bytes()


def test_runs_do_not_depend_on_chunking_or_zoo_size(tmp_path, mlp_zoo, tiny):
    small_chunks = generate_zoo(
        tiny("digits-mlp", chunk_size=3), tmp_path / "a", 7, seed=3, progress=False
    )
    ours, theirs = np.load(mlp_zoo / "weights.npy"), np.load(small_chunks / "weights.npy")
    np.testing.assert_array_equal(theirs, ours[: len(theirs)])


def test_hetero_writes_one_zoo_per_architecture(tmp_path, tiny):
    out = generate_zoo(tiny("digits-mlp-hetero"), tmp_path / "hetero", 9, seed=0, progress=False)
    folders = sorted(p for p in out.iterdir())
    assert len(folders) == 9  # fewer runs than architectures: one run each
    depths = set()
    for folder in folders:
        meta = json.loads((folder / "zoo.json").read_text())
        spec = WeightSpec.from_dict(meta["architecture"])
        assert folder.name == "mlp-" + "-".join(map(str, spec.layer_sizes))
        assert spec.layer_sizes[0] == 64 and spec.layer_sizes[-1] == 10
        assert set(spec.hidden_sizes) <= {8, 16, 32, 64}
        depths.add(len(spec.hidden_sizes))
        assert meta["num_models"] == 1 and meta["recipe"] == "digits-mlp-hetero"
    assert depths == {1, 2, 3, 4}
    assert not list(tmp_path.glob(".*"))  # no staging folder left


def test_hyperparameters_cover_their_ranges():
    space = HyperparameterSpace()
    samples = [space.sample(stream(0, 2, r)) for r in range(400)]
    assert {s["activation"] for s in samples} == {"relu", "tanh"}
    assert {s["optimizer"] for s in samples} == {"sgd", "adam"}
    for name in ("learning_rate", "l2_reg", "init_std", "train_fraction"):
        low, high = getattr(space, name)
        values = np.array([s[name] for s in samples])
        assert low <= values.min() and values.max() <= high
        assert values.min() < low * 1.5 + 0.05 * (high - low) * (name == "train_fraction")
    lr = np.log([s["learning_rate"] for s in samples])
    assert abs(np.median(lr) - np.log(np.sqrt(5e-4 * 5e-2))) < 0.5  # log-uniform, not uniform


def test_recipe_registry_and_bad_arguments(tmp_path):
    assert {"digits-mlp", "digits-cnn", "digits-mlp-hetero"} <= set(RECIPES)
    assert all(r.default_num_models > 0 for r in RECIPES.values())
    with pytest.raises(WeightnetError, match="unknown recipe 'nope'.*digits-mlp"):
        generate_zoo("nope", tmp_path / "z")
    with pytest.raises(WeightnetError, match="num_models"):
        generate_zoo("digits-mlp", tmp_path / "z", 0)
    assert not (tmp_path / "z").exists()


def test_generating_a_zoo_leaves_the_global_random_state_alone(tmp_path):
    """train.py seeds, generates a missing zoo, then builds the model: same model either way."""
    import random

    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    generate_zoo("digits-mlp", tmp_path / "z", num_models=2, seed=0, progress=False)
    after = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(after[0], expected[0])
    assert np.array_equal(after[1], expected[1]) and after[2] == expected[2]


@pytest.mark.parametrize("zoo_name", ["mlp_zoo", "cnn_zoo"])
def test_chunks_trained_side_by_side_give_the_same_bytes(zoo_name, request, tmp_path, tiny):
    """With two torch threads, the chunks (one per activation and optimizer here) train in two
    worker threads: the bytes stay those of one thread."""
    recipe, runs, seed = {"mlp_zoo": ("digits-mlp", 10, 3), "cnn_zoo": ("digits-cnn", 6, 1)}[
        zoo_name
    ]
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        again = generate_zoo(tiny(recipe), tmp_path / "z", runs, seed, progress=False)
    finally:
        torch.set_num_threads(threads)
    one_by_one = request.getfixturevalue(zoo_name)
    for name in ("weights.npy", "metrics.csv"):
        assert (again / name).read_bytes() == (one_by_one / name).read_bytes()


def test_the_initializations_draw_what_their_libraries_draw():
    from weightnet.zoo.recipes import initial_weights

    spec = WeightSpec.from_dict({"layers": [
        {"weight_key": "a.weight", "bias_key": "a.bias", "kind": "linear", "shape": [400, 600]},
        {"weight_key": "b.weight", "bias_key": "b.bias", "kind": "linear", "shape": [10, 400]},
    ]})  # fmt: skip
    layout = {name: (start, end) for name, start, end, _, _ in spec.layout()}

    def part(params, name):
        return params[slice(*layout[name])]

    glorot = math.sqrt(6 / 1000)
    draws = {kind: initial_weights(spec, kind, 0.1, stream(0, 3, 0)) for kind in
             ("normal", "pytorch", "glorot", "he", "sklearn")}  # fmt: skip
    assert abs(part(draws["normal"], "a.weight").std() - 0.1) < 0.002
    assert np.abs(part(draws["pytorch"], "a.weight")).max() <= 1 / math.sqrt(600)
    assert np.abs(part(draws["pytorch"], "a.bias")).max() > 0.9 / math.sqrt(600)
    assert abs(part(draws["glorot"], "a.weight").std() - glorot / math.sqrt(3)) < 0.001
    assert abs(part(draws["he"], "a.weight").std() - math.sqrt(2 / 600)) < 0.001
    assert np.abs(part(draws["sklearn"], "a.bias")).max() > 0.9 * glorot
    for kind in ("normal", "glorot", "he"):
        assert not part(draws[kind], "a.bias").any()  # zero biases


def test_the_wide_recipe_stores_every_frame_folded_into_x16_with_honest_metrics(tmp_path, tiny):
    """Runs trained on raw or standardized pixels are stored reading x/16: the recorded
    accuracies are those of the stored networks rebuilt with plain PyTorch on x/16 inputs."""
    recipe = tiny("digits-mlp-wide", checkpoint_steps=(0, 12), chunk_size=2)
    out = generate_zoo(recipe, tmp_path / "wide", 24, seed=0, progress=False)
    frames, inits = set(), set()
    for folder in sorted(out.iterdir()):
        rows, results, num_test = _rebuild_and_score(folder)
        for row, (correct, loss) in zip(rows, results, strict=True):
            assert float(row["test_accuracy"]) == correct / num_test
            assert math.isclose(float(row["test_loss"]), loss, abs_tol=1e-4)
        frames |= {r["config.input_frame"] for r in rows}
        inits |= {r["config.init"] for r in rows}
        meta = json.loads((folder / "zoo.json").read_text())
        assert meta["dataset"]["input_scale"] == 0.0625 and meta["recipe"] == "digits-mlp-wide"
    assert frames == {"x/16", "raw", "standardized"} and len(inits) >= 4
    assert len(list(out.iterdir())) == 15
