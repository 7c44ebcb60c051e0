"""``weightnet zoo generate|info``: outputs and one-line errors with exit code 2."""

from __future__ import annotations

import json

import pytest

from weightnet.cli import main


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("weightnet: error:")
    return err


def test_unknown_recipe(tmp_path, capsys):
    assert main(["zoo", "generate", "nope", "--out", str(tmp_path / "z")]) == 2
    assert "unknown recipe 'nope'; known recipes: digits-mlp, digits-cnn" in _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_non_empty_output(tmp_path, capsys):
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "keep.txt").write_text("mine")
    assert (
        main(["zoo", "generate", "digits-mlp", "--out", str(tmp_path / "z"), "--num-models", "2"])
        == 2
    )
    assert "output folder exists and is not empty" in _one_error_line(capsys)
    assert [p.name for p in tmp_path.iterdir()] == ["z"]
    assert [p.name for p in (tmp_path / "z").iterdir()] == ["keep.txt"]


def test_info_on_a_truncated_zoo(tmp_path, mlp_zoo, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in mlp_zoo.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    data = (broken / "weights.npy").read_bytes()
    (broken / "weights.npy").write_bytes(data[: len(data) // 2])
    assert main(["zoo", "info", str(broken)]) == 2
    assert "weights.npy: truncated" in _one_error_line(capsys)


def test_info_text_and_json(mlp_zoo, capsys):
    assert main(["zoo", "info", str(mlp_zoo)]) == 0
    text = capsys.readouterr().out
    assert (
        "mlp 64-32-32-10" in text
        and "checksum      ok" in text
        and "30 models from 10 runs" in text
    )
    assert main(["zoo", "info", str(mlp_zoo), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    (zoo,) = summary["zoos"]
    assert zoo["num_rows"] == 30 and zoo["num_runs"] == 10 and zoo["num_params"] == 3466
    assert zoo["checksum_ok"] and zoo["steps"] == [0, 4, 12] and zoo["nonfinite_rows"] == 0
    assert (
        0.0
        <= zoo["test_accuracy"]["min"]
        <= zoo["test_accuracy"]["mean"]
        <= zoo["test_accuracy"]["max"]
        <= 1.0
    )


@pytest.mark.slow
def test_generate_end_to_end(tmp_path, capsys):
    out = tmp_path / "z"
    assert (
        main(
            [
                "zoo",
                "generate",
                "digits-mlp",
                "--out",
                str(out),
                "--num-models",
                "3",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "wrote" in capsys.readouterr().out
    assert main(["zoo", "info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["num_rows"] == 18


def test_info_plot_saves_an_accuracy_histogram(tiny_zoo, tmp_path, capsys):
    out = tmp_path / "figs" / "acc.png"
    assert main(["zoo", "info", str(tiny_zoo), "--json", "--plot", str(out)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["num_rows"] == 36  # stdout stays JSON
    assert f"wrote {out}" in captured.err
    assert out.read_bytes().startswith(b"\x89PNG") and list(out.parent.iterdir()) == [out]


def test_a_second_generate_into_the_same_out_is_refused_in_one_line(tmp_path, capsys):
    """Another process holds the zoo's lock: refused, naming it; nothing of ours is written."""
    import subprocess
    import sys

    out = tmp_path / "z"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom weightnet.zoo.writer import writer_lock\n"
         "with writer_lock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(120)",
         str(out)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline() == "locked\n"
        argv = ["zoo", "generate", "digits-mlp", "--out", str(out), "--num-models", "2"]
        assert main(argv) == 2
        err = _one_error_line(capsys)
        assert f"{out}: being written by pid {holder.pid} on host " in err
        assert [p.name for p in tmp_path.iterdir()] == [".z.lock"]  # the holder's, only
    finally:
        holder.kill()
        holder.wait()
