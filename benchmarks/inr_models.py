"""Compare metanets on the INR tasks at the default budget (one ``train.py`` per run).

Runs ``python train.py task=T model=M seed=S [extra overrides]`` for every model and
seed, one after the other on the same machine, then prints a table (mean ± std over
seeds of the task's test metrics, fit seconds, training samples per second) and writes
all ``results.json`` contents to ``--json``. T is ``inr_classification`` (metric
``test/acc``; models ``mlp statnn dws nfn_np nfn_hnp gnn transformer``) or
``inr_editing`` (``test/mse`` and ``test/mse_identity``; models ``editor/dws ...``).

    python benchmarks/inr_models.py [--task inr_classification] [--models mlp dws ...]
        [--seeds 0 1 2] [--out outputs/benchmarks/inr] [--json results.json]
        [-- data.path=/path/to/digits-inr trainer.max_epochs=10 ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_runs import ROOT, report, run_train, value  # noqa: E402

TASKS = {
    "inr_classification": (
        ("mlp", "statnn", "dws", "nfn_np", "nfn_hnp", "gnn", "transformer"),
        ("test/acc", "fit_seconds", "train_samples_per_second"),
    ),
    "inr_editing": (
        ("editor/dws", "editor/nfn_np", "editor/nfn_hnp", "editor/gnn"),
        ("test/mse", "test/mse_identity", "fit_seconds", "train_samples_per_second"),
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="inr_classification")
    parser.add_argument("--models", nargs="+", default=None, help="default: all of the task's")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "benchmarks" / "inr")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args()
    default_models, metrics = TASKS[args.task]

    results: dict[str, list[dict]] = {}
    for model in args.models or default_models:
        for seed in args.seeds:
            run_dir = (args.out / args.task / f"{model.replace('/', '-')}-seed{seed}").resolve()
            result = run_train(args.task, model, seed, run_dir, args.overrides)
            print("  " + ", ".join(f"{k} {value(result, k):.4g}" for k in metrics), flush=True)
            results.setdefault(model, []).append(result)

    report(results, metrics, args.json)


if __name__ == "__main__":
    main()
