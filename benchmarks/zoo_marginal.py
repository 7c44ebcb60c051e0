"""Zoo generation against a plain per-model PyTorch loop, measured as issue #21 states it.

The loop on one torch thread; the zoo on one thread (the same resources) and on all the
machine's cores (``--threads``, default: torch's default, as the issue measured: "idle on
2 cores"); same architecture (``digits-mlp``: 64-32-32-10), batch 32, the zoo's number of
steps per run (800), and the marginal cost of one more model with start-up (imports, data,
the first chunk's warm-up) excluded:

* vectorized: ``generate_zoo`` end to end (training every run, its 6 checkpoint
  evaluations, writing the zoo) at ``--runs`` and at twice as many; marginal cost per
  model = (seconds at 2N - seconds at N) / N;
* loop: one ``nn.Module`` (``weightnet.zoo.architectures.MLP``) per run with
  ``torch.optim.SGD`` (the run's learning rate and L2), minibatches of 32 from the run's
  training subset, the same 6 evaluations of the test and training images; runs of the
  zoo's own hyperparameters (activation, init std, learning rate, subset), all with SGD;
  marginal cost = seconds / runs after ``--warmup`` runs.

    python benchmarks/zoo_marginal.py [--runs 1000] [--loop-runs 20] [--threads N] [--json out.json]

Run it on an idle machine: with other processes on the cores, the multi-threaded figure
means little.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from zoo_generation import vectorized

from weightnet.zoo.architectures import MLP
from weightnet.zoo.digits import load_digits_data
from weightnet.zoo.recipes import RECIPES, normal_init, training_subset
from weightnet.zoo.seeding import BATCHES, HYPERPARAMETERS, INIT, SUBSET, stream

SEED = 0


def sgd_loop(recipe, runs: range) -> float:
    """Seconds to train ``runs`` one at a time: a plain PyTorch loop with SGD."""
    data = load_digits_data(SEED)
    inputs = torch.from_numpy(data.images.reshape(-1, 64))
    labels = torch.from_numpy(data.labels)
    spec = recipe.architectures(SEED, len(runs))[0][1]
    test = torch.from_numpy(data.test_indices)
    start = time.perf_counter()
    for run in runs:
        config = recipe.space.sample(stream(SEED, HYPERPARAMETERS, run))
        model = MLP((64, 32, 32, 10), config["activation"])
        flat = torch.from_numpy(normal_init(spec, config["init_std"], stream(SEED, INIT, run)))
        model.load_state_dict(
            {name: flat[a:b].reshape(shape) for name, a, b, _, shape in spec.layout()}
        )
        optimizer = torch.optim.SGD(
            model.parameters(), lr=config["learning_rate"], weight_decay=config["l2_reg"]
        )
        subset = training_subset(
            data.train_indices, config["train_fraction"], stream(SEED, SUBSET, run)
        )
        batches = torch.from_numpy(
            subset[stream(SEED, BATCHES, run).integers(0, len(subset), (recipe.num_steps, 32))]
        )  # (steps, 32)
        train = torch.from_numpy(subset)
        for step in range(recipe.num_steps + 1):
            if step in recipe.checkpoint_steps:
                with torch.no_grad():
                    for part in (test, train):
                        logits = model(inputs[part])
                        (logits.argmax(1) == labels[part]).double().mean()
                        F.cross_entropy(logits, labels[part])
            if step == recipe.num_steps:
                break
            index = batches[step]
            loss = F.cross_entropy(model(inputs[index]), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="N: runs of the smaller zoo")
    parser.add_argument("--loop-runs", type=int, default=20, help="runs the loop trains")
    parser.add_argument("--warmup", type=int, default=2, help="loop runs not counted")
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="the zoo's threads"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    recipe = RECIPES["digits-mlp"]

    torch.set_num_threads(1)
    sgd_loop(recipe, range(args.warmup))
    loop_seconds = sgd_loop(recipe, range(args.warmup, args.warmup + args.loop_runs))
    loop_ms = 1e3 * loop_seconds / args.loop_runs
    results = {
        "recipe": recipe.name,
        "steps": recipe.num_steps,
        "batch_size": recipe.batch_size,
        "machine": platform.processor() or platform.machine(),
        "loop": {"runs": args.loop_runs, "seconds": loop_seconds, "ms_per_model": loop_ms},
    }
    print(f"digits-mlp, {recipe.num_steps} steps, batch {recipe.batch_size}")
    print(f"loop (nn.Module + torch.optim.SGD, 1 thread): {loop_ms:.1f} ms per model")
    for threads in sorted({1, args.threads}):
        torch.set_num_threads(threads)
        small, _ = vectorized(recipe, args.runs)
        large, _ = vectorized(recipe, 2 * args.runs)
        vec_ms = 1e3 * (large - small) / args.runs
        results[f"vectorized_{threads}_threads"] = {
            "runs": [args.runs, 2 * args.runs],
            "seconds": [small, large],
            "marginal_ms_per_model": vec_ms,
            "speedup_marginal": loop_ms / vec_ms,
        }
        print(
            f"vectorized (generate_zoo, {threads} thread(s)): {small:.1f} s for {args.runs} "
            f"runs, {large:.1f} s for {2 * args.runs}: {vec_ms:.2f} ms per model more, "
            f"{loop_ms / vec_ms:.1f}x the loop"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
