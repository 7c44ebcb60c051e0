"""The DWSNets MNIST INRs (Navon et al. 2023, "Equivariant Architectures for Learning in Deep Weight Spaces").

Layout of the released folder: one folder per image,
``mnist_png_<training|testing>_<label>_<index>/checkpoints/model_final.pth``, each a
state_dict of ``nn/inr.py``'s ``INR(in_dim=2, n_layers=3, up_scale=16)``: keys
``seq.0.weight`` (32, 2), ``seq.0.bias``, ``seq.1.*`` (32, 32), ``seq.2.*`` (1, 32);
``seq.0`` and ``seq.1`` compute ``sin(30 (W x + b))``, ``seq.2`` is linear, and the
INR adds 0.5 to its output. It is evaluated on
``np.meshgrid(linspace(-1, 1, 28), linspace(-1, 1, 28))`` (``xy`` indexing), flattened.

The splits file (``experiments/mnist/generate_data_splits.py``) is JSON
``{"train": {"path": [...], "label": [...]}, "val": ..., "test": ...}`` with the
paths of the machine that made it; they are matched to the files under ``SRC`` by
their longest common trailing part. Without a splits file, labels and the
train/test split are read off the folder names (no val split).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path, PurePath

from weightnet.data.formats.source import CHUNK_ROWS, ConvertedSource
from weightnet.data.formats.state_dicts import spec_of_file, state_dict_chunks
from weightnet.errors import WeightnetError

__all__ = ["read_dws_inr", "find_splits_file", "W0", "OUTPUT_OFFSET"]

#: ``w0`` of both sine layers (``Siren(w0=30.0)`` in DWSNets' ``nn/inr.py``).
W0 = 30.0
#: Added to the INR's output (``INR.forward`` returns ``self.seq(x) + 0.5``).
OUTPUT_OFFSET = 0.5

_FOLDER = re.compile(r"^(?P<data>.+?)_png_(?P<split>training|testing)_(?P<label>\d+)_(?P<idx>\d+)$")


def find_splits_file(src: Path) -> Path | None:
    """The one ``*splits*.json`` inside ``src``, else beside it; ``None`` if there is none.

    Raises:
        WeightnetError: if one place holds several candidates.
    """
    for folder in (src, src.parent):
        found = sorted(folder.glob("*splits*.json"))
        if len(found) > 1:
            raise WeightnetError(
                f"{folder}: several splits files ({', '.join(p.name for p in found)}): "
                f"choose one with --splits"
            )
        if found:
            return found[0]
    return None


def read_dws_inr(src: str | Path, splits: str | Path | None = None) -> ConvertedSource:
    """Describe a DWSNets INR folder as a streamed :class:`ConvertedSource`.

    Args:
        src: the folder holding the ``mnist_png_*`` INR folders.
        splits: the splits JSON (default: :func:`find_splits_file`).

    Raises:
        WeightnetError: on a missing folder, no INRs, a malformed splits file, a path in
            it that matches no file, or INRs of different architectures.
    """
    src = Path(src)
    if not src.is_dir():
        raise WeightnetError(f"{src}: no such folder")
    files = sorted(p for p in src.rglob("*.pth") if p.is_file())
    if not files:
        raise WeightnetError(f"{src}: no INR files (*.pth) found")
    splits_path = Path(splits) if splits is not None else find_splits_file(src)
    if splits_path is not None:
        entries = _entries_from_json(splits_path, src, files)
    else:
        entries = _entries_from_names(src, files)
    paths = [e[0] for e in entries]
    spec = spec_of_file(paths[0], "sin", w0=W0)
    data_names = {m.group("data") for p in paths if (m := _FOLDER.match(_inr_folder(p, src)))}
    columns = ["run_id", "label", "split", "file"]

    def metric_rows() -> Iterator[list]:
        for i, (path, label, split) in enumerate(entries):
            yield [i, label, split, path.relative_to(src).as_posix()]

    return ConvertedSource(
        spec=spec,
        num_rows=len(entries),
        weight_chunks=lambda: state_dict_chunks(paths, spec, CHUNK_ROWS),
        metric_columns=columns,
        metric_rows=metric_rows,
        recipe="convert:dws-inr",
        activation="sin",
        dataset={
            "name": f"{data_names.pop()}-inr" if len(data_names) == 1 else "inr",
            "input_shape": [spec.layers[0].n_in],
            "image_shape": [28, 28],
            "coordinates": "np.meshgrid(linspace(-1, 1, 28), linspace(-1, 1, 28)), xy indexing",
            "output_offset": OUTPUT_OFFSET,
            "num_classes": len({e[1] for e in entries}),
        },
        source={
            "format": "dws-inr",
            "path": str(src.resolve()),
            "splits": str(splits_path.resolve()) if splits_path else None,
            "reference": "Navon et al. 2023, arXiv:2301.12780 (github.com/AvivNavon/DWSNets)",
        },
    )


def _inr_folder(path: Path, src: Path) -> str:
    """The per-INR folder name: the first folder of ``path`` below ``src``."""
    return path.relative_to(src).parts[0]


def _entries_from_json(path: Path, src: Path, files: list[Path]) -> list[tuple[Path, int, str]]:
    """``(file, label, split)`` for every INR of the splits JSON, in its split order."""
    if not path.is_file():
        raise WeightnetError(f"{path}: no such file")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise WeightnetError(f"{path}: not JSON ({err})") from None
    if not isinstance(data, dict) or not data:
        raise WeightnetError(f"{path}: expected {{split: {{'path': [...], 'label': [...]}}}}")
    by_parts = {p.relative_to(src).parts: p for p in files}
    entries = []
    for split, part in data.items():
        if not isinstance(part, dict) or not {"path", "label"} <= set(part):
            raise WeightnetError(f"{path}: split {split!r} needs 'path' and 'label' lists")
        if len(part["path"]) != len(part["label"]):
            raise WeightnetError(f"{path}: split {split!r} has unequal path and label lists")
        for i, (name, label) in enumerate(zip(part["path"], part["label"], strict=True)):
            parts = PurePath(name).parts
            match = next(
                (by_parts[parts[k:]] for k in range(len(parts)) if parts[k:] in by_parts), None
            )
            if match is None:
                raise WeightnetError(f"{path}: {split}[{i}] {name} matches no file under {src}")
            try:
                entries.append((match, int(label), split))
            except (TypeError, ValueError):
                raise WeightnetError(
                    f"{path}: {split}[{i}] label {label!r} is not an integer"
                ) from None
    return entries


def _entries_from_names(src: Path, files: list[Path]) -> list[tuple[Path, int, str]]:
    """``(file, label, split)`` from folder names ``<data>_png_<training|testing>_<label>_<idx>``."""
    keyed = []
    for path in files:
        match = _FOLDER.match(_inr_folder(path, src))
        if match is None:
            raise WeightnetError(
                f"{path}: folder name is not <data>_png_<training|testing>_<label>_<index> "
                f"(give the splits JSON with --splits)"
            )
        split = "train" if match.group("split") == "training" else "test"
        keyed.append(
            (split != "train", int(match.group("idx")), path, int(match.group("label")), split)
        )
    return [(path, label, split) for *_, path, label, split in sorted(keyed)]
