"""Train / val / test splits of a zoo by training run.

Checkpoints of one training run are strongly correlated, so a split assigns whole
runs: the rows of one run never straddle two splits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from weightnet.errors import WeightnetError

__all__ = ["split_by_group"]


def split_by_group(
    groups: np.ndarray, fractions: Sequence[float], seed: int = 0
) -> tuple[np.ndarray, ...]:
    """Row indices of each split, assigning whole groups (runs) to one split.

    Groups are shuffled with ``numpy.random.default_rng(seed)``; split ``k`` gets
    ``round(fractions[k] * num_groups)`` of them (the first split takes the remainder),
    and every split with a positive fraction gets at least one group when there are enough.

    Args:
        groups: ``(N,)`` group id of each row (any dtype ``numpy.unique`` sorts).
        fractions: relative split sizes, e.g. ``(0.8, 0.1, 0.1)``; normalized to sum to 1.
        seed: the shuffle seed.

    Returns:
        One sorted ``int64`` index array per fraction.

    Raises:
        WeightnetError: on negative fractions, or fewer groups than non-empty splits.
    """
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.ndim != 1 or len(fractions) == 0 or (fractions < 0).any() or fractions.sum() <= 0:
        raise WeightnetError(f"split fractions {fractions.tolist()} must be non-negative, sum > 0")
    fractions = fractions / fractions.sum()
    unique, inverse = np.unique(np.asarray(groups), return_inverse=True)
    num_groups = len(unique)
    wanted = int((fractions > 0).sum())
    if num_groups < wanted:
        raise WeightnetError(f"{num_groups} training runs cannot fill {wanted} splits")
    counts = np.round(fractions * num_groups).astype(np.int64)
    counts[(fractions > 0) & (counts == 0)] = 1
    counts[0] = num_groups - counts[1:].sum()
    if counts[0] < (1 if fractions[0] > 0 else 0):
        raise WeightnetError(
            f"{num_groups} training runs are too few for splits {fractions.tolist()}"
        )
    order = np.random.default_rng(seed).permutation(num_groups)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    group_split = np.empty(num_groups, dtype=np.int64)
    for k in range(len(counts)):
        group_split[order[bounds[k] : bounds[k + 1]]] = k
    row_split = group_split[inverse.reshape(-1)]
    return tuple(np.flatnonzero(row_split == k).astype(np.int64) for k in range(len(counts)))
