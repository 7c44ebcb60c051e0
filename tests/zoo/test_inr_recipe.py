import json

import numpy as np
import pytest
import torch
from inr_zoo import TINY_NUM_MODELS, tiny_inr_zoo, write_tiny_inr_zoo

from weightnet.data.zoo import open_zoo
from weightnet.inr import InrGrid, render
from weightnet.zoo.inr import DIGITS_INR, digit_images, siren_init
from weightnet.zoo.recipes import RECIPES
from weightnet.zoo.seeding import stream


@pytest.fixture(scope="module")
def zoo():
    return open_zoo(tiny_inr_zoo(), True)


def test_recipe_is_registered():
    assert RECIPES["digits-inr"] is DIGITS_INR
    assert DIGITS_INR.spec.describe() == "siren 2-32-32-1 sin"
    assert DIGITS_INR.spec.keys[0] == "seq.0.weight"


def test_zoo_files_and_columns(zoo):
    assert len(zoo) == TINY_NUM_MODELS and zoo.meta["num_models"] == TINY_NUM_MODELS
    assert zoo.spec.kind == "siren" and zoo.spec.layers[0].w0 == 30.0
    m = zoo.metrics
    for column in ("run_id", "label", "image_index", "inr_seed", "split", "psnr", "mse", "step"):
        assert column in m
    assert np.array_equal(m["run_id"], np.arange(TINY_NUM_MODELS))
    assert sorted(np.unique(m["inr_seed"]).tolist()) == [0, 1]
    assert len(np.unique(m["image_index"])) == 6
    images, labels = digit_images()
    assert np.array_equal(m["label"], labels[m["image_index"]])
    meta = zoo.meta["dataset"]
    assert meta["image_shape"] == [28, 28] and meta["output_offset"] == 0.5


def test_recorded_psnr_is_the_rendering_of_the_stored_weights(zoo):
    images, _ = digit_images()
    grid = InrGrid.from_meta(zoo.meta["dataset"])
    rendered = render(zoo.spec, zoo.weightspace(np.arange(len(zoo))), grid)
    target = torch.from_numpy(images[zoo.metrics["image_index"]])
    mse = ((rendered - target) ** 2).mean(dim=(1, 2)).double().numpy()
    np.testing.assert_allclose(mse, zoo.metrics["mse"], rtol=1e-4)
    np.testing.assert_allclose(10 * np.log10(1 / mse), zoo.metrics["psnr"], rtol=1e-4)
    assert zoo.metrics["psnr"].min() > 15  # 15 steps already fit the smooth digits roughly


def test_inrs_of_one_image_never_straddle_splits(zoo):
    m = zoo.metrics
    for image in np.unique(m["image_index"]):
        assert len(set(m["split"][m["image_index"] == image])) == 1
    meta = zoo.meta["dataset"]
    for name in ("train", "val", "test"):
        rows = m["split"] == name
        assert rows.any()
        assert sorted(set(m["image_index"][rows].tolist())) == meta[f"{name}_indices"]
    splits = [set(meta[f"{name}_indices"]) for name in ("train", "val", "test")]
    assert not (splits[0] & splits[1] or splits[0] & splits[2] or splits[1] & splits[2])


def test_siren_init_bounds_and_determinism():
    spec = DIGITS_INR.spec
    params = siren_init(spec, stream(0, 3, 0))
    assert params.dtype == np.float32 and params.shape == (spec.num_params,)
    first = params[:64]
    hidden = params[64 + 32 : 64 + 32 + 1024]
    assert np.abs(first).max() <= 0.5 and np.abs(first).max() > 0.4
    assert np.abs(hidden).max() <= np.sqrt(6 / 32) / 30
    np.testing.assert_array_equal(params, siren_init(spec, stream(0, 3, 0)))


def test_same_seed_same_bytes(tmp_path):
    def sha(name, seed):
        path = write_tiny_inr_zoo(tmp_path / name, seed, num_models=4)
        return json.loads((path / "zoo.json").read_text())["weights_sha256"]

    assert sha("one", 0) == sha("again", 0) != sha("other", 1)


def test_cli_generates_a_zoo(tmp_path, monkeypatch):
    from dataclasses import replace

    import weightnet.zoo.recipes as recipes
    from weightnet.cli import main

    monkeypatch.setitem(recipes.RECIPES, "digits-inr", replace(DIGITS_INR, num_steps=2))
    out = tmp_path / "cli"
    assert main(["zoo", "generate", "digits-inr", "--out", str(out), "--num-models", "4",
                 "--no-progress"]) == 0  # fmt: skip
    assert len(open_zoo(out)) == 4
