"""Stream a list of state_dict files (one network each) as rows of a zoo.

Shared by the formats that ship one file per network (DWSNets INRs, NFN SIRENs, a
folder of checkpoints). Files are read safely (:func:`weightnet.io.load_state_dict`)
a chunk at a time; every file must hold exactly the spec's keys and shapes, besides
named ``extras`` (plain values saved beside the weights, e.g. a label), which are
dropped.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from weightnet.data.formats.source import CHUNK_ROWS, ConvertedSource
from weightnet.errors import WeightnetError
from weightnet.io import load_state_dict
from weightnet.weightspace import SpecError, WeightSpace, WeightSpec

__all__ = [
    "load_weights",
    "spec_of_file",
    "check_state_dict",
    "state_dict_chunks",
    "files_source",
]


def load_weights(path: Path, extras: Collection[str] = ()) -> dict[str, Tensor]:
    """The tensors of ``path`` without its ``extras`` entries."""
    state = load_state_dict(path, extras=extras)
    return {k: v for k, v in state.items() if k not in extras}


def spec_of_file(path: Path, activation: str, extras: Collection[str] = (), **kwargs) -> WeightSpec:
    """The architecture of the network in ``path`` (see :meth:`WeightSpec.from_state_dict`)."""
    try:
        return WeightSpec.from_state_dict(load_weights(path, extras), activation, **kwargs)
    except SpecError as err:
        raise WeightnetError(f"{path}: {err}") from None


def check_state_dict(state: Mapping[str, Tensor], spec: WeightSpec, path: Path) -> None:
    """Raise a one-line :class:`WeightnetError` naming ``path`` unless ``state`` fits ``spec``."""
    expected = {
        key: shape
        for layer in spec.layers
        for key, shape in ((layer.weight_key, layer.shape), (layer.bias_key, (layer.n_out,)))
    }
    if set(state) != set(expected):
        extra, missing = sorted(set(state) - set(expected)), sorted(set(expected) - set(state))
        what = f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}"
        raise WeightnetError(f"{path}: keys differ from the first network's ({what})")
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise WeightnetError(
                f"{path}: {key} has shape {tuple(state[key].shape)}, the first network's is {shape}"
            )


def state_dict_chunks(
    paths: Sequence[Path], spec: WeightSpec, chunk_rows: int, extras: Collection[str] = ()
) -> Iterator[np.ndarray]:
    """``(n, spec.num_params)`` float32 rows, ``chunk_rows`` files at a time, in ``paths`` order."""
    for start in range(0, len(paths), chunk_rows):
        states = []
        for path in paths[start : start + chunk_rows]:
            state = load_weights(path, extras)
            check_state_dict(state, spec, path)
            states.append({k: v.float() for k, v in state.items()})
        flat = WeightSpace.from_state_dicts(spec, states).flatten()  # (n, P), layout order
        yield flat.numpy()


def files_source(
    paths: Sequence[Path],
    spec: WeightSpec,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    extras: Collection[str] = (),
    **info: Any,
) -> ConvertedSource:
    """A :class:`ConvertedSource` of one network per file, with one metrics row per file.

    Args:
        paths: the files, in zoo row order.
        spec: their architecture.
        columns: ``metrics.csv`` columns after ``model_id``.
        rows: one row of values per file.
        extras: plain entries saved beside the weights, dropped.
        info: the remaining :class:`ConvertedSource` fields (``recipe``, ``activation``,
            ``dataset``, ``source``).
    """
    return ConvertedSource(
        spec=spec,
        num_rows=len(paths),
        weight_chunks=lambda: state_dict_chunks(paths, spec, CHUNK_ROWS, extras),
        metric_columns=list(columns),
        metric_rows=lambda: iter(rows),
        **info,
    )
