"""Metanet training throughput: weightnet's models vs the ``nfn`` package (PyPI 0.1.2).

Task: predict one scalar from the weights of 64->32->32->10 MLPs; batch 64, 32 hidden
channels, 3 equivariant layers, MLP head (pooled -> 128 -> 1); one training step is
forward + MSE + backward + Adam on a fixed batch. All models run in one process, in
interleaved rounds (the order rotates every round) so that a shared, noisy CPU affects
every model alike; the figure per model is the median over rounds, and a ratio to the
peer is the median of the per-round ratios. On a loaded machine ``--threads 1`` avoids
the intra-op thread synchronization stalls that otherwise dominate.

Also reports the achieved GFLOP/s of weightnet's ``nfn_np`` step (FLOPs counted by
``torch.utils.flop_counter``) as a fraction of the best large fp32 matmul on this machine
(MKL or oneDNN, whichever is faster).

    python benchmarks/metanet_throughput.py [--rounds 5] [--steps 3] [--json out.json]
    python benchmarks/metanet_throughput.py --profile nfn_np   # torch.profiler table
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable

import torch
from nfn_peer import peer_inputs, peer_network
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from weightnet.models import MODELS
from weightnet.nn.gemm import matmul
from weightnet.testing import mlp_spec, random_weightspace

SIZES = (64, 32, 32, 10)
OURS = ("nfn_np", "nfn_hnp", "dws", "statnn", "mlp")
PEERS = ("peer_nfn_np", "peer_nfn_hnp")
#: Earlier measurements on this machine of the original implementations (samples/s).
REFERENCE = {"nfn NP": 199.0, "nfn HNP": 49.0, "DWSNets": 34.0}


def peer_model(mode: str, hidden: int, num_layers: int, head_hidden: int) -> nn.Module:
    """The same network built from the ``nfn`` package's layers (NFN's own classifier style)."""
    return peer_network(mlp_spec(SIZES), mode, hidden, num_layers, head_hidden)


def make_step(model: nn.Module, inputs, target: torch.Tensor) -> Callable[[], float]:
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> float:
        loss = nn.functional.mse_loss(model(inputs).reshape(-1), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def adam_seconds(model: nn.Module, reps: int = 3) -> float:
    """Best time of one ``torch.optim.Adam`` step (as in :func:`make_step`) over ``model``'s parameters."""
    params = [p.detach().clone().requires_grad_() for p in model.parameters()]
    for p in params:
        p.grad = torch.randn_like(p)
    opt = torch.optim.Adam(params, lr=1e-4)
    opt.step()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        opt.step()
        best = min(best, time.perf_counter() - t0)
    return best


def matmul_gflops(n: int = 2048, reps: int = 5) -> float:
    """The machine's fp32 matmul speed: the best of ``torch.matmul`` (MKL) and oneDNN.

    On non-Intel CPUs MKL takes a slow generic path, so ``a @ b`` alone understates what
    the machine can do; the fraction reported against it would flatter weightnet.
    """
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for product in (torch.matmul, matmul):
        product(a, b)
        for _ in range(reps):
            t0 = time.perf_counter()
            product(a, b)
            best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def _inplace_addmm_flops(self_shape, a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]


def _onednn_linear_flops(x_shape, w_shape, *args, out_shape=None, **kwargs) -> int:
    return 2 * x_shape[0] * x_shape[1] * w_shape[0]  # x (M, K), weight (N, K)


def step_flops(step: Callable[[], float]) -> int:
    """FLOPs of one step; in-place (``addmm_``) and oneDNN (``weightnet.nn.gemm``) GEMMs too."""
    mapping = {
        torch.ops.aten.addmm_: _inplace_addmm_flops,
        torch.ops.mkldnn._linear_pointwise: _onednn_linear_flops,
    }
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        step()
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="steps per model per round")
    parser.add_argument("--models", nargs="+", default=[*PEERS, *OURS])
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--profile", default=None, help="profile one model instead")
    parser.add_argument(
        "--bf16", action="store_true", help="weightnet's nfn_* with bfloat16 products (peer: fp32)"
    )
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    spec = mlp_spec(SIZES)
    ws = random_weightspace(spec, args.batch_size, seed=0)
    target = torch.randn(args.batch_size)
    head_hidden = 4 * args.hidden
    steps: dict[str, Callable[[], float]] = {}
    models: dict[str, nn.Module] = {}
    for name in args.models:
        if name.startswith("peer_"):
            model = peer_model(name.split("_")[-1], args.hidden, args.layers, head_hidden)
            inputs = peer_inputs(ws)
        else:
            extra = {"bf16": True} if args.bf16 and name.startswith("nfn_") else {}
            model = MODELS[name](
                spec, out_features=1, hidden_channels=args.hidden, num_layers=args.layers, **extra
            )
            inputs = ws
        models[name], steps[name] = model, make_step(model, inputs, target)
    for step in steps.values():  # warm-up
        step()

    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(args.steps):
                steps[args.profile]()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
        return

    times: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            t0 = time.perf_counter()
            for _ in range(args.steps):
                steps[name]()
            times[name].append((time.perf_counter() - t0) / args.steps)
    rate = {n: args.batch_size / statistics.median(t) for n, t in times.items()}

    results: dict = {
        "setup": {
            "sizes": SIZES,
            "batch_size": args.batch_size,
            "hidden_channels": args.hidden,
            "num_layers": args.layers,
            "rounds": args.rounds,
            "steps_per_round": args.steps,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "nfn_bf16_products": args.bf16,
            "cpu_count": os.cpu_count(),
            "machine": platform.processor() or platform.machine(),
        },
        "samples_per_second": rate,
        "reference_samples_per_second": REFERENCE,
        "ratios": {},
    }
    print(f"{'model':<14} {'samples/s':>10}")
    for name, value in rate.items():
        print(f"{name:<14} {value:>10.1f}")
    pairs = [("nfn_np", "peer_nfn_np"), ("nfn_hnp", "peer_nfn_hnp")]
    for ours, peer in pairs:
        if ours in rate and peer in rate:
            # per round, the two ran seconds apart: the median ratio is robust to load swings
            per_round = [p / o for p, o in zip(times[peer], times[ours], strict=True)]
            results["ratios"][f"{ours} / {peer}"] = statistics.median(per_round)
    if "dws" in rate:
        results["ratios"]["dws / DWSNets reference"] = rate["dws"] / REFERENCE["DWSNets"]
        if "peer_nfn_np" in rate:
            # the reference was measured on an idle machine: scale by the peer's slowdown
            slowdown = REFERENCE["nfn NP"] / rate["peer_nfn_np"]
            results["ratios"]["dws / DWSNets reference, load-adjusted"] = (
                rate["dws"] * slowdown / REFERENCE["DWSNets"]
            )
    for key, value in results["ratios"].items():
        print(f"{key:<32} {value:6.2f}x")

    peak = matmul_gflops()
    gflops = {}
    for name in ("nfn_np", "peer_nfn_np", "nfn_hnp", "peer_nfn_hnp"):
        if name in steps:
            flops = step_flops(steps[name])
            seconds = args.batch_size / rate[name]
            gflops[name] = {
                "flops_per_step": flops,
                "achieved_gflops": flops / seconds / 1e9,
                "fraction_of_matmul": flops / seconds / 1e9 / peak,
            }
    results["gflops"] = {"matmul_2048_gflops": peak, **gflops}
    if "nfn_np" in gflops:
        np_ = gflops["nfn_np"]
        results["nfn_np_gflops"] = {**np_, "matmul_2048_gflops": peak}
        print(
            f"nfn_np step: {np_['flops_per_step'] / 1e9:.2f} GFLOP, {np_['achieved_gflops']:.1f} "
            f"GFLOP/s = {100 * np_['fraction_of_matmul']:.1f}% of the best 2048^3 fp32 matmul "
            f"({peak:.1f} GFLOP/s)"
        )
    for ours, peer in pairs:
        if ours in gflops and peer in gflops:
            # the fastest any implementation of the peer's arithmetic could run here: every
            # FLOP at the large-matmul peak, plus the same Adam step over our parameters
            adam = adam_seconds(models[ours])
            floor = gflops[peer]["flops_per_step"] / (peak * 1e9) + adam
            ceiling = (args.batch_size / rate[peer]) / floor
            results["ratios"][f"{ours} / {peer}, ceiling (matmul peak + Adam)"] = ceiling
            print(
                f"{ours}: {gflops[ours]['achieved_gflops']:.1f} GFLOP/s vs the peer's "
                f"{gflops[peer]['achieved_gflops']:.1f}; all "
                f"{gflops[peer]['flops_per_step'] / 1e9:.1f} GFLOP at the matmul peak plus "
                f"Adam ({1000 * adam:.0f} ms) would be {ceiling:.2f}x the peer"
            )

    if args.json:
        directory = os.path.dirname(os.path.abspath(args.json))
        with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, suffix=".tmp") as fh:
            json.dump(results, fh, indent=2)
        os.replace(fh.name, args.json)


if __name__ == "__main__":
    main()
