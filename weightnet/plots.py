"""Figures saved as PNG: predicted vs true accuracy, a zoo's accuracy histogram, a
confusion matrix and rows of images (INR editing).

Figures are built on :class:`matplotlib.figure.Figure` directly (the Agg renderer, no
pyplot state, no display needed) and written atomically by :func:`save_figure`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "prediction_scatter",
    "accuracy_histogram",
    "confusion_matrix_figure",
    "image_grid",
    "save_figure",
]


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


def confusion_matrix_figure(
    matrix: np.ndarray, class_names: Sequence[str] | None = None, title: str = "confusion matrix"
) -> Figure:
    """A ``(K, K)`` confusion matrix (rows: true class, columns: predicted), counts written in.

    Returns:
        The figure (save it with :func:`save_figure`).
    """
    matrix = np.asarray(matrix)
    k = matrix.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    fig = Figure(figsize=(1.5 + 0.5 * k, 1.0 + 0.5 * k), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set(xticks=range(k), yticks=range(k), xticklabels=names, yticklabels=names)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    half = matrix.max(initial=0) / 2
    for i in range(k):
        for j in range(k):
            color = "white" if matrix[i, j] > half else "black"
            ax.text(j, i, f"{matrix[i, j]:g}", ha="center", va="center", fontsize=7, color=color)
    return fig


def image_grid(
    rows: Mapping[str, np.ndarray], vmin: float = 0.0, vmax: float = 1.0, title: str = ""
) -> Figure:
    """Rows of grey images: name -> ``(n, H, W)``, one row per name, one column per image.

    Returns:
        The figure (save it with :func:`save_figure`).
    """
    n = max(len(images) for images in rows.values())
    fig = Figure(figsize=(1.2 * n + 1.0, 1.2 * len(rows) + 0.4), layout="constrained")
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, (name, images) in enumerate(rows.items()):
        for c in range(n):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(images):
                ax.imshow(np.asarray(images[c]), cmap="gray", vmin=vmin, vmax=vmax)
            if c == 0:
                ax.set_ylabel(name)
    if title:
        fig.suptitle(title)
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
