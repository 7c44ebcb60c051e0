"""What every public-format reader hands to the zoo writer: a streamed, converted source.

A reader never holds a whole zoo in memory: it describes the architecture, counts
the rows, and yields the weights in chunks of rows (PyTorch orientation, the
:meth:`~weightnet.weightspace.WeightSpec.layout` order) and the metrics row by row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from weightnet.weightspace import WeightSpec

__all__ = ["ConvertedSource", "CHUNK_ROWS"]

#: Rows converted per step: 4096 x 4970 float32 is about 80 MB.
CHUNK_ROWS = 4096


@dataclass(frozen=True)
class ConvertedSource:
    """A public zoo, read lazily and converted to weightnet's on-disk conventions.

    Attributes:
        spec: the architecture (state_dict keys, PyTorch orientation, activations).
        num_rows: number of networks (rows of ``weights.npy``).
        weight_chunks: callable returning an iterator of ``(n, spec.num_params)`` float32
            arrays, ``num_rows`` rows in all.
        metric_columns: columns of ``metrics.csv`` after ``model_id`` (which the writer adds).
        metric_rows: callable returning an iterator of ``num_rows`` rows (sequences of
            values, one per column).
        recipe: ``zoo.json``'s ``recipe``, e.g. ``"convert:cnn-zoo"``.
        activation: ``zoo.json``'s ``architecture.activation``: a name, or the sorted list
            of names when it varies by model (then the ``config.activation`` column says).
        dataset: ``zoo.json``'s ``dataset`` (what the networks were trained on).
        source: ``zoo.json``'s ``source`` (format, paths, checksums of the inputs).
    """

    spec: WeightSpec
    num_rows: int
    weight_chunks: Callable[[], Iterator[np.ndarray]]
    metric_columns: Sequence[str]
    metric_rows: Callable[[], Iterator[Sequence[Any]]]
    recipe: str
    activation: str | list[str]
    dataset: dict = field(default_factory=dict)
    source: dict = field(default_factory=dict)
