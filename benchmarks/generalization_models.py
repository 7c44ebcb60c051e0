"""Compare metanets on the generalization task at the default budget (one ``train.py`` per run).

Runs ``python train.py task=generalization model=M seed=S [extra overrides]`` for every
model and seed, one after the other on the same machine, then prints a table (mean and
spread of test Kendall tau, R2, fit seconds, training samples per second) and writes all
``results.json`` contents to ``--json``.

    python benchmarks/generalization_models.py [--models mlp statnn dws nfn_np nfn_hnp]
        [--seeds 0 1 2] [--out outputs/benchmarks/generalization] [--json results.json]
        [-- trainer.max_epochs=10 ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_runs import ROOT, report, run_train  # noqa: E402

METRICS = ("test/kendall_tau", "test/r2", "fit_seconds", "train_samples_per_second")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", default=["mlp", "statnn", "dws", "nfn_np", "nfn_hnp"]
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "outputs" / "benchmarks" / "generalization"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args()

    results: dict[str, list[dict]] = {}
    for model in args.models:
        for seed in args.seeds:
            run_dir = (args.out / f"{model}-seed{seed}").resolve()
            result = run_train("generalization", model, seed, run_dir, args.overrides)
            results.setdefault(model, []).append(result)
    report(results, METRICS, args.json)


if __name__ == "__main__":
    main()
