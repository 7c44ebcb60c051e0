"""A tiny digits-inr zoo for the INR tests: 6 images x 2 INRs, a short fit, made once."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from weightnet.zoo.inr import DIGITS_INR
from weightnet.zoo.writer import staged_output

#: 12 INRs of 6 images (2 seeds each), fitted for 15 steps, 5 at a time (chunks cut images).
TINY_INR_RECIPE = replace(DIGITS_INR, num_steps=15, chunk_size=5)
TINY_NUM_MODELS = 12


def write_tiny_inr_zoo(path: Path, seed: int = 0, num_models: int = TINY_NUM_MODELS) -> Path:
    """Fit the tiny zoo into ``path`` (created) and return it."""
    with staged_output(path) as folder:
        TINY_INR_RECIPE.generate(folder, num_models, seed, progress=False)
    return path


@functools.cache
def tiny_inr_zoo() -> Path:
    """The tiny zoo of seed 0, fitted once per test process (read it, do not change it)."""
    folder = Path(tempfile.mkdtemp(prefix="weightnet-inr-"))
    atexit.register(shutil.rmtree, folder, True)
    return write_tiny_inr_zoo(folder / "zoo")
