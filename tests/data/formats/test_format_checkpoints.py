"""A folder of state_dicts (.pt and .safetensors) with a targets CSV."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from converted_zoo import read_converted
from torch import nn

from weightnet.data.formats import convert_zoo
from weightnet.data.formats.checkpoints import read_checkpoints
from weightnet.errors import WeightnetError
from weightnet.functional import forward
from weightnet.io import save_state_dict
from weightnet.weightspace import WeightSpace

FILES = ["a.pt", "b.safetensors", "sub/c.pth", "sub/d.safetensors"]


def _net(seed: int, hidden: int = 5) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, hidden), nn.Tanh(), nn.Linear(hidden, 2))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "nets"
    for seed, name in enumerate(FILES):
        save_state_dict(_net(seed).state_dict(), src / name)
    (tmp_path / "targets.csv").write_text(
        "file,test_accuracy,test_loss\na.pt,0.5,1.5\nb.safetensors,0.25,2\n"
        "sub/c.pth,0.75,0.5\nd.safetensors,1.0,0.1\n"
    )
    return src


def test_weights_function_and_targets(folder, tmp_path):
    out = convert_zoo(
        "checkpoints", folder, tmp_path / "zoo", targets=tmp_path / "targets.csv",
        activation="tanh", progress=False,
    )  # fmt: skip
    spec, weights, metrics, info = read_converted(out)
    assert [row["file"] for row in metrics] == [
        "a.pt",
        "b.safetensors",
        "sub/c.pth",
        "sub/d.safetensors",
    ]
    assert [float(row["test_accuracy"]) for row in metrics] == [0.5, 0.25, 0.75, 1.0]
    assert [float(row["test_loss"]) for row in metrics] == [1.5, 2.0, 0.5, 0.1]
    assert info["architecture"]["activation"] == "tanh"
    ws = WeightSpace.from_flat(spec, torch.from_numpy(weights))
    x = torch.randn(7, 3, generator=torch.Generator().manual_seed(0))
    outputs = forward(spec, ws, x)
    for b in range(len(FILES)):
        with torch.no_grad():
            torch.testing.assert_close(outputs[b], _net(b)(x), rtol=1e-5, atol=1e-6)


def test_without_targets(folder, tmp_path):
    out = convert_zoo("checkpoints", folder, tmp_path / "zoo", no_targets=True, progress=False)
    _, weights, metrics, _ = read_converted(out)
    assert list(metrics[0]) == [
        "model_id", "run_id", "file", "test_accuracy", "test_loss", "train_accuracy",
        "train_loss", "step",
    ]  # fmt: skip
    assert metrics[0]["test_accuracy"] == "nan" and metrics[0]["step"] == "nan"
    assert weights.shape == (4, 3 * 5 + 5 + 5 * 2 + 2)


def test_architecture_mismatch_names_the_file(folder, tmp_path):
    save_state_dict(_net(9, hidden=6).state_dict(), folder / "sub" / "c.pth")
    with pytest.raises(WeightnetError, match=r"sub/c\.pth: 0\.weight has shape \(6, 3\)"):
        convert_zoo("checkpoints", folder, tmp_path / "zoo", no_targets=True, progress=False)
    assert not (tmp_path / "zoo").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_targets_must_match_the_files(folder, tmp_path):
    targets = tmp_path / "targets.csv"
    targets.write_text("file,test_accuracy\na.pt,0.5\n")
    with pytest.raises(
        WeightnetError, match=r"no targets for b\.safetensors \(3 files lack them\)"
    ):
        read_checkpoints(folder, targets)
    targets.write_text("file,test_accuracy\nzzz.pt,0.5\n")
    with pytest.raises(WeightnetError, match="'zzz.pt' names no single state_dict file"):
        read_checkpoints(folder, targets)
    targets.write_text("name,test_accuracy\na.pt,0.5\n")
    with pytest.raises(WeightnetError, match="needs a 'file' column"):
        read_checkpoints(folder, targets)
    targets.write_text("file,run_id\na.pt,0\n")
    with pytest.raises(WeightnetError, match="'run_id' is reserved"):
        read_checkpoints(folder, targets)
