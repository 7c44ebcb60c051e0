"""Tiny generated zoos shared by the zoo tests (few runs, few steps: seconds)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from weightnet.zoo.recipes import RECIPES, ClassifierRecipe


def _tiny(name: str, **changes) -> ClassifierRecipe:
    """A built-in recipe shortened to 12 steps with checkpoints at 0, 4 and 12."""
    defaults = dict(num_steps=12, checkpoint_steps=(0, 4, 12), chunk_size=8)
    return dataclasses.replace(RECIPES[name], **(defaults | changes))


@pytest.fixture
def tiny():
    """``tiny(name, **changes)``: a shortened built-in recipe."""
    return _tiny


@pytest.fixture(scope="session")
def mlp_zoo(tmp_path_factory) -> Path:
    from weightnet.zoo.recipes import generate_zoo

    return generate_zoo(
        _tiny("digits-mlp"), tmp_path_factory.mktemp("zoos") / "mlp", 10, seed=3, progress=False
    )


@pytest.fixture(scope="session")
def cnn_zoo(tmp_path_factory) -> Path:
    from weightnet.zoo.recipes import generate_zoo

    return generate_zoo(
        _tiny("digits-cnn"), tmp_path_factory.mktemp("zoos") / "cnn", 6, seed=1, progress=False
    )
