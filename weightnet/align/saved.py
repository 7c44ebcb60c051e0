"""A trained :class:`~weightnet.align.learned.LearnedAligner` on disk, in a portable safe form.

``NAME.safetensors`` holds the parameters; ``NAME.json`` beside it the architecture it
aligns (the :class:`~weightnet.weightspace.WeightSpec`), the aligner's constructor
arguments and the weight-normalization statistics of its training data. Nothing is
unpickled when loading, and both files are written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

from weightnet.align.learned import LearnedAligner
from weightnet.data.normalization import WeightStats
from weightnet.errors import WeightnetError
from weightnet.io import atomic_path
from weightnet.weightspace import SpecError, WeightSpec

__all__ = ["FORMAT", "load_aligner", "save_aligner"]

#: The ``format`` entry of the JSON file.
FORMAT = "weightnet-aligner"
_VERSION = 1


def _paths(path: str | Path) -> tuple[Path, Path]:
    """``(NAME.safetensors, NAME.json)`` for a path to either file or a folder holding ``aligner.*``."""
    path = Path(path)
    if path.is_dir():
        path = path / "aligner.safetensors"
    return path.with_suffix(".safetensors"), path.with_suffix(".json")


def save_aligner(
    model: LearnedAligner, stats: WeightStats | None, path: str | Path
) -> tuple[Path, Path]:
    """Write ``model`` (and the statistics its inputs are normalized with) to ``path``.

    Args:
        model: the trained aligner.
        stats: per-tensor normalization of the networks it reads (``None``: raw weights).
        path: ``NAME.safetensors`` (or ``NAME.json``, or a folder: ``aligner.*`` inside).

    Returns:
        The two paths written.
    """
    from safetensors.torch import save_file

    weights_path, config_path = _paths(path)
    config = {
        "format": FORMAT,
        "version": _VERSION,
        "spec": model.spec.to_dict(),
        "model": model.config(),
        "stats": stats.to_dict() if stats is not None else None,
    }
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_path(weights_path) as tmp:
        save_file(tensors, str(tmp))
    with atomic_path(config_path) as tmp:
        tmp.write_text(json.dumps(config, indent=1) + "\n")
    return weights_path, config_path


def load_aligner(path: str | Path) -> tuple[LearnedAligner, WeightStats | None]:
    """Read an aligner written by :func:`save_aligner` (in eval mode) and its statistics.

    Raises:
        WeightnetError: one line naming the file when it is missing or not an aligner.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights_path, config_path = _paths(path)
    for file in (weights_path, config_path):
        if not file.is_file():
            raise WeightnetError(
                f"{file}: no such file (a learned aligner is NAME.safetensors + NAME.json)"
            )
    try:
        config = json.loads(config_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WeightnetError(f"{config_path}: not JSON ({err})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise WeightnetError(f"{config_path}: not a {FORMAT} file")
    try:
        spec = WeightSpec.from_dict(config["spec"])
        model = LearnedAligner(spec, **config["model"])
        stats = WeightStats.from_dict(config["stats"]) if config.get("stats") else None
    except (KeyError, TypeError, ValueError, SpecError) as err:
        raise WeightnetError(f"{config_path}: bad aligner description ({err})") from None
    try:
        tensors = load_file(str(weights_path))
        model.load_state_dict(tensors)
    except (SafetensorError, RuntimeError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise WeightnetError(
            f"{weights_path}: cannot load the aligner's parameters ({first})"
        ) from None
    return model.eval(), stats
