"""The NFN SIREN datasets (Zhou et al. 2023, "Permutation Equivariant Neural Functionals").

Released as ``siren_mnist_wts/``, ``siren_fashion_wts/``, ``siren_cifar_wts/``
(``experiments/README.md`` of github.com/AllanYangZhou/nfn), read by
``experiments/data_utils.py``'s ``SirenDataset``: one folder per class and variant,
``<prefix>_<label>s/net<index>.pth`` (e.g. ``randinit_smaller_3s/net1234.pth``;
augmented copies use prefixes like ``randinit_smaller_aug0``), one state_dict per
image. The network is ``experiments/siren_utils.py``'s ``Siren(2, 32, 1 hidden
layer, out)``: keys ``net.0.linear.*`` (32, 2), ``net.1.linear.*`` (32, 32),
``net.2.*`` (out, 32), sine layers ``sin(30 (W x + b))``, a linear last layer, no
output offset; out is 1 (MNIST, FashionMNIST) or 3 (CIFAR-10). It is evaluated on
``get_mgrid``: ``torch.meshgrid(linspace(-1, 1, n), linspace(-1, 1, n))`` (``ij``
indexing), flattened, and reproduces the image normalized to ``[-1, 1]``.

NFN's split: ``index < 45000`` train, ``< 50000`` val, the rest (the datasets' test
images) test (``split_points: [45000, 50000]`` in ``classify_siren_configs/dset``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from weightnet.data.formats.source import ConvertedSource
from weightnet.data.formats.state_dicts import files_source, spec_of_file
from weightnet.errors import WeightnetError

__all__ = ["read_nfn_siren", "W0", "SPLIT_POINTS"]

#: ``first_omega_0`` and ``hidden_omega_0`` of NFN's SIRENs.
W0 = 30.0
#: NFN's ``split_points``: first val index, first test index.
SPLIT_POINTS = (45000, 50000)

_CLASS_FOLDER = re.compile(r"^(?P<prefix>.+)_(?P<label>\d)s$")
_NET_FILE = re.compile(r"^net(?P<idx>\d+)\.pth$")


def read_nfn_siren(
    src: str | Path, prefix: str | None = None, split_points: Sequence[int] = SPLIT_POINTS
) -> ConvertedSource:
    """Describe an NFN SIREN folder as a streamed :class:`ConvertedSource`.

    Args:
        src: the extracted folder, e.g. ``siren_mnist_wts``.
        prefix: which variant to convert (``randinit_smaller``, ``randinit_smaller_aug0``,
            ...); may be left out when the folder holds only one.
        split_points: first val index and first test index (NFN's protocol by default).

    Raises:
        WeightnetError: on a missing folder, no SIRENs, several variants and no
            ``prefix``, duplicate network indices, or SIRENs of different architectures.
    """
    src = Path(src)
    if not src.is_dir():
        raise WeightnetError(f"{src}: no such folder")
    val_point, test_point = (int(p) for p in split_points)
    by_prefix: dict[str, list[tuple[int, int, Path]]] = {}
    for folder in sorted(p for p in src.iterdir() if p.is_dir()):
        match = _CLASS_FOLDER.match(folder.name)
        if match is None:
            continue
        for file in folder.iterdir():
            net = _NET_FILE.match(file.name)
            if net is not None:
                entry = (int(net.group("idx")), int(match.group("label")), file)
                by_prefix.setdefault(match.group("prefix"), []).append(entry)
    if not by_prefix:
        raise WeightnetError(f"{src}: no <prefix>_<label>s/net<index>.pth files found")
    if prefix is None:
        if len(by_prefix) > 1:
            raise WeightnetError(
                f"{src}: several variants ({', '.join(sorted(by_prefix))}): choose one with --prefix"
            )
        prefix = next(iter(by_prefix))
    if prefix not in by_prefix:
        raise WeightnetError(f"{src}: no variant {prefix!r} (found {', '.join(sorted(by_prefix))})")
    entries = sorted(by_prefix[prefix])
    indices = [e[0] for e in entries]
    if len(set(indices)) != len(indices):
        dup = next(i for i, j in zip(indices, indices[1:], strict=False) if i == j)
        raise WeightnetError(f"{src}: network index {dup} appears in two class folders")
    paths = [e[2] for e in entries]
    spec = spec_of_file(paths[0], "sin", w0=W0)

    def split_of(idx: int) -> str:
        return "train" if idx < val_point else "val" if idx < test_point else "test"

    side = 32 if "cifar" in src.name.lower() else 28
    name = src.name.removeprefix("siren_").removesuffix("_wts")
    return files_source(
        paths,
        spec,
        ["run_id", "label", "split", "net_index", "file"],
        [
            [i, label, split_of(idx), idx, path.relative_to(src).as_posix()]
            for i, (idx, label, path) in enumerate(entries)
        ],
        recipe="convert:nfn-siren",
        activation="sin",
        dataset={
            "name": f"{name}-siren",
            "input_shape": [spec.layers[0].n_in],
            "image_shape": [side, side, spec.layers[-1].n_out],
            "coordinates": f"torch.meshgrid(linspace(-1, 1, {side}) x2), ij indexing",
            "output_range": [-1.0, 1.0],
            "num_classes": len({e[1] for e in entries}),
        },
        source={
            "format": "nfn-siren",
            "path": str(src.resolve()),
            "prefix": prefix,
            "split_points": [val_point, test_point],
            "reference": "Zhou et al. 2023, arXiv:2302.14040 (github.com/AllanYangZhou/nfn)",
        },
    )
