"""NFN SIREN conversion: keys kept, labels and NFN's index split, same function."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from converted_zoo import read_converted
from torch import nn

from weightnet.data.formats import convert_zoo
from weightnet.data.formats.nfn_siren import read_nfn_siren
from weightnet.errors import WeightnetError
from weightnet.functional import forward
from weightnet.weightspace import WeightSpace

LABELS = [4, 1, 4, 0, 2, 1]  # network index -> class


class SineLayer(nn.Module):
    """As NFN's ``siren_utils.SineLayer``: ``sin(omega_0 * linear(x))``, keys ``linear.*``."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(30.0 * self.linear(x))


def _siren(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    siren = nn.Module()
    siren.net = nn.Sequential(SineLayer(2, 32), SineLayer(32, 32), nn.Linear(32, 1))
    with torch.no_grad():
        siren.net[1].linear.weight.mul_(0.05)
    return siren


@pytest.fixture
def nfn_folder(tmp_path: Path) -> Path:
    src = tmp_path / "siren_mnist_wts"
    for idx, label in enumerate(LABELS):
        folder = src / f"randinit_smaller_{label}s"
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(_siren(idx).state_dict(), folder / f"net{idx}.pth")
    return src


def test_keys_labels_split_and_function(nfn_folder, tmp_path):
    out = convert_zoo(
        "nfn-siren", nfn_folder, tmp_path / "zoo", split_points=(3, 5), progress=False
    )
    spec, weights, metrics, info = read_converted(out)
    assert [int(row["net_index"]) for row in metrics] == list(range(6))
    assert [int(row["label"]) for row in metrics] == LABELS
    assert [row["split"] for row in metrics] == ["train"] * 3 + ["val"] * 2 + ["test"]
    assert spec.keys == (
        "net.0.linear.weight", "net.0.linear.bias", "net.1.linear.weight",
        "net.1.linear.bias", "net.2.weight", "net.2.bias",
    )  # fmt: skip
    assert info["source"]["prefix"] == "randinit_smaller"
    assert info["dataset"]["image_shape"] == [28, 28, 1]
    ws = WeightSpace.from_flat(spec, torch.from_numpy(weights))
    coords = torch.rand(40, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1
    outputs = forward(spec, ws, coords)  # (6, 40, 1)
    for idx in range(6):
        siren = _siren(idx)
        for key, value in siren.state_dict().items():
            torch.testing.assert_close(ws.to_state_dicts(spec)[idx][key], value, rtol=0, atol=0)
        with torch.no_grad():
            torch.testing.assert_close(outputs[idx], siren.net(coords), rtol=1e-4, atol=1e-5)


def test_default_split_points_are_nfns(nfn_folder, tmp_path):
    out = convert_zoo("nfn-siren", nfn_folder, tmp_path / "zoo", progress=False)
    _, _, metrics, info = read_converted(out)
    assert info["source"]["split_points"] == [45000, 50000]
    assert {row["split"] for row in metrics} == {"train"}


def test_several_variants_need_a_prefix(nfn_folder, tmp_path):
    (nfn_folder / "randinit_smaller_aug0_4s").mkdir()
    torch.save(_siren(9).state_dict(), nfn_folder / "randinit_smaller_aug0_4s" / "net0.pth")
    with pytest.raises(WeightnetError, match="several variants .*--prefix"):
        read_nfn_siren(nfn_folder)
    out = convert_zoo(
        "nfn-siren", nfn_folder, tmp_path / "aug", prefix="randinit_smaller_aug0", progress=False
    )
    _, weights, metrics, _ = read_converted(out)
    assert len(weights) == 1 and metrics[0]["label"] == "4"
    with pytest.raises(WeightnetError, match="no variant 'other'"):
        read_nfn_siren(nfn_folder, prefix="other")


def test_duplicate_index_is_an_error(nfn_folder):
    torch.save(_siren(0).state_dict(), nfn_folder / "randinit_smaller_1s" / "net0.pth")
    with pytest.raises(WeightnetError, match="network index 0 appears in two class folders"):
        read_nfn_siren(nfn_folder)
