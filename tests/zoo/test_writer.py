"""The zoo writer: all or nothing, and refuses to overwrite."""

from __future__ import annotations

import pytest

from weightnet.errors import WeightnetError
from weightnet.zoo.writer import check_output_folder, staged_output


def test_failure_leaves_nothing_behind(tmp_path):
    with pytest.raises(RuntimeError), staged_output(tmp_path / "zoo") as folder:
        (folder / "weights.npy").write_bytes(b"partial")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_success_renames_into_place_including_an_empty_folder(tmp_path):
    (tmp_path / "zoo").mkdir()
    with staged_output(tmp_path / "zoo") as folder:
        (folder / "zoo.json").write_text("{}")
    assert [p.name for p in tmp_path.iterdir()] == ["zoo"]
    assert (tmp_path / "zoo" / "zoo.json").read_text() == "{}"


def test_refuses_non_empty_or_file_outputs(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(WeightnetError, match="full: output folder exists and is not empty"):
        check_output_folder(tmp_path / "full")
    (tmp_path / "file").write_text("x")
    with pytest.raises(WeightnetError, match="not a folder"):
        check_output_folder(tmp_path / "file")


def test_unwritable_parent(tmp_path):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    with pytest.raises(WeightnetError, match="blocker"):
        check_output_folder(tmp_path / "blocker" / "zoo")
