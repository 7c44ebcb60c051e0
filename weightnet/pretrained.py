"""Pretrained metanets: a safe, portable file format, loading, and prediction.

A metanet file is a pair ``NAME.safetensors`` (the model's weights) + ``NAME.json``
(plain data: the model class name from :data:`weightnet.models.MODELS` and its
constructor arguments, the task and its output, what networks it reads, the
normalization, its measured held-out quality, and the training data). Nothing is ever
unpickled: Lightning ``.ckpt`` files written by ``train.py`` load too, with
``torch.load(weights_only=True)``, the model rebuilt from the hyperparameters and
datamodule state the checkpoint stores as plain values.

Shipped metanets live in ``weightnet/pretrained/`` and are rebuilt, byte for byte from
fixed seeds, by ``python -m weightnet.pretrained build NAME`` (see :data:`RECIPES`)::

    metanet = weightnet.load_pretrained("digits-mlp")
    metanet.predict([torch.load("net.pt", weights_only=True)])   # [0.93]

This module imports neither Lightning nor Hydra on the prediction path.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from weightnet.domain import TrainingDomain
from weightnet.errors import WeightnetError
from weightnet.weightspace import SpecError, WeightSpace, WeightSpec

__all__ = [
    "FORMAT",
    "RECIPES",
    "NetworkReport",
    "Pretrained",
    "PretrainedRecipe",
    "build_pretrained",
    "list_pretrained",
    "load_pretrained",
    "save_pretrained",
]

#: The ``format`` entry of every metanet JSON file (with ``format_version`` 1).
FORMAT = "weightnet-metanet"
_SHIPPED = "pretrained"  # package data folder


# ---------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class Reads:
    """Which networks a metanet reads.

    Attributes:
        kind: ``"mlp"`` or ``"cnn"`` or ``"siren"``.
        n_in: input features (``None``: any).
        n_out: outputs (``None``: any).
        activations: hidden-layer activations it was trained on (a network of another
            activation is read, and flagged as outside the training domain).
        max_layers: most layers (weight matrices) it can embed.
        spec: the one architecture it reads (tensor metanets), else ``None``.
        description: one line for people.
        input_scale: the input frame of the networks it reads: their inputs were the raw
            digits pixel values times this (``1/16`` for the digits zoos); ``None``: not
            recorded.
    """

    kind: str
    n_in: int | None
    n_out: int | None
    activations: tuple[str, ...]
    max_layers: int | None
    spec: WeightSpec | None
    description: str
    input_scale: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "n_in": self.n_in,
            "n_out": self.n_out,
            "activations": list(self.activations),
            "max_layers": self.max_layers,
            "spec": self.spec.to_dict() if self.spec is not None else None,
            "description": self.description,
            **({"input_scale": self.input_scale} if self.input_scale is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reads:
        spec = data.get("spec")
        return cls(
            kind=str(data["kind"]),
            n_in=data.get("n_in"),
            n_out=data.get("n_out"),
            activations=tuple(data.get("activations") or ()),
            max_layers=data.get("max_layers"),
            spec=WeightSpec.from_dict(spec) if spec else None,
            description=str(data.get("description", "")),
            input_scale=data.get("input_scale"),
        )

    def why_not(self, spec: WeightSpec, name: str) -> str | None:
        """Why this metanet cannot read networks of ``spec`` (``None``: it can)."""
        kinds = {"mlp": "MLPs", "cnn": "CNNs", "siren": "SIRENs"}
        if self.kind == "siren" and self.spec is not None:  # one SIREN architecture
            sizes = "-".join(map(str, self.spec.layer_sizes))
            if spec.kind != "siren" or spec.layer_sizes != self.spec.layer_sizes:
                return f"{name} reads {sizes} SIRENs (sin activations), this is a {spec.describe()}"
            return None
        if spec.kind != self.kind and not (self.kind == "siren" and spec.kind == "mlp"):
            found = "conv layers" if spec.kind == "cnn" else f"a {spec.kind.upper()}"
            return f"{found}, but {name} reads {kinds.get(self.kind, self.kind)}"
        if self.n_in is not None and spec.layers[0].n_in != self.n_in:
            return f"{self.n_in} inputs expected, the network has {spec.layers[0].n_in}"
        if self.n_out is not None and spec.layers[-1].n_out != self.n_out:
            return f"{self.n_out} outputs expected, the network has {spec.layers[-1].n_out}"
        if self.max_layers is not None and len(spec) > self.max_layers:
            return f"{len(spec)} layers, {name} reads at most {self.max_layers}"
        if self.spec is not None and spec.with_activation("relu") != self.spec.with_activation(
            "relu"
        ):
            return f"architecture {spec.describe()}, but {name} reads {self.spec.describe()} only"
        return None


@dataclass(frozen=True)
class NetworkReport:
    """How a metanet reads one network.

    Attributes:
        spec: the architecture used (activations included).
        activation: the hidden activation used.
        in_domain: whether the network lies inside the metanet's training domain.
        reason: why not (``None`` when inside).
    """

    spec: WeightSpec
    activation: str
    in_domain: bool
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``activation``, ``architecture``, ``spec``, ``in_domain``, ``reason``."""
        return {
            "activation": self.activation,
            "architecture": self.spec.describe(),
            "spec": self.spec.to_dict(),
            "in_domain": self.in_domain,
            "reason": self.reason,
        }


class Pretrained:
    """A trained metanet ready to predict, with its description.

    Attributes:
        name: the metanet's name (shipped name or file stem).
        model: the metanet (eval mode).
        meta: the JSON description (see the module docstring).
        reads: which networks it reads.
        domain: the ranges of its training networks (:class:`~weightnet.domain.TrainingDomain`).
    """

    def __init__(self, name: str, model: nn.Module, meta: dict[str, Any]) -> None:
        self.name, self.model, self.meta = name, model.eval(), meta
        self.reads = Reads.from_dict(meta["reads"])
        domain = TrainingDomain.from_dict(meta.get("domain"))
        if domain.activations is None and self.reads.activations:
            domain = replace(domain, activations=self.reads.activations)
        self.domain = domain
        norm = meta.get("normalization") or {}
        self._scaling = self._stats = None
        if norm.get("kind") == "fan_in":
            from weightnet.data.fan_in_scaling import FanInScaling

            self._scaling = FanInScaling.from_dict(norm)
        elif norm.get("kind") == "per_layer":
            from weightnet.data.normalization import WeightStats

            self._stats = WeightStats.from_dict(norm)
        self._probes = None
        if (meta.get("input") or {}).get("probes"):
            from weightnet.probes import ProbeChannels

            self._probes = ProbeChannels(**meta["input"]["probes"])
        self._references = None
        if (meta.get("input") or {}).get("align"):
            from weightnet.pretrained_inr import alignment_references

            self._references = alignment_references(self.reads.spec, meta["input"]["align"])

    def __repr__(self) -> str:
        return f"Pretrained({self.name!r}: {self.reads.description})"

    @property
    def graph_input(self) -> bool:
        """Whether the model reads parameter graphs (any architecture)."""
        return bool(self.meta["model"].get("graph_input"))

    @property
    def activations(self) -> tuple[str, ...]:
        """The hidden activations of its training networks (as far as recorded)."""
        if self.domain.activations:
            return self.domain.activations
        if self.reads.spec is not None:
            return tuple(sorted(set(self.reads.spec.activations[:-1]))) or ("identity",)
        return ()

    def activation_for(self, activation: str | None = None) -> str:
        """The hidden activation to read a state_dict with: ``activation``, or the only one known.

        Raises:
            WeightnetError: ``activation`` is ``None`` and the metanet was trained on several
                activations (or does not record which): no silent default.
        """
        if activation is not None:
            return activation
        known = self.activations
        if len(known) == 1:
            return known[0]
        choices = f"was trained on {', '.join(known)}" if known else "records no activation"
        raise WeightnetError(
            f"the hidden activation is not recorded in the file and {self.name} {choices}: "
            f"give it with --activation (activation= in Python)"
        )

    def spec_of(self, network: Mapping[str, Tensor] | nn.Module, activation: str | None = None):
        """The architecture of one network, checked against what the metanet reads.

        Args:
            network: a state_dict or an ``nn.Module``.
            activation: the hidden activation of a state_dict (``None``: the one the metanet
                was trained on, if it knows only one); a module's own activations are read
                off it.

        Raises:
            WeightnetError: one line saying why the metanet cannot read it, or that the
                activation must be given.
        """
        try:
            if isinstance(network, nn.Module):
                spec = WeightSpec.from_module(network)
            else:
                spec = WeightSpec.from_state_dict(network, self.activation_for(activation))
        except (SpecError, ValueError) as err:
            raise WeightnetError(f"not a network {self.name} reads ({err})") from None
        why = self.reads.why_not(spec, self.name)
        if why:
            raise WeightnetError(why)
        return self._with_reference_frequencies(spec)

    def _with_reference_frequencies(self, spec: WeightSpec) -> WeightSpec:
        """A SIREN read off a state_dict gets the ``w0`` of the one architecture the metanet reads."""
        ref = self.reads.spec
        if ref is None or spec.kind != "siren" or len(ref) != len(spec):
            return spec
        layers = (replace(a, w0=b.w0) for a, b in zip(spec.layers, ref.layers, strict=True))
        return WeightSpec(tuple(layers))

    def in_input_frame(self, state_dict: Mapping[str, Tensor], frame: str) -> dict[str, Tensor]:
        """``state_dict`` of a network trained on ``frame``'s inputs, folded into this metanet's frame.

        The predicted accuracy then refers to the same network (the same function of the
        images), read in the frame the metanet was trained on
        (:mod:`weightnet.preprocessing`).

        Args:
            state_dict: an MLP whose first layer reads the digits' 64 pixels.
            frame: ``x/16``, ``raw``, ``standardized`` or a number ``s`` (inputs ``s * raw``).

        Raises:
            WeightnetError: the metanet does not record its input frame, or the network is
                not an MLP of 64 inputs.
        """
        from weightnet.preprocessing import digits_preprocessing, fold_input_affine

        if self.reads.input_scale is None:
            raise WeightnetError(
                f"{self.name} does not record the input frame of its networks (no input_scale)"
            )
        try:
            spec = WeightSpec.from_state_dict(state_dict)
        except SpecError as err:
            raise WeightnetError(f"not a network {self.name} reads ({err})") from None
        scale, shift = digits_preprocessing(frame, self.reads.input_scale)
        return fold_input_affine(state_dict, spec, scale, shift)

    def examine(
        self, network: Mapping[str, Tensor] | nn.Module, activation: str | None = None
    ) -> NetworkReport:
        """The spec and activation a network is read with, and whether it is in the training domain.

        Raises:
            WeightnetError: as :meth:`spec_of`.
        """
        spec = self.spec_of(network, activation)
        state = network.state_dict() if isinstance(network, nn.Module) else network
        flat = torch.cat(
            [torch.as_tensor(state[k]).detach().double().reshape(-1) for k in spec.keys]
        )
        reasons = self.domain.why_outside(spec, flat.numpy())
        return NetworkReport(
            spec, spec.activations[0], not reasons, "; ".join(reasons) if reasons else None
        )

    @torch.no_grad()
    def predict(
        self,
        networks: Sequence[Mapping[str, Tensor] | nn.Module],
        activation: str | Sequence[str | None] | None = None,
    ) -> list[float | dict[str, Any]]:
        """Predictions for networks given as state_dicts or modules, in order.

        Args:
            networks: state_dicts or modules.
            activation: the hidden activation of the state_dicts: one for all, or one per
                network; ``None`` only where the metanet knows a single activation (see
                :meth:`activation_for`). Modules carry their own.

        Returns:
            A float per network for regression metanets (e.g. the predicted test
            accuracy), ``{"class": int, "probs": [float, ...]}`` for classifiers.

        Raises:
            WeightnetError: ``network i: why`` for a network it cannot read (wrong
                architecture, NaN/Inf weights, ...).
        """
        groups: dict[WeightSpec, list[int]] = {}
        states = []
        if activation is None or isinstance(activation, str):
            activation = [activation] * len(networks)
        for i, (network, act) in enumerate(zip(networks, activation, strict=True)):
            try:
                spec = self.spec_of(network, act)
            except WeightnetError as err:
                raise WeightnetError(f"network {i}: {err}") from None
            state = network.state_dict() if isinstance(network, nn.Module) else network
            state = {k: torch.as_tensor(v).detach().float().cpu() for k, v in state.items()}
            if not all(bool(torch.isfinite(v).all()) for v in state.values()):
                raise WeightnetError(f"network {i}: NaN or Inf weights")
            states.append(state)
            groups.setdefault(spec, []).append(i)
        if not states:
            return []
        order = [i for members in groups.values() for i in members]
        outputs = self._forward(
            [(spec, [states[i] for i in members]) for spec, members in groups.items()]
        )  # (B, out) in ``order``
        results: list[Any] = [None] * len(order)
        for row, i in zip(outputs, order, strict=True):
            results[i] = self._output(row)
        return results

    def _forward(self, groups: list[tuple[WeightSpec, list[dict[str, Tensor]]]]) -> Tensor:
        # graph batches for metanets trained on mixed architectures; a graph metanet trained
        # on one architecture read WeightSpaces (normalized, probed) like the tensor ones
        if self.graph_input and self.reads.spec is None:
            from weightnet.data.graph_collate import GraphCollate

            specs = [spec for spec, _ in groups]
            rows = [
                (i, spec.activations[0], WeightSpace.from_state_dicts(spec, sds).flatten(), None)
                for i, (spec, sds) in enumerate(groups)
            ]  # flat rows (B_g, P_g)
            rows = [(i, a, flat, torch.zeros(len(flat))) for i, a, flat, _ in rows]
            collate = GraphCollate(
                specs,
                self._scaling,
                probe_features=self.meta["input"].get("probe_features", 0),
                probe_seed=self.meta["input"].get("probe_seed", 0),
                pyg=False,
            )
            batch, _ = collate(rows)
            return self.model(batch)
        (spec, sds), *rest = groups
        if rest and self._references is None:
            raise WeightnetError(f"{self.name} reads one architecture at a time")
        # same shapes (checked by Reads), key names may differ between groups
        ws = WeightSpace.collate([WeightSpace.from_state_dicts(s, d) for s, d in groups])
        if self._references is not None:
            from weightnet.align.nearest import align_to_nearest

            ws = align_to_nearest(self.reads.spec, ws, self._references)
        parts = (self.meta.get("input") or {}).get("canonicalize")
        if parts:  # as the training data were: {"permutation", "scale", "sign"}
            from weightnet.align.canonical import canonicalize

            ws = canonicalize(ws, self.reads.spec, **parts)
        raw = ws
        if self._stats is not None:
            ws = self._stats.normalize(ws)
        if self._probes is not None:  # computed on the raw weights, as in training
            ws = self._probes(raw, ws, self.reads.spec)
        return self.model(ws)

    def _output(self, row: Tensor) -> float | dict[str, Any]:
        if self.meta["task"]["output"] == "classification":
            probs = torch.softmax(row, dim=-1)
            return {"class": int(probs.argmax()), "probs": [float(p) for p in probs]}
        return float(torch.sigmoid(row[0]))


# ---------------------------------------------------------------------------- files
def _models() -> dict[str, Any]:
    from weightnet.models import MODELS

    return MODELS


def _build_model(model: Mapping[str, Any], spec: WeightSpec | None) -> nn.Module:
    models = _models()
    name = model["class"]
    if name not in models:
        raise WeightnetError(f"unknown metanet class {name!r} (known: {', '.join(models)})")
    return models[name](spec, **model["kwargs"])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_pretrained(
    model: nn.Module, meta: Mapping[str, Any], path: str | Path
) -> tuple[Path, Path]:
    """Write ``path.safetensors`` and ``path.json`` (atomically, each).

    Args:
        model: the metanet.
        meta: its description (``model``, ``task``, ``reads``, ``normalization``,
            ``input``, ``quality``, ``training_data``); ``format``, the parameter count
            and the weights' sha256 are added.
        path: the common path without suffix.
    """
    from safetensors.torch import save_file

    from weightnet.io import atomic_path

    base = Path(path)
    weights, description = base.with_suffix(".safetensors"), base.with_suffix(".json")
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_path(weights) as tmp:
        save_file(tensors, str(tmp))
    meta = {
        "format": FORMAT,
        "format_version": 1,
        "name": base.name,
        **meta,
        "num_parameters": sum(v.numel() for v in tensors.values()),
        "weights_sha256": _sha256(weights),
    }
    with atomic_path(description) as tmp:
        tmp.write_text(json.dumps(meta, indent=1) + "\n")
    for path in (weights, description):
        path.chmod(0o644)  # package data: readable by everyone (temporary files are 0600)
    return weights, description


def _shipped_folder() -> Path:
    return Path(str(resources.files("weightnet"))) / _SHIPPED


def list_pretrained() -> list[dict[str, Any]]:
    """The JSON descriptions of the shipped metanets, with ``file_bytes`` added."""
    out = []
    for path in sorted(_shipped_folder().glob("*.json")):
        meta = json.loads(path.read_text())
        meta["file_bytes"] = path.with_suffix(".safetensors").stat().st_size
        out.append(meta)
    return out


def load_pretrained(name_or_path: str | Path) -> Pretrained:
    """A shipped metanet by name, a ``.json``/``.safetensors`` pair, or a Lightning ``.ckpt``.

    Raises:
        WeightnetError: one line naming the file and the problem.
    """
    text = str(name_or_path)
    shipped = _shipped_folder() / f"{text}.json"
    path = shipped if ("/" not in text and shipped.is_file()) else Path(text)
    if path.suffix == ".ckpt":
        return _load_checkpoint(path)
    if path.suffix in (".json", ".safetensors"):
        return _load_pair(path.with_suffix(".json"), path.with_suffix(".safetensors"))
    names = ", ".join(m["name"] for m in list_pretrained()) or "none"
    if path.is_dir():
        raise WeightnetError(f"{path}: is a folder, not a metanet (a .json/.safetensors or .ckpt)")
    if not path.exists():
        raise WeightnetError(f"{text}: no such metanet file or shipped metanet (shipped: {names})")
    raise WeightnetError(f"{path}: not a metanet (expected .json/.safetensors or a .ckpt)")


def _load_pair(description: Path, weights: Path) -> Pretrained:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    for path in (description, weights):
        if not path.is_file():
            raise WeightnetError(f"{path}: no such file (a metanet is a .json + .safetensors pair)")
    try:
        meta = json.loads(description.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise WeightnetError(f"{description}: not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise WeightnetError(f"{description}: not a weightnet metanet description")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise WeightnetError(f"{weights}: not a readable safetensors file ({err})") from None
    spec = meta["reads"].get("spec")
    model = _build_model(meta["model"], WeightSpec.from_dict(spec) if spec else None)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise WeightnetError(f"{weights}: weights do not fit the model ({first})") from None
    return Pretrained(description.stem, model, meta)


def _load_checkpoint(path: Path) -> Pretrained:
    """Rebuild a metanet from a ``train.py`` checkpoint (never unpickling objects)."""
    if path.is_dir():
        raise WeightnetError(f"{path}: is a folder, not a checkpoint file")
    if not path.is_file():
        raise WeightnetError(f"{path}: no such file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure of the safe unpickler is bad input
        if "Unsupported global" in str(err) or "GLOBAL" in str(err):
            raise WeightnetError(
                f"{path}: refused to load: the file contains Python objects other than plain "
                "data (it could run code when unpickled)"
            ) from None
        reason = (str(err).splitlines() or [type(err).__name__])[0]
        raise WeightnetError(f"{path}: not a readable checkpoint ({reason})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise WeightnetError(f"{path}: not a Lightning checkpoint (no state_dict)")
    hparams = ckpt.get("hyper_parameters") or {}
    config = dict(hparams.get("model_config") or {})
    data = ckpt.get("HeteroZooDataModule") or ckpt.get("ZooDataModule")
    if not config.get("_target_") or not data:
        raise WeightnetError(
            f"{path}: the checkpoint does not say how its model was built (not from train.py?)"
        )
    model_meta = _model_meta(config)
    spec = WeightSpec.from_dict(data["spec"]) if data.get("spec") else None
    out_features = int(model_meta["kwargs"].get("out_features", 1))
    meta = {
        "model": model_meta,
        "task": {
            "output": "regression" if out_features == 1 else "classification",
            "target": data.get("target"),
        },
        "reads": _reads_from_data(data, model_meta, spec),
        "domain": data.get("domain"),
        "normalization": _normalization_meta(data),
        "input": {
            "probe_features": int(data.get("probe_features") or 0),
            "probe_seed": int(data.get("probe_seed") or 0),
            **({"canonicalize": data["canonicalize"]} if data.get("canonicalize") else {}),
            **({"probes": data["probes"]} if data.get("probes") else {}),
        },
        "quality": {},
        "training_data": {"paths": data.get("paths")},
    }
    model = _build_model(model_meta, spec)
    state = {k[len("model.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    model.load_state_dict(state)
    return Pretrained(path.stem, model, meta)


def _model_meta(config: Mapping[str, Any]) -> dict[str, Any]:
    """``{"class": MODELS name, "kwargs", "graph_input"}`` from a model's Hydra config."""
    from weightnet.models.graph import GraphMetanet

    models = _models()
    target = str(config["_target_"])
    kwargs = {k: v for k, v in config.items() if not k.startswith("_")}
    cls_name = target.rsplit(".", 1)[-1]
    for name, factory in models.items():
        cls = getattr(factory, "func", factory)
        fixed = getattr(factory, "keywords", {})
        if cls.__name__ == cls_name and all(kwargs.get(k, v) == v for k, v in fixed.items()):
            kwargs = {k: v for k, v in kwargs.items() if k not in fixed}
            return {
                "class": name,
                "kwargs": kwargs,
                "graph_input": issubclass(cls, GraphMetanet),
            }
    raise WeightnetError(f"model {target} is not one of weightnet.models.MODELS")


def _reads_from_data(
    data: Mapping[str, Any], model_meta: Mapping[str, Any], spec: WeightSpec | None
) -> dict[str, Any]:
    specs = [WeightSpec.from_dict(s) for s in data.get("specs") or [data["spec"]]]
    first = specs[0]
    same_io = all(
        (s.layers[0].n_in, s.layers[-1].n_out) == (first.layers[0].n_in, first.layers[-1].n_out)
        for s in specs
    )
    max_layers = None
    if model_meta["graph_input"]:
        max_layers = int(model_meta["kwargs"].get("max_layers") or 16) - 1
    reads = Reads(
        kind=first.kind,
        n_in=first.layers[0].n_in if same_io else None,
        n_out=first.layers[-1].n_out if same_io else None,
        # empty: not checked; a SIREN zoo's hidden activation is sin by construction
        activations=tuple(data.get("activations") or (("sin",) if first.kind == "siren" else ())),
        max_layers=max_layers,
        spec=spec,
        description=(
            f"{spec.describe()} networks"
            if spec is not None
            else f"{first.kind.upper()}s with {first.layers[0].n_in} inputs and "
            f"{first.layers[-1].n_out} outputs, any depth and widths"
        ),
    )
    return reads.to_dict()


def _normalization_meta(data: Mapping[str, Any]) -> dict[str, Any]:
    if data.get("scaling"):
        return {"kind": "fan_in", **data["scaling"]}
    if data.get("stats"):
        return {"kind": "per_layer", **data["stats"]}
    return {"kind": "none"}


# ---------------------------------------------------------------------------- building
@dataclass(frozen=True)
class PretrainedRecipe:
    """How a shipped metanet is trained (everything seeded: same recipe, same bytes).

    Attributes:
        name: the metanet's name.
        zoo_recipe: the zoo it learns from (``weightnet zoo generate`` recipe).
        num_models: training runs of that zoo.
        zoo_steps: optimizer steps per run.
        checkpoint_steps: steps recorded per run.
        zoo_folder: where the zoo is generated (if missing) and read.
        model: the ``MODELS`` name.
        model_kwargs: constructor arguments.
        probe_features: probe activations per neuron.
        epochs: training epochs.
        batch_size: networks per batch.
        lr: AdamW learning rate (cosine schedule).
        seed: zoo, split and training seed.
        description: what it reads, for people.
        task: ``"generalization"`` (a regression metanet over a mixed-architecture zoo),
            ``"inr_classification"`` (a classifier of the zoo's INRs aligned to the recipe's
            shared initializations, built by
            :func:`weightnet.pretrained_inr.build_inr_classifier`) or
            ``"inr_classification_probes"`` (a classifier of SIRENs from any initialization,
            reading phase and sign canonical forms and cosine probe features, built by
            :func:`weightnet.pretrained_inr.build_probe_classifier`).
    """

    name: str
    zoo_recipe: str
    num_models: int
    zoo_steps: int
    checkpoint_steps: tuple[int, ...]
    zoo_folder: str
    model: str
    model_kwargs: Mapping[str, Any]
    probe_features: int
    epochs: int
    batch_size: int
    lr: float
    seed: int
    description: str
    task: str = "generalization"

    def optimizers(self) -> dict[str, Any]:
        """The task's ``optimizer`` and ``scheduler`` factories: AdamW, cosine over the epochs."""
        return {
            "optimizer": lambda params: torch.optim.AdamW(params, lr=self.lr, weight_decay=1e-4),
            "scheduler": lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.epochs),
        }

    def trainer(self, root: str | Path):
        """A deterministic CPU Lightning trainer for the recipe's epochs, writing under ``root``.

        A progress bar on a terminal, else one line per epoch; no noise (see
        :mod:`weightnet.tasks.console`).
        """
        import lightning.pytorch as pl

        from weightnet.tasks.console import EpochLines, is_terminal, quiet_lightning

        quiet_lightning()
        terminal = is_terminal()
        return pl.Trainer(
            max_epochs=self.epochs,
            accelerator="cpu",
            deterministic=True,
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
            enable_progress_bar=terminal,
            callbacks=[] if terminal else [EpochLines()],
            default_root_dir=str(root),
        )


#: The shipped metanets.
RECIPES = {
    "digits-mlp": PretrainedRecipe(
        name="digits-mlp",
        zoo_recipe="digits-mlp-hetero",
        num_models=600,
        zoo_steps=200,  # a quarter of the recipe's 800: the same spread of accuracies, 4x faster
        checkpoint_steps=(0, 25, 50, 100, 200),
        zoo_folder="data/digits-mlp-hetero-short",  # = conf/data/digits_mlp_hetero.yaml's zoo
        model="gnn",
        model_kwargs={"out_features": 1, "hidden_channels": 32, "num_layers": 3},
        probe_features=16,
        epochs=10,
        batch_size=64,
        lr=3e-3,
        seed=0,
        description="predicts the digits test accuracy of any ReLU or tanh MLP with 64 inputs "
        "and 10 outputs (any depth and widths)",
    ),
    # the wider predictor of issue 21, not shipped yet: build it with
    # `python -m weightnet.pretrained build digits-mlp-wide`, then check it with
    # `python benchmarks/heldout_families.py --metanet digits-mlp-wide`
    "digits-mlp-wide": PretrainedRecipe(
        name="digits-mlp-wide",
        zoo_recipe="digits-mlp-wide",
        num_models=1200,
        zoo_steps=2000,  # the recipe's own: untrained to converged
        checkpoint_steps=(0, 10, 100, 300, 1000, 2000),
        zoo_folder="data/digits-mlp-wide-1200",
        model="gnn",
        model_kwargs={"out_features": 1, "hidden_channels": 32, "num_layers": 3},
        probe_features=16,
        epochs=10,
        batch_size=64,
        lr=3e-3,
        seed=0,
        description="predicts the digits test accuracy of any ReLU or tanh MLP with 64 inputs "
        "and 10 outputs, trained the ways people train them (PyTorch, Glorot, He, scikit-learn "
        "or normal initialization, SGD or Adam, untrained to converged), on x/16 inputs (others: "
        "--input-scale)",
    ),
    "digits-inr": PretrainedRecipe(
        name="digits-inr",
        zoo_recipe="digits-inr",
        num_models=2000,
        zoo_steps=60,  # the recipe's own fit
        checkpoint_steps=(60,),
        zoo_folder="data/digits-inr",  # = conf/data/digits_inr.yaml's zoo
        model="mlp",
        model_kwargs={"out_features": 10, "hidden_channels": 64, "num_layers": 3},
        probe_features=0,
        epochs=20,
        batch_size=64,
        lr=1e-3,
        seed=0,
        description="classifies the digit (0-9) drawn by a 2-32-32-1 SIREN (sin(30x)) fitted from "
        "the digits-inr recipe's initializations, from its weights (near chance on SIRENs "
        "from other initializations)",
        task="inr_classification",
    ),
    "mnist-inr": PretrainedRecipe(
        name="mnist-inr",
        zoo_recipe="mnist-inr",
        num_models=20000,
        zoo_steps=100,  # the recipe's own fit
        checkpoint_steps=(100,),
        zoo_folder="data/mnist-inr",  # = conf/data/mnist_inr.yaml's zoo
        model="dws",
        model_kwargs={
            "out_features": 10,
            "hidden_channels": 16,
            "num_layers": 3,
            "input_skip": True,
        },
        probe_features=64,
        epochs=10,
        batch_size=64,
        lr=3e-3,
        seed=0,
        description="classifies the digit (0-9) drawn by a 2-32-32-1 SIREN (sin(30x)) fitted from "
        "any initialization, from its phase and sign canonical form and every neuron's cosine "
        "probe features (invariant to hidden-neuron permutations, sign flips and bias shifts "
        "by half-periods by construction)",
        task="inr_classification_probes",
    ),
}


def build_pretrained(name: str, out: str | Path | None = None, zoo: str | Path | None = None):
    """Train the shipped metanet ``name`` from its recipe and write it to ``out``.

    Args:
        name: a key of :data:`RECIPES`.
        out: the folder to write ``NAME.json`` / ``NAME.safetensors`` to (default: the
            package's ``pretrained/`` folder).
        zoo: where the zoo is (generated there if missing; default ``data/<recipe>-<N>``).

    Returns:
        The paths written.
    """
    import lightning.pytorch as pl

    from weightnet.data.hetero import HeteroZooDataModule
    from weightnet.tasks.generalization import GeneralizationTask

    if name not in RECIPES:
        raise WeightnetError(f"unknown pretrained metanet {name!r} (known: {', '.join(RECIPES)})")
    recipe = RECIPES[name]
    if recipe.task in ("inr_classification", "inr_classification_probes"):
        from weightnet.pretrained_inr import build_inr_classifier, build_probe_classifier

        folder = Path(out) if out is not None else _shipped_folder()
        build = (
            build_inr_classifier if recipe.task == "inr_classification" else build_probe_classifier
        )
        return build(recipe, folder / name, zoo)
    zoo_path = Path(zoo or recipe.zoo_folder)
    generate = {
        "recipe": recipe.zoo_recipe,
        "out": str(zoo_path),
        "num_models": recipe.num_models,
        "seed": recipe.seed,
        "num_steps": recipe.zoo_steps,
        "checkpoint_steps": recipe.checkpoint_steps,
    }
    pl.seed_everything(recipe.seed, workers=True)
    datamodule = HeteroZooDataModule(
        zoo_path,
        batch_size=recipe.batch_size,
        split_seed=recipe.seed,
        generate=generate,
        probe_features=recipe.probe_features,
    )
    datamodule.setup("fit")
    model = _models()[recipe.model](None, **recipe.model_kwargs, **datamodule.model_kwargs)
    task = GeneralizationTask(model, **recipe.optimizers())
    trainer = recipe.trainer(zoo_path / ".pretrained")
    trainer.fit(task, datamodule=datamodule)
    test = trainer.test(task, datamodule=datamodule, verbose=False)[0]
    data = datamodule.state_dict()
    model_meta = {
        "class": recipe.model,
        "kwargs": {**recipe.model_kwargs, **datamodule.model_kwargs},
        "graph_input": True,
    }
    reads = Reads.from_dict(_reads_from_data(data, model_meta, None))
    reads = replace(reads, input_scale=datamodule.zoos[0].meta["dataset"]["input_scale"])
    meta = {
        "description": recipe.description,
        "model": model_meta,
        "task": {"output": "regression", "target": data["target"]},
        "reads": {**reads.to_dict(), "description": recipe.description},
        "domain": data["domain"],
        "normalization": _normalization_meta(data),
        "input": {"probe_features": recipe.probe_features, "probe_seed": 0},
        "quality": {
            "split": "test networks of the zoo (runs held out of training)",
            **{k: _finite(v) for k, v in sorted(test.items())},
        },
        "training_data": {
            "zoo_recipe": recipe.zoo_recipe,
            "num_models": recipe.num_models,
            "steps": recipe.zoo_steps,
            "seed": recipe.seed,
            "num_networks": len(datamodule.train_set),
            "architectures": datamodule.group_names,
        },
        "training": {
            "epochs": recipe.epochs,
            "batch_size": recipe.batch_size,
            "lr": recipe.lr,
            "rebuild": f"python -m weightnet.pretrained build {name}",
        },
    }
    folder = Path(out) if out is not None else _shipped_folder()
    return save_pretrained(task.model, meta, folder / name)


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m weightnet.pretrained build NAME [--out DIR] [--zoo DIR]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m weightnet.pretrained")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="train a shipped metanet from its recipe")
    build.add_argument("name", choices=sorted(RECIPES))
    build.add_argument("--out", help="folder to write to (default: the package's pretrained/)")
    build.add_argument("--zoo", help="zoo folder (generated if missing)")
    args = parser.parse_args(argv)
    for path in build_pretrained(args.name, args.out, args.zoo):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
