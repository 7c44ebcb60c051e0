"""The DWSNets INRs (Navon et al. 2023, "Equivariant Architectures for Learning in Deep Weight Spaces").

Every INR is a state_dict of DWSNets' ``nn/inr.py`` ``INR(in_dim=2, n_layers=3,
up_scale=16)``: keys ``seq.0.weight`` (32, 2), ``seq.0.bias``, ``seq.1.*`` (32, 32),
``seq.2.*`` (1, 32); ``seq.0`` and ``seq.1`` compute ``sin(30 (W x + b))``,
``seq.2`` is linear, and the INR adds 0.5 to its output. It is evaluated on
``np.meshgrid(linspace(-1, 1, 28), linspace(-1, 1, 28))`` (``xy`` indexing), flattened.

Two releases share this network (the Dropbox folder linked from DWSNets' and Neural
Graphs' READMEs):

* MNIST (``mnist-inrs.zip``): one folder per image,
  ``mnist_png_<training|testing>_<label>_<index>/checkpoints/model_final.pth``; the
  splits JSON (``experiments/mnist/generate_data_splits.py``) is
  ``{"train": {"path": [...], "label": [...]}, "val": ..., "test": ...}``.
* Fashion-MNIST (``fmnist_inrs.zip``): ``<train|val|test>/model_<index>.pth``, each
  file also holding its ``label``; its own ``splits.json`` is
  ``{"train": [paths], "val": [...], "test": [...]}`` (Neural Graphs'
  ``fmnist_splits.json`` has the first form).

Paths in a splits file are those of the machine that made it; they are matched to
the files under ``SRC`` by their longest common trailing part. Without a splits
file, labels and splits are read off the folder names (MNIST: train/test only) or,
for ``<split>/*.pth``, the split from the folder and the label from the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePath

from weightnet.data.formats.source import ConvertedSource
from weightnet.data.formats.state_dicts import files_source, spec_of_file
from weightnet.errors import WeightnetError
from weightnet.io import load_state_dict

__all__ = ["read_dws_inr", "find_splits_file", "W0", "OUTPUT_OFFSET"]

#: ``w0`` of both sine layers (``Siren(w0=30.0)`` in DWSNets' ``nn/inr.py``).
W0 = 30.0
#: Added to the INR's output (``INR.forward`` returns ``self.seq(x) + 0.5``).
OUTPUT_OFFSET = 0.5

_MNIST_FOLDER = re.compile(
    r"^(?P<data>.+?)_png_(?P<split>training|testing)_(?P<label>\d+)_(?P<idx>\d+)$"
)
_SPLIT_FOLDERS = ("train", "val", "test")
_EXTRAS = ("label",)

Entry = tuple[Path, int, str]  # file, label, split


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
        src: the folder holding the INRs (``mnist-inrs`` or ``fmnist_inrs``).
        splits: the splits JSON (default: :func:`find_splits_file`).

    Raises:
        WeightnetError: on a missing folder, no INRs, a malformed splits file, a path in
            it that matches no file, a missing label, or INRs of different architectures.
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
    spec = spec_of_file(paths[0], "sin", extras=_EXTRAS, w0=W0)
    mnist = _MNIST_FOLDER.match(paths[0].relative_to(src).parts[0])
    data_name = mnist.group("data") if mnist else re.split(r"[-_]", src.name)[0]

    return files_source(
        paths,
        spec,
        ["run_id", "label", "split", "file"],
        [
            [i, label, split, path.relative_to(src).as_posix()]
            for i, (path, label, split) in enumerate(entries)
        ],
        extras=_EXTRAS,
        recipe="convert:dws-inr",
        activation="sin",
        dataset={
            "name": f"{data_name}-inr",
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


def _label_in_file(path: Path) -> int:
    """The ``label`` saved inside an INR file (the Fashion-MNIST release)."""
    label = load_state_dict(path, extras=_EXTRAS).get("label")
    if label is None:
        raise WeightnetError(f"{path}: no label (give a splits JSON with labels via --splits)")
    return int(label)


def _entries_from_json(path: Path, src: Path, files: list[Path]) -> list[Entry]:
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
        if isinstance(part, list):  # {"train": [paths]}: labels are inside the files
            names, labels = part, [None] * len(part)
        elif isinstance(part, dict) and {"path", "label"} <= set(part):
            names, labels = part["path"], part["label"]
        else:
            raise WeightnetError(f"{path}: split {split!r} needs 'path' and 'label' lists")
        if len(names) != len(labels):
            raise WeightnetError(f"{path}: split {split!r} has unequal path and label lists")
        for i, (name, label) in enumerate(zip(names, labels, strict=True)):
            parts = PurePath(name).parts
            match = next(
                (by_parts[parts[k:]] for k in range(len(parts)) if parts[k:] in by_parts), None
            )
            if match is None:
                raise WeightnetError(f"{path}: {split}[{i}] {name} matches no file under {src}")
            try:
                entries.append(
                    (match, _label_in_file(match) if label is None else int(label), split)
                )
            except (TypeError, ValueError):
                raise WeightnetError(
                    f"{path}: {split}[{i}] label {label!r} is not an integer"
                ) from None
    return entries


def _entries_from_names(src: Path, files: list[Path]) -> list[Entry]:
    """``(file, label, split)`` from the folder names (see the module docstring)."""
    keyed = []
    for path in files:
        top = path.relative_to(src).parts[0]
        match = _MNIST_FOLDER.match(top)
        if match is not None:
            split = "train" if match.group("split") == "training" else "test"
            key = (_SPLIT_FOLDERS.index(split), int(match.group("idx")), path.name)
            keyed.append((key, (path, int(match.group("label")), split)))
        elif top in _SPLIT_FOLDERS and path.parent == src / top:
            idx = re.findall(r"\d+", path.stem)
            key = (_SPLIT_FOLDERS.index(top), int(idx[-1]) if idx else -1, path.name)
            keyed.append((key, (path, _label_in_file(path), top)))
        else:
            raise WeightnetError(
                f"{path}: not <data>_png_<training|testing>_<label>_<index>/... nor "
                f"<train|val|test>/*.pth (give the splits JSON with --splits)"
            )
    return [entry for _, entry in sorted(keyed)]
