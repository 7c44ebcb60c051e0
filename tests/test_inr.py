import math

import pytest
import torch

from weightnet.inr import InrGrid, psnr, render
from weightnet.testing import mlp_spec, random_weightspace, siren_spec
from weightnet.weightspace import SpecError
from weightnet.zoo.architectures import SIREN


def test_render_equals_each_siren_module_on_the_grid():
    spec = siren_spec((2, 8, 8, 1))
    ws = random_weightspace(spec, batch_size=5, seed=3, scale=0.3)
    grid = InrGrid(6, 7, output_offset=0.5)
    images = render(spec, ws, grid)
    assert images.shape == (5, 6, 7)
    ys, xs = torch.linspace(-1, 1, 6), torch.linspace(-1, 1, 7)
    for b, state in enumerate(ws.to_state_dicts(spec)):
        module = SIREN((2, 8, 8, 1))
        module.load_state_dict(state)
        for i, y in enumerate(ys):
            for j, x in enumerate(xs):
                with torch.no_grad():
                    value = module(torch.stack([x, y])[None])[0, 0] + 0.5
                assert abs(float(images[b, i, j] - value)) <= 1e-5


def test_coordinates_follow_the_dws_meshgrid_layout():
    coords = InrGrid(3, 4).coordinates()
    assert coords.shape == (12, 2)
    assert coords[1].tolist() == pytest.approx([-1 / 3, -1.0])  # x moves first along a row
    assert coords[4].tolist() == pytest.approx([-1.0, 0.0])  # second row: y = 0


def test_grid_meta_round_trip_and_errors():
    grid = InrGrid(28, 20, 0.5)
    assert InrGrid.from_meta(grid.to_meta()) == grid
    with pytest.raises(SpecError, match="image_shape"):
        InrGrid.from_meta({"input_shape": [2]})
    with pytest.raises(SpecError, match="2 coordinates to 1 value"):
        render(mlp_spec((3, 4, 1)), random_weightspace(mlp_spec((3, 4, 1))), grid)


def test_psnr_on_a_hand_case():
    target = torch.zeros(2, 2, 2)
    images = torch.tensor([[[0.1, 0.1], [0.1, 0.1]], [[0.0, 0.0], [0.0, 0.2]]])
    # mse 0.01 -> 20 dB; mse 0.04 / 4 = 0.01 -> 20 dB
    assert psnr(images, target).tolist() == pytest.approx([20.0, 20.0], abs=1e-4)
    assert psnr(images[:1] * 0.1, target[:1]).item() == pytest.approx(40.0, abs=1e-3)
    assert math.isfinite(psnr(images, target).sum().item())
