"""scikit-learn's bundled 8x8 digits: the data every built-in zoo is trained on.

Nothing is downloaded: :func:`sklearn.datasets.load_digits` ships with scikit-learn.
The train/test split is chosen from the zoo seed and written into ``zoo.json``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from weightnet.zoo.seeding import SPLIT, stream

__all__ = ["INPUT_SCALE", "NUM_TEST", "DigitsData", "load_digits_data"]

#: Inputs are the raw pixel values (0..16) times this.
INPUT_SCALE = 0.0625
#: Number of test images of the split (of 1797).
NUM_TEST = 450


@dataclass(frozen=True)
class DigitsData:
    """The digits images, labels and one train/test split.

    Attributes:
        images: ``(1797, 8, 8)`` float32, scaled by :data:`INPUT_SCALE`.
        labels: ``(1797,)`` int64.
        train_indices: sorted indices of the training images.
        test_indices: sorted indices of the test images.
    """

    images: np.ndarray
    labels: np.ndarray
    train_indices: np.ndarray
    test_indices: np.ndarray

    def dataset_meta(self, input_shape: tuple[int, ...]) -> dict:
        """The ``dataset`` entry of ``zoo.json`` for networks taking ``input_shape`` inputs."""
        return {
            "name": "sklearn-digits",
            "input_scale": INPUT_SCALE,
            "input_shape": list(input_shape),
            "train_indices": self.train_indices.tolist(),
            "test_indices": self.test_indices.tolist(),
        }


def load_digits_data(seed: int) -> DigitsData:
    """Load the digits and split them with a permutation drawn from ``seed``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images * INPUT_SCALE).astype(np.float32)  # (1797, 8, 8)
    labels = digits.target.astype(np.int64)
    order = stream(seed, SPLIT).permutation(len(labels))
    return DigitsData(images, labels, np.sort(order[NUM_TEST:]), np.sort(order[:NUM_TEST]))
