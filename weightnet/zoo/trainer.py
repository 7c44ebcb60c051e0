"""Train a whole batch of small networks at once.

The ``B`` networks of one architecture live in one ``(B, P)`` matrix of flat parameter
vectors (rows in ``WeightSpec.layout()`` order, the rows of a zoo's ``weights.npy``).
Every step runs all of them with :func:`weightnet.functional.forward` (batched einsum /
grouped convolution), backpropagates the sum of their losses (the networks are
independent, so each gets its own gradient) and updates each row with its own
optimizer settings (:class:`~weightnet.zoo.optim.VectorizedOptimizer`).

The trainer knows nothing about data: a loss closure ``loss_fn(ws, step) -> (B,)``
draws each network's minibatch and returns its loss. Classifier zoos, INR fitting and
anything else with a differentiable per-network loss reuse it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

from weightnet.weightspace import WeightSpace, WeightSpec
from weightnet.zoo.optim import VectorizedOptimizer

__all__ = ["LossFn", "chunk_runs", "in_parallel", "train_networks"]

#: ``loss_fn(ws, step)``: the ``(B,)`` losses of the networks in ``ws`` at ``step``.
LossFn = Callable[[WeightSpace, int], Tensor]
T = TypeVar("T")
R = TypeVar("R")


def train_networks(
    spec: WeightSpec,
    optimizer: VectorizedOptimizer,
    loss_fn: LossFn,
    num_steps: int,
    checkpoint_steps: Iterable[int] = (),
    on_checkpoint: Callable[[int, Tensor], None] | None = None,
    progress=None,
) -> None:
    """Run ``num_steps`` optimizer steps on ``optimizer.params`` (``(B, P)``, updated in place).

    Args:
        spec: the architecture of every row.
        optimizer: holds the parameters and per-network settings.
        loss_fn: per-network losses of the current weights at a step.
        num_steps: number of updates.
        checkpoint_steps: after how many updates to call ``on_checkpoint`` (0 = the
            initial weights, ``num_steps`` = the final ones).
        on_checkpoint: called as ``on_checkpoint(step, params)`` with a ``(B, P)`` copy.
        progress: a tqdm-like bar; ``update(1)`` is called after every step.
    """
    params = optimizer.params
    grad = torch.empty_like(params)  # (B, P), refilled every step
    # views of ``grad`` shaped like the weight tensors: one strided copy per tensor, no cat
    grad_views = WeightSpace.from_flat(spec, grad).tensors()
    checkpoints = set(checkpoint_steps)
    if any(not 0 <= s <= num_steps for s in checkpoints):
        raise ValueError(f"checkpoint steps {sorted(checkpoints)} outside 0..{num_steps}")
    # tiny weights (small init std, SGD) make denormal floats, which are ~100x slower on CPUs
    flush_was_supported = torch.set_flush_denormal(True)
    try:
        for step in range(num_steps + 1):
            if step in checkpoints and on_checkpoint is not None:
                on_checkpoint(step, params.detach().clone())
            if step == num_steps:
                break
            flat = params.detach().requires_grad_(True)
            tensors = WeightSpace.from_flat(spec, flat).tensors()
            loss = loss_fn(WeightSpace(tensors[0::2], tensors[1::2]), step).sum()
            # gradients with respect to the views, not ``flat``: no (B, P) scatter per view
            grads = torch.autograd.grad(loss, tensors)
            for view, tensor_grad in zip(grad_views, grads, strict=True):
                view.copy_(tensor_grad)
            optimizer.step(grad)
            if progress is not None:
                progress.update(1)
    finally:
        if flush_was_supported:
            torch.set_flush_denormal(False)


def chunk_runs(keys: Sequence[Hashable], chunk_size: int) -> list[np.ndarray]:
    """Group runs by ``keys`` (e.g. activation and optimizer) and cut groups into chunks.

    Returns:
        Arrays of run positions, each at most ``chunk_size`` long, every run exactly once;
        groups in order of first appearance, positions ascending within a group.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    groups: dict[Hashable, list[int]] = {}
    for position, key in enumerate(keys):
        groups.setdefault(key, []).append(position)
    return [
        np.asarray(members[start : start + chunk_size], dtype=np.int64)
        for members in groups.values()
        for start in range(0, len(members), chunk_size)
    ]


def in_parallel(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """``fn(item)`` for every item, ``workers`` items at a time, results in ``items`` order.

    For independent chunks of training: each worker thread runs its chunk with torch on
    one thread, so a chunk computes exactly what it computes alone (the same bytes) while
    the chunks use all the cores. Small batched products and elementwise ops gain little
    from torch's own threads; chunks side by side gain nearly a core each. At most
    ``workers`` results wait at a time; torch's thread count is restored at the end.
    """
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    pool = ThreadPoolExecutor(workers, thread_name_prefix="weightnet-chunk")
    try:
        pending = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) == workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(threads)
