"""weightnet.plots: figures hold the data they are given and are written as whole PNG files."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from weightnet.plots import accuracy_histogram, prediction_scatter, save_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_prediction_scatter_draws_points_identity_and_tau(tmp_path):
    true = np.array([0.1, 0.5, 0.9, 0.7])
    predicted = np.array([0.2, 0.4, 0.8, 0.75])
    fig = prediction_scatter(predicted, true, kendall_tau=0.6667)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.collections[0].get_offsets(), np.stack([true, predicted], 1))
    xs, ys = ax.lines[0].get_data()  # the identity line spans the data
    np.testing.assert_allclose(xs, ys)
    assert xs[0] < 0.1 and xs[-1] > 0.9
    assert "0.667" in ax.get_title() and "n = 4" in ax.get_title()
    path = save_figure(fig, tmp_path / "sub" / "scatter.png")
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert [p.name for p in path.parent.iterdir()] == ["scatter.png"]  # no temporary left


def test_accuracy_histogram_counts_every_finite_value_per_zoo():
    fig = accuracy_histogram({"a": [0.1, 0.2, np.nan, 0.9], "b": np.array([0.5, 0.55])}, bins=5)
    ax = fig.axes[0]
    heights = [sum(p.get_height() for p in c.patches) for c in ax.containers]
    assert heights == [3, 2]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a (3)", "b (2)"]
    assert "5 models" in ax.get_title()


def test_save_figure_failure_leaves_nothing(tmp_path, monkeypatch):
    fig = Figure()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(OSError):
        save_figure(fig, tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []
