"""train.py with logger=wandb and no W&B account: an offline run holding config, metrics,
the best checkpoint and the figures (read back from the run's ``.wandb`` record log)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from run_train import TINY, run_train

pytest.importorskip("wandb")


def read_wandb_records(path: Path) -> list:
    """The protobuf records of a ``.wandb`` file (LevelDB-style log: 32 KiB blocks of
    ``crc (4) | length (2) | type (1) | data`` chunks after a 7-byte ``:W&B`` header)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, block, pos, pending, records = path.read_bytes(), 32768, 7, b"", []
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # block trailer
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a whole record, or the last chunk of one
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def _items(records, kind: str) -> list[dict]:
    """``history`` / ``summary`` / ``config`` records as dicts of JSON-decoded values."""
    field = {"history": "item", "summary": "update", "config": "update"}[kind]
    return [
        {
            i.key or "/".join(i.nested_key): json.loads(i.value_json)
            for i in getattr(getattr(r, kind), field)
        }
        for r in records
        if r.WhichOneof("record_type") == kind
    ]


def test_wandb_without_account_logs_offline_config_metrics_checkpoint_and_figure(
    write_zoo, tmp_path
):
    zoo = write_zoo(tmp_path / "zoo")
    run_dir = tmp_path / "run"
    env = {
        "WANDB_MODE": None, "WANDB_API_KEY": None, "NETRC": str(tmp_path / "no-netrc"),
        "HOME": str(tmp_path), "WANDB_DIR": str(tmp_path), "WANDB_CACHE_DIR": str(tmp_path / "c"),
        "WANDB_DATA_DIR": str(tmp_path / "d"), "WANDB_CONFIG_DIR": str(tmp_path / "cfg"),
    }  # fmt: skip
    proc = run_train(
        "task=generalization", "model=nfn_np", "logger=wandb", "trainer.max_epochs=1",
        "trainer.log_every_n_steps=1", "trainer.accelerator=cpu", f"data.path={zoo}",
        "data.split=[0.5,0.1,0.4]", *TINY, f"hydra.run.dir={run_dir}", env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = [line for line in proc.stderr.splitlines() if "no API key" in line]
    assert len(said) == 1 and "offline" in said[0]
    results = json.loads((run_dir / "results.json").read_text())
    (run,) = (run_dir / "wandb").glob("offline-run-*")
    records = read_wandb_records(next(run.glob("run-*.wandb")))

    (config,) = _items(records, "config")
    assert config["task_name"] == "generalization" and config["seed"] == 0
    assert config["model"]["hidden_channels"] == 4 and config["data"]["path"] == str(zoo)
    assert config["choices"]["model"] == "nfn_np" and config["choices"]["logger"] == "wandb"

    history = _items(records, "history")
    steps = [h for h in history if "train/loss_step" in h]
    assert len(steps) >= 2  # logged every step (3 training batches)
    assert any("train/loss_epoch" in h for h in history)
    (val,) = [h["val/kendall_tau"] for h in history if "val/kendall_tau" in h]
    (test,) = [h for h in history if "test/kendall_tau" in h]
    assert test["test/kendall_tau"] == pytest.approx(results["test"]["test/kendall_tau"])
    summaries = _items(records, "summary")
    assert [s["val/kendall_tau"] for s in summaries if "val/kendall_tau" in s][-1] == val

    artifacts = [r.artifact for r in records if r.WhichOneof("record_type") == "artifact"]
    best = [a for a in artifacts if "best" in a.aliases]
    assert len(best) == 1 and best[0].type == "model"
    assert [m.path for m in best[0].manifest.contents] == ["model.ckpt"]

    assert (run_dir / "test_predictions.png").exists()
    (figure,) = [h for h in history if "figures/test_predictions/filenames" in h]
    (png,) = figure["figures/test_predictions/filenames"]
    assert (run / "files" / png).read_bytes().startswith(b"\x89PNG")
