"""What ``weightnet zoo info`` reports about a zoo folder or a folder of zoo folders."""

from __future__ import annotations

import os

import numpy as np

from weightnet.data.zoo import ZOO_FILES, Zoo, open_zoos
from weightnet.zoo.writer import sha256_file

__all__ = ["summarize", "summarize_zoo", "format_summary"]


def summarize_zoo(zoo: Zoo) -> dict:
    """JSON-ready facts about one zoo (reads the whole ``weights.npy`` for the checksum)."""
    meta, metrics = zoo.meta, zoo.metrics
    summary = {
        "path": str(zoo.path),
        "recipe": meta.get("recipe"),
        "seed": meta.get("seed"),
        "num_rows": len(zoo),
        "num_runs": meta["num_models"],
        "architecture": zoo.spec.describe(),
        "activation": meta["architecture"].get("activation"),
        "num_params": zoo.spec.num_params,
        "nonfinite_rows": len(zoo.nonfinite_rows),
        "file_bytes": {name: (zoo.path / name).stat().st_size for name in ZOO_FILES},
        "checksum_ok": sha256_file(zoo.path / "weights.npy") == meta.get("weights_sha256"),
    }
    accuracy = metrics.get("test_accuracy", np.zeros(0)).astype(np.float64)
    accuracy = accuracy[np.isfinite(accuracy)]
    if accuracy.size:
        summary["test_accuracy"] = {
            "mean": float(accuracy.mean()),
            "std": float(accuracy.std()),
            "min": float(accuracy.min()),
            "max": float(accuracy.max()),
        }
    if "step" in metrics:
        steps = np.unique(metrics["step"].astype(np.float64))
        summary["steps"] = [int(s) for s in steps[np.isfinite(steps)]]  # NaN: unknown step
    return summary


def summarize(path: str | os.PathLike) -> dict:
    """Summaries of every zoo under ``path`` plus totals."""
    zoos = [summarize_zoo(zoo) for zoo in open_zoos(path)]
    return {
        "path": str(path),
        "num_rows": sum(z["num_rows"] for z in zoos),
        "num_runs": sum(z["num_runs"] for z in zoos),
        "zoos": zoos,
    }


def format_summary(summary: dict) -> str:
    """The human-readable form of :func:`summarize`."""
    lines = [
        f"{summary['path']}: {len(summary['zoos'])} zoo(s), {summary['num_rows']} models "
        f"from {summary['num_runs']} runs"
    ]
    for zoo in summary["zoos"]:
        sizes = ", ".join(f"{name} {_size(n)}" for name, n in zoo["file_bytes"].items())
        lines += [
            f"  {zoo['path']}",
            f"    recipe        {zoo['recipe']} (seed {zoo['seed']})",
            f"    architecture  {zoo['architecture']}, activation {zoo['activation']}",
            f"    parameters    {zoo['num_params']} per model",
            f"    models        {zoo['num_rows']} rows from {zoo['num_runs']} runs, "
            f"{zoo['nonfinite_rows']} with NaN/Inf",
        ]
        if "test_accuracy" in zoo:
            acc = zoo["test_accuracy"]
            lines.append(
                f"    test acc      mean {acc['mean']:.4f}  std {acc['std']:.4f}  "
                f"min {acc['min']:.4f}  max {acc['max']:.4f}"
            )
        if zoo.get("steps"):
            steps = zoo["steps"]
            lines.append(f"    steps         {steps[0]}..{steps[-1]} ({len(steps)} checkpoints)")
        lines += [
            f"    files         {sizes}",
            f"    checksum      {'ok' if zoo['checksum_ok'] else 'MISMATCH: weights.npy differs from zoo.json'}",
        ]
    return "\n".join(lines)


def _size(num_bytes: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if num_bytes < 1024 or unit == "GiB":
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.1f} GiB"
