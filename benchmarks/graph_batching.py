"""Parameter-graph batching: weightnet.graph.to_graph_batch vs one PyG Data per network.

The naive way (what per-sample graph datasets do) builds each network's graph on its own
(edge index from the layer sizes, weights and biases as features), wraps it in a ``Data``
and collates with ``Batch.from_data_list``. A second naive variant reuses a cached edge
index but still makes one ``Data`` per network. weightnet builds the edge index once per
architecture and tiles it for the whole batch. All three give identical batches (checked).

    python benchmarks/graph_batching.py [--batch-size 64] [--repeats 20] [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
from torch_geometric.data import Batch, Data

from weightnet.graph import graph_layout, to_graph_batch
from weightnet.testing import cnn_spec, mlp_spec, random_weightspace
from weightnet.weightspace import WeightSpace, WeightSpec


def naive_graph(spec: WeightSpec, ws: WeightSpace, b: int, kernel: int, cached: bool) -> Data:
    """One network's graph, built on its own (``cached``: edge index from the cache)."""
    sizes = spec.layer_sizes
    if cached:
        layout = graph_layout(spec)
        edge_index, layer_id, io = layout.edge_index, layout.layer_id, layout.io_position
    else:
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        src, dst = [], []
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
            src.append((torch.arange(n_in) + starts[i]).repeat(n_out))
            dst.append((torch.arange(n_out) + starts[i + 1]).repeat_interleave(n_in))
        edge_index = torch.stack([torch.cat(src), torch.cat(dst)])
        layer_id = torch.cat([torch.full((n,), i) for i, n in enumerate(sizes)])
        io = torch.full((sum(sizes),), -1)
        io[: sizes[0]] = torch.arange(sizes[0])
        io[-sizes[-1] :] = torch.arange(sizes[-1])
    channels = ws.channels
    x = torch.cat([torch.zeros(sizes[0], channels), *(bias[b] for bias in ws.biases)])
    edge_attr = torch.cat(
        [
            F.pad(w[b].reshape(w.shape[1] * w.shape[2], -1, channels), (0, 0, 0, kernel - 1))[
                :, :kernel
            ].reshape(-1, kernel * channels)
            for w in ws.weights
        ]
    )
    return Data(x=x, edge_index=edge_index, edge_attr=edge_attr, layer_id=layer_id, io_position=io)


def naive_batch(pairs, kernel: int, cached: bool) -> Batch:
    data = [
        naive_graph(spec, ws, b, kernel, cached) for spec, ws in pairs for b in range(ws.batch_size)
    ]
    return Batch.from_data_list(data)


def _time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--json", type=str, default=None, help="write results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    mlp = mlp_spec((64, 32, 32, 10))
    n = args.batch_size
    cases = {
        "mlp 64-32-32-10": [(mlp, random_weightspace(mlp, n))],
        "mixed (mlp 64-32-32-10, mlp 64-64-10, cnn 1-8-8-10 k3)": [
            (mlp, random_weightspace(mlp, n // 2, seed=1)),
            (mlp_spec((64, 64, 10)), random_weightspace(mlp_spec((64, 64, 10)), n // 4, seed=2)),
            (cnn_spec(1, (8, 8), 10), random_weightspace(cnn_spec(1, (8, 8), 10), n // 4, seed=3)),
        ],
    }
    results = []
    print(
        f"{'case':56s} {'weightnet ms':>12s} {'naive ms':>10s} {'cached ms':>10s} {'speedup':>8s}"
    )
    for name, pairs in cases.items():
        kernel = max(layer.kernel_numel for spec, _ in pairs for layer in spec.layers)
        ours = to_graph_batch(pairs)
        for cached in (False, True):
            ref = naive_batch(pairs, kernel, cached)
            for key in ("x", "edge_index", "edge_attr", "layer_id", "io_position", "batch", "ptr"):
                assert torch.equal(ours[key], ref[key]), f"{name}: {key} differs"
        t_ours = _time(lambda pairs=pairs: to_graph_batch(pairs), args.repeats)
        t_naive = _time(lambda p=pairs, k=kernel: naive_batch(p, k, False), args.repeats)
        t_cached = _time(lambda p=pairs, k=kernel: naive_batch(p, k, True), args.repeats)
        row = {
            "case": name,
            "graphs": ours.num_graphs,
            "edges": int(ours.num_edges),
            "weightnet_ms": 1e3 * t_ours,
            "naive_ms": 1e3 * t_naive,
            "naive_cached_index_ms": 1e3 * t_cached,
            "speedup_vs_naive": t_naive / t_ours,
            "speedup_vs_naive_cached_index": t_cached / t_ours,
        }
        results.append(row)
        print(
            f"{name:56s} {row['weightnet_ms']:12.2f} {row['naive_ms']:10.2f} "
            f"{row['naive_cached_index_ms']:10.2f} {row['speedup_vs_naive']:7.1f}x "
            f"({row['speedup_vs_naive_cached_index']:.1f}x vs cached)"
        )
    if args.json:
        payload = {"batch_size": n, "threads": torch.get_num_threads(), "results": results}
        with open(args.json, "w") as fh:
            json.dump(payload, fh, indent=2)


if __name__ == "__main__":
    main()
