"""The loss closure and evaluation for classifier zoos: per-run subsets and minibatches.

Run ``r`` trains on its own subset of the training images (its ``train_fraction``) and
draws its minibatches from its own random stream, so its weights do not depend on the
other runs trained beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from weightnet.functional import forward
from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = ["ClassificationRuns"]


class ClassificationRuns:
    """Minibatch losses and train/test metrics for a chunk of ``B`` classifier runs.

    Args:
        spec: the architecture (with the chunk's activation).
        inputs: ``(n, *input_shape)`` float32, the whole dataset.
        labels: ``(n,)`` int64.
        subsets: per run, the dataset indices it trains on.
        test_indices: dataset indices of the test split.
        batch_rngs: per run, the generator its minibatches come from.
        batch_size: examples per minibatch.
        block: minibatch indices are drawn this many steps at a time.
        eval_batch: examples per forward pass when evaluating (bounds memory).
    """

    def __init__(
        self,
        spec: WeightSpec,
        inputs: Tensor,
        labels: Tensor,
        subsets: Sequence[np.ndarray],
        test_indices: np.ndarray,
        batch_rngs: Sequence[np.random.Generator],
        batch_size: int,
        block: int = 64,
        eval_batch: int = 256,
    ) -> None:
        self.spec, self.inputs, self.labels = spec, inputs, labels
        self.subsets, self.batch_rngs = list(subsets), list(batch_rngs)
        self.test_indices = torch.as_tensor(test_indices, dtype=torch.long)
        self.train_indices = torch.as_tensor(
            np.unique(np.concatenate(self.subsets)), dtype=torch.long
        )
        member = np.zeros((len(self.subsets), len(labels)), dtype=bool)
        for row, subset in enumerate(self.subsets):
            member[row, subset] = True
        self.train_member = torch.from_numpy(member[:, self.train_indices.numpy()])  # (B, n_train)
        self.batch_size, self.block, self.eval_batch = batch_size, block, eval_batch
        self._block_index, self._block = -1, torch.empty(0, dtype=torch.long)

    def batch_indices(self, step: int) -> Tensor:
        """``(B, batch_size)`` dataset indices of every run's minibatch at ``step``."""
        block_index = step // self.block
        if block_index != self._block_index:
            if block_index != self._block_index + 1:
                raise ValueError(f"steps must be asked for in order (step {step})")
            draws = [
                subset[rng.integers(0, len(subset), (self.block, self.batch_size))]
                for subset, rng in zip(self.subsets, self.batch_rngs, strict=True)
            ]
            self._block = torch.from_numpy(np.stack(draws, axis=1))  # (block, B, batch_size)
            self._block_index = block_index
        return self._block[step % self.block]

    def loss(self, ws: WeightSpace, step: int) -> Tensor:
        """``(B,)`` mean cross-entropy of every run on its minibatch at ``step``.

        Training computes tanh through sigmoid (``fast_tanh``); :meth:`evaluate` uses
        ``torch.tanh``, so recorded metrics are exactly those of the ``nn.Module``.
        """
        index = self.batch_indices(step)  # (B, batch_size)
        # index_select copies the same rows as ``inputs[index]``, several times faster
        x = self.inputs.index_select(0, index.reshape(-1)).view(
            *index.shape, *self.inputs.shape[1:]
        )
        logits = forward(self.spec, ws, x, fast_tanh=True)  # (B, batch, classes)
        return _cross_entropy(logits, self.labels[index]).mean(dim=1)

    @torch.no_grad()
    def evaluate(self, ws: WeightSpace, inputs: Tensor | None = None) -> dict[str, np.ndarray]:
        """``test_accuracy``, ``test_loss``, ``train_accuracy``, ``train_loss``: ``(B,)`` float64.

        Test metrics are over the whole test split; train metrics over each run's own subset.
        ``inputs`` replaces the training inputs (the same images in another frame, for
        weights folded into it).
        """
        inputs = self.inputs if inputs is None else inputs
        test_correct, test_loss = self._per_example(ws, inputs, self.test_indices)  # (B, n_test)
        train_correct, train_loss = self._per_example(ws, inputs, self.train_indices)
        member = self.train_member.double()
        count = member.sum(dim=1)
        return {
            "test_accuracy": (test_correct.sum(dim=1) / len(self.test_indices)).numpy(),
            "test_loss": test_loss.mean(dim=1).numpy(),
            "train_accuracy": ((train_correct * member).sum(dim=1) / count).numpy(),
            "train_loss": ((train_loss * member).sum(dim=1) / count).numpy(),
        }

    def _per_example(
        self, ws: WeightSpace, inputs: Tensor, indices: Tensor
    ) -> tuple[Tensor, Tensor]:
        """``(B, n)`` float64 correctness (0/1) and cross-entropy on ``inputs[indices]``."""
        correct, losses = [], []
        for part in indices.split(self.eval_batch):
            logits = forward(self.spec, ws, inputs[part])  # (B, n_part, classes)
            labels = self.labels[part].expand(logits.shape[0], -1)  # (B, n_part)
            correct.append((logits.argmax(dim=-1) == labels).double())
            losses.append(_cross_entropy(logits, labels).double())
        return torch.cat(correct, dim=1), torch.cat(losses, dim=1)


def _cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Per-example cross-entropy: ``(B, n, classes)``, ``(B, n)`` -> ``(B, n)``.

    Written out (log-sum-exp minus the label's logit): several times faster on CPU than
    ``F.cross_entropy`` over rows of only ten classes.
    """
    shifted = logits - logits.detach().amax(dim=-1, keepdim=True)  # (B, n, classes)
    picked = shifted.gather(-1, labels.unsqueeze(-1)).squeeze(-1)  # (B, n)
    return shifted.exp().sum(dim=-1).log() - picked
