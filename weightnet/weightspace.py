"""Weight specifications and batched weight spaces.

A :class:`WeightSpec` describes an architecture (its layers, shapes, activations);
a :class:`WeightSpace` holds the weights of a batch of networks of one spec,
channels last, in PyTorch orientation:

* dense layer: ``weights[i]`` is ``(B, n_out, n_in, C)``, ``biases[i]`` is ``(B, n_out, C)``
* conv layer: ``weights[i]`` is ``(B, n_out, n_in, kh, kw, C)``

Raw network weights have ``C == 1``; metanet layers produce other channel counts.
"""

from __future__ import annotations

import ast
import csv
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from weightnet.errors import WeightnetError

__all__ = [
    "ACTIVATIONS",
    "LayerSpec",
    "WeightSpec",
    "WeightSpace",
    "SpecError",
]

#: Activation names understood everywhere (``sin`` computes ``sin(w0 * x)``).
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sin", "sigmoid", "gelu", "identity")

_MODULE_ACTIVATIONS: dict[type[nn.Module], str] = {
    nn.ReLU: "relu",
    nn.LeakyReLU: "leaky_relu",
    nn.Tanh: "tanh",
    nn.Sigmoid: "sigmoid",
    nn.GELU: "gelu",
    nn.Identity: "identity",
}


class SpecError(WeightnetError, ValueError):
    """An architecture that weightnet cannot describe or that does not match a spec."""


@dataclass(frozen=True)
class LayerSpec:
    """One linear or conv layer.

    Attributes:
        weight_key: state_dict key of the weight (e.g. ``"net.0.weight"``).
        bias_key: state_dict key of the bias.
        kind: ``"linear"`` or ``"conv"``.
        shape: weight shape in PyTorch orientation ``(n_out, n_in, *kernel)``.
        activation: activation applied to this layer's output (``"identity"`` for the last).
        w0: frequency of a ``sin`` activation, ``sin(w0 * x)``.
        stride: conv stride (ignored for linear layers).
        padding: conv padding (ignored for linear layers).
    """

    weight_key: str
    bias_key: str
    kind: str
    shape: tuple[int, ...]
    activation: str = "relu"
    w0: float = 1.0
    stride: int = 1
    padding: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("linear", "conv"):
            raise SpecError(f"layer {self.weight_key}: unknown kind {self.kind!r}")
        if self.activation not in ACTIVATIONS:
            raise SpecError(f"layer {self.weight_key}: unknown activation {self.activation!r}")
        expected_dims = 2 if self.kind == "linear" else 4
        if len(self.shape) != expected_dims:
            raise SpecError(
                f"layer {self.weight_key}: a {self.kind} weight has {expected_dims} dims, "
                f"got shape {tuple(self.shape)}"
            )
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))

    @property
    def n_out(self) -> int:
        return self.shape[0]

    @property
    def n_in(self) -> int:
        return self.shape[1]

    @property
    def kernel(self) -> tuple[int, ...]:
        """Kernel size, ``()`` for a linear layer."""
        return self.shape[2:]

    @property
    def kernel_numel(self) -> int:
        return math.prod(self.kernel)


@dataclass(frozen=True)
class WeightSpec:
    """An architecture: an ordered tuple of layers, convs first, then linears.

    Between the last conv layer and the first linear layer the network applies
    global average pooling (the Small CNN Zoo design), which keeps channels permutable.
    Hidden neurons (every layer's outputs except the last's) are permutable;
    the network's inputs and outputs are not.
    """

    layers: tuple[LayerSpec, ...]
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        layers = tuple(self.layers)
        object.__setattr__(self, "layers", layers)
        if not layers:
            raise SpecError("a network needs at least one layer")
        seen_linear = False
        for prev, layer in zip(layers, layers[1:], strict=False):
            if layer.n_in != prev.n_out:
                raise SpecError(
                    f"layer {layer.weight_key} takes {layer.n_in} inputs but "
                    f"{prev.weight_key} gives {prev.n_out}"
                )
        for layer in layers:
            if layer.kind == "linear":
                seen_linear = True
            elif seen_linear:
                raise SpecError(f"conv layer {layer.weight_key} after a linear layer")

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.layers)

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def kind(self) -> str:
        """``"cnn"`` if any conv layer, ``"siren"`` for sine MLPs, else ``"mlp"``."""
        if any(layer.kind == "conv" for layer in self.layers):
            return "cnn"
        if self.layers[0].activation == "sin":
            return "siren"
        return "mlp"

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Neuron counts ``(n_0, n_1, ..., n_L)``: inputs, hidden layers, outputs."""
        return (self.layers[0].n_in, *(layer.n_out for layer in self.layers))

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return self.layer_sizes[1:-1]

    @property
    def activations(self) -> tuple[str, ...]:
        return tuple(layer.activation for layer in self.layers)

    @property
    def num_params(self) -> int:
        return sum(math.prod(layer.shape) + layer.n_out for layer in self.layers)

    @property
    def keys(self) -> tuple[str, ...]:
        """State-dict keys in layout order: weight then bias, layer by layer."""
        return tuple(k for layer in self.layers for k in (layer.weight_key, layer.bias_key))

    def layout(self) -> list[tuple[str, int, int, int, tuple[int, ...]]]:
        """Rows ``(varname, start_idx, end_idx, size, shape)`` of a flat parameter vector."""
        rows, start = [], 0
        for layer in self.layers:
            for key, shape in ((layer.weight_key, layer.shape), (layer.bias_key, (layer.n_out,))):
                size = math.prod(shape)
                rows.append((key, start, start + size, size, tuple(shape)))
                start += size
        return rows

    def describe(self) -> str:
        """Short human-readable architecture, e.g. ``mlp 64-32-32-10 relu``."""
        acts = sorted(set(self.activations[:-1])) or ["identity"]
        kernels = sorted({layer.kernel for layer in self.layers if layer.kind == "conv"})
        kern = f" k{'/'.join('x'.join(map(str, k)) for k in kernels)}" if kernels else ""
        return f"{self.kind} {'-'.join(map(str, self.layer_sizes))}{kern} {','.join(acts)}"

    # ---------------------------------------------------------- (de)serialize
    def to_dict(self) -> dict:
        """JSON-ready description (the ``architecture.layers`` of ``zoo.json``)."""
        return {"layers": [asdict(layer) | {"shape": list(layer.shape)} for layer in self.layers]}

    @classmethod
    def from_dict(cls, data: Mapping) -> WeightSpec:
        """Inverse of :meth:`to_dict`."""
        layers = [
            LayerSpec(**{**layer, "shape": tuple(layer["shape"])}) for layer in data["layers"]
        ]
        return cls(tuple(layers))

    def with_activation(self, activation: str, *, last: str = "identity") -> WeightSpec:
        """The same shapes with ``activation`` on every hidden layer."""
        layers = [
            LayerSpec(**{**asdict(layer), "activation": activation if i < len(self) - 1 else last})
            for i, layer in enumerate(self.layers)
        ]
        return WeightSpec(tuple(layers))

    # ------------------------------------------------------------- builders
    @classmethod
    def from_state_dict(
        cls,
        state_dict: Mapping[str, Tensor],
        activation: str = "relu",
        *,
        w0: float = 1.0,
        first_w0: float | None = None,
    ) -> WeightSpec:
        """Read the architecture off a state_dict: linear and conv layers in key order.

        Every ``*.weight`` of 2 dims (linear) or 4 dims (conv) must have a matching
        ``*.bias``. ``activation`` is applied after every layer but the last.
        """
        pairs = []
        for key, value in state_dict.items():
            if not key.endswith("weight"):
                continue
            bias_key = key[: -len("weight")] + "bias"
            shape = tuple(getattr(value, "shape", ()))
            if len(shape) not in (2, 4):
                raise SpecError(
                    f"unexpected entry {key} of shape {shape}: not the weight of a linear "
                    "(2 dims) or conv2d (4 dims) layer, the only layers weightnet reads"
                )
            if bias_key not in state_dict:
                raise SpecError(
                    f"{key} (shape {shape}) has no {bias_key}: weightnet reads linear and conv "
                    "layers with biases"
                )
            pairs.append((key, bias_key, shape))
        used = {k for p in pairs for k in p[:2]}
        unused = [k for k in state_dict if k not in used]
        if unused:
            shown = ", ".join(
                f"{k} {tuple(getattr(state_dict[k], 'shape', ()))}" for k in unused[:3]
            )
            more = f" and {len(unused) - 3} more" if len(unused) > 3 else ""
            raise SpecError(
                f"unexpected entries {shown}{more}: weightnet reads only the weight and bias "
                "of linear and conv layers"
            )
        if not pairs:
            raise SpecError("no layers found (no '*.weight' entries)")
        layers = []
        for i, (wkey, bkey, shape) in enumerate(pairs):
            last = i == len(pairs) - 1
            act = "identity" if last else activation
            layer_w0 = first_w0 if (i == 0 and first_w0 is not None) else w0
            kind = "linear" if len(shape) == 2 else "conv"
            padding = shape[2] // 2 if kind == "conv" else 0
            layers.append(LayerSpec(wkey, bkey, kind, shape, act, layer_w0, 1, padding))
        return cls(tuple(layers))

    @classmethod
    def from_module(cls, module: nn.Module) -> WeightSpec:
        """Read the architecture off an ``nn.Module`` (Linear / Conv2d layers in order).

        Activations are taken from activation modules that follow each layer
        (``nn.ReLU``, ``nn.Tanh``, ...). A module with ``weightnet_activation`` and
        ``weightnet_w0`` attributes (see :mod:`weightnet.zoo.architectures`) sets them directly.
        """
        layers: list[dict] = []
        for name, sub in module.named_modules():
            if isinstance(sub, (nn.Linear, nn.Conv2d)):
                if sub.bias is None:
                    raise SpecError(f"layer {name} has no bias")
                kind = "linear" if isinstance(sub, nn.Linear) else "conv"
                stride = sub.stride[0] if kind == "conv" else 1
                padding = sub.padding[0] if kind == "conv" else 0
                if kind == "conv" and (
                    len(set(sub.stride)) > 1 or not isinstance(sub.padding, tuple)
                ):
                    raise SpecError(f"layer {name}: only square strides and int paddings")
                layers.append(
                    dict(
                        weight_key=f"{name}.weight",
                        bias_key=f"{name}.bias",
                        kind=kind,
                        shape=tuple(sub.weight.shape),
                        activation="identity",
                        stride=stride,
                        padding=padding,
                    )
                )
            if type(sub) in _MODULE_ACTIVATIONS and layers:
                layers[-1]["activation"] = _MODULE_ACTIVATIONS[type(sub)]
            elif hasattr(sub, "weightnet_activation") and layers:
                layers[-1]["activation"] = sub.weightnet_activation
                layers[-1]["w0"] = float(getattr(sub, "weightnet_w0", 1.0))
        if not layers:
            raise SpecError("no Linear or Conv2d layers in the module")
        return cls(tuple(LayerSpec(**layer) for layer in layers))

    @classmethod
    def from_layout_csv(
        cls, path: str | Path, activation: str = "relu", *, w0: float = 1.0
    ) -> WeightSpec:
        """Build from a zoo's ``layout.csv`` (PyTorch orientation, weight/bias rows)."""
        rows = read_layout_csv(path)
        state_shapes = {name: torch.empty(shape) for name, _, _, _, shape in rows}
        return cls.from_state_dict(state_shapes, activation, w0=w0)


def read_layout_csv(path: str | Path) -> list[tuple[str, int, int, int, tuple[int, ...]]]:
    """Parse ``layout.csv`` rows ``varname,start_idx,end_idx,size,shape``."""
    rows = []
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            shape = tuple(int(s) for s in ast.literal_eval(row["shape"]))
            rows.append(
                (
                    row["varname"],
                    int(row["start_idx"]),
                    int(row["end_idx"]),
                    int(row["size"]),
                    shape,
                )
            )
    return rows


def write_layout_csv(spec: WeightSpec, path: str | Path) -> None:
    """Write ``layout.csv`` for ``spec`` (shapes written as Python tuples)."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["varname", "start_idx", "end_idx", "size", "shape"])
        for name, start, end, size, shape in spec.layout():
            writer.writerow([name, start, end, size, str(tuple(shape))])


@dataclass(frozen=True)
class WeightSpace:
    """Weights and biases of a batch of ``B`` networks of one spec, channels last.

    ``weights[i]``: ``(B, n_out, n_in, *kernel, C)``; ``biases[i]``: ``(B, n_out, C)``.
    """

    weights: tuple[Tensor, ...]
    biases: tuple[Tensor, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", tuple(self.weights))
        object.__setattr__(self, "biases", tuple(self.biases))
        if len(self.weights) != len(self.biases):
            raise SpecError(f"{len(self.weights)} weights but {len(self.biases)} biases")

    # --------------------------------------------------------------- basics
    def __len__(self) -> int:
        return len(self.weights)

    @property
    def batch_size(self) -> int:
        return self.weights[0].shape[0]

    @property
    def channels(self) -> int:
        return self.weights[0].shape[-1]

    @property
    def device(self) -> torch.device:
        return self.weights[0].device

    @property
    def dtype(self) -> torch.dtype:
        return self.weights[0].dtype

    def map(self, fn: Callable[[Tensor], Tensor]) -> WeightSpace:
        """Apply ``fn`` to every tensor."""
        return WeightSpace(tuple(map(fn, self.weights)), tuple(map(fn, self.biases)))

    def to(self, *args, **kwargs) -> WeightSpace:
        return self.map(lambda t: t.to(*args, **kwargs))

    def detach(self) -> WeightSpace:
        return self.map(Tensor.detach)

    def __add__(self, other: WeightSpace) -> WeightSpace:
        return WeightSpace(
            tuple(a + b for a, b in zip(self.weights, other.weights, strict=True)),
            tuple(a + b for a, b in zip(self.biases, other.biases, strict=True)),
        )

    def __sub__(self, other: WeightSpace) -> WeightSpace:
        return self + other.map(torch.neg)

    def __mul__(self, scalar: float) -> WeightSpace:
        return self.map(lambda t: t * scalar)

    __rmul__ = __mul__

    def __getitem__(self, index) -> WeightSpace:
        """Index the batch dimension (an int keeps a batch of one)."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return self.map(lambda t: t[index])

    def allclose(self, other: WeightSpace, atol: float = 1e-6, rtol: float = 1e-5) -> bool:
        pairs = zip(self.tensors(), other.tensors(), strict=True)
        return all(
            a.shape == b.shape and torch.allclose(a, b, atol=atol, rtol=rtol) for a, b in pairs
        )

    def tensors(self) -> list[Tensor]:
        """All tensors in layout order (weight then bias, layer by layer)."""
        return [t for pair in zip(self.weights, self.biases, strict=True) for t in pair]

    @staticmethod
    def collate(spaces: Sequence[WeightSpace]) -> WeightSpace:
        """Concatenate batches of the same spec along the batch dimension."""
        return WeightSpace(
            tuple(torch.cat(ts) for ts in zip(*(s.weights for s in spaces), strict=True)),
            tuple(torch.cat(ts) for ts in zip(*(s.biases for s in spaces), strict=True)),
        )

    # ------------------------------------------------------- flat vectors
    def flatten(self) -> Tensor:
        """``(B, P * C)``: every parameter in layout order (channels innermost)."""
        return torch.cat([t.reshape(self.batch_size, -1) for t in self.tensors()], dim=1)

    @classmethod
    def from_flat(cls, spec: WeightSpec, flat: Tensor) -> WeightSpace:
        """From ``(B, P)`` rows laid out as ``spec.layout()`` (a zoo's ``weights.npy``)."""
        if flat.ndim != 2 or flat.shape[1] != spec.num_params:
            raise SpecError(
                f"expected rows of {spec.num_params} parameters, got shape {tuple(flat.shape)}"
            )
        batch = flat.shape[0]
        tensors = [
            flat[:, start:end].reshape(batch, *shape, 1)
            for _, start, end, _, shape in spec.layout()
        ]
        return cls(tuple(tensors[0::2]), tuple(tensors[1::2]))

    # ---------------------------------------------------------- state dicts
    @classmethod
    def from_state_dicts(
        cls, spec: WeightSpec, state_dicts: Iterable[Mapping[str, Tensor]]
    ) -> WeightSpace:
        """Stack state_dicts of networks of ``spec`` into one batch (``C == 1``)."""
        state_dicts = list(state_dicts)
        weights, biases = [], []
        for layer in spec.layers:
            for key, shape, out in (
                (layer.weight_key, layer.shape, weights),
                (layer.bias_key, (layer.n_out,), biases),
            ):
                stacked = []
                for sd in state_dicts:
                    if key not in sd:
                        raise SpecError(f"missing {key}")
                    value = torch.as_tensor(sd[key])
                    if tuple(value.shape) != tuple(shape):
                        raise SpecError(f"{key} has shape {tuple(value.shape)}, expected {shape}")
                    stacked.append(value)
                out.append(torch.stack(stacked).unsqueeze(-1))  # (B, *shape, 1)
        return cls(tuple(weights), tuple(biases))

    def to_state_dicts(self, spec: WeightSpec) -> list[dict[str, Tensor]]:
        """One state_dict per network (requires ``C == 1``)."""
        if self.channels != 1:
            raise SpecError(f"only single-channel weight spaces are networks (C={self.channels})")
        dicts = []
        for b in range(self.batch_size):
            sd = {}
            for layer, w, bias in zip(spec.layers, self.weights, self.biases, strict=True):
                sd[layer.weight_key] = w[b, ..., 0].clone()
                sd[layer.bias_key] = bias[b, ..., 0].clone()
            dicts.append(sd)
        return dicts

    def check_spec(self, spec: WeightSpec) -> None:
        """Raise :class:`SpecError` if the shapes disagree with ``spec``."""
        if len(self) != len(spec):
            raise SpecError(f"{len(self)} layers, spec has {len(spec)}")
        for layer, w, b in zip(spec.layers, self.weights, self.biases, strict=True):
            if tuple(w.shape[1:-1]) != layer.shape or tuple(b.shape[1:-1]) != (layer.n_out,):
                raise SpecError(
                    f"{layer.weight_key}: weight {tuple(w.shape[1:-1])} / bias "
                    f"{tuple(b.shape[1:-1])}, spec says {layer.shape}"
                )
