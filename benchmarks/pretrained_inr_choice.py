"""Which input treatment should the shipped ``digits-inr`` classifier use?

The same flat MLP (hidden 64, 3 layers, AdamW 1e-3, cosine, batch 64, seed 0) is trained
on the digits-inr zoo's training split read four ways, and tested on

* ``test``: the zoo's test split (INRs of images never seen in training),
* ``test_moved``: the same INRs after random hidden-neuron permutations and sign flips
  (the same functions: an invariant predictor scores exactly ``test`` here),
* ``fresh``: SIRENs of the test images fitted anew, each from its own initialization
  (:func:`weightnet.pretrained_inr.fresh_sirens`).

Treatments: ``raw`` weights; ``sign`` (sign-canonical only); ``canonical`` (sign flips and
neuron sort, :func:`weightnet.align.canonicalize`); ``nearest`` (canonical, then weight
matching onto the nearer of the recipe's two initializations, the shipped choice).

    python benchmarks/pretrained_inr_choice.py [--zoo data/digits-inr] [--epochs 10] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from weightnet.align.canonical import canonicalize
from weightnet.align.nearest import align_to_nearest
from weightnet.data.normalization import WeightStats
from weightnet.data.zoo import open_zoo
from weightnet.models import FlatMLP
from weightnet.pretrained_inr import alignment_references, fresh_sirens
from weightnet.symmetry import permute, rescale, sample_permutations, sample_signs
from weightnet.weightspace import WeightSpace

TREATMENTS = ("raw", "sign", "canonical", "nearest")


def treat(name: str, spec, ws: WeightSpace, references: WeightSpace) -> WeightSpace:
    """``ws`` read the way treatment ``name`` reads it."""
    if name == "sign":
        return canonicalize(ws, spec, permutation=False)
    if name == "canonical":
        return canonicalize(ws, spec)
    if name == "nearest":
        return align_to_nearest(spec, ws, references)
    return ws


def train_and_test(spec, train, labels, tests, epochs: int, seed: int = 0) -> dict[str, float]:
    """Train a flat MLP on ``train`` and return its accuracy on every ``(ws, labels)`` of ``tests``."""
    torch.manual_seed(seed)
    stats = WeightStats.from_rows(spec, [(train.flatten().numpy(), np.arange(train.batch_size))])
    x = stats.normalize(train)
    model = FlatMLP(spec, out_features=10, hidden_channels=64, num_layers=3)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(train.batch_size, generator=gen)
        for start in range(0, len(order), 64):
            batch = order[start : start + 64]
            loss = F.cross_entropy(model(x[batch]), labels[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        return {
            name: float((model(stats.normalize(ws)).argmax(-1) == y).float().mean())
            for name, (ws, y) in tests.items()
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", default="data/digits-inr")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    zoo = open_zoo(args.zoo)
    spec = zoo.spec
    split = np.asarray(zoo.metrics["split"])
    labels = torch.from_numpy(np.asarray(zoo.metrics["label"]).astype(np.int64))
    rows = {s: np.flatnonzero(split == s) for s in ("train", "test")}
    references = alignment_references(
        spec, {"recipe": "digits-inr", "seed": 0, "inr_seeds": [0, 1]}
    )
    test = zoo.weightspace(rows["test"])
    gen = torch.Generator().manual_seed(5)
    moved = rescale(test, spec, sample_signs(spec, test.batch_size, gen))
    moved = permute(moved, sample_permutations(spec, test.batch_size, gen))
    test_images = json.loads((Path(args.zoo) / "zoo.json").read_text())["dataset"]["test_indices"]
    fresh, fresh_labels = fresh_sirens(np.asarray(test_images))
    results = {}
    for name in TREATMENTS:
        start = time.perf_counter()
        tests = {
            "test": (treat(name, spec, test, references), labels[rows["test"]]),
            "test_moved": (treat(name, spec, moved, references), labels[rows["test"]]),
            "fresh": (treat(name, spec, fresh, references), fresh_labels),
        }
        train = treat(name, spec, zoo.weightspace(rows["train"]), references)
        results[name] = train_and_test(spec, train, labels[rows["train"]], tests, args.epochs)
        results[name]["seconds"] = time.perf_counter() - start
    print(f"{'treatment':<10} {'test':>6} {'test_moved':>11} {'fresh':>6}")
    for name, r in results.items():
        print(f"{name:<10} {r['test']:>6.3f} {r['test_moved']:>11.3f} {r['fresh']:>6.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"epochs": args.epochs, **results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
