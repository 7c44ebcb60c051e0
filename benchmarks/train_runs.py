"""Shared by the model-comparison benchmarks: one ``train.py`` run per model and seed, and
the table of their ``results.json`` (mean ± std over seeds)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def value(result: dict, key: str) -> float:
    """A metric of one run's ``results.json``: ``test/...`` keys live under ``test``."""
    return result["test"][key] if key.startswith("test/") else result[key]


def run_train(task: str, model: str, seed: int, run_dir: Path, overrides: list[str]) -> dict:
    """Run ``train.py task=TASK model=MODEL seed=SEED`` into ``run_dir``; its results.json.

    Exits with the tail of train.py's stderr when the run fails.
    """
    command = [
        sys.executable, str(ROOT / "train.py"), f"task={task}", f"model={model}",
        f"seed={seed}", f"hydra.run.dir={run_dir}", "callbacks.rich_progress_bar=null",
        *overrides,
    ]  # fmt: skip
    print(f"running {model} seed {seed} ...", flush=True)
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{model} seed {seed} failed:\n{proc.stderr[-2000:]}")
    return json.loads((run_dir / "results.json").read_text())


def _cell(values: list[float]) -> str:
    digits = 4 if max(abs(v) for v in values) < 0.1 else 3
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def report(results: dict[str, list[dict]], metrics: tuple[str, ...], json_path: Path | None):
    """Print one row per model (mean ± std over its runs) and write all runs to ``json_path``."""
    width = max(len("model"), *(len(model) for model in results)) + 2
    print(f"\n{'model':{width}}" + "".join(f"{key:>26}" for key in metrics))
    for model, runs in results.items():
        cells = [_cell([value(r, key) for r in runs]) for key in metrics]
        print(f"{model:{width}}" + "".join(f"{cell:>26}" for cell in cells))
    if json_path is not None:
        json_path.write_text(json.dumps(results, indent=2) + "\n")
