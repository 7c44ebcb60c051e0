"""``weightnet zoo convert``: success, one-line errors with exit 2, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from weightnet.cli import main
from weightnet.io import save_state_dict


@pytest.fixture
def nets(tmp_path: Path) -> Path:
    src = tmp_path / "nets"
    for seed in range(3):
        torch.manual_seed(seed)
        save_state_dict(torch.nn.Linear(4, 2).state_dict(), src / f"net{seed}.pt")
    return src


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_convert_then_info(nets, tmp_path, capsys):
    out = tmp_path / "zoo"
    assert (
        main(["zoo", "convert", "checkpoints", str(nets), "--out", str(out), "--no-progress",
              "--no-targets"]) == 0
    )  # fmt: skip
    assert f"wrote {out}" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [
        "layout.csv", "metrics.csv", "weights.npy", "zoo.json",
    ]  # fmt: skip
    assert main(["zoo", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert "convert:checkpoints" in json.dumps(info)
    assert "3" in json.dumps(info)


@pytest.mark.parametrize(
    "args, message",
    [
        (["zip-zoo", "{src}"], "unknown format 'zip-zoo'"),
        (["cnn-zoo", "{tmp}/missing"], "missing: no such folder"),
        (["cnn-zoo", "{src}"], "weights.npy: no such file"),
        (["checkpoints", "{src}", "--splits", "x.json"], "--splits does not apply"),
        (["nfn-siren", "{src}", "--split-points", "5"], "--split-points '5'"),
        (["dws-inr", "{src}", "--activation", "tanh"], "--activation does not apply"),
        (
            ["checkpoints", "{src}"],
            "nets: give --targets FILE (a CSV with a file column and "
            "target columns such as test_accuracy) to train on the zoo, or --no-targets for an "
            "unlabeled zoo",
        ),
        (
            ["checkpoints", "{src}", "--no-targets", "--targets", "t.csv"],
            "--targets and --no-targets exclude each other",
        ),
        (["cnn-zoo", "{src}", "--no-targets"], "--no-targets does not apply to format 'cnn-zoo'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(nets, tmp_path, capsys, args, message):
    args = [a.format(src=nets, tmp=tmp_path) for a in args]
    code = main(["zoo", "convert", *args, "--out", str(tmp_path / "zoo"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message in err and err.startswith("weightnet: error:")
    assert not (tmp_path / "zoo").exists() and _leftovers(tmp_path) == []


def test_failure_midway_leaves_nothing(nets, tmp_path):
    torch.save({"weight": torch.zeros(3, 4), "bias": torch.zeros(3)}, nets / "net9.pt")
    run = subprocess.run(
        [sys.executable, "-m", "weightnet.cli", "zoo", "convert", "checkpoints", str(nets),
         "--out", str(tmp_path / "zoo"), "--no-targets"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 2
    assert (
        run.stderr.strip()
        .splitlines()[-1]
        .endswith("net9.pt: weight has shape (3, 4), the first network's is (2, 4)")
    )
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "zoo").exists() and _leftovers(tmp_path) == []
