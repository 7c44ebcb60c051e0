"""A tiny digits-inr zoo for the INR tests: 6 images x 2 INRs, a short fit."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from weightnet.zoo.inr import DIGITS_INR
from weightnet.zoo.writer import staged_output

#: 12 INRs of 6 images (2 seeds each), fitted for 30 steps, 5 at a time (chunks cut images).
TINY_INR_RECIPE = replace(DIGITS_INR, num_steps=30, chunk_size=5)
TINY_NUM_MODELS = 12


def write_tiny_inr_zoo(path: Path, seed: int = 0) -> Path:
    """Fit the tiny zoo into ``path`` (created) and return it."""
    with staged_output(path) as folder:
        TINY_INR_RECIPE.generate(folder, TINY_NUM_MODELS, seed, progress=False)
    return path
