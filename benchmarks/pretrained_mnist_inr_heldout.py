"""Held-out check of the shipped ``mnist-inr`` classifier through ``weightnet predict``.

Every test image of the zoo (images the classifier never saw) is fitted anew by a plain
PyTorch loop (:func:`weightnet.pretrained_inr.fit_sirens_plainly`: one ``nn.Module`` and one
``torch.optim.Adam`` per image, fresh initializations), saved as a ``.pt`` state_dict, and
classified by ``weightnet predict --checkpoint METANET --json`` in one call. Two fitting
protocols, neither the recipe's vectorized fit:

* ``torch-biases``: Sitzmann's weights with ``torch.nn.Linear``'s default biases
  (first-layer phases spread over many periods of sin(30x)), Adam 1e-3, 300 steps;
* ``zero-biases``: zero sine biases as the DWSNets INRs, Adam 1e-3, 300 steps.

    python benchmarks/pretrained_mnist_inr_heldout.py [--metanet mnist-inr] [--images 500]
        [--json benchmarks/results/pretrained_mnist_inr_heldout.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from weightnet.inr import InrGrid, psnr, render
from weightnet.pretrained import load_pretrained
from weightnet.pretrained_inr import FRESH_SEED, fit_sirens_plainly
from weightnet.weightspace import WeightSpace
from weightnet.zoo.inr import MNIST_INR, mnist_images

PROTOCOLS = {"torch-biases": {"zero_biases": False}, "zero-biases": {"zero_biases": True}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metanet", default="mnist-inr")
    parser.add_argument("--images", type=int, default=None, help="first N test images only")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    meta = load_pretrained(args.metanet).meta
    test_images = np.asarray(meta["quality"]["test_image_indices"])[: args.images]
    images, labels = mnist_images()
    grid = InrGrid(28, 28, 0.5)
    results = {}
    for name, options in PROTOCOLS.items():
        start = time.perf_counter()
        states = fit_sirens_plainly(images[test_images], seed=FRESH_SEED, **options)
        fit_seconds = time.perf_counter() - start
        ws = WeightSpace.from_state_dicts(MNIST_INR.spec, states)
        quality = psnr(render(MNIST_INR.spec, ws, grid), torch.from_numpy(images[test_images]))
        with tempfile.TemporaryDirectory() as folder:
            files = []
            for i, state in zip(test_images, states, strict=True):
                files.append(str(Path(folder) / f"siren_{i}.pt"))
                torch.save(state, files[-1])
            start = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "weightnet.cli", "predict", "--checkpoint", args.metanet,
                 "--json", *files],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            predict_seconds = time.perf_counter() - start
        predicted = [row["prediction"]["class"] for row in json.loads(proc.stdout)]
        accuracy = float(np.mean(np.array(predicted) == labels[test_images]))
        results[name] = {
            "accuracy": accuracy,
            "psnr_mean": float(quality.mean()),
            "psnr_min": float(quality.min()),
            "fit_seconds": fit_seconds,
            "predict_seconds": predict_seconds,
            "num_sirens": len(files),
        }
        print(f"{name}: accuracy {accuracy:.3f} on {len(files)} fresh SIRENs (PSNR "
              f"{quality.mean():.1f} dB, min {quality.min():.1f}); fit {fit_seconds:.0f} s, "
              f"weightnet predict {predict_seconds:.1f} s", flush=True)  # fmt: skip
    if args.json:
        args.json.write_text(
            json.dumps({"metanet": args.metanet, "protocols": results}, indent=1) + "\n"
        )


if __name__ == "__main__":
    main()
