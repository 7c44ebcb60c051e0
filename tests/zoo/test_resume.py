"""A zoo generation killed midway (SIGKILL) continues where it stopped, byte-identically."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time

import pytest

from weightnet.errors import WeightnetError
from weightnet.zoo.recipes import RECIPES, ClassifierRecipe, generate_zoo
from weightnet.zoo.writer import sha256_file

#: 6 runs in chunks of 2 (at least 3 chunks: runs are grouped by activation and optimizer)
SETTINGS = {"chunk_size": 2, "num_steps": 120, "checkpoint_steps": (0, 60, 120)}
NUM_MODELS, SEED = 6, 3

GENERATE = f"""
import dataclasses, sys
from weightnet.zoo.recipes import RECIPES, generate_zoo
recipe = dataclasses.replace(RECIPES["digits-mlp"], **{SETTINGS!r})
generate_zoo(recipe, sys.argv[1], {NUM_MODELS}, seed={SEED}, progress=False)
"""


def _recipe(**changes) -> ClassifierRecipe:
    return dataclasses.replace(RECIPES["digits-mlp"], **{**SETTINGS, **changes})


def _kill_after_first_chunk(out) -> int:
    """Start a generation in a subprocess, SIGKILL it once a chunk is stored; chunks stored."""
    chunks = out.parent / f".{out.name}.partial" / ".chunks"
    proc = subprocess.Popen([sys.executable, "-c", GENERATE, str(out)])
    try:
        deadline = time.monotonic() + 300
        while not list(chunks.glob("*-[0-9].npz")):
            assert proc.poll() is None, "generation ended before a chunk was stored"
            assert time.monotonic() < deadline, "no chunk stored in time"
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    return len(list(chunks.glob("*-[0-9].npz")))


@pytest.mark.slow
def test_killed_generation_resumes_to_the_same_bytes(tmp_path, monkeypatch, capfd):
    trained = []
    train_chunk = ClassifierRecipe._train_chunk

    def counting(self, spec, chunk, *args):
        trained.append(len(chunk))
        return train_chunk(self, spec, chunk, *args)

    monkeypatch.setattr(ClassifierRecipe, "_train_chunk", counting)
    straight = generate_zoo(_recipe(), tmp_path / "straight", NUM_MODELS, SEED, progress=False)
    num_chunks = len(trained)
    assert num_chunks >= 3

    out = tmp_path / "resumed"
    stored = _kill_after_first_chunk(out)
    assert not out.exists()  # killed: no half-written zoo
    assert 1 <= stored < num_chunks
    trained.clear()
    capfd.readouterr()
    generate_zoo(_recipe(), out, NUM_MODELS, SEED, progress=False)
    assert len(trained) == num_chunks - stored  # the stored chunks were not trained again
    taken_over, resuming = capfd.readouterr().err.splitlines()
    assert "taking over the lock of pid" in taken_over  # the killed run's
    assert resuming.startswith(f"resuming: {stored} of {num_chunks} chunks done (")
    assert resuming.endswith(f" of {NUM_MODELS} runs), from {out.parent / '.resumed.partial'}")
    assert sha256_file(out / "weights.npy") == sha256_file(straight / "weights.npy")
    for name in ("metrics.csv", "layout.csv", "zoo.json"):
        assert (out / name).read_bytes() == (straight / name).read_bytes(), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resumed", "straight"]


@pytest.mark.slow
def test_other_arguments_are_refused_while_a_partial_run_exists(tmp_path):
    out = tmp_path / "zoo"
    _kill_after_first_chunk(out)
    with pytest.raises(WeightnetError, match=r"\.zoo\.partial: left by an interrupted run"):
        generate_zoo(_recipe(), out, NUM_MODELS, SEED + 1, progress=False)
    with pytest.raises(WeightnetError, match="other arguments"):
        generate_zoo(_recipe(num_steps=60, checkpoint_steps=(0, 60)), out, NUM_MODELS, SEED)
    assert not out.exists()
