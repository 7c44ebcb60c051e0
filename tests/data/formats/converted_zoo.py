"""Test helper: read a converted zoo folder from its files, and check the zoo reader opens it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from weightnet.data.zoo import open_zoo
from weightnet.weightspace import WeightSpec


def read_converted(path: Path) -> tuple[WeightSpec, np.ndarray, list[dict], dict]:
    """``(spec, weights (N, P), metrics rows, zoo.json)`` of the zoo folder ``path``."""
    info = json.loads((path / "zoo.json").read_text())
    spec = WeightSpec.from_dict({"layers": info["architecture"]["layers"]})
    weights = np.load(path / "weights.npy")
    with open(path / "metrics.csv", newline="") as fh:
        metrics = list(csv.DictReader(fh))
    zoo = open_zoo(path, verify_checksum=True)
    assert zoo.spec == spec and len(zoo) == len(weights) == len(metrics)
    assert info["num_models"] == len(set(zoo.metrics["run_id"]))  # training runs
    np.testing.assert_array_equal(zoo.weights, weights)
    return spec, weights, metrics, info
