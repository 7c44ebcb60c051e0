"""Zoo generation: the vectorized trainer vs training the same networks one by one.

Both sides train the same ``digits-mlp`` runs (same hyperparameters, initial weights,
training subsets, minibatches and checkpoint evaluations) in one process:

* vectorized: ``generate_zoo`` end to end (training, evaluation, writing the zoo);
* loop: a plain PyTorch loop per run (``weightnet.zoo.architectures.MLP`` +
  ``torch.optim.SGD``/``Adam`` with ``weight_decay``), on a subset of the runs, the cost
  per model extrapolated. The loop's final weights and test accuracies are compared with
  the zoo's. Weights agree to float rounding after one step; over 800 steps rounding
  differences grow (Adam divides near-zero gradients by ``|g| + eps``), so the final
  weights differ while the accuracies the runs reach agree closely.

It also reports the cost per model of the vectorized trainer for 100 / 1,000
(/ 10,000 with ``--sizes``) runs.

    python benchmarks/zoo_generation.py [--loop-runs 20] [--runs 2000] [--steps 800]
        [--sizes 100,1000] [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from weightnet.data.zoo import open_zoo
from weightnet.zoo.architectures import MLP
from weightnet.zoo.classification import ClassificationRuns
from weightnet.zoo.digits import load_digits_data
from weightnet.zoo.recipes import RECIPES, generate_zoo, normal_init, training_subset
from weightnet.zoo.seeding import BATCHES, HYPERPARAMETERS, INIT, SUBSET, stream

SEED = 0


def vectorized(recipe, num_runs: int) -> tuple[float, Path]:
    """Seconds for ``generate_zoo`` of ``num_runs`` runs, and the zoo folder."""
    out = Path(tempfile.mkdtemp()) / "zoo"
    start = time.perf_counter()
    generate_zoo(recipe, out, num_runs, seed=SEED, progress=False)
    return time.perf_counter() - start, out


def loop(recipe, num_runs: int) -> tuple[float, list[np.ndarray], list[float]]:
    """Seconds to train ``num_runs`` runs one at a time, their final flat weights and
    final test accuracies."""
    data = load_digits_data(SEED)
    inputs = torch.from_numpy(data.images.reshape(-1, 64))
    labels = torch.from_numpy(data.labels)
    spec = RECIPES["digits-mlp"].architectures(SEED, num_runs)[0][1]
    test = torch.from_numpy(data.test_indices)
    finals, accuracies = [], []
    start = time.perf_counter()
    for run in range(num_runs):
        config = recipe.space.sample(stream(SEED, HYPERPARAMETERS, run))
        model = MLP((64, 32, 32, 10), config["activation"])
        flat = torch.from_numpy(normal_init(spec, config["init_std"], stream(SEED, INIT, run)))
        model.load_state_dict(
            {name: flat[a:b].reshape(shape) for name, a, b, _, shape in spec.layout()}
        )
        optimizer_cls = torch.optim.Adam if config["optimizer"] == "adam" else torch.optim.SGD
        optimizer = optimizer_cls(
            model.parameters(), lr=config["learning_rate"], weight_decay=config["l2_reg"]
        )
        subset = training_subset(
            data.train_indices, config["train_fraction"], stream(SEED, SUBSET, run)
        )
        batches = ClassificationRuns(
            spec,
            inputs,
            labels,
            [subset],
            data.test_indices,
            [stream(SEED, BATCHES, run)],
            recipe.batch_size,
        )  # the same minibatch indices as the vectorized run
        train = torch.from_numpy(subset)
        for step in range(recipe.num_steps + 1):
            if step in recipe.checkpoint_steps:
                with torch.no_grad():  # the same evaluations as the zoo records
                    for part in (test, train):
                        logits = model(inputs[part])
                        accuracy = (logits.argmax(1) == labels[part]).double().mean()
                        F.cross_entropy(logits, labels[part])
                        if part is test and step == recipe.num_steps:
                            accuracies.append(float(accuracy))
            if step == recipe.num_steps:
                break
            index = batches.batch_indices(step)[0]
            loss = F.cross_entropy(model(inputs[index]), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        finals.append(
            torch.cat([p.detach().reshape(-1) for p in model.state_dict().values()]).numpy()
        )
    return time.perf_counter() - start, finals, accuracies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="runs of the headline zoo")
    parser.add_argument("--loop-runs", type=int, default=20, help="runs trained one by one")
    parser.add_argument("--steps", type=int, default=None, help="steps per run (recipe default)")
    parser.add_argument("--sizes", default="100,1000", help="run counts for the scaling table")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = RECIPES["digits-mlp"]
    if args.steps is not None:
        checkpoints = tuple(s for s in recipe.checkpoint_steps if s < args.steps) + (args.steps,)
        recipe = dataclasses.replace(recipe, num_steps=args.steps, checkpoint_steps=checkpoints)

    loop_seconds, loop_finals, loop_accuracies = loop(recipe, args.loop_runs)
    vec_seconds, zoo_path = vectorized(recipe, args.runs)
    zoo = open_zoo(zoo_path)
    last = zoo.metrics["step"] == recipe.num_steps
    first_runs = np.flatnonzero(last)[: args.loop_runs]
    trained = zoo.weights[first_runs]  # (loop_runs, P)
    max_diff = float(np.nanmax(np.abs(trained - np.stack(loop_finals))))
    accuracy = zoo.metrics["test_accuracy"]
    accuracy_diff = np.abs(accuracy[first_runs] - np.array(loop_accuracies))  # (loop_runs,)
    scaling = {}
    for size in (int(s) for s in args.sizes.split(",") if s):
        seconds = vec_seconds if size == args.runs else vectorized(recipe, size)[0]
        scaling[size] = {"seconds": seconds, "ms_per_model": 1e3 * seconds / size}

    loop_rate, vec_rate = args.loop_runs / loop_seconds, args.runs / vec_seconds
    results = {
        "recipe": recipe.name,
        "steps": recipe.num_steps,
        "checkpoint_steps": list(recipe.checkpoint_steps),
        "batch_size": recipe.batch_size,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "vectorized": {"runs": args.runs, "seconds": vec_seconds, "models_per_s": vec_rate},
        "loop": {"runs": args.loop_runs, "seconds": loop_seconds, "models_per_s": loop_rate},
        "speedup": vec_rate / loop_rate,
        "max_abs_weight_diff_loop_vs_vectorized": max_diff,
        "test_accuracy_diff_loop_vs_vectorized": {
            "mean": float(accuracy_diff.mean()),
            "max": float(accuracy_diff.max()),
        },
        "test_accuracy": {
            "mean": float(accuracy.mean()),
            "std": float(accuracy.std()),
            "final_step_mean": float(accuracy[last].mean()),
            "final_step_std": float(accuracy[last].std()),
        },
        "scaling": scaling,
    }
    print(
        f"digits-mlp, {recipe.num_steps} steps, batch {recipe.batch_size}, "
        f"{results['threads']} threads"
    )
    print(f"{'side':<28}{'runs':>7}{'seconds':>10}{'models/s':>11}")
    print(
        f"{'loop (nn.Module+torch.optim)':<28}{args.loop_runs:>7}{loop_seconds:>10.1f}{loop_rate:>11.2f}"
    )
    print(f"{'vectorized (generate_zoo)':<28}{args.runs:>7}{vec_seconds:>10.1f}{vec_rate:>11.2f}")
    print(f"speedup {results['speedup']:.1f}x; max |w_loop - w_zoo| after training {max_diff:.2e}")
    print(
        f"|test accuracy loop - zoo| of the same runs: mean {accuracy_diff.mean():.4f}, "
        f"max {accuracy_diff.max():.4f}"
    )
    print(
        f"test accuracy: mean {accuracy.mean():.3f} std {accuracy.std():.3f} (all rows); "
        f"final step mean {accuracy[last].mean():.3f} std {accuracy[last].std():.3f}"
    )
    print(f"{'runs':>7}{'seconds':>10}{'ms/model':>10}")
    for size, row in scaling.items():
        print(f"{size:>7}{row['seconds']:>10.1f}{row['ms_per_model']:>10.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
