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
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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


def _value(result: dict, key: str) -> float:
    return result["test"][key] if key.startswith("test/") else result[key]


def _cell(values: list[float]) -> str:
    digits = 4 if max(abs(v) for v in values) < 0.1 else 3
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


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
            command = [
                sys.executable, str(ROOT / "train.py"), f"task={args.task}", f"model={model}",
                f"seed={seed}", f"hydra.run.dir={run_dir}", "callbacks.rich_progress_bar=null",
                *args.overrides,
            ]  # fmt: skip
            print(f"running {model} seed {seed} ...", flush=True)
            proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.exit(f"{model} seed {seed} failed:\n{proc.stderr[-2000:]}")
            result = json.loads((run_dir / "results.json").read_text())
            print("  " + ", ".join(f"{k} {_value(result, k):.4g}" for k in metrics), flush=True)
            results.setdefault(model, []).append(result)

    print(f"\n{'model':16}" + "".join(f"{key:>26}" for key in metrics))
    for model, runs in results.items():
        cells = [_cell([_value(r, key) for r in runs]) for key in metrics]
        print(f"{model:16}" + "".join(f"{cell:>26}" for cell in cells))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
