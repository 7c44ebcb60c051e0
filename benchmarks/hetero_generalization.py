"""One metanet over a heterogeneous zoo: graph metanet (gnn) vs per-layer statistics (statnn).

Both read the same zoo folders with the same split (HeteroZooDataModule, split by run
within each architecture, ``split_seed`` 0) and are scored by Kendall tau on the test
networks, overall and per architecture.

* gnn: ``python train.py task=generalization model=gnn data=digits_mlp_hetero
  data.path=ZOO`` (a subprocess; its results.json), unless ``--gnn-results`` names the
  results.json of such a run or a shipped metanet's JSON (its ``quality``).
* statnn on mixed depths: StatNN's per-tensor statistics (mean, variance, 5 quantiles of
  every weight and bias tensor) computed per architecture on the raw weights and padded
  to the deepest architecture (first layer in slot 0, output layer in the last slot,
  hidden layers in between, empty slots zero), plus the depth and a tanh flag (the gnn
  sees the activation through its probe features), standardized with train statistics,
  then an MLP (256 wide, 3 hidden layers) trained with AdamW on the MSE of sigmoid outputs,
  best epoch on validation tau.

    python benchmarks/hetero_generalization.py --zoo data/pretrained-digits-mlp-zoo \
        [--gnn-results weightnet/pretrained/digits-mlp.json] [--epochs 60] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import kendalltau
from torch import nn

from weightnet.data.hetero import HeteroZooDataModule
from weightnet.nn.statistics import QUANTILES, LayerStatistics

ROOT = Path(__file__).resolve().parents[1]
#: statistics of one layer: (weight, bias) x (mean, variance, quantiles)
PER_LAYER = 2 * (2 + len(QUANTILES))


def padded_statistics(dm: HeteroZooDataModule, split: str) -> tuple[np.ndarray, ...]:
    """Features ``(n, F)``, targets ``(n,)`` and architecture index ``(n,)`` of a split."""
    dataset = getattr(dm, f"{split}_set")
    max_layers = max(len(spec) for spec in dm.specs)
    feats = np.zeros((len(dataset), max_layers * PER_LAYER + 2), dtype=np.float32)
    for z, (zoo, spec) in enumerate(zip(dm.zoos, dm.specs, strict=True)):
        where = np.flatnonzero(dataset.rows[:, 0] == z)
        ws = zoo.weightspace(dataset.rows[where, 1])
        stats = LayerStatistics(spec)(ws).numpy()  # (n, L * PER_LAYER)
        slots = [0, *range(1, len(spec) - 1), max_layers - 1]
        for layer, slot in enumerate(slots):
            block = stats[:, layer * PER_LAYER : (layer + 1) * PER_LAYER]
            feats[where, slot * PER_LAYER : (slot + 1) * PER_LAYER] = block
        feats[where, -2] = len(spec)
        feats[where, -1] = dataset.activations[where] == "tanh"
    return feats, dataset.targets, dataset.rows[:, 0]


def taus(pred: np.ndarray, true: np.ndarray, arch: np.ndarray, names: list[str]) -> dict:
    out = {"test/kendall_tau": float(kendalltau(pred, true).statistic)}
    for z, name in enumerate(names):
        mask = arch == z
        out[f"test/kendall_tau/{name}"] = float(kendalltau(pred[mask], true[mask]).statistic)
    return out


def run_statnn(dm: HeteroZooDataModule, epochs: int, seed: int) -> dict:
    torch.manual_seed(seed)
    (xtr, ytr, _), (xva, yva, _), (xte, yte, ate) = (
        padded_statistics(dm, s) for s in ("train", "val", "test")
    )
    mean, std = xtr.mean(0), xtr.std(0) + 1e-6
    xtr, xva, xte = ((torch.from_numpy((x - mean) / std)) for x in (xtr, xva, xte))
    ytr = torch.from_numpy(ytr)
    layers, width = [], xtr.shape[1]
    for _ in range(3):
        layers += [nn.Linear(width, 256), nn.ReLU()]
        width = 256
    model = nn.Sequential(*layers, nn.Linear(width, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    best, best_state = -2.0, None
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(xtr)).split(32):
            loss = F.mse_loss(torch.sigmoid(model(xtr[batch]).squeeze(-1)), ytr[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val = float(kendalltau(model(xva).squeeze(-1).numpy(), yva).statistic)
        if val > best:
            best, best_state = val, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    with torch.no_grad():
        pred = torch.sigmoid(model(xte).squeeze(-1)).numpy()
    return taus(pred, yte, ate, dm.group_names)


def run_gnn(zoo: Path, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, str(ROOT / "train.py"), "task=generalization", "model=gnn",
             "data=digits_mlp_hetero", f"data.path={zoo.resolve()}", f"hydra.run.dir={tmp}",
             *extra],
            check=True, cwd=ROOT,
        )  # fmt: skip
        return json.loads((Path(tmp) / "results.json").read_text())["test"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, required=True, help="folder of zoo folders")
    parser.add_argument("--gnn-results", type=Path, help="results.json or metanet JSON")
    parser.add_argument("--epochs", type=int, default=60, help="statnn epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("overrides", nargs="*", help="extra train.py overrides for the gnn")
    args = parser.parse_args()
    dm = HeteroZooDataModule(args.zoo, probe_features=0)
    dm.setup("fit")
    statnn = run_statnn(dm, args.epochs, args.seed)
    if args.gnn_results:
        data = json.loads(args.gnn_results.read_text())
        gnn = data.get("test") or data["quality"]
    else:
        gnn = run_gnn(args.zoo, args.overrides)
    print(f"{'test networks':<28}{'gnn tau':>9}{'statnn tau':>12}")
    keys = ["test/kendall_tau", *(f"test/kendall_tau/{n}" for n in dm.group_names)]
    for key in keys:
        name = "all architectures" if key == keys[0] else key.rsplit("/", 1)[-1]
        print(f"{name:<28}{gnn.get(key, float('nan')):>9.3f}{statnn[key]:>12.3f}")
    if args.json:
        result = {"zoo": str(args.zoo), "gnn": gnn, "statnn_padded": statnn}
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
