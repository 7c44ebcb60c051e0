"""The ``digits-inr`` recipe: one SIREN per digit image, thousands fitted at once.

Every scikit-learn digit (8x8, values ``0..16``) is scaled to ``[0, 1]`` and upsampled
bilinearly (``align_corners=True``) to a 28x28 grid; a SIREN ``2 -> 32 -> 32 -> 1``
(``sin(30 x)``, keys ``seq.{k}.*``, as the DWSNets MNIST INRs) maps the pixel coordinates
(:class:`weightnet.inr.InrGrid`) to the pixel value minus ``0.5``. Each image gets
``inrs_per_image`` INRs from different initialization seeds (``inr_seed``); with
``shared_init`` all INRs of one ``inr_seed`` start from the same weights (as in
"functa"-style datasets), which keeps weights of similar images close. All INRs are
fitted together by :func:`weightnet.zoo.trainer.train_networks`: full-batch MSE over
the 784 pixels with per-network Adam.

Images are split into train / val / test before fitting: the INRs of one image always
share its split (``split`` column of ``metrics.csv``; ``zoo.json`` lists the image indices).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from weightnet.inr import InrGrid, psnr, render
from weightnet.weightspace import WeightSpace, WeightSpec
from weightnet.zoo.architectures import SIREN
from weightnet.zoo.optim import VectorizedOptimizer
from weightnet.zoo.seeding import INIT, SPLIT, stream
from weightnet.zoo.trainer import train_networks
from weightnet.zoo.writer import ChunkStore, ZooWriter

__all__ = ["DIGITS_INR", "InrRecipe", "digit_images", "siren_init"]

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


@dataclass(frozen=True)
class InrRecipe:
    """SIRENs fitted to the upsampled digits, several per image, in vectorized chunks.

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
        chunk_size: INRs fitted at once (bounds memory).
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

    @property
    def spec(self) -> WeightSpec:
        return WeightSpec.from_module(SIREN(self.sizes, self.w0))

    def generate(self, folder: Path, num_models: int, seed: int, progress: bool = True) -> None:
        """Fit ``num_models`` INRs and write the zoo into the empty ``folder``."""
        from tqdm.auto import tqdm

        spec = self.spec
        images, labels = digit_images(self.grid.shape)
        num_images = math.ceil(num_models / self.inrs_per_image)
        if num_images > len(images):
            raise ValueError(
                f"{num_models} INRs need {num_images} images at {self.inrs_per_image} per image, "
                f"the digits have {len(images)}"
            )
        chosen = stream(seed, SPLIT).permutation(len(images))[:num_images]
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
        with tqdm(
            total=len(chunks) * self.num_steps,
            desc=f"zoo {self.name}",
            unit="step",
            disable=not progress,
        ) as bar:
            for c, chunk in enumerate(chunks):
                saved = store.load(f"inr-{c}")  # finished by an interrupted generation
                if saved is None:
                    saved = self._fit_chunk(
                        spec, chunk, images[image_of_run[chunk]], inr_seed, seed, bar
                    )
                    store.save(f"inr-{c}", saved)
                else:
                    bar.update(self.num_steps)
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

        with tqdm(total=self.num_steps, desc="fit INRs", unit="step", disable=not progress) as bar:
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
    ) -> dict[str, np.ndarray]:
        """Fit the INRs ``chunk`` to their ``(B, H, W)`` ``images``: ``params``, ``mse``, ``psnr``."""
        targets = torch.from_numpy(images)  # (B, H, W)
        inits = [
            siren_init(spec, stream(seed, INIT, inr_seed[r] if self.shared_init else r))
            for r in chunk
        ]
        params = self._fit(spec, torch.from_numpy(np.stack(inits)), targets, bar)
        with torch.no_grad():
            rendered = render(spec, WeightSpace.from_flat(spec, params), self.grid)
        return {
            "params": params.numpy(),  # (B, P)
            "mse": ((rendered - targets) ** 2).mean(dim=(1, 2)).double().numpy(),
            "psnr": psnr(rendered, targets).double().numpy(),
        }

    def _fit(
        self, spec: WeightSpec, params: torch.Tensor, targets: torch.Tensor, bar
    ) -> torch.Tensor:
        """Fit the ``(B, P)`` ``params`` to the ``(B, H, W)`` images; returns the fitted rows."""
        batch = params.shape[0]
        coords = self.grid.coordinates()  # (H * W, 2)
        wanted = (targets - self.grid.output_offset).reshape(batch, -1, 1)  # (B, H * W, 1)
        optimizer = VectorizedOptimizer(
            params,
            torch.ones(batch, dtype=torch.bool),
            torch.full((batch,), self.learning_rate),
            torch.zeros(batch),
        )

        def loss(ws: WeightSpace, step: int) -> torch.Tensor:
            from weightnet.functional import forward

            return (forward(spec, ws, coords) - wanted).square().mean(dim=(1, 2))  # (B,)

        train_networks(spec, optimizer, loss, self.num_steps, progress=bar)
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
        return {
            "recipe": self.name,
            "seed": seed,
            "num_models": num_models,
            "architecture": {"kind": spec.kind, **spec.to_dict(), "activation": "sin"},
            "dataset": {
                "name": "sklearn-digits",
                "input_scale": 1.0 / 16.0,
                "input_shape": [spec.layer_sizes[0]],
                **self.grid.to_meta(),
                "upsampling": "bilinear, align_corners=True, values in [0, 1]",
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
            },
        }


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


#: The built-in INR recipe.
DIGITS_INR = InrRecipe(
    "digits-inr",
    "SIRENs 2-32-32-1 (w0=30) fitted to the digits upsampled to 28x28, 2 per image",
    default_num_models=2000,
)
