"""Weight matching: our batched Git Re-Basin vs a naive loop-based reference.

(a) Two digits MLPs 64-32-32-10 are trained here with plain PyTorch (different seeds);
    the loss barrier on the digits test split is measured before alignment, after our
    :func:`weightnet.align.weight_matching` (default: best of the forward and identity
    starts; and each start alone), after rank matching of canonical orders, and after
    the naive reference below.
(b) Timings: one pair, and a batch of pairs (ours handles the batch in one call).
(c) With ``--aligner PATH`` (the ``aligner.json`` that ``python train.py task=alignment``
    writes beside its best checkpoint): the learned aligner against our weight matching on
    the test pairs of the built-in zoo (as ``task=alignment`` splits it), timed end to end,
    both sides back to back in each repeat (best kept, CPU and wall seconds): normalization,
    the aligner's body, scores, Hungarian rounding and permuting the raw weights; weight
    matching as called on the raw weights. Loss barriers of both side by side.

The reference is a deliberately plain transcription of Ainsworth et al. (2023), Alg. 1:
per-layer cost matrices filled entry by entry, scipy's linear_sum_assignment, random
layer order, identity start.

    python benchmarks/alignment.py [--json PATH] [--steps 400] [--batch 16] [--threads 1]
        [--aligner outputs/alignment/checkpoints/aligner.json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from sklearn.datasets import load_digits
from tqdm import tqdm

from weightnet.align import loss_barrier, rank_matching, weight_matching
from weightnet.align.learned import align_pairs, learned_alignment
from weightnet.align.saved import load_aligner
from weightnet.data.pairs import AlignmentDataModule
from weightnet.symmetry import permute
from weightnet.tasks.alignment import pair_barriers
from weightnet.weightspace import WeightSpace, WeightSpec
from weightnet.zoo.architectures import MLP

SIZES = (64, 32, 32, 10)


def digits_split() -> tuple[torch.Tensor, ...]:
    """Train / test split of sklearn digits (80/20, seeded), inputs scaled to [0, 1]."""
    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    cut = len(order) - len(order) // 5
    train, test = torch.from_numpy(np.sort(order[:cut])), torch.from_numpy(np.sort(order[cut:]))
    return x[train], y[train], x[test], y[test]


def train_mlp(seed: int, x: torch.Tensor, y: torch.Tensor, steps: int) -> dict[str, torch.Tensor]:
    """Full-batch Adam on the digits training split: a plain PyTorch loop."""
    torch.manual_seed(seed)
    model = MLP(SIZES)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def naive_weight_matching(
    layers_a: list[tuple[np.ndarray, np.ndarray]],
    layers_b: list[tuple[np.ndarray, np.ndarray]],
    max_iter: int = 100,
    seed: int = 0,
) -> list[np.ndarray]:
    """Git Re-Basin weight matching for an MLP, written plainly (the reference).

    ``layers_*`` are ``(W, b)`` per layer, ``W`` of shape ``(n_out, n_in)``. Returns one
    permutation per hidden layer: new neuron ``j`` of B is old neuron ``perm[j]``.
    """
    num_hidden = len(layers_a) - 1
    perms = [np.arange(w.shape[0]) for w, _ in layers_a[:-1]]
    rng = np.random.default_rng(seed)
    for _ in range(max_iter):
        progress = False
        for layer in rng.permutation(num_hidden):
            w_a, b_a = layers_a[layer]
            w_b, b_b = layers_b[layer]
            if layer > 0:
                w_b = w_b[:, perms[layer - 1]]
            next_a = layers_a[layer + 1][0]
            next_b = layers_b[layer + 1][0]
            if layer + 1 < num_hidden:
                next_b = next_b[perms[layer + 1], :]
            n = w_a.shape[0]
            cost = np.zeros((n, n))
            for j in range(n):
                for k in range(n):
                    cost[j, k] = w_a[j] @ w_b[k] + b_a[j] * b_b[k] + next_a[:, j] @ next_b[:, k]
            rows, cols = linear_sum_assignment(cost, maximize=True)
            old = cost[np.arange(n), perms[layer]].sum()
            if cost[rows, cols].sum() > old + 1e-12:
                perms[layer] = cols
                progress = True
        if not progress:
            break
    return perms


def _layers(spec: WeightSpec, sd: dict[str, torch.Tensor]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [
        (sd[layer.weight_key].double().numpy(), sd[layer.bias_key].double().numpy())
        for layer in spec.layers
    ]


def _naive_permuted(spec, sd_a, sd_b, seed=0) -> dict[str, torch.Tensor]:
    perms = naive_weight_matching(_layers(spec, sd_a), _layers(spec, sd_b), seed=seed)
    out = dict(sd_b)
    for i, perm in enumerate(perms):
        perm_t = torch.from_numpy(perm)
        layer, nxt = spec.layers[i], spec.layers[i + 1]
        out[layer.weight_key] = out[layer.weight_key][perm_t]
        out[layer.bias_key] = out[layer.bias_key][perm_t]
        out[nxt.weight_key] = out[nxt.weight_key][:, perm_t]
    return out


def _best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _best_times(sides: dict, repeats: int) -> dict[str, dict[str, float]]:
    """Best CPU and wall seconds of each side; the sides run back to back in every repeat."""
    for fn in sides.values():
        fn()  # warm-up, untimed
    best = {name: {"cpu": float("inf"), "wall": float("inf")} for name in sides}
    for _ in tqdm(range(repeats), desc="timing"):
        for name, fn in sides.items():
            cpu, wall = time.process_time(), time.perf_counter()
            fn()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            best[name] = {"cpu": min(best[name]["cpu"], cpu), "wall": min(best[name]["wall"], wall)}
    return best


def learned_vs_matching(aligner: str, zoo: str, repeats: int, max_sweeps: int = 100) -> dict:
    """(c): the learned aligner vs weight matching on the test pairs of ``zoo``, side by side.

    The pairs are those of ``task=alignment`` (conf/data/digits_mlp_pairs.yaml: runs split
    0.6/0.1/0.3 with split_seed 0, last checkpoints with test accuracy >= 0.9, every
    same-activation pair of test networks). Seconds are per pair.
    """
    model, stats = load_aligner(aligner)
    generate = {"recipe": "digits-mlp", "out": zoo, "num_models": 300, "seed": 0}
    data = AlignmentDataModule(zoo, split=(0.6, 0.1, 0.3), min_accuracy=0.9, generate=generate)
    data.setup()
    batch = data.test_pairs[0]
    spec, pairs, size = data.spec, batch.pairs, len(batch.pairs)
    reference, other = batch.reference, batch.other  # M raw networks each

    def normalized(ws: WeightSpace) -> WeightSpace:
        return stats.normalize(ws) if stats is not None else ws

    def learned_shared() -> WeightSpace:  # the body once per network, as task=alignment
        return permute(other, align_pairs(model, normalized(batch.networks), pairs))

    def learned_batched(ref: WeightSpace = reference, oth: WeightSpace = other) -> WeightSpace:
        perms = learned_alignment(model, normalized(ref), normalized(oth)).permutations
        return permute(oth, perms)  # as `weightnet align --method learned`

    def matching_batched() -> WeightSpace:
        return weight_matching(spec, reference, other, max_sweeps=max_sweeps).aligned

    def one_by_one(fn):
        return lambda: [fn(reference[k : k + 1], other[k : k + 1]) for k in range(size)]

    def matching_one(ref: WeightSpace, oth: WeightSpace) -> WeightSpace:
        return weight_matching(spec, ref, oth, max_sweeps=max_sweeps).aligned

    sides = {
        "learned, all pairs in one call, body once per network (align_pairs)": learned_shared,
        "learned, all pairs in one call (learned_alignment)": learned_batched,
        "weight matching, all pairs in one call": matching_batched,
        "learned, one pair per call": one_by_one(learned_batched),
        "weight matching, one pair per call": one_by_one(matching_one),
    }
    seconds = {
        name: {clock: value / size for clock, value in best.items()}
        for name, best in _best_times(sides, repeats).items()
    }
    names = list(sides)
    speedup = {
        f"{clock}: {label}": seconds[wm][clock] / seconds[learned][clock]
        for clock in ("cpu", "wall")
        for label, learned, wm in (
            ("all pairs in one call, body once per network", names[0], names[2]),
            ("all pairs in one call", names[1], names[2]),
            ("one pair per call", names[3], names[4]),
        )
    }
    barriers = {
        "unaligned": pair_barriers(batch, spec, other).mean().item(),
        "learned": pair_barriers(batch, spec, learned_shared()).mean().item(),
        "weight matching": pair_barriers(batch, spec, matching_batched()).mean().item(),
    }
    print(f"\nlearned aligner ({aligner}) vs weight matching on {size} test pairs of {zoo}")
    print(f"{'seconds per pair (best of ' + str(repeats) + ')':<72}{'cpu':>10}{'wall':>10}")
    for name, value in seconds.items():
        print(f"{name:<72}{value['cpu']:>10.6f}{value['wall']:>10.6f}")
    for name, value in speedup.items():
        print(f"speed-up of learned over weight matching, {name}: {value:.1f}x")
    print(
        "loss barrier (mean over pairs): " + ", ".join(f"{k} {v:.4f}" for k, v in barriers.items())
    )
    return {
        "aligner": str(aligner),
        "aligner_config": model.config(),
        "zoo": str(zoo),
        "test_pairs": size,
        "test_networks": batch.networks.batch_size,
        "seconds_per_pair": seconds,
        "speedup_learned_over_matching": speedup,
        "barrier": barriers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--steps", type=int, default=400, help="training steps per MLP")
    parser.add_argument("--batch", type=int, default=16, help="pairs in the batched timing")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (best kept)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: no contention)")
    parser.add_argument("--aligner", metavar="PATH", help="(c): a trained aligner's aligner.json")
    parser.add_argument(
        "--zoo", default="data/digits-mlp-300runs-seed0", help="(c): the zoo of task=alignment"
    )
    parser.add_argument("--learned-repeats", type=int, default=10, help="(c): timing repeats")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    x_train, y_train, x_test, y_test = digits_split()
    sds = [train_mlp(seed, x_train, y_train, args.steps) for seed in tqdm((0, 1), desc="train")]
    spec = WeightSpec.from_state_dict(sds[0])
    net_a, net_b = (WeightSpace.from_state_dicts(spec, [sd]) for sd in sds)

    def barrier(other: WeightSpace) -> float:
        return float(loss_barrier(spec, net_a, other, x_test, y_test).barrier[0])

    accuracies = [_accuracy(sd, x_test, y_test) for sd in sds]
    ours = weight_matching(spec, net_a, net_b)
    ours_forward = weight_matching(spec, net_a, net_b, init="forward")
    ours_identity = weight_matching(spec, net_a, net_b, init="identity")
    reference = WeightSpace.from_state_dicts(spec, [_naive_permuted(spec, sds[0], sds[1])])
    barriers = {
        "unaligned": barrier(net_b),
        "ours (default: best of 2 starts)": barrier(ours.aligned),
        "ours (forward init only)": barrier(ours_forward.aligned),
        "ours (identity init only)": barrier(ours_identity.aligned),
        "ours rank matching (sort)": barrier(rank_matching(spec, net_a, net_b).aligned),
        "naive reference": barrier(reference),
    }

    # (b) timings: one pair, then a batch of pairs (copies of B with small noise)
    gen = torch.Generator().manual_seed(0)
    batch_b = WeightSpace.collate(
        [
            net_b.map(lambda t: t + 0.01 * torch.randn(t.shape, generator=gen))
            for _ in range(args.batch)
        ]
    )
    batch_sds = batch_b.to_state_dicts(spec)
    timings = {
        "ours, 1 pair": _best_time(lambda: weight_matching(spec, net_a, net_b), args.repeats),
        "naive, 1 pair": _best_time(lambda: _naive_permuted(spec, sds[0], sds[1]), args.repeats),
        f"ours, {args.batch} pairs (one call)": _best_time(
            lambda: weight_matching(spec, net_a, batch_b), args.repeats
        ),
        f"naive, {args.batch} pairs (loop)": _best_time(
            lambda: [_naive_permuted(spec, sds[0], sd) for sd in batch_sds], 1
        ),
    }

    ratio = barriers["ours (default: best of 2 starts)"] / max(barriers["naive reference"], 1e-12)
    print(f"\nmlp {'-'.join(map(str, SIZES))} on sklearn digits; test accuracies {accuracies}")
    print(f"{'loss barrier (test cross-entropy)':<40}{'value':>10}")
    for name, value in barriers.items():
        print(f"{name:<40}{value:>10.4f}")
    print(f"ours / reference: {ratio:.3f} (within 10%: {abs(ratio - 1) <= 0.1 or ratio < 1})")
    print(f"\n{'timing (best of ' + str(args.repeats) + ')':<40}{'seconds':>10}")
    for name, value in timings.items():
        print(f"{name:<40}{value:>10.4f}")
    one = timings["naive, 1 pair"] / timings["ours, 1 pair"]
    many = (
        timings[f"naive, {args.batch} pairs (loop)"]
        / timings[f"ours, {args.batch} pairs (one call)"]
    )
    print(f"speed-up vs naive: {one:.1f}x (1 pair), {many:.1f}x ({args.batch} pairs)")
    learned = (
        learned_vs_matching(args.aligner, args.zoo, args.learned_repeats) if args.aligner else None
    )
    if args.json:
        result = {
            "architecture": spec.describe(),
            "data": "sklearn-digits, 80/20 split (seed 0)",
            "train_steps": args.steps,
            "test_accuracy": accuracies,
            "barrier": barriers,
            "barrier_ratio_ours_to_reference": ratio,
            "sweeps": {
                "ours (default: best of 2 starts)": ours.sweeps,
                "ours (forward init only)": ours_forward.sweeps,
                "ours (identity init only)": ours_identity.sweeps,
            },
            "seconds": timings,
            "speedup_vs_naive": {"1 pair": one, f"{args.batch} pairs": many},
            "threads": torch.get_num_threads(),
            "learned_vs_matching": learned,
        }
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


def _accuracy(sd: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> float:
    model = MLP(SIZES)
    model.load_state_dict(sd)
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


if __name__ == "__main__":
    main()
