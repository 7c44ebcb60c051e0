"""Independent random streams keyed by ``(seed, purpose, run)``.

Every training run draws its hyperparameters, initial weights and minibatches from
its own streams, so a run's result depends only on the zoo seed and its run number,
never on which other runs share its chunk.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

__all__ = [
    "SPLIT",
    "ARCHITECTURES",
    "HYPERPARAMETERS",
    "INIT",
    "SUBSET",
    "BATCHES",
    "stream",
    "global_rngs_untouched",
]

#: Purposes of the streams (the first element of the key).
SPLIT, ARCHITECTURES, HYPERPARAMETERS, INIT, SUBSET, BATCHES = range(6)


def stream(seed: int, *key: int) -> np.random.Generator:
    """A numpy generator for ``seed`` and ``key`` (e.g. ``(INIT, run_id)``); same key, same numbers."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=tuple(map(int, key))))


@contextmanager
def global_rngs_untouched() -> Iterator[None]:
    """Restore torch's, numpy's and Python's global random states on exit.

    Making a zoo must not shift the caller's random numbers: ``train.py`` seeds everything,
    then generates a missing zoo, then initializes the metanet, which must come out the same
    whether or not the zoo was generated in that run.
    """
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
