"""Our ``nfn_np`` against the ``nfn`` package's NP network: same zoo, batches, budget.

Both networks (3 equivariant layers, same width, NP pooling head) are trained side by side
in one process on the default digits-mlp zoo (``data/digits-mlp-300runs-seed0``, generated if
missing) with the same batches (one shared data loader), AdamW, MSE on a sigmoid output, for
``--epochs`` epochs. Each keeps its epoch of best validation Kendall tau; the table shows the
test Kendall tau of that epoch and the training samples per second::

    python benchmarks/nfn_accuracy.py [--epochs 10] [--width 16] [--seed 0] [--threads 1] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from scipy.stats import kendalltau
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metanet_throughput import peer_model  # noqa: E402
from nfn_peer import peer_inputs  # noqa: E402

from weightnet.data.datamodule import ZooDataModule  # noqa: E402
from weightnet.models import NFN  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def evaluate(model: nn.Module, loader, peer: bool) -> float:
    """Kendall tau between sigmoid outputs and true accuracies over a whole split."""
    model.eval()
    preds, targets = [], []
    with torch.no_grad():
        for ws, target in loader:
            out = model(peer_inputs(ws) if peer else ws).reshape(-1)
            preds.append(torch.sigmoid(out))
            targets.append(target)
    model.train()
    return float(kendalltau(torch.cat(preds), torch.cat(targets)).statistic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="initialization and batch order")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    zoo = ROOT / "data" / "digits-mlp-300runs-seed0"
    dm = ZooDataModule(
        zoo,
        batch_size=32,
        split_seed=0,
        generate={"recipe": "digits-mlp", "out": zoo, "num_models": 300},
    )
    dm.prepare_data()
    dm.setup("fit")
    torch.manual_seed(args.seed)
    ours = NFN(
        dm.spec, out_features=1, hidden_channels=args.width, num_layers=args.layers, mode="np"
    )
    torch.manual_seed(args.seed)
    peer = peer_model("np", args.width, args.layers, head_hidden=4 * args.width)
    sides = {"weightnet nfn_np": (ours, False), "nfn package NP": (peer, True)}
    opts = {
        name: torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=1e-4)
        for name, (m, _) in sides.items()
    }
    best = {name: (-2.0, 0.0, 0) for name in sides}  # (val tau, test tau, epoch)
    seconds = dict.fromkeys(sides, 0.0)
    samples = 0
    for epoch in range(args.epochs):
        for ws, target in dm.train_dataloader():
            samples += len(target)
            for name, (model, is_peer) in sides.items():
                start = time.perf_counter()
                out = model(peer_inputs(ws) if is_peer else ws).reshape(-1)
                loss = nn.functional.mse_loss(torch.sigmoid(out), target)
                opts[name].zero_grad(set_to_none=True)
                loss.backward()
                opts[name].step()
                seconds[name] += time.perf_counter() - start
        for name, (model, is_peer) in sides.items():
            val = evaluate(model, dm.val_dataloader(), is_peer)
            if val > best[name][0]:
                best[name] = (val, evaluate(model, dm.test_dataloader(), is_peer), epoch)
        print(
            f"epoch {epoch}: " + ", ".join(f"{n} best val {b[0]:.3f}" for n, b in best.items()),
            flush=True,
        )

    results = {
        name: {
            "val_kendall_tau": best[name][0],
            "test_kendall_tau": best[name][1],
            "best_epoch": best[name][2],
            "train_samples_per_second": samples / seconds[name],
        }
        for name in sides
    }
    print(f"\n{'side':<20}{'test tau':>10}{'val tau':>10}{'samples/s':>12}")
    for name, r in results.items():
        print(
            f"{name:<20}{r['test_kendall_tau']:>10.3f}{r['val_kendall_tau']:>10.3f}{r['train_samples_per_second']:>12.1f}"
        )
    ratio = (
        results["weightnet nfn_np"]["train_samples_per_second"]
        / results["nfn package NP"]["train_samples_per_second"]
    )
    print(f"speed ratio {ratio:.2f}x")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "epochs": args.epochs,
                    "width": args.width,
                    "results": results,
                    "speed_ratio": ratio,
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
