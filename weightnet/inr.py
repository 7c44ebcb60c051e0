"""Implicit neural representations (INRs) of images: the pixel grid and batched rendering.

An INR maps a pixel's coordinates to its value. Like the DWSNets MNIST INRs, an image of
``height x width`` pixels is sampled at ``np.meshgrid(linspace(-1, 1, width),
linspace(-1, 1, height))`` (``xy`` indexing: the first input is the column coordinate,
the second the row coordinate), flattened row by row, and the image is the network's
output plus ``output_offset``. :func:`render` evaluates a whole batch of INRs in one
call of :func:`weightnet.functional.forward`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from weightnet.functional import forward
from weightnet.weightspace import SpecError, WeightSpace, WeightSpec

__all__ = ["COORDINATES", "InrGrid", "psnr", "render"]

#: How the coordinates are laid out (the ``coordinates`` entry of a zoo's ``dataset``).
COORDINATES = "np.meshgrid(linspace(-1, 1, 28), linspace(-1, 1, 28)), xy indexing"


@dataclass(frozen=True)
class InrGrid:
    """The pixel grid an INR is evaluated on.

    Attributes:
        height: pixel rows.
        width: pixel columns.
        output_offset: added to the network's output to give the pixel value.
    """

    height: int = 28
    width: int = 28
    output_offset: float = 0.0

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    def coordinates(self) -> Tensor:
        """``(height * width, 2)`` float32 ``(x, y)`` in ``[-1, 1]``, row by row."""
        ys = torch.linspace(-1.0, 1.0, self.height)
        xs = torch.linspace(-1.0, 1.0, self.width)
        y, x = torch.meshgrid(ys, xs, indexing="ij")  # (H, W) each
        return torch.stack([x.reshape(-1), y.reshape(-1)], dim=1)  # (H * W, 2)

    def to_meta(self) -> dict:
        """The grid entries of a zoo's ``dataset`` (as written by ``weightnet zoo convert dws-inr``)."""
        return {
            "image_shape": [self.height, self.width],
            "coordinates": COORDINATES,
            "output_offset": self.output_offset,
        }

    @classmethod
    def from_meta(cls, dataset: Mapping) -> InrGrid:
        """The grid of a zoo's ``dataset`` entry (``image_shape``, optional ``output_offset``).

        Raises:
            SpecError: if the entry has no ``image_shape`` of two positive sizes.
        """
        shape = dataset.get("image_shape")
        if not isinstance(shape, (list, tuple)) or len(shape) != 2 or min(shape) < 1:
            raise SpecError(f"zoo.json dataset: image_shape {shape!r} is not [height, width]")
        return cls(int(shape[0]), int(shape[1]), float(dataset.get("output_offset", 0.0)))


def render(spec: WeightSpec, ws: WeightSpace, grid: InrGrid) -> Tensor:
    """Images of every INR in ``ws`` on ``grid``, in one batched forward pass.

    Args:
        spec: the INR architecture (2 inputs, 1 output).
        ws: single-channel weights, batch ``B``.
        grid: the pixel grid.

    Returns:
        ``(B, height, width)`` pixel values.

    Raises:
        SpecError: if ``spec`` does not map 2 coordinates to 1 value.
    """
    if spec.layer_sizes[0] != 2 or spec.layer_sizes[-1] != 1:
        raise SpecError(f"an image INR maps 2 coordinates to 1 value, not {spec.describe()}")
    coords = grid.coordinates().to(device=ws.device, dtype=ws.dtype)  # (H * W, 2)
    values = forward(spec, ws, coords)  # (B, H * W, 1)
    return values.reshape(ws.batch_size, *grid.shape) + grid.output_offset  # (B, H, W)


def psnr(images: Tensor, targets: Tensor, data_range: float = 1.0) -> Tensor:
    """Per-image peak signal-to-noise ratio in dB: ``(B, H, W)`` twice -> ``(B,)``."""
    from torchmetrics.functional.image import peak_signal_noise_ratio

    return peak_signal_noise_ratio(
        images, targets, data_range=data_range, reduction="none", dim=(1, 2)
    )
