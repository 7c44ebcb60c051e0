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
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("test/kendall_tau", "test/r2", "fit_seconds", "train_samples_per_second")


def _value(result: dict, key: str) -> float:
    return result["test"][key] if key.startswith("test/") else result[key]


def _cell(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


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
            command = [
                sys.executable, str(ROOT / "train.py"), "task=generalization", f"model={model}",
                f"seed={seed}", f"hydra.run.dir={run_dir}", "callbacks.rich_progress_bar=null",
                *args.overrides,
            ]  # fmt: skip
            print(f"running {model} seed {seed} ...", flush=True)
            proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.exit(f"{model} seed {seed} failed:\n{proc.stderr[-2000:]}")
            results.setdefault(model, []).append(json.loads((run_dir / "results.json").read_text()))

    print(f"\n{'model':10}" + "".join(f"{key:>26}" for key in METRICS))
    for model, runs in results.items():
        cells = [_cell([_value(r, key) for r in runs]) for key in METRICS]
        print(f"{model:10}" + "".join(f"{cell:>26}" for cell in cells))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
