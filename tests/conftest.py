"""Shared fixtures: tiny zoo folders written directly in the on-disk zoo format (DESIGN 5.4)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

# One thread per test process (and for the train.py subprocesses tests start): the suite runs
# with pytest-xdist on every core, and oversubscribed torch threads make tiny ops 10-100x slower.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import numpy as np
import pytest
import torch

from weightnet.testing import mlp_spec
from weightnet.weightspace import WeightSpec, write_layout_csv

torch.set_num_threads(1)


def write_tiny_zoo(
    path: Path,
    num_runs: int = 12,
    checkpoints: int = 3,
    sizes: tuple[int, ...] = (4, 6, 5, 3),
    seed: int = 0,
) -> Path:
    """A zoo of random MLPs whose ``test_accuracy`` grows with each run's weight scale.

    ``num_runs`` runs of ``checkpoints`` rows each (``run_id`` shared, ``step`` growing), so
    the target is learnable from the weights and a split by run can be checked.
    """
    spec: WeightSpec = mlp_spec(sizes)
    rng = np.random.default_rng(seed)
    n = num_runs * checkpoints
    run_id = np.repeat(np.arange(num_runs), checkpoints)
    scale = np.repeat(rng.uniform(0.2, 2.0, num_runs), checkpoints)
    weights = (rng.standard_normal((n, spec.num_params)) * scale[:, None]).astype(np.float32)
    accuracy = np.clip(0.2 + 0.35 * scale + 0.02 * rng.standard_normal(n), 0.0, 1.0)
    path.mkdir(parents=True)
    np.save(path / "weights.npy", weights)
    write_layout_csv(spec, path / "layout.csv")
    with open(path / "metrics.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["model_id", "run_id", "config.lr", "test_accuracy", "test_loss",
             "train_accuracy", "train_loss", "step"]
        )  # fmt: skip
        for i in range(n):
            writer.writerow(
                [i, run_id[i], 0.01, accuracy[i], 1 - accuracy[i], accuracy[i], 1 - accuracy[i],
                 (i % checkpoints + 1) * 10]
            )  # fmt: skip
    digest = hashlib.sha256((path / "weights.npy").read_bytes()).hexdigest()
    meta = {
        "format_version": 1,
        "recipe": "tiny-test",
        "seed": seed,
        "num_models": num_runs,
        "architecture": {"kind": spec.kind, "activation": "relu", **spec.to_dict()},
        "dataset": {
            "name": "sklearn-digits",
            "input_scale": 0.0625,
            "input_shape": [sizes[0]],
            "train_indices": [0, 1],
            "test_indices": [2, 3],
        },
        "weights_sha256": digest,
    }
    (path / "zoo.json").write_text(json.dumps(meta, indent=1))
    return path


@pytest.fixture(scope="session")
def write_zoo():
    """:func:`write_tiny_zoo`, for tests that need several or differently shaped zoos."""
    return write_tiny_zoo


@pytest.fixture
def tiny_zoo(tmp_path: Path) -> Path:
    """A 12-run, 36-row zoo of ``4-6-5-3`` ReLU MLPs in ``tmp_path / "zoo"``."""
    torch.manual_seed(0)
    return write_tiny_zoo(tmp_path / "zoo")
