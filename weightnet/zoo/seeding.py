"""Independent random streams keyed by ``(seed, purpose, run)``.

Every training run draws its hyperparameters, initial weights and minibatches from
its own streams, so a run's result depends only on the zoo seed and its run number,
never on which other runs share its chunk.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SPLIT", "ARCHITECTURES", "HYPERPARAMETERS", "INIT", "SUBSET", "BATCHES", "stream"]

#: Purposes of the streams (the first element of the key).
SPLIT, ARCHITECTURES, HYPERPARAMETERS, INIT, SUBSET, BATCHES = range(6)


def stream(seed: int, *key: int) -> np.random.Generator:
    """A numpy generator for ``seed`` and ``key`` (e.g. ``(INIT, run_id)``); same key, same numbers."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=tuple(map(int, key))))
