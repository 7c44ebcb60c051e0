"""Reading zoos: the Zoo API and one clear error per kind of damage."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from weightnet.data.npy import NpyRows
from weightnet.data.zoo import Zoo, ZooError, open_zoo, open_zoos
from weightnet.functional import forward
from weightnet.testing import mlp_spec
from weightnet.zoo.writer import ZooWriter, staged_output


def _write(path, sizes=(4, 5, 3), rows=6, runs=3, nan_row=None):
    spec = mlp_spec(sizes)
    weights = np.random.default_rng(0).standard_normal((rows, spec.num_params)).astype(np.float32)
    if nan_row is not None:
        weights[nan_row, 2] = np.nan
    with staged_output(path) as folder:
        writer = ZooWriter(folder, spec, rows)
        writer.write_rows(np.arange(rows), weights)
        run_id = np.repeat(np.arange(runs), rows // runs)
        columns = {
            "run_id": run_id.tolist(),
            "config.activation": ["relu", "tanh"] * (rows // 2),
            "test_accuracy": np.linspace(0.1, 0.9, rows).tolist(),
            "test_loss": np.linspace(2.0, 0.5, rows).tolist(),
            "train_accuracy": np.linspace(0.1, 1.0, rows).tolist(),
            "train_loss": np.linspace(2.0, 0.1, rows).tolist(),
            "step": [0, 10] * (rows // 2),
        }
        meta = {
            "recipe": "test",
            "seed": 0,
            "num_models": runs,
            "architecture": {
                "kind": "mlp",
                "layers": spec.to_dict()["layers"],
                "activation": ["relu", "tanh"],
            },
            "dataset": {"name": "none"},
        }
        writer.finish(columns, meta)
    return spec, weights


def test_open_zoo_reads_everything(tmp_path):
    spec, weights = _write(tmp_path / "z", nan_row=4)
    zoo = open_zoo(tmp_path / "z", verify_checksum=True)
    assert isinstance(zoo, Zoo) and len(zoo) == 6 and zoo.spec == spec
    assert isinstance(zoo.weights, NpyRows)  # rows read on demand, never the whole file
    np.testing.assert_array_equal(zoo.weights, weights)
    assert zoo.metrics["model_id"].dtype == np.int64 and zoo.metrics["step"].tolist() == [0, 10] * 3
    assert zoo.metrics["test_accuracy"].dtype == np.float64
    assert zoo.metrics["config.activation"].tolist() == ["relu", "tanh"] * 3
    assert zoo.activations.tolist() == ["relu", "tanh"] * 3
    assert zoo.nonfinite_rows.tolist() == [4]
    ws = zoo.weightspace([1, 3])
    assert ws.batch_size == 2 and ws.dtype == torch.float32 and ws.channels == 1
    x = torch.randn(7, 4)
    expected = x @ torch.from_numpy(weights[3, :20].reshape(5, 4)).T + torch.from_numpy(
        weights[3, 20:25]
    )
    expected = torch.relu(expected) @ torch.from_numpy(
        weights[3, 25:40].reshape(3, 5)
    ).T + torch.from_numpy(weights[3, 40:43])
    torch.testing.assert_close(forward(spec, ws, x)[1], expected)
    assert zoo.weightspace(2).batch_size == 1


def test_open_zoos_accepts_folder_parent_and_list(tmp_path):
    _write(tmp_path / "parent" / "b", sizes=(4, 6, 3))
    _write(tmp_path / "parent" / "a")
    names = [z.path.name for z in open_zoos(tmp_path / "parent")]
    assert names == ["a", "b"]
    assert len(open_zoos(tmp_path / "parent" / "a")) == 1
    assert len(open_zoos([str(tmp_path / "parent" / "a"), tmp_path / "parent"])) == 3
    with pytest.raises(ZooError, match="neither a zoo folder"):
        open_zoos(tmp_path)


@pytest.fixture
def zoo_dir(tmp_path):
    _write(tmp_path / "z")
    return tmp_path / "z"


def _single_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_missing_file(zoo_dir):
    (zoo_dir / "layout.csv").unlink()
    with pytest.raises(ZooError) as err:
        open_zoo(zoo_dir)
    assert "layout.csv: missing" in _single_line(err)


def test_truncated_weights(zoo_dir):
    data = (zoo_dir / "weights.npy").read_bytes()
    (zoo_dir / "weights.npy").write_bytes(data[: len(data) - 10])
    with pytest.raises(ZooError) as err:
        open_zoo(zoo_dir)
    assert "weights.npy: truncated" in _single_line(err)


def test_row_count_mismatch(zoo_dir):
    lines = (zoo_dir / "metrics.csv").read_text().splitlines()
    (zoo_dir / "metrics.csv").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(ZooError) as err:
        open_zoo(zoo_dir)
    assert "metrics.csv: 5 rows but weights.npy has 6" in _single_line(err)


def test_num_models_mismatch(zoo_dir):
    meta = json.loads((zoo_dir / "zoo.json").read_text())
    meta["num_models"] = 5
    (zoo_dir / "zoo.json").write_text(json.dumps(meta))
    with pytest.raises(ZooError, match="3 distinct run_id, zoo.json says num_models 5"):
        open_zoo(zoo_dir)


def test_parameter_count_mismatch(zoo_dir, tmp_path):
    _write(tmp_path / "other", sizes=(4, 6, 3))
    shutil.copy(tmp_path / "other" / "weights.npy", zoo_dir / "weights.npy")
    with pytest.raises(ZooError, match=r"weights.npy: rows of 51 parameters, layout.csv says 43"):
        open_zoo(zoo_dir)
    shutil.copy(tmp_path / "other" / "layout.csv", zoo_dir / "layout.csv")
    with pytest.raises(
        ZooError,
        match=r"layout.csv: does not match zoo.json's architecture: line 2 has net.0.weight "
        r"\(6, 4\) at 0-24, zoo.json gives net.0.weight \(5, 4\) at 0-20",
    ):
        open_zoo(zoo_dir)


def test_a_layout_that_differs_in_names_only_says_what_differs(zoo_dir):
    """The same parameter count, other key names: the message names the first differing row."""
    text = (zoo_dir / "layout.csv").read_text()
    (zoo_dir / "layout.csv").write_text(text.replace("net.0.bias", "net.0.b"))
    with pytest.raises(
        ZooError,
        match=r"layout.csv: does not match zoo.json's architecture: line 3 has net.0.b \(5,\) "
        r"at 20-25, zoo.json gives net.0.bias \(5,\) at 20-25$",
    ):
        open_zoo(zoo_dir)


def test_missing_metrics_column(zoo_dir):
    text = (zoo_dir / "metrics.csv").read_text().replace("test_loss", "loss")
    (zoo_dir / "metrics.csv").write_text(text)
    with pytest.raises(ZooError, match="metrics.csv: missing column.*test_loss"):
        open_zoo(zoo_dir)


def test_bad_checksum_only_when_verifying(zoo_dir):
    weights = np.load(zoo_dir / "weights.npy")
    weights[0, 0] += 1.0
    np.save(zoo_dir / "weights.npy", weights)
    assert len(open_zoo(zoo_dir)) == 6
    with pytest.raises(ZooError) as err:
        open_zoo(zoo_dir, verify_checksum=True)
    assert "weights.npy: sha256 does not match zoo.json" in _single_line(err)


def test_not_a_folder(tmp_path):
    with pytest.raises(ZooError, match="no such zoo folder"):
        open_zoo(tmp_path / "nothing")
