"""Safe reading and atomic writing of state_dict files (``.pt``, ``.pth``, ``.safetensors``).

Weights files are untrusted data: pickles are only ever read with
``torch.load(..., weights_only=True)``, which refuses to build arbitrary objects,
and every write goes to a temporary name first and is renamed into place.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Collection, Mapping
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import Tensor

from weightnet.errors import WeightnetError

__all__ = [
    "STATE_DICT_SUFFIXES",
    "atomic_path",
    "check_checkpoint",
    "load_network",
    "load_state_dict",
    "save_state_dict",
]

STATE_DICT_SUFFIXES = (".pt", ".pth", ".safetensors")
_ORDER_KEY = "weightnet.key_order"
_ACTIVATION_KEY = "weightnet.activation"
#: Entries of a checkpoint dict that may record the hidden activation beside its state_dict.
_HYPERPARAMETER_KEYS = ("hyper_parameters", "hparams", "config")


def load_state_dict(
    path: str | Path, *, allow_nonfinite: bool = False, extras: Collection[str] = ()
) -> dict[str, Tensor]:
    """Read a state_dict of tensors, safely.

    Accepts a plain state_dict or a dict holding one under ``"state_dict"`` /
    ``"model_state_dict"`` (common checkpoint layouts). Entries named in ``extras``
    (e.g. a ``"label"`` saved beside the weights) may hold plain values; they are
    returned as they are, under their names.

    Raises:
        WeightnetError: one line naming ``path`` and the problem (missing, a folder, wrong
            extension, unreadable, would execute code, not a dict of tensors, NaN/Inf).
    """
    return load_network(path, allow_nonfinite=allow_nonfinite, extras=extras)[0]


def load_network(
    path: str | Path, *, allow_nonfinite: bool = False, extras: Collection[str] = ()
) -> tuple[dict[str, Tensor], str | None]:
    """A state_dict (as :func:`load_state_dict` reads it) and the activation its file records.

    The hidden activation is recorded by the ``weightnet.activation`` metadata of a
    ``.safetensors`` file (:func:`save_state_dict` writes it), or, in a checkpoint dict
    that holds its state_dict under ``"state_dict"`` / ``"model_state_dict"``, by an
    ``"activation"`` string beside it or inside its ``"hyper_parameters"``,
    ``"hparams"`` or ``"config"`` mapping. ``None``: the file does not say.

    Raises:
        WeightnetError: as :func:`load_state_dict`.
    """
    path = Path(path)
    if path.is_dir():
        raise WeightnetError(f"{path}: is a folder, not a weights file (.pt, .pth, .safetensors)")
    if not path.is_file():
        raise WeightnetError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in STATE_DICT_SUFFIXES:
        raise WeightnetError(
            f"{path}: unsupported extension {suffix!r} (use .pt, .pth or .safetensors)"
        )
    activation = None
    if suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            obj = load_file(str(path))
            metadata = _safetensors_metadata(path)
        except (SafetensorError, OSError, ValueError) as err:
            raise WeightnetError(
                f"{path}: not a readable safetensors file ({_first_line(err)})"
            ) from None
        obj = _in_saved_order(obj, metadata)
        activation = metadata.get(_ACTIVATION_KEY)
    else:
        obj = _safe_torch_load(path)
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model_state_dict"):
            if isinstance(obj.get(key), Mapping):
                activation = _recorded_activation(obj)
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise WeightnetError(
            f"{path}: expected a non-empty dict of tensors, got {type(obj).__name__}"
        )
    bad = [k for k, v in obj.items() if not isinstance(v, Tensor) and k not in extras]
    if bad:
        raise WeightnetError(f"{path}: entry {bad[0]!r} is not a tensor")
    state = {str(k): v for k, v in obj.items()}
    if not allow_nonfinite:
        for key, value in state.items():
            if key in extras:
                continue
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                raise WeightnetError(f"{path}: {key} contains NaN or Inf values")
    return state, activation


def _recorded_activation(checkpoint: Mapping) -> str | None:
    """The ``"activation"`` string a checkpoint dict records beside its state_dict, if any."""
    places = [checkpoint, *(checkpoint.get(k) for k in _HYPERPARAMETER_KEYS)]
    for place in places:
        if isinstance(place, Mapping) and isinstance(place.get("activation"), str):
            return place["activation"]
    return None


def check_checkpoint(path: str | Path) -> Path:
    """Check that ``path`` is a file that loads with ``torch.load(weights_only=True)``.

    For files handed to code that unpickles by itself (e.g. Lightning's ``ckpt_path``):
    a checkpoint holding arbitrary Python objects is refused before anything loads it.

    Raises:
        WeightnetError: one line naming ``path`` and the problem.
    """
    path = Path(path)
    if path.is_dir():
        raise WeightnetError(f"{path}: is a folder, not a checkpoint file")
    if not path.is_file():
        raise WeightnetError(f"{path}: no such checkpoint file")
    _safe_torch_load(path)
    return path


def _safe_torch_load(path: Path) -> object:
    """``torch.load(path, weights_only=True)`` on the CPU; failures as one-line errors."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure of the safe unpickler is bad input
        if "Unsupported global" in str(err) or "GLOBAL" in str(err):
            raise WeightnetError(
                f"{path}: refused to load: the file contains Python objects other than tensors "
                f"(it could run code when unpickled)"
            ) from None
        raise WeightnetError(
            f"{path}: not a readable PyTorch file ({_unpickler_reason(err)})"
        ) from None


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_state_dict(
    state_dict: Mapping[str, Tensor], path: str | Path, activation: str | None = None
) -> None:
    """Write ``state_dict`` to ``path`` (format from the extension), atomically.

    A ``.safetensors`` file also records the key order and, when given, the hidden
    ``activation`` (read back by :func:`load_network`); ``.pt`` / ``.pth`` files hold the
    plain state_dict only.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in STATE_DICT_SUFFIXES:
        raise WeightnetError(
            f"{path}: unsupported extension {suffix!r} (use .pt, .pth or .safetensors)"
        )
    tensors = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
    with atomic_path(path) as tmp:
        if suffix == ".safetensors":
            from safetensors.torch import save_file

            metadata = {_ORDER_KEY: json.dumps(list(tensors))}
            if activation is not None:
                metadata[_ACTIVATION_KEY] = activation
            save_file(tensors, str(tmp), metadata=metadata)
        else:
            torch.save(tensors, tmp)


def _safetensors_metadata(path: Path) -> dict[str, str]:
    """The string metadata of a ``.safetensors`` file (``{}`` if none)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return dict(fh.metadata() or {})


def _in_saved_order(tensors: dict[str, Tensor], metadata: Mapping[str, str]) -> dict[str, Tensor]:
    """Restore the key order (layer order) that safetensors does not keep.

    Files written by :func:`save_state_dict` record it in their metadata; for other
    files keys are sorted naturally (``net.2`` before ``net.10``).
    """
    order = metadata.get(_ORDER_KEY)
    keys = json.loads(order) if order else None
    if not keys or sorted(keys) != sorted(tensors):
        keys = sorted(
            tensors, key=lambda k: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", k)]
        )
    return {k: tensors[k] for k in keys}


def _unpickler_reason(err: BaseException) -> str:
    """The useful line of a ``weights_only`` unpickling error."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if "WeightsUnpickler error" in line and i + 1 < len(lines):
            return lines[i + 1][:200]
    return _first_line(err)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__
