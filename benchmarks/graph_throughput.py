"""Training throughput of the parameter-graph metanets (``model=gnn`` and ``model=transformer``).

1. forward + backward + Adam step, samples/s, at batch 64, width 32, 3 layers, on
   64->32->32->10 MLPs, next to reference numbers for the original Neural Graphs
   implementations (NG-GNN, NG-T) measured earlier on the project machine (not re-run here);
2. how step time and activation memory (bytes saved for backward) grow with the width
   (64-w-w-10, w = 16..256) and depth (2..8 layers of width 32) of the input networks.

Wall time on a shared CPU is noisy; the CPU time of the process is reported beside it.

    python benchmarks/graph_throughput.py [--threads N] [--steps 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from weightnet.models.graph import GraphNet, GraphTransformer
from weightnet.testing import mlp_spec, random_weightspace

MODELS = {"gnn": GraphNet, "transformer": GraphTransformer}
#: Samples/s of the original implementations at the same setting (NG-GNN, NG-T), measured
#: earlier on the project machine by the project lead.
REFERENCE = {"gnn": 6.5, "transformer": 2.0}


def _step_fn(name: str, spec, batch: int, hidden: int, layers: int):
    torch.manual_seed(0)
    model = MODELS[name](spec, 1, hidden_channels=hidden, num_layers=layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ws = random_weightspace(spec, batch, seed=1)
    target = torch.randn(batch, 1)

    def step() -> None:
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(ws), target).backward()
        opt.step()

    return model, ws, step


def _measure(step, steps: int) -> tuple[float, float]:
    step()
    wall, cpu = [], []
    for _ in range(steps):
        w0, c0 = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def _saved_bytes(model, ws) -> int:
    """Bytes of the distinct storages autograd saves for the backward pass."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(ws).sum()
    return sum(storages.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--scale-batch", type=int, default=4, help="batch of the scaling sweep")
    parser.add_argument("--widths", type=str, default="16,32,64,128,256")
    parser.add_argument("--depths", type=str, default="2,3,4,6,8")
    parser.add_argument("--json", type=str, default=None, help="write results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = mlp_spec((64, 32, 32, 10))
    out: dict = {"threads": torch.get_num_threads(), "batch_size": args.batch_size}

    print(
        f"throughput: 64-32-32-10 MLPs, batch {args.batch_size}, width {args.hidden}, "
        f"{args.layers} layers, {torch.get_num_threads()} threads"
    )
    print(
        f"{'model':12s} {'wall s/step':>11s} {'cpu s/step':>10s} {'samples/s':>10s} "
        f"{'reference':>10s} {'ratio':>7s}"
    )
    out["throughput"] = []
    for name in MODELS:
        _, _, step = _step_fn(name, spec, args.batch_size, args.hidden, args.layers)
        wall, cpu = _measure(step, args.steps)
        row = {
            "model": name,
            "wall_s_per_step": wall,
            "cpu_s_per_step": cpu,
            "samples_per_s": args.batch_size / wall,
            "reference_samples_per_s": REFERENCE[name],
            "ratio_vs_reference": args.batch_size / wall / REFERENCE[name],
        }
        out["throughput"].append(row)
        print(
            f"{name:12s} {wall:11.3f} {cpu:10.3f} {row['samples_per_s']:10.1f} "
            f"{REFERENCE[name]:10.1f} {row['ratio_vs_reference']:6.1f}x"
        )

    sweeps = [
        ("width", [(w, mlp_spec((64, w, w, 10))) for w in map(int, args.widths.split(","))]),
        (
            "depth",
            [(d, mlp_spec((64, *[32] * (d - 1), 10))) for d in map(int, args.depths.split(","))],
        ),
    ]
    out["scaling"] = []
    for axis, specs in sweeps:
        print(f"\nscaling with {axis} (batch {args.scale_batch}): time and saved activations")
        print(
            f"{'model':12s} {axis:>6s} {'params':>8s} {'wall ms':>8s} {'cpu ms':>8s} "
            f"{'MB':>8s} {'cpu us/kparam':>13s} {'KB/kparam':>10s}"
        )
        for name in MODELS:
            for value, sp in specs:
                model, ws, step = _step_fn(name, sp, args.scale_batch, args.hidden, args.layers)
                wall, cpu = _measure(step, max(2, args.steps // 2))
                saved = _saved_bytes(model, ws)
                kparams = sp.num_params / 1e3
                row = {
                    "model": name,
                    "axis": axis,
                    "value": value,
                    "params": sp.num_params,
                    "wall_ms": 1e3 * wall,
                    "cpu_ms": 1e3 * cpu,
                    "saved_mb": saved / 2**20,
                }
                out["scaling"].append(row)
                print(
                    f"{name:12s} {value:6d} {sp.num_params:8d} {row['wall_ms']:8.1f} "
                    f"{row['cpu_ms']:8.1f} {row['saved_mb']:8.1f} "
                    f"{row['cpu_ms'] * 1e3 / kparams / args.scale_batch:13.1f} "
                    f"{saved / 1024 / kparams / args.scale_batch:10.1f}"
                )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
