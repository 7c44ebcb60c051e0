"""Figures saved as PNG: predicted vs true accuracy, and a zoo's accuracy histogram.

Figures are built on :class:`matplotlib.figure.Figure` directly (the Agg renderer, no
pyplot state, no display needed) and written atomically by :func:`save_figure`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

__all__ = ["prediction_scatter", "accuracy_histogram", "save_figure"]


def prediction_scatter(
    predicted: Sequence[float] | np.ndarray,
    true: Sequence[float] | np.ndarray,
    kendall_tau: float,
    title: str = "test set",
) -> Figure:
    """Predicted vs true accuracy, one dot per network, with the identity line.

    Args:
        predicted: ``(N,)`` predicted accuracies.
        true: ``(N,)`` recorded accuracies.
        kendall_tau: the rank correlation shown in the title.
        title: what the points are (first part of the title).

    Returns:
        The figure (save it with :func:`save_figure`).
    """
    predicted = np.asarray(predicted, dtype=np.float64).reshape(-1)  # (N,)
    true = np.asarray(true, dtype=np.float64).reshape(-1)  # (N,)
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(true, predicted, s=14, alpha=0.6, edgecolors="none")
    both = np.concatenate([predicted, true])
    lo, hi = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
    pad = 0.03 * max(hi - lo, 1e-3)
    lims = (lo - pad, hi + pad)
    ax.plot(lims, lims, color="0.3", linestyle="--", linewidth=1, label="predicted = true")
    ax.set_xlim(lims)
    ax.set_ylim(lims)
    ax.set_aspect("equal")
    ax.set_xlabel("true accuracy")
    ax.set_ylabel("predicted accuracy")
    ax.set_title(f"{title}: Kendall τ = {kendall_tau:.3f} (n = {true.size})")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return fig


def accuracy_histogram(
    accuracies: Mapping[str, Sequence[float] | np.ndarray], bins: int = 30, title: str = ""
) -> Figure:
    """Histogram of test accuracies, one series per zoo (NaN values left out).

    Args:
        accuracies: label (e.g. the zoo folder's name) -> ``(N,)`` accuracies.
        bins: number of bins over the common range.
        title: the figure title.

    Returns:
        The figure (save it with :func:`save_figure`).
    """
    series = {k: np.asarray(v, dtype=np.float64).reshape(-1) for k, v in accuracies.items()}
    series = {k: v[np.isfinite(v)] for k, v in series.items()}  # (N_k,) finite values
    values = np.concatenate([v for v in series.values()] or [np.zeros(0)])
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    edges = np.linspace(lo, hi if hi > lo else lo + 1e-3, bins + 1)
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    for label, v in series.items():
        ax.hist(v, bins=edges, alpha=0.6 if len(series) > 1 else 0.9, label=f"{label} ({v.size})")
    ax.set_xlabel("test accuracy")
    ax.set_ylabel("models")
    ax.set_title(title or f"test accuracy of {values.size} models")
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Write ``fig`` as PNG to ``path`` through a temporary file (no half-written file).

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fig.savefig(tmp, format="png", dpi=dpi)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
