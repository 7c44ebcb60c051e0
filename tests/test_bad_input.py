"""Bad input everywhere a user hands us something (DESIGN 5.7), as one subprocess table.

Each case runs ``weightnet ...`` or ``python train.py ...`` and checks: a non-zero exit
code, one line on stderr naming the file or value and the problem, no traceback, and
no output left behind. Malicious pickles (whose unpickling would create a file) are
refused without creating it. ``--debug`` / ``HYDRA_FULL_ERROR=1`` show the traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from run_train import ROOT, TINY

from weightnet.io import save_state_dict
from weightnet.zoo.architectures import MLP

#: the file a malicious pickle would create when unpickled
PWNED = "PWNED"


class _Exploit:
    """Unpickling this runs ``open(path, "w")``: a stand-in for arbitrary code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _corrupt(zoo: Path, out: Path, how: str) -> Path:
    shutil.copytree(zoo, out)
    if how == "truncated":
        data = (out / "weights.npy").read_bytes()
        (out / "weights.npy").write_bytes(data[: len(data) // 2])
    elif how == "edited":  # sha256 no longer matches zoo.json
        weights = np.load(out / "weights.npy")
        weights[0, 0] += 1
        np.save(out / "weights.npy", weights)
    elif how == "short_metrics":  # one row fewer than weights.npy
        lines = (out / "metrics.csv").read_text().splitlines()
        (out / "metrics.csv").write_text("\n".join(lines[:-1]) + "\n")
    elif how == "no_columns":
        lines = (out / "metrics.csv").read_text().splitlines()
        (out / "metrics.csv").write_text("\n".join(",".join(ln.split(",")[:3]) for ln in lines))
    elif how == "runs":  # zoo.json's num_models disagrees with metrics.csv's run_id
        meta = json.loads((out / "zoo.json").read_text())
        (out / "zoo.json").write_text(json.dumps({**meta, "num_models": 5}))
    elif how == "layout_names":  # the same parameter count, one key renamed
        text = (out / "layout.csv").read_text()
        (out / "layout.csv").write_text(text.replace("net.0.bias", "net.0.b"))
    elif how == "nan_weights":  # every weight NaN (checksum kept right): the loss is NaN at once
        weights = np.load(out / "weights.npy")
        np.save(out / "weights.npy", np.full_like(weights, np.nan))
        meta = json.loads((out / "zoo.json").read_text())
        digest = hashlib.sha256((out / "weights.npy").read_bytes()).hexdigest()
        (out / "zoo.json").write_text(json.dumps({**meta, "weights_sha256": digest}))
    elif how == "nan_targets":  # every test_accuracy NaN, as `convert checkpoints --no-targets`
        lines = (out / "metrics.csv").read_text().splitlines()
        header = lines[0].split(",")
        column = header.index("test_accuracy")
        rows = [ln.split(",") for ln in lines[1:]]
        for row in rows:
            row[column] = "nan"
        (out / "metrics.csv").write_text("\n".join([lines[0], *map(",".join, rows)]) + "\n")
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory, write_zoo) -> Path:
    """Good, broken and malicious inputs in one folder (shared by every case)."""
    d = tmp_path_factory.mktemp("inputs")
    torch.manual_seed(0)
    good = MLP([64, 8, 10]).state_dict()
    save_state_dict(good, d / "good.pt")
    save_state_dict(MLP([64, 9, 10]).state_dict(), d / "other.pt")
    save_state_dict({**good, "temperature": torch.ones(())}, d / "extra.pt")
    for name, value in (("nan", float("nan")), ("inf", float("inf"))):
        broken = {k: v.clone() for k, v in good.items()}
        broken["net.0.weight"][0, 0] = value
        torch.save(broken, d / f"{name}.pt")
    evil = _Exploit(str(d / PWNED))
    torch.save({"net.0.weight": evil, "net.0.bias": torch.zeros(8)}, d / "evil.pt")
    torch.save({"state_dict": {"model.x": evil}, "epoch": 0}, d / "evil.ckpt")
    (d / "ckpts").mkdir()
    save_state_dict(good, d / "ckpts" / "a.pt")
    shutil.copy(d / "evil.pt", d / "ckpts" / "b.pt")
    (d / "notes.txt").write_text("not weights")
    (d / "garbage.pt").write_bytes(b"not a zip file")
    zoo = write_zoo(d / "zoo", num_runs=6)
    for how in ("truncated", "edited", "short_metrics", "no_columns", "runs", "nan_targets",
                "nan_weights", "layout_names"):  # fmt: skip
        _corrupt(zoo, d / f"zoo_{how}", how)
    return d


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "HYDRA_FULL_ERROR": "0", **(env or {})}
    return subprocess.run(
        [sys.executable, *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environ,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )


WEIGHTNET = ["-m", "weightnet.cli"]
TRAIN = [str(ROOT / "train.py"), *TINY, "trainer.max_epochs=1", "callbacks.rich_progress_bar=null"]

#: (id, command with {d} = the inputs folder and {out} = an output path, exit code, message)
CASES = [
    ("align-missing", ["align", "{d}/good.pt", "{d}/missing.pt", "--out", "{out}.pt"], 2,
     "missing.pt: no such file"),
    ("align-extension", ["align", "{d}/good.pt", "{d}/notes.txt", "--out", "{out}.pt"], 2,
     "notes.txt: unsupported extension '.txt'"),
    ("align-pickle", ["align", "{d}/good.pt", "{d}/evil.pt", "--out", "{out}.pt"], 2,
     "evil.pt: refused to load: the file contains Python objects other than tensors"),
    ("align-nan", ["align", "{d}/good.pt", "{d}/nan.pt", "--out", "{out}.pt"], 2,
     "nan.pt: net.0.weight contains NaN or Inf values"),
    ("align-inf", ["align", "{d}/inf.pt", "{d}/good.pt", "--out", "{out}.pt"], 2,
     "inf.pt: net.0.weight contains NaN or Inf values"),
    ("align-garbage", ["align", "{d}/good.pt", "{d}/garbage.pt", "--out", "{out}.pt"], 2,
     "garbage.pt: not a readable PyTorch file"),
    ("align-architecture",
     ["align", "{d}/good.pt", "{d}/other.pt", "--out", "{out}.pt", "--activation", "relu"], 2,
     "other.pt: architecture mlp 64-9-10 relu does not match"),
    ("align-activation", ["align", "{d}/good.pt", "{d}/other.pt", "--out", "{out}.pt"], 2,
     "other.pt: the hidden activation is not recorded in the files; give it with --activation"),
    ("align-folder", ["align", "{d}/good.pt", "{d}/ckpts", "--out", "{out}.pt"], 2,
     "ckpts: is a folder, not a weights file (.pt, .pth, .safetensors)"),
    ("align-extra-key",
     ["align", "{d}/good.pt", "{d}/extra.pt", "--out", "{out}.pt", "--activation", "relu"], 2,
     "extra.pt: unexpected entries temperature (): weightnet reads only the weight and bias of "
     "linear and conv layers"),
    ("info-layout", ["zoo", "info", "{d}/zoo_layout_names"], 2,
     "zoo_layout_names/layout.csv: does not match zoo.json's architecture: line 3 has net.0.b "
     "(6,) at 24-30, zoo.json gives net.0.bias (6,) at 24-30"),
    ("predict-folder", ["predict", "--checkpoint", "{d}/ckpts", "{d}/good.pt"], 2,
     "ckpts: is a folder, not a metanet"),
    ("align-out-extension", ["align", "{d}/good.pt", "{d}/good.pt", "--out", "{out}.txt"], 2,
     "OUT needs a .pt, .pth or .safetensors extension"),
    ("convert-pickle",
     ["zoo", "convert", "checkpoints", "{d}/ckpts", "--out", "{out}", "--no-targets"], 2,
     "b.pt: refused to load"),
    ("convert-format", ["zoo", "convert", "nope", "{d}/ckpts", "--out", "{out}"], 2,
     "unknown format 'nope'"),
    ("convert-no-targets", ["zoo", "convert", "checkpoints", "{d}/ckpts", "--out", "{out}"], 2,
     "ckpts: give --targets FILE (a CSV with a file column and target columns"),
    ("convert-missing",
     ["zoo", "convert", "checkpoints", "{d}/nowhere", "--out", "{out}", "--no-targets"], 2,
     "nowhere"),
    ("generate-recipe", ["zoo", "generate", "nope", "--out", "{out}"], 2,
     "unknown recipe 'nope'"),
    ("generate-count", ["zoo", "generate", "digits-mlp", "--out", "{out}", "--num-models", "0"],
     2, "num_models must be at least 1, got 0"),
    ("generate-type", ["zoo", "generate", "digits-mlp", "--out", "{out}", "--num-models", "x"],
     2, "argument --num-models: invalid int value: 'x'"),
    ("info-missing", ["zoo", "info", "{d}/nowhere"], 2, "nowhere: no such zoo folder"),
    ("info-truncated", ["zoo", "info", "{d}/zoo_truncated"], 2,
     "zoo_truncated/weights.npy: truncated"),
    ("info-rows", ["zoo", "info", "{d}/zoo_short_metrics"], 2,
     "zoo_short_metrics/metrics.csv: 17 rows but weights.npy has 18"),
    ("info-columns", ["zoo", "info", "{d}/zoo_no_columns"], 2,
     "zoo_no_columns/metrics.csv: missing column(s) test_accuracy"),
    ("info-runs", ["zoo", "info", "{d}/zoo_runs"], 2,
     "6 distinct run_id, zoo.json says num_models 5"),
    ("predict-pickle", ["predict", "--checkpoint", "{d}/evil.ckpt", "{d}/good.pt"], 2,
     "evil.ckpt: refused to load"),
    ("predict-unknown", ["predict", "--checkpoint", "nope", "{d}/good.pt"], 2, "nope"),
]  # fmt: skip

TRAIN_CASES = [
    ("train-type", ["trainer.max_epochs=abc"], 2, "trainer.max_epochs='abc': expected an integer"),
    ("train-model", ["model=nonexistent"], 2, "Could not find 'model/nonexistent'"),
    ("train-task", ["task=nope"], 2, "Could not find 'task/nope'"),
    ("train-batch", ["data.batch_size=-1"], 2, "data.batch_size=-1: expected an integer >= 1"),
    ("train-width", ["model.hidden_channels=0"], 2, "model.hidden_channels=0: expected"),
    ("train-missing-zoo", ["data.path={d}/nowhere"], 2, "nowhere: no such zoo folder"),
    ("train-truncated", ["data.path={d}/zoo_truncated"], 2, "weights.npy: truncated"),
    ("train-checksum", ["data.path={d}/zoo_edited"], 2,
     "zoo_edited/weights.npy: sha256 does not match zoo.json"),
    ("train-columns", ["data.path={d}/zoo_no_columns"], 2, "missing column(s) test_accuracy"),
    ("train-pickle", ["ckpt_path={d}/evil.ckpt"], 2, "evil.ckpt: refused to load"),
    ("train-ckpt-missing", ["ckpt_path={d}/none.ckpt"], 2, "none.ckpt: no such checkpoint"),
    ("train-resume-nothing", ["ckpt_path=last"], 2, "ckpt_path=last: no "),
    ("train-nan-loss", ["data.path={d}/zoo_nan_weights", "model=dws"], 2,
     "training loss is nan at epoch 0, step 0: stopped"),
    ("train-nan-targets", ["data.path={d}/zoo_nan_targets"], 2,
     "zoo_nan_targets/metrics.csv: column 'test_accuracy' (data.target) is NaN or Inf for 18 of "
     "the zoo's 18 networks (a zoo converted without targets?); its numeric columns: config.lr, "
     "test_accuracy, test_loss, train_accuracy, train_loss, step"),
    ("train-target-name", ["data.target=test_acc"], 2,
     "zoo/metrics.csv: no column 'test_acc' (data.target); its numeric columns: config.lr, "
     "test_accuracy,"),
    ("train-no-epochs", ["trainer.max_epochs=0"], 2,
     "trainer.max_epochs=0: nothing would be trained (give a positive value)"),
    ("train-no-steps", ["+trainer.max_steps=0"], 2, "trainer.max_steps=0: nothing would be trained"),
    ("train-no-batches", ["+trainer.limit_train_batches=0"], 2,
     "trainer.limit_train_batches=0: nothing would be trained"),
    ("train-no-test", ["+trainer.limit_test_batches=0.0"], 2,
     "trainer.limit_test_batches=0.0: nothing would be tested"),
    ("train-empty-split", ["data.split=[0.8,0.2,0]"], 2,
     "data.split: the test split is empty (train "),
]  # fmt: skip


def _fill(args: list[str], d: Path, out: Path) -> list[str]:
    return [a.format(d=d, out=out) for a in args]


def _check_refusal(result: subprocess.CompletedProcess, code: int, message: str) -> None:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.returncode == code, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-2000:]
    assert lines and message in lines[-1], lines[-3:]


@pytest.mark.parametrize("case,args,code,message", CASES, ids=[c[0] for c in CASES])
def test_cli_refuses_bad_input(files, tmp_path, case, args, code, message):
    out = tmp_path / "out"
    result = _run([*WEIGHTNET, *_fill(args, files, out)])
    _check_refusal(result, code, message)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a hidden temporary
    assert not (files / PWNED).exists()


@pytest.mark.slow
@pytest.mark.parametrize("case,args,code,message", TRAIN_CASES, ids=[c[0] for c in TRAIN_CASES])
def test_train_refuses_bad_input(files, tmp_path, case, args, code, message):
    run_dir = tmp_path / "run"
    argv = [*TRAIN, f"data.path={files}/zoo", *_fill(args, files, run_dir)]
    result = _run([*argv, f"hydra.run.dir={run_dir}"])
    _check_refusal(result, code, message)
    assert not (run_dir / "results.json").exists()
    assert not list(run_dir.glob("checkpoints/*.ckpt"))
    assert not (files / PWNED).exists()


def test_zoo_info_reports_a_checksum_mismatch(files):
    result = _run([*WEIGHTNET, "zoo", "info", str(files / "zoo_edited")])
    assert result.returncode == 1
    assert "MISMATCH: weights.npy differs from zoo.json" in result.stdout


def test_debug_flags_show_the_traceback(files, tmp_path):
    cli = _run([*WEIGHTNET, "--debug", "align", str(files / "good.pt"), str(files / "x.pt"),
                "--out", str(tmp_path / "o.pt")])  # fmt: skip
    assert cli.returncode != 0 and "Traceback" in cli.stderr and "x.pt: no such file" in cli.stderr
    train = _run(
        [*TRAIN, f"data.path={files}/nowhere", f"hydra.run.dir={tmp_path / 'run'}"],
        env={"HYDRA_FULL_ERROR": "1"},
    )
    assert train.returncode != 0 and "Traceback" in train.stderr and "nowhere" in train.stderr
