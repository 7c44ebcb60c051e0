"""The zoo writer: all or nothing, and refuses to overwrite."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from weightnet.errors import WeightnetError
from weightnet.zoo.writer import check_output_folder, staged_output, writer_lock


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


def test_a_second_writer_is_refused_in_one_line_naming_the_holder(tmp_path):
    out = tmp_path / "zoo"
    with writer_lock(out):
        record = json.loads((tmp_path / ".zoo.lock").read_text())
        assert (record["pid"], record["host"]) == (os.getpid(), socket.gethostname())
        with pytest.raises(WeightnetError) as refused, staged_output(out):
            pass
    message = str(refused.value)
    assert message.startswith(f"{out}: being written by pid {os.getpid()} on host ")
    assert message.endswith(f"(lock {tmp_path / '.zoo.lock'}); wait for it to finish or stop it")
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []  # the lock is gone with its holder's block
    with staged_output(out) as folder:  # and the next writer gets it
        (folder / "zoo.json").write_text("{}")
    assert [p.name for p in tmp_path.iterdir()] == ["zoo"]


def test_the_lock_of_a_dead_writer_is_taken_over(tmp_path, capfd):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)
    record = {"pid": pid, "host": "elsewhere", "since": 0.0}
    (tmp_path / ".zoo.lock").write_text(json.dumps(record))  # left by a killed run, unlocked
    with staged_output(tmp_path / "zoo") as folder:
        (folder / "zoo.json").write_text("{}")
    err = capfd.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"weightnet: {tmp_path / '.zoo.lock'}: taking over the lock of pid {pid} on host "
        "elsewhere since "
    )
    assert err[0].endswith(", which is no longer running")
    assert [p.name for p in tmp_path.iterdir()] == ["zoo"]
