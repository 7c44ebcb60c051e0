"""Write a :class:`~weightnet.data.formats.source.ConvertedSource` as an on-disk zoo.

Uses the zoo writer of :mod:`weightnet.zoo.writer`: everything goes to a hidden
staging folder beside ``out`` that is renamed into place only when the whole zoo is
written (a failed or interrupted conversion leaves nothing behind), and the weights
are written one chunk of rows at a time, so a zoo larger than memory converts with
one chunk in memory.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from weightnet.data.formats.source import ConvertedSource
from weightnet.errors import WeightnetError
from weightnet.zoo.writer import ZooWriter, staged_output

__all__ = ["write_converted"]


def write_converted(source: ConvertedSource, out: str | os.PathLike, progress: bool = True) -> Path:
    """Write ``source`` as the zoo folder ``out`` (DESIGN.md 5.4) and return its path.

    Raises:
        WeightnetError: if ``out`` exists and is not an empty folder, or the source yields
            the wrong number of rows, wrongly shaped chunks or NaN/Inf weights.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    num_params = source.spec.num_params
    with staged_output(out) as folder:
        writer = ZooWriter(folder, source.spec, source.num_rows)
        written = 0
        with tqdm(
            total=source.num_rows,
            unit="nets",
            desc="converting",
            disable=None if progress else True,
        ) as bar:
            for chunk in source.weight_chunks():
                if chunk.ndim != 2 or chunk.shape[1] != num_params:
                    raise WeightnetError(
                        f"converted rows have shape {chunk.shape}, expected (n, {num_params})"
                    )
                if written + len(chunk) > source.num_rows:
                    raise WeightnetError(f"the source gave more than {source.num_rows} networks")
                bad = ~np.isfinite(chunk).all(axis=1)
                if bad.any():
                    where = source.source.get("path", "the source")
                    raise WeightnetError(
                        f"{where}: network {written + int(np.argmax(bad))} has NaN or Inf weights"
                    )
                writer.write_rows(np.arange(written, written + len(chunk)), chunk)
                written += len(chunk)
                bar.update(len(chunk))
        if written != source.num_rows:
            raise WeightnetError(f"the source gave {written} networks, expected {source.num_rows}")
        columns: dict[str, list] = {name: [] for name in source.metric_columns}
        lists = list(columns.values())
        for row in source.metric_rows():
            for column, value in zip(lists, row, strict=True):
                column.append(value)
        writer.finish(
            columns,
            {
                "recipe": source.recipe,
                "seed": None,
                "num_models": len(set(columns["run_id"])) if "run_id" in columns else written,
                "architecture": {
                    "kind": source.spec.kind,
                    "layers": source.spec.to_dict()["layers"],
                    "activation": source.activation,
                },
                "dataset": source.dataset,
                "source": source.source,
            },
        )
    return out
