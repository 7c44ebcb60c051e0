r"""Learn to align networks' hidden neurons (Deep-Align, Navon et al. 2024).

The model is a :class:`~weightnet.align.learned.LearnedAligner`: per hidden layer, a
score matrix between the neurons of a reference network and those of another.

* **Training** is self-supervised on planted pairs: each batch network ``A`` is paired with
  ``B = P A + noise`` (random hidden-neuron permutations ``P``), and the Sinkhorn rows of
  the scores are trained to pick ``P``'s inverse (:func:`~weightnet.align.learned.alignment_loss`).
  Optionally (``real_pair_weight > 0``) real pairs (the batch against itself rolled by one)
  add the unsupervised loss: the distance between ``A`` and the softly permuted ``B``.
* **Validation and test** run on pairs of independently trained networks
  (:class:`~weightnet.data.pairs.PairBatch`): the aligner's body runs once per network
  (:func:`~weightnet.align.learned.align_pairs`), the scores of each pair are rounded to
  permutations (Hungarian algorithm), which move ``B`` without changing its function, and
  the loss barrier between ``A`` and the aligned ``B`` is measured on the zoo's test images.
  The test also runs Git Re-Basin weight matching on the same pairs and times both end to
  end, back to back (the best of ``timing_repeats`` rounds after a warm-up).

Logged: ``{split}/loss`` and ``{split}/planted_accuracy`` (neurons matched in planted
pairs, scores rounded as at inference), ``{split}/barrier``; at test also ``test/barrier_unaligned``,
``test/barrier_weight_matching``, ``test/seconds_per_pair_learned``,
``test/seconds_per_pair_matching`` and ``test/speedup`` (matching time / learned time).

After testing the best checkpoint, the aligner is also written beside it as
``aligner.safetensors`` + ``aligner.json`` (:func:`weightnet.align.saved.save_aligner`),
which ``weightnet align --method learned --checkpoint PATH`` reads.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from weightnet.align.barrier import loss_barrier
from weightnet.align.learned import (
    LearnedAligner,
    align_pairs,
    alignment_loss,
    planted_pairs,
    round_scores,
)
from weightnet.align.matching import weight_matching
from weightnet.align.saved import save_aligner
from weightnet.data.pairs import PairBatch
from weightnet.symmetry import permute
from weightnet.tasks.base import MetanetTask, OptimizerFactory, SchedulerFactory
from weightnet.weightspace import WeightSpace

__all__ = ["AlignmentTask", "pair_barriers"]


@contextmanager
def _threads(num_threads: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(num_threads)`` (``None``: unchanged)."""
    before = torch.get_num_threads()
    if num_threads:
        torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _best_seconds(
    fns: tuple[Callable[[], Any], ...], repeats: int
) -> tuple[list[float], list[Any]]:
    """Best wall seconds of each function and its output; all run back to back per round.

    An untimed warm-up round comes first; then ``repeats`` timed rounds (at least one).
    """
    outputs = [fn() for fn in fns]  # warm-up, untimed
    best = [math.inf] * len(fns)
    for _ in range(max(1, repeats)):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            outputs[i] = fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best, outputs


def pair_barriers(batch: PairBatch, spec, aligned: WeightSpace) -> Tensor:
    """``(B,)`` loss barrier between each reference and its ``aligned`` partner.

    Pairs are grouped by their hidden activation, each group run under its own spec.
    """
    barriers = torch.empty(len(batch.activations), dtype=batch.reference.dtype)
    for activation in sorted(set(batch.activations)):
        index = torch.tensor([a == activation for a in batch.activations])
        result = loss_barrier(
            spec.with_activation(activation),
            batch.reference[index],
            aligned[index],
            batch.inputs,
            batch.labels,
        )
        barriers[index] = result.barrier.cpu()
    return barriers


class AlignmentTask(MetanetTask):
    """Train a :class:`LearnedAligner` on planted pairs; measure loss barriers on real pairs.

    Args:
        model: the aligner.
        optimizer: factory called with the parameters.
        scheduler: optional epoch-wise learning-rate scheduler factory.
        noise: std of the Gaussian noise added to planted partners (normalized weights).
        real_pair_weight: weight of the unsupervised loss on real pairs (0: off).
        sinkhorn_iters: Sinkhorn normalization steps in the loss.
        temperature: Sinkhorn temperature.
        timing_threads: torch threads while timing the test alignments (both methods
            alike; ``None``: unchanged).
        timing_repeats: timed rounds of both methods, back to back after an untimed
            warm-up; the best wall time of each is kept.
        matching_max_sweeps: ``max_sweeps`` of the weight-matching baseline.
        model_config: plain description of the model, kept in checkpoints.

    Attributes:
        exported: where :meth:`on_test_end` wrote the aligner (``None`` before, or when
            no checkpoint was saved, e.g. with ``fast_dev_run``).
    """

    def __init__(
        self,
        model: LearnedAligner,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        noise: float = 2.0,
        real_pair_weight: float = 0.0,
        sinkhorn_iters: int = 20,
        temperature: float = 1.0,
        timing_threads: int | None = 1,
        timing_repeats: int = 3,
        matching_max_sweeps: int = 100,
        model_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.noise = float(noise)
        self.real_pair_weight = float(real_pair_weight)
        self.sinkhorn_iters = int(sinkhorn_iters)
        self.temperature = float(temperature)
        self.timing_threads = timing_threads
        self.timing_repeats = int(timing_repeats)
        self.matching_max_sweeps = int(matching_max_sweeps)
        self.exported: Path | None = None
        super().__init__(model, optimizer, scheduler, model_config)

    def make_metrics(self) -> MetricCollection:
        classes = max(self.model.spec.hidden_sizes)
        return MetricCollection(
            {"planted_accuracy": MulticlassAccuracy(classes, average="micro", validate_args=False)}
        )

    def forward(self, reference: WeightSpace, other: WeightSpace) -> tuple[Tensor, ...]:
        """The aligner's ``(B, n_l, n_l)`` scores per hidden layer."""
        return self.model(reference, other)

    def _loss(self, scores, reference, other, target=None) -> Tensor:
        return alignment_loss(
            scores,
            reference,
            other,
            target,
            num_iters=self.sinkhorn_iters,
            temperature=self.temperature,
        )

    def model_step(self, batch: tuple[WeightSpace, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Planted-pair loss; predictions / targets are each reference neuron's partner ``(B, H)``."""
        ws, _ = batch
        # evaluation plants the same permutations every time
        generator = None if self.training else torch.Generator().manual_seed(0)
        other, target = planted_pairs(self.model.spec, ws, generator, noise=self.noise)
        scores = self.model(ws, other)
        loss = self._loss(scores, ws, other, target)
        if self.training and self.real_pair_weight > 0 and ws.batch_size > 1:
            rolled = ws.map(lambda t: t.roll(1, dims=0))
            loss = loss + self.real_pair_weight * self._loss(self.model(ws, rolled), ws, rolled)
        preds = torch.cat(round_scores(scores), dim=1)  # (B, H), as at inference
        targets = torch.cat(target, dim=1).to(preds.device)  # (B, H)
        return loss, preds, targets

    def _pair_step(self, batch: PairBatch, split: str) -> None:
        """Planted-pair metrics on the networks, learned alignment and its barrier."""
        networks = batch.normalized
        self._shared_step((networks, torch.zeros(networks.batch_size)), split)
        aligned = permute(batch.other, align_pairs(self.model, networks, batch.pairs))
        barrier = pair_barriers(batch, self.model.spec, aligned).mean()
        self.log(f"{split}/barrier", barrier, prog_bar=True, batch_size=len(batch.pairs))

    def validation_step(self, batch: PairBatch, batch_idx: int) -> None:
        self._pair_step(batch, "val")

    def test_step(self, batch: PairBatch, batch_idx: int) -> None:
        spec, size = self.model.spec, len(batch.pairs)
        self._pair_step(batch, "test")
        reference, other = batch.reference, batch.other

        def learned() -> WeightSpace:  # end to end: body, scores, Hungarian, raw weights moved
            return permute(other, align_pairs(self.model, batch.normalized, batch.pairs))

        def matching() -> WeightSpace:
            return weight_matching(
                spec, reference, other, max_sweeps=self.matching_max_sweeps
            ).aligned

        with _threads(self.timing_threads):
            (learned_seconds, matching_seconds), (_, matched) = _best_seconds(
                (learned, matching), self.timing_repeats
            )
        metrics = {  # per pair, however many pairs share a network
            "test/barrier_unaligned": pair_barriers(batch, spec, other).mean(),
            "test/barrier_weight_matching": pair_barriers(batch, spec, matched).mean(),
            "test/seconds_per_pair_learned": learned_seconds / size,
            "test/seconds_per_pair_matching": matching_seconds / size,
            "test/speedup": matching_seconds / learned_seconds,
        }
        self.log_dict(metrics, batch_size=size)

    def on_test_end(self) -> None:
        """Write the tested aligner beside the best checkpoint (portable, no pickles)."""
        callback = self.trainer.checkpoint_callback
        best = callback.best_model_path if callback is not None else ""
        if best and self.trainer.is_global_zero:
            stats = getattr(self.trainer.datamodule, "stats", None)
            self.exported, _ = save_aligner(self.model, stats, Path(best).parent / "aligner")
