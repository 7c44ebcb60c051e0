"""The Small CNN Zoo (Unterthiner et al. 2020, "Predicting Neural Network Accuracy from Weights").

One folder per dataset (CIFAR10-GS, SVHN-GS, MNIST, Fashion-MNIST) with

* ``weights.npy``: ``N x 4970`` float32, one flattened network per row;
* ``layout.csv``: ``varname,start_idx,end_idx,size,shape`` with TensorFlow variable
  names (``sequential/conv2d/bias:0``, ``sequential/conv2d/kernel:0``, ...), in
  TensorFlow orientation (conv kernels ``(kh, kw, in, out)``, dense kernels
  ``(in, out)``), each bias stored *before* its kernel;
* ``metrics.csv.gz``: ``config.*`` hyperparameters, ``step`` (the epoch of the
  checkpoint: 0, 1, 2, 3, 20, 40, 60, 80, 86), ``modeldir`` (one per training run),
  ``test_accuracy``, ``test_loss``, ``train_accuracy``, ``train_loss``.

The network (``build_cnn`` in google-research ``dnn_predict_accuracy/train_network.py``):
three ``Conv2D(16, 3, strides=2)`` layers with Keras' default ``padding="valid"``
(no padding), each followed by ``config.activation``; global average pooling;
``Dense(10)``. Inputs are grayscale images (RGB averaged) scaled to ``[-1, 1]``.

Conversion is a fixed permutation of the columns: every kernel is transposed to
PyTorch orientation (``(out, in, kh, kw)``, ``(out, in)``) and each layer's weight
comes before its bias; key names drop the ``sequential/`` prefix and ``:0``
(``sequential/conv2d_1/kernel:0`` -> ``conv2d_1.weight``).

``--splits`` takes NFN's shuffle file (``experiments/predict_gen_data_splits/
cifar10_split.csv`` in github.com/AllanYangZhou/nfn: one row index per line, a
permutation of all rows) and reproduces NFN's protocol in a ``split`` column: in
shuffled order, keep the final checkpoints (the largest ``step``), the second half
is ``test``, the first half is shuffled with ``random.Random(0)`` and cut 80/20 into
``train`` / ``val``; other rows get an empty ``split``.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from weightnet.data.formats.source import CHUNK_ROWS, ConvertedSource
from weightnet.data.npy import NpyRows
from weightnet.errors import WeightnetError
from weightnet.weightspace import LayerSpec, SpecError, WeightSpec, read_layout_csv

__all__ = ["read_cnn_zoo", "CONV_STRIDE", "CONV_PADDING"]

#: Stride of every conv layer (``cnn_stride`` flag of train_network.py, 2 for the zoo).
CONV_STRIDE = 2
#: Padding of every conv layer (Keras ``Conv2D`` default ``"valid"``).
CONV_PADDING = 0

_TF_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "linear": "identity"}
_INPUT_SHAPES = {
    "cifar10": [1, 32, 32],
    "svhn_cropped": [1, 32, 32],
    "mnist": [1, 28, 28],
    "fashion_mnist": [1, 28, 28],
}


def read_cnn_zoo(src: str | Path, splits: str | Path | None = None) -> ConvertedSource:
    """Describe the Small CNN Zoo folder ``src`` as a streamed :class:`ConvertedSource`.

    Args:
        src: the extracted folder (``weights.npy``, ``layout.csv``, ``metrics.csv.gz``).
        splits: NFN's shuffled-index file, to add NFN's train/val/test ``split`` column.

    Raises:
        WeightnetError: on a missing file, a layout that is not this architecture family,
            a row count that differs between the files, or an unknown activation.
    """
    src = Path(src)
    if not src.is_dir():
        raise WeightnetError(f"{src}: no such folder")
    weights = NpyRows.open(src / "weights.npy")
    spec, columns = _spec_from_tf_layout(src / "layout.csv", weights.shape[1])
    metrics_path = _metrics_path(src)
    header, table = _scan_metrics(metrics_path)
    if table["num_rows"] != weights.shape[0]:
        raise WeightnetError(
            f"{metrics_path}: {table['num_rows']} rows but weights.npy has {weights.shape[0]}"
        )
    acts = table["activations"]
    activation = acts[0] if len(acts) == 1 else acts
    spec = spec.with_activation(acts[0])
    split = _nfn_split(Path(splits), table["step"]) if splits is not None else None

    out_columns = ["run_id", *(c for c in header if c), *(["split"] if split else [])]
    keep = [i for i, c in enumerate(header) if c]

    def weight_chunks() -> Iterator[np.ndarray]:
        for block in weights.chunks(CHUNK_ROWS):
            yield block[:, columns].astype(np.float32, copy=False)  # (n, P) PyTorch layout

    def metric_rows() -> Iterator[list]:
        for i, row in enumerate(_read_rows(metrics_path)):
            values = [int(table["run_id"][i]), *(row[k] for k in keep)]
            yield values + ([split[i]] if split else [])

    dataset_name = table["dataset"] or "unknown"
    dataset = {
        "name": dataset_name,
        "preprocessing": "pixels scaled to [-1, 1], then averaged over colour channels",
    }
    if dataset_name in _INPUT_SHAPES:
        dataset["input_shape"] = _INPUT_SHAPES[dataset_name]
    return ConvertedSource(
        spec=spec,
        num_rows=weights.shape[0],
        weight_chunks=weight_chunks,
        metric_columns=out_columns,
        metric_rows=metric_rows,
        recipe="convert:cnn-zoo",
        activation=activation,
        dataset=dataset,
        source={
            "format": "cnn-zoo",
            "path": str(src.resolve()),
            "weights_bytes": (src / "weights.npy").stat().st_size,
            "splits": str(Path(splits).resolve()) if splits is not None else None,
            "reference": "Unterthiner et al. 2020, arXiv:2002.11448 (Small CNN Zoo, CC-BY 4.0)",
        },
    )


def _spec_from_tf_layout(path: Path, num_params: int) -> tuple[WeightSpec, np.ndarray]:
    """The PyTorch-orientation spec and the source column of every converted column."""
    try:
        rows = read_layout_csv(path)
    except FileNotFoundError:
        raise WeightnetError(f"{path}: no such file") from None
    except (KeyError, ValueError, SyntaxError) as err:
        raise WeightnetError(f"{path}: not a layout.csv ({err})") from None
    expected_start = 0
    tensors: dict[str, dict[str, tuple[int, tuple[int, ...]]]] = {}
    for name, start, end, size, shape in rows:
        if start != expected_start or end - start != size or size != int(np.prod(shape)):
            raise WeightnetError(f"{path}: row {name} does not continue the layout at {start}")
        expected_start = end
        parts = name.removesuffix(":0").split("/")
        if len(parts) < 2 or parts[-1] not in ("kernel", "bias"):
            raise WeightnetError(f"{path}: {name} is neither a kernel nor a bias")
        tensors.setdefault("/".join(parts[:-1]), {})[parts[-1]] = (start, shape)
    if expected_start != num_params:
        raise WeightnetError(
            f"{path}: describes {expected_start} parameters, weights.npy rows have {num_params}"
        )
    layers, columns = [], []
    for layer_name, parts in tensors.items():
        if set(parts) != {"kernel", "bias"}:
            raise WeightnetError(f"{path}: layer {layer_name} needs a kernel and a bias")
        (k_start, k_shape), (b_start, b_shape) = parts["kernel"], parts["bias"]
        index = np.arange(k_start, k_start + int(np.prod(k_shape))).reshape(k_shape)
        if len(k_shape) == 4:  # (kh, kw, in, out) -> (out, in, kh, kw)
            index, kind = index.transpose(3, 2, 0, 1), "conv"
        elif len(k_shape) == 2:  # (in, out) -> (out, in)
            index, kind = index.T, "linear"
        else:
            raise WeightnetError(f"{path}: {layer_name} kernel has shape {k_shape}")
        if b_shape != (index.shape[0],):
            raise WeightnetError(f"{path}: {layer_name} bias {b_shape} vs kernel {k_shape}")
        key = layer_name.split("/", 1)[1] if layer_name.startswith("sequential/") else layer_name
        key = key.replace("/", ".")
        conv = kind == "conv"
        layers.append(
            LayerSpec(
                f"{key}.weight",
                f"{key}.bias",
                kind,
                index.shape,
                stride=CONV_STRIDE if conv else 1,
                padding=CONV_PADDING if conv else 0,
            )
        )
        columns += [index.ravel(), np.arange(b_start, b_start + b_shape[0])]
    try:
        spec = WeightSpec(tuple(layers)).with_activation("relu")
    except SpecError as err:
        raise WeightnetError(f"{path}: {err}") from None
    return spec, np.concatenate(columns)


def _metrics_path(src: Path) -> Path:
    for name in ("metrics.csv.gz", "metrics.csv"):
        if (src / name).is_file():
            return src / name
    raise WeightnetError(f"{src}: no metrics.csv.gz (nor metrics.csv)")


def _read_rows(path: Path) -> Iterator[list[str]]:
    """Data rows of a (gzipped) CSV file, header skipped."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        yield from reader


def _scan_metrics(path: Path) -> tuple[list[str], dict]:
    """One pass over the metrics: header, row count, activations, steps, run ids."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8") as fh:
            header = next(csv.reader(fh), None)
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise WeightnetError(f"{path}: unreadable ({err})") from None
    if not header:
        raise WeightnetError(f"{path}: empty file")
    header = [h.strip() for h in header]
    missing = {"config.activation", "step", "modeldir"} - set(header)
    if missing:
        raise WeightnetError(f"{path}: missing columns {sorted(missing)}")
    col = {name: header.index(name) for name in ("config.activation", "step", "modeldir")}
    dataset_col = header.index("config.dataset") if "config.dataset" in header else None
    runs: dict[str, int] = {}
    run_id, steps, acts = [], [], []
    dataset = None
    try:
        for i, row in enumerate(_read_rows(path)):
            if len(row) != len(header):
                raise WeightnetError(
                    f"{path}: row {i + 1} has {len(row)} fields, not {len(header)}"
                )
            tf_act = row[col["config.activation"]]
            if tf_act not in _TF_ACTIVATIONS:
                raise WeightnetError(f"{path}: row {i + 1}: unsupported activation {tf_act!r}")
            acts.append(_TF_ACTIVATIONS[tf_act])
            steps.append(int(float(row[col["step"]])))
            run_id.append(runs.setdefault(row[col["modeldir"]], len(runs)))
            if dataset is None and dataset_col is not None:
                dataset = row[dataset_col]
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as err:
        raise WeightnetError(f"{path}: unreadable ({err})") from None
    unique_acts = sorted(set(acts))
    return header, {
        "num_rows": len(steps),
        "activations": unique_acts if len(unique_acts) > 1 else unique_acts[:1],
        "step": np.asarray(steps, dtype=np.int64),
        "run_id": np.asarray(run_id, dtype=np.int64),
        "dataset": dataset,
    }


def _nfn_split(path: Path, step: np.ndarray) -> list[str]:
    """NFN's train/val/test assignment of every row ('' for rows NFN does not use)."""
    if not path.is_file():
        raise WeightnetError(f"{path}: no such file")
    try:
        with open(path, newline="") as fh:
            order = np.asarray([int(row[0]) for row in csv.reader(fh) if row], dtype=np.int64)
    except (ValueError, IndexError) as err:
        raise WeightnetError(f"{path}: expected one row index per line ({err})") from None
    n = len(step)
    if len(order) != n or not np.array_equal(np.sort(order), np.arange(n)):
        raise WeightnetError(f"{path}: not a permutation of the zoo's {n} rows")
    final = order[step[order] == step.max()]  # final checkpoints, in shuffled order
    half = int(0.5 * len(final))
    trainval = list(range(half))
    random.Random(0).shuffle(trainval)
    cut = int(0.8 * len(trainval))
    split = [""] * n
    for name, positions in (("train", trainval[:cut]), ("val", trainval[cut:])):
        for p in positions:
            split[final[p]] = name
    for row in final[half:]:
        split[row] = "test"
    return split
