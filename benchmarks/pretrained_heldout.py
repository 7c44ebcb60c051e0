"""Held-out quality of a shipped metanet on networks trained outside any zoo recipe.

Fresh digits MLPs are trained here with plain PyTorch, with choices the ``digits-mlp``
metanet never saw: hidden widths 24 / 48 / 96 (the zoo has 8 / 16 / 32 / 64), PyTorch's
default initialization (the zoo draws N(0, std^2)), SGD with momentum 0.9 or Adam,
minibatches of 64, between 20 and 600 steps, seeds 1000 and up. Each is saved as a
``.pt`` state_dict; one ``weightnet predict --json`` call per activation predicts all
files (the activation of a state_dict is not in its tensors); the truth is each network's
accuracy on the zoo's test images (:func:`weightnet.zoo.digits.load_digits_data`, seed 0).
Reports Kendall tau and mean absolute error, overall and per activation, and the wall
time of the ``weightnet predict`` calls (import included).

    python benchmarks/pretrained_heldout.py [--metanet digits-mlp] [--num 60] [--json PATH]
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
import torch.nn.functional as F
from scipy.stats import kendalltau
from tqdm import tqdm

from weightnet.io import save_state_dict
from weightnet.zoo.architectures import MLP
from weightnet.zoo.digits import load_digits_data

WIDTHS = (24, 48, 96)
STEPS = (20, 50, 100, 200, 400, 600)


def sample_config(rng: np.random.Generator) -> dict:
    """One fresh network's architecture and training choices."""
    depth = int(rng.integers(1, 4))
    return {
        "hidden": [int(w) for w in rng.choice(WIDTHS, size=depth)],
        "activation": str(rng.choice(["relu", "tanh"])),
        "optimizer": str(rng.choice(["sgd_momentum", "adam"])),
        "lr": float(np.exp(rng.uniform(np.log(1e-3), np.log(1e-1)))),
        "steps": int(rng.choice(STEPS)),
    }


def train_network(config: dict, seed: int, data) -> tuple[dict, float]:
    """Train one MLP; returns its state_dict and its accuracy on the zoo's test images."""
    torch.manual_seed(seed)
    model = MLP((64, *config["hidden"], 10), activation=config["activation"])
    x = torch.from_numpy(data.images.reshape(len(data.images), -1))  # (1797, 64)
    y = torch.from_numpy(data.labels)
    train = torch.from_numpy(data.train_indices)
    if config["optimizer"] == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=config["lr"] / 10)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=0.9)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(config["steps"]):
        batch = train[torch.randint(len(train), (64,), generator=gen)]
        loss = F.cross_entropy(model(x[batch]), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    test = torch.from_numpy(data.test_indices)
    with torch.no_grad():
        accuracy = float((model(x[test]).argmax(-1) == y[test]).float().mean())
    return model.state_dict(), accuracy


def predict(metanet: str, files: list[Path], activation: str) -> tuple[list[float], float]:
    """One ``weightnet predict --json`` call; predictions and its wall time."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "weightnet.cli", "predict", "--checkpoint", metanet, "--json",
         "--activation", activation, *map(str, files)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    return [row["prediction"] for row in json.loads(out.stdout)], seconds


def scores(pred: np.ndarray, true: np.ndarray) -> dict:
    return {
        "kendall_tau": float(kendalltau(pred, true).statistic),
        "mae": float(np.abs(pred - true).mean()),
        "num_networks": len(true),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metanet", default="digits-mlp", help="shipped name or file")
    parser.add_argument("--num", type=int, default=60, help="fresh networks to train")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_digits_data(0)
    rng = np.random.default_rng(args.seed)
    configs = [sample_config(rng) for _ in range(args.num)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, config in enumerate(tqdm(configs, desc="fresh networks")):
            state, accuracy = train_network(config, args.seed + i, data)
            path = Path(tmp) / f"net{i:03d}.pt"
            save_state_dict(state, path)
            rows.append({**config, "file": path, "true": accuracy})
        timings = {}
        for activation in ("relu", "tanh"):
            group = [r for r in rows if r["activation"] == activation]
            if not group:
                continue
            preds, seconds = predict(args.metanet, [r["file"] for r in group], activation)
            timings[activation] = {"files": len(group), "seconds": seconds}
            for row, pred in zip(group, preds, strict=True):
                row["prediction"] = pred
    result = {"metanet": args.metanet, "predict_calls": timings}
    for name, subset in (
        ("all", rows),
        ("relu", [r for r in rows if r["activation"] == "relu"]),
        ("tanh", [r for r in rows if r["activation"] == "tanh"]),
    ):
        pred = np.array([r["prediction"] for r in subset])
        true = np.array([r["true"] for r in subset])
        result[name] = scores(pred, true)
    print(f"{'networks':<10}{'n':>5}{'kendall tau':>14}{'MAE':>8}")
    for name in ("all", "relu", "tanh"):
        r = result[name]
        print(f"{name:<10}{r['num_networks']:>5}{r['kendall_tau']:>14.3f}{r['mae']:>8.3f}")
    for activation, t in timings.items():
        print(f"weightnet predict, {t['files']} {activation} files: {t['seconds']:.2f} s")
    if args.json:
        result["networks"] = [{k: v for k, v in r.items() if k != "file"} for r in rows]
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
