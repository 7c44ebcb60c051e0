"""DWSNets INR conversion: labels and splits from the JSON, same SIREN function."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from converted_zoo import read_converted
from torch import nn

from weightnet.data.formats import convert_zoo
from weightnet.data.formats.dws_inr import OUTPUT_OFFSET, read_dws_inr
from weightnet.errors import WeightnetError
from weightnet.functional import forward
from weightnet.weightspace import WeightSpace

# (folder, label): 4 training images, 2 test images
INRS = [
    ("mnist_png_training_3_17", 3),
    ("mnist_png_training_0_4", 0),
    ("mnist_png_training_7_9", 7),
    ("mnist_png_training_3_2", 3),
    ("mnist_png_testing_1_5", 1),
    ("mnist_png_testing_9_8", 9),
]


class DwsInr(nn.Module):
    """DWSNets' INR(in_dim=2, n_layers=3, up_scale=16): two sine layers (w0=30), linear, +0.5."""

    def __init__(self) -> None:
        super().__init__()
        self.seq = nn.Sequential(nn.Linear(2, 32), nn.Linear(32, 32), nn.Linear(32, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.sin(30.0 * self.seq[0](x))
        h = torch.sin(30.0 * self.seq[1](h))
        return self.seq[2](h) + 0.5


def _state(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    module = DwsInr()
    with torch.no_grad():
        module.seq[1].weight.uniform_(-math.sqrt(6 / 32) / 30, math.sqrt(6 / 32) / 30)
    return module.state_dict()


@pytest.fixture
def dws_folder(tmp_path: Path) -> Path:
    src = tmp_path / "dataset" / "mnist-inrs"
    for seed, (folder, _) in enumerate(INRS):
        (src / folder / "checkpoints").mkdir(parents=True)
        torch.save(_state(seed), src / folder / "checkpoints" / "model_final.pth")
    return src


def _splits(paths_of: dict[str, list[int]]) -> dict:
    """A splits JSON with the paths of another machine (as generate_data_splits.py writes)."""
    return {
        split: {
            "path": [
                f"/home/someone/dws/dataset/mnist-inrs/{INRS[i][0]}/checkpoints/model_final.pth"
                for i in rows
            ],
            "label": [str(INRS[i][1]) for i in rows],
        }
        for split, rows in paths_of.items()
    }


def test_splits_json_beside_src_gives_labels_splits_and_order(dws_folder, tmp_path):
    splits = {"train": [2, 0, 3], "val": [1], "test": [5, 4]}
    (dws_folder.parent / "mnist_splits.json").write_text(json.dumps(_splits(splits)))
    out = convert_zoo("dws-inr", dws_folder, tmp_path / "zoo", progress=False)
    spec, weights, metrics, info = read_converted(out)
    order = [i for rows in splits.values() for i in rows]
    assert [row["split"] for row in metrics] == ["train"] * 3 + ["val"] + ["test"] * 2
    assert [int(row["label"]) for row in metrics] == [INRS[i][1] for i in order]
    assert [row["file"].split("/")[0] for row in metrics] == [INRS[i][0] for i in order]
    assert [layer.weight_key for layer in spec.layers] == [f"seq.{k}.weight" for k in range(3)]
    assert spec.layer_sizes == (2, 32, 32, 1)
    assert [(layer.activation, layer.w0) for layer in spec.layers[:2]] == [("sin", 30.0)] * 2
    assert info["dataset"]["name"] == "mnist-inr"
    assert info["dataset"]["output_offset"] == OUTPUT_OFFSET
    assert info["source"]["splits"].endswith("mnist_splits.json")

    ws = WeightSpace.from_flat(spec, torch.from_numpy(weights))
    coords = torch.rand(50, 2, generator=torch.Generator().manual_seed(1)) * 2 - 1
    outputs = forward(spec, ws, coords) + OUTPUT_OFFSET  # (6, 50, 1)
    for b, i in enumerate(order):
        state = _state(i)
        for (key, value), got in zip(
            state.items(), ws.to_state_dicts(spec)[b].values(), strict=True
        ):
            torch.testing.assert_close(got, value, rtol=0, atol=0, msg=key)
        module = DwsInr()
        module.load_state_dict(state)
        with torch.no_grad():
            torch.testing.assert_close(outputs[b], module(coords), rtol=1e-4, atol=1e-5)


def test_without_splits_file_labels_come_from_folder_names(dws_folder, tmp_path):
    out = convert_zoo("dws-inr", dws_folder, tmp_path / "zoo", progress=False)
    _, _, metrics, info = read_converted(out)
    assert info["source"]["splits"] is None
    got = [(row["split"], int(row["label"]), row["file"].split("/")[0]) for row in metrics]
    assert got == [
        ("train", 3, "mnist_png_training_3_2"),
        ("train", 0, "mnist_png_training_0_4"),
        ("train", 7, "mnist_png_training_7_9"),
        ("train", 3, "mnist_png_training_3_17"),
        ("test", 1, "mnist_png_testing_1_5"),
        ("test", 9, "mnist_png_testing_9_8"),
    ]


def test_bad_inputs(dws_folder, tmp_path):
    with pytest.raises(WeightnetError, match="no such folder"):
        read_dws_inr(tmp_path / "nowhere")
    bad = tmp_path / "bad_splits.json"
    bad.write_text(
        json.dumps({"train": {"path": ["/x/mnist_png_training_5_99/m.pth"], "label": ["5"]}})
    )
    with pytest.raises(WeightnetError, match=r"train\[0\] .* matches no file"):
        read_dws_inr(dws_folder, bad)
    bad.write_text("{not json")
    with pytest.raises(WeightnetError, match="not JSON"):
        read_dws_inr(dws_folder, bad)
    wide = dws_folder / "mnist_png_training_3_17" / "checkpoints" / "model_final.pth"
    state = _state(0)
    state["seq.1.weight"] = torch.zeros(32, 33)
    torch.save(state, wide)
    source = read_dws_inr(dws_folder)
    with pytest.raises(
        WeightnetError, match=r"mnist_png_training_3_17/checkpoints/model_final\.pth: "
    ):
        list(source.weight_chunks())


@pytest.fixture
def fmnist_folder(tmp_path: Path) -> Path:
    """The Fashion-MNIST release: <split>/model_<idx>.pth holding the weights and a label."""
    src = tmp_path / "fmnist_inrs"
    for idx, (split, label) in enumerate([("train", 5), ("train", 2), ("val", 9), ("test", 0)]):
        (src / split).mkdir(parents=True, exist_ok=True)
        torch.save({**_state(10 + idx), "label": label}, src / split / f"model_{idx}.pth")
    return src


def test_fmnist_release_with_its_own_splits_file(fmnist_folder, tmp_path):
    splits = {s: [f"fmnist_inrs/{s}/model_{i}.pth" for i in rows] for s, rows in
              {"train": [1, 0], "val": [2], "test": [3]}.items()}  # fmt: skip
    (fmnist_folder / "splits.json").write_text(json.dumps(splits))
    out = convert_zoo("dws-inr", fmnist_folder, tmp_path / "zoo", progress=False)
    spec, weights, metrics, info = read_converted(out)
    got = [(row["split"], int(row["label"]), row["file"]) for row in metrics]
    assert got == [
        ("train", 2, "train/model_1.pth"),
        ("train", 5, "train/model_0.pth"),
        ("val", 9, "val/model_2.pth"),
        ("test", 0, "test/model_3.pth"),
    ]
    assert info["dataset"]["name"] == "fmnist-inr"
    assert spec.keys == tuple(f"seq.{k}.{p}" for k in range(3) for p in ("weight", "bias"))
    ws = WeightSpace.from_flat(spec, torch.from_numpy(weights))
    torch.testing.assert_close(ws.to_state_dicts(spec)[0], _state(11), rtol=0, atol=0)


def test_fmnist_release_without_splits_file(fmnist_folder, tmp_path):
    out = convert_zoo("dws-inr", fmnist_folder, tmp_path / "zoo", progress=False)
    _, _, metrics, _ = read_converted(out)
    got = [(row["split"], int(row["label"])) for row in metrics]
    assert got == [("train", 5), ("train", 2), ("val", 9), ("test", 0)]
