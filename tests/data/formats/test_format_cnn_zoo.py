"""Small CNN Zoo conversion: TF layout -> PyTorch orientation, same function, metrics kept."""

from __future__ import annotations

import csv
import gzip
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from converted_zoo import read_converted

from weightnet.data.formats import convert_zoo
from weightnet.data.formats.cnn_zoo import read_cnn_zoo
from weightnet.errors import WeightnetError
from weightnet.functional import forward
from weightnet.weightspace import WeightSpace

# The zoo's layout: TensorFlow names, biases before kernels, HWIO / (in, out) kernels.
TF_LAYOUT = [
    ("sequential/conv2d/bias:0", (16,)),
    ("sequential/conv2d/kernel:0", (3, 3, 1, 16)),
    ("sequential/conv2d_1/bias:0", (16,)),
    ("sequential/conv2d_1/kernel:0", (3, 3, 16, 16)),
    ("sequential/conv2d_2/bias:0", (16,)),
    ("sequential/conv2d_2/kernel:0", (3, 3, 16, 16)),
    ("sequential/dense/bias:0", (10,)),
    ("sequential/dense/kernel:0", (16, 10)),
]
STEPS = (0, 86)
NUM_RUNS = 10
METRIC_COLUMNS = [
    "config.activation", "config.w_init", "config.b_init", "config.dropout", "config.l2reg",
    "config.learning_rate", "config.optimizer", "config.train_fraction", "config.init_std",
    "config.dataset", "step", "test_accuracy", "test_loss", "train_accuracy", "train_loss",
    "modeldir",
]  # fmt: skip


def _tf_tensors(row: np.ndarray) -> dict[str, np.ndarray]:
    """The TF-orientation tensors of one flat row, sliced by the layout."""
    out, start = {}, 0
    for name, shape in TF_LAYOUT:
        size = int(np.prod(shape))
        out[name] = row[start : start + size].reshape(shape)
        start += size
    return out


def write_cnn_zoo(folder: Path, seed: int = 0) -> Path:
    """A tiny Small-CNN-Zoo folder: NUM_RUNS runs x len(STEPS) checkpoints, relu and tanh."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    num_rows = NUM_RUNS * len(STEPS)
    weights = (0.3 * rng.standard_normal((num_rows, 4970))).astype(np.float32)
    np.save(folder / "weights.npy", weights)
    with open(folder / "layout.csv", "w", newline="") as fh:  # pandas-style index column
        writer = csv.writer(fh)
        writer.writerow(["", "varname", "start_idx", "end_idx", "size", "shape"])
        start = 0
        for i, (name, shape) in enumerate(TF_LAYOUT):
            size = int(np.prod(shape))
            writer.writerow([i, name, start, start + size, size, str(shape)])
            start += size
    with gzip.open(folder / "metrics.csv.gz", "wt", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(METRIC_COLUMNS)
        for run in range(NUM_RUNS):
            for step in STEPS:
                act = "tanh" if run % 3 == 0 else "relu"
                acc = round(0.1 + 0.05 * run + 0.001 * step, 4)
                writer.writerow(
                    [act, "he_normal", "zeros", 0.0, 0.001, 0.01, "adam", 0.5, 0.05,
                     "cifar10", step, acc, 2.0 - acc, acc + 0.01, 1.9 - acc,
                     f"/tmp/dnn_science/run_{run}"]
                )  # fmt: skip
    return folder


def tf_forward(row: np.ndarray, act: str, images: torch.Tensor) -> torch.Tensor:
    """The Keras network (valid 3x3 convs stride 2, GAP, dense) on NHWC images, plain torch."""
    t = {k: torch.from_numpy(v.copy()) for k, v in _tf_tensors(row).items()}
    fn = torch.relu if act == "relu" else torch.tanh
    h = images  # (N, H, W, C)
    for layer in ("conv2d", "conv2d_1", "conv2d_2"):
        kernel, bias = t[f"sequential/{layer}/kernel:0"], t[f"sequential/{layer}/bias:0"]
        patches = h.unfold(1, 3, 2).unfold(2, 3, 2)  # (N, H', W', C, kh, kw)
        h = fn(torch.einsum("nijckl,klco->nijo", patches, kernel) + bias)
    pooled = h.mean(dim=(1, 2))  # (N, 16)
    return pooled @ t["sequential/dense/kernel:0"] + t["sequential/dense/bias:0"]


@pytest.fixture
def cnn_zoo(tmp_path: Path) -> Path:
    return write_cnn_zoo(tmp_path / "cifar10")


def test_tensors_are_transposed_tf_tensors(cnn_zoo, tmp_path):
    out = convert_zoo("cnn-zoo", cnn_zoo, tmp_path / "zoo", progress=False)
    spec, weights, _, info = read_converted(out)
    source = np.load(cnn_zoo / "weights.npy")
    assert weights.shape == source.shape == (NUM_RUNS * len(STEPS), 4970)
    assert [layer.weight_key for layer in spec.layers] == [
        "conv2d.weight", "conv2d_1.weight", "conv2d_2.weight", "dense.weight",
    ]  # fmt: skip
    assert [(layer.stride, layer.padding) for layer in spec.layers[:3]] == [(2, 0)] * 3
    ws = WeightSpace.from_flat(spec, torch.from_numpy(weights))
    for b in (0, 7, 19):
        tf = _tf_tensors(source[b])
        for layer, w, bias in zip(spec.layers, ws.weights, ws.biases, strict=True):
            name = "sequential/" + layer.weight_key.removesuffix(".weight")
            kernel = tf[f"{name}/kernel:0"]
            expected = kernel.transpose(3, 2, 0, 1) if kernel.ndim == 4 else kernel.T
            np.testing.assert_array_equal(w[b, ..., 0].numpy(), expected)
            np.testing.assert_array_equal(bias[b, :, 0].numpy(), tf[f"{name}/bias:0"])
    assert info["recipe"] == "convert:cnn-zoo"
    assert info["architecture"]["activation"] == ["relu", "tanh"]
    assert info["dataset"]["name"] == "cifar10"
    assert info["dataset"]["input_shape"] == [1, 32, 32]
    assert info["num_models"] == NUM_RUNS  # training runs; one row per checkpoint


def test_converted_networks_compute_the_keras_function(cnn_zoo, tmp_path):
    out = convert_zoo("cnn-zoo", cnn_zoo, tmp_path / "zoo", progress=False)
    spec, weights, metrics, _ = read_converted(out)
    source = np.load(cnn_zoo / "weights.npy")
    images = torch.rand(5, 32, 32, 1, generator=torch.Generator().manual_seed(0)) * 2 - 1
    ws = WeightSpace.from_flat(spec, torch.from_numpy(weights))
    for act in ("relu", "tanh"):
        rows = [b for b, row in enumerate(metrics) if row["config.activation"] == act][:3]
        got = forward(spec.with_activation(act), ws[torch.tensor(rows)], images.permute(0, 3, 1, 2))
        want = torch.stack([tf_forward(source[b], act, images) for b in rows])
        assert len(rows) == 3
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_metrics_survive_with_run_and_model_ids(cnn_zoo, tmp_path):
    out = convert_zoo("cnn-zoo", cnn_zoo, tmp_path / "zoo", progress=False)
    _, _, metrics, _ = read_converted(out)
    with gzip.open(cnn_zoo / "metrics.csv.gz", "rt", newline="") as fh:
        original = list(csv.DictReader(fh))
    assert len(metrics) == len(original) == 20
    for i, (got, want) in enumerate(zip(metrics, original, strict=True)):
        assert int(got["model_id"]) == i
        assert int(got["run_id"]) == i // len(STEPS)  # one run per modeldir
        assert {k: got[k] for k in METRIC_COLUMNS} == want
    assert "split" not in metrics[0]


def test_nfn_split_protocol(cnn_zoo, tmp_path):
    order = np.random.default_rng(3).permutation(20)
    split_file = tmp_path / "cifar10_split.csv"
    split_file.write_text("".join(f"{i}\n" for i in order))
    out = convert_zoo("cnn-zoo", cnn_zoo, tmp_path / "zoo", splits=split_file, progress=False)
    _, _, metrics, info = read_converted(out)
    final = [i for i in order if int(metrics[i]["step"]) == 86]  # NFN: shuffled, final only
    assert len(final) == 10
    splits = [row["split"] for row in metrics]
    assert {i for i, s in enumerate(splits) if s == "test"} == set(final[5:])
    trainval = list(range(5))
    random.Random(0).shuffle(trainval)
    assert {i for i, s in enumerate(splits) if s == "train"} == {final[p] for p in trainval[:4]}
    assert {i for i, s in enumerate(splits) if s == "val"} == {final[trainval[4]]}
    assert all(s == "" for row, s in zip(metrics, splits, strict=True) if row["step"] == "0")
    assert info["source"]["splits"] == str(split_file.resolve())


def test_bad_sources_are_one_line_errors(cnn_zoo, tmp_path):
    with pytest.raises(WeightnetError, match="no such folder"):
        read_cnn_zoo(tmp_path / "missing")
    layout = (cnn_zoo / "layout.csv").read_text().splitlines()
    (cnn_zoo / "layout.csv").write_text("\n".join(layout[:-1]) + "\n")  # dense kernel gone
    with pytest.raises(WeightnetError, match=r"layout\.csv: describes 4810 parameters"):
        read_cnn_zoo(cnn_zoo)
    (cnn_zoo / "layout.csv").write_text("\n".join(layout) + "\n")
    np.save(cnn_zoo / "weights.npy", np.zeros((3, 4970), np.float32))
    with pytest.raises(WeightnetError, match="20 rows but weights.npy has 3"):
        read_cnn_zoo(cnn_zoo)
    split_file = tmp_path / "split.csv"
    split_file.write_text("0\n1\n")
    np.save(cnn_zoo / "weights.npy", np.zeros((20, 4970), np.float32))
    with pytest.raises(WeightnetError, match="not a permutation"):
        read_cnn_zoo(cnn_zoo, split_file)


def test_datamodule_uses_the_nfn_split_column(cnn_zoo, tmp_path):
    from weightnet.data.datamodule import ZooDataModule

    order = np.random.default_rng(3).permutation(20)
    split_file = tmp_path / "cifar10_split.csv"
    split_file.write_text("".join(f"{i}\n" for i in order))
    out = convert_zoo("cnn-zoo", cnn_zoo, tmp_path / "zoo", splits=split_file, progress=False)
    dm = ZooDataModule(out, batch_size=4, split_column="split")
    dm.setup()
    sizes = [len(s) for s in (dm.train_set, dm.val_set, dm.test_set)]
    assert sizes == [4, 1, 5]  # NFN: 10 final checkpoints, half test, 80/20 train/val
    ws, targets = next(iter(dm.train_dataloader()))
    assert ws.weights[0].shape == (4, 16, 1, 3, 3, 1) and targets.shape == (4,)
    assert dm.state_dict()["split_column"] == "split"
    with pytest.raises(WeightnetError, match="no column 'fold'"):
        ZooDataModule(out, split_column="fold").setup()


def test_nonfinite_weights_are_refused_and_nothing_is_written(cnn_zoo, tmp_path):
    weights = np.load(cnn_zoo / "weights.npy")
    weights[13, 100] = np.nan
    np.save(cnn_zoo / "weights.npy", weights)
    with pytest.raises(WeightnetError, match=r"cifar10: network 13 has NaN or Inf weights"):
        convert_zoo("cnn-zoo", cnn_zoo, tmp_path / "zoo", progress=False)
    assert not (tmp_path / "zoo").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
