import numpy as np
import pytest
import torch
from inr_zoo import tiny_inr_zoo

from weightnet.data.inr_dilation import InrDilationDataModule, dilate
from weightnet.data.zoo import ZooError
from weightnet.inr import InrGrid, render


@pytest.fixture(scope="module")
def zoo_path():
    return tiny_inr_zoo()


def test_dilate_on_a_hand_case():
    image = np.zeros((1, 5, 5), dtype=np.float32)
    image[0, 2, 2] = 1.0
    image[0, 0, 4] = 0.5
    out = dilate(image, 3)
    expected = np.zeros((5, 5), dtype=np.float32)
    expected[0:2, 3:5] = 0.5
    expected[1:4, 1:4] = 1.0
    np.testing.assert_array_equal(out[0], expected)


def test_targets_are_dilated_renderings_of_the_raw_weights(zoo_path):
    dm = InrDilationDataModule(zoo_path, batch_size=4, dilation=3, split_column="split")
    dm.setup("fit")
    assert dm.grid == InrGrid(28, 28, 0.5)
    ws, targets = next(iter(dm.test_dataloader()))
    assert targets.shape == (len(dm.test_set), 28, 28) and targets.dtype == torch.float32
    raw = dm.stats.denormalize(ws)  # the batch is normalized
    rendered = render(dm.spec, raw, dm.grid).numpy()
    np.testing.assert_allclose(targets.numpy(), dilate(rendered, 3), atol=1e-4)
    assert (targets.numpy() >= rendered - 1e-6).all() and (targets.numpy() > rendered).any()
    state = dm.state_dict()
    assert state["grid"]["image_shape"] == [28, 28] and state["dilation"] == 3


def test_bad_dilation_and_a_zoo_without_grid(zoo_path, tiny_zoo):
    with pytest.raises(ZooError, match="dilation 4"):
        InrDilationDataModule(zoo_path, dilation=4)
    dm = InrDilationDataModule(tiny_zoo, batch_size=4)
    with pytest.raises(ZooError, match="image_shape"):
        dm.setup("fit")
