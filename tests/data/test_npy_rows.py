"""NpyRows: chunked and random-access reads of a 2-D .npy file by plain file reads."""

from __future__ import annotations

import numpy as np
import pytest

from weightnet.data.npy import NpyRows
from weightnet.errors import WeightnetError


def test_chunks_and_take_equal_the_array(tmp_path):
    array = np.random.default_rng(0).standard_normal((23, 7)).astype(np.float32)
    np.save(tmp_path / "w.npy", array)
    rows = NpyRows.open(tmp_path / "w.npy")
    assert rows.shape == (23, 7)
    np.testing.assert_array_equal(np.concatenate(list(rows.chunks(5))), array)
    assert [len(c) for c in rows.chunks(10)] == [10, 10, 3]
    picks = np.array([4, 5, 6, 22, 0, 5, 13])
    np.testing.assert_array_equal(rows.take(picks), array[picks])
    with pytest.raises(IndexError):
        rows.take([23])
    assert len(rows) == 23 and rows.ndim == 2
    np.testing.assert_array_equal(rows[3], array[3])
    np.testing.assert_array_equal(rows[5:9], array[5:9])
    np.testing.assert_array_equal(rows[picks], array[picks])


def test_bad_files(tmp_path):
    np.save(tmp_path / "v.npy", np.zeros(5, np.float32))
    with pytest.raises(WeightnetError, match="expected a 2-D C-order float array"):
        NpyRows.open(tmp_path / "v.npy")
    (tmp_path / "x.npy").write_bytes(b"not numpy")
    with pytest.raises(WeightnetError, match="not a readable .npy file"):
        NpyRows.open(tmp_path / "x.npy")
    np.save(tmp_path / "t.npy", np.zeros((4, 3), np.float32))
    data = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(data[:-8])
    with pytest.raises(WeightnetError, match="truncated"):
        NpyRows.open(tmp_path / "t.npy")
