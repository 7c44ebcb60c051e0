import json

import numpy as np
import pytest
import torch

from weightnet.data.datamodule import ZooDataModule
from weightnet.data.normalization import WeightStats
from weightnet.data.zoo import ZooError, open_zoo
from weightnet.functional import forward
from weightnet.weightspace import WeightSpace


def _setup(path, **kwargs):
    dm = ZooDataModule(path, batch_size=5, **kwargs)
    dm.setup("fit")
    return dm


def test_batches_are_the_zoo_rows_with_their_targets(tiny_zoo):
    dm = _setup(tiny_zoo, normalize=False)
    zoo = open_zoo(tiny_zoo)
    ws, targets = next(iter(dm.test_dataloader()))
    rows = dm.test_set.rows[:5, 1]
    expected = WeightSpace.from_flat(zoo.spec, torch.from_numpy(np.asarray(zoo.weights[rows])))
    assert ws.allclose(expected, atol=0, rtol=0)
    assert torch.equal(
        targets, torch.tensor(zoo.metrics["test_accuracy"][rows], dtype=torch.float32)
    )
    assert ws.weights[0].shape == (len(rows), 6, 4, 1) == (3, 6, 4, 1)


def test_split_by_run_never_straddles(tiny_zoo):
    dm = _setup(tiny_zoo, split=(0.5, 0.25, 0.25), split_seed=4)
    runs = open_zoo(tiny_zoo).metrics["run_id"]
    owners = [set(runs[s.rows[:, 1]].tolist()) for s in (dm.train_set, dm.val_set, dm.test_set)]
    assert [len(o) for o in owners] == [6, 3, 3]
    assert not (owners[0] & owners[1] or owners[0] & owners[2] or owners[1] & owners[2])
    assert len(dm.train_set) + len(dm.val_set) + len(dm.test_set) == 36


def test_normalization_uses_the_train_split_only(tiny_zoo):
    dm = _setup(tiny_zoo)
    weights = np.load(tiny_zoo / "weights.npy")
    held_out = np.concatenate([dm.val_set.rows[:, 1], dm.test_set.rows[:, 1]])
    weights[held_out] = weights[held_out] * 100 + 7
    np.save(tiny_zoo / "weights.npy", weights)
    altered = _setup(tiny_zoo, verify_checksum=False)  # weights edited on purpose
    assert altered.stats == dm.stats
    expected = WeightStats.from_rows(dm.spec, [(weights, dm.train_set.rows[:, 1])])
    assert altered.stats == expected


def test_augmented_training_batches_compute_the_same_functions(tiny_zoo):
    torch.manual_seed(0)
    plain = _setup(tiny_zoo, normalize=False, augment=False)
    augmented = _setup(tiny_zoo, normalize=False, augment=True)
    indices = list(range(5))
    batch = plain.train_set.__getitems__(indices)
    ws, _ = plain.train_dataloader().collate_fn(batch)
    ws_aug, _ = augmented.train_dataloader().collate_fn(batch)
    x = torch.randn(9, 4)
    torch.testing.assert_close(forward(plain.spec, ws_aug, x), forward(plain.spec, ws, x))
    assert not ws.allclose(ws_aug)
    val_batch = plain.val_set.__getitems__([0, 1])
    assert (
        plain.val_dataloader()
        .collate_fn(val_batch)[0]
        .allclose(augmented.val_dataloader().collate_fn(val_batch)[0], atol=0, rtol=0)
    )


def test_a_list_of_same_architecture_zoos(tmp_path, write_zoo):
    a = write_zoo(tmp_path / "a", num_runs=6, seed=1)
    b = write_zoo(tmp_path / "b", num_runs=6, seed=2)
    dm = _setup([a, b])
    assert len(dm.train_set) + len(dm.val_set) + len(dm.test_set) == 36
    assert set(dm.train_set.rows[:, 0].tolist()) == {0, 1}
    ws, targets = next(iter(dm.train_dataloader()))
    assert ws.batch_size == 5 and targets.shape == (5,)


def test_mixed_architectures_are_refused(tmp_path, write_zoo):
    a = write_zoo(tmp_path / "a")
    b = write_zoo(tmp_path / "b", sizes=(4, 7, 3))
    with pytest.raises(ZooError, match="one architecture"):
        _setup([a, b])


def test_missing_path_and_target(tmp_path, tiny_zoo):
    with pytest.raises(ZooError, match="no such zoo folder"):
        _setup(tmp_path / "missing")
    with pytest.raises(ZooError, match="no column 'nope'"):
        _setup(tiny_zoo, target="nope")


def test_the_builtin_zoo_is_generated_on_first_use_only(tmp_path, monkeypatch, write_zoo):
    calls = []

    def fake_generate(recipe, out, num_models, seed=0, progress=True):
        calls.append((recipe, num_models, seed))
        return write_zoo(out)

    monkeypatch.setattr("weightnet.zoo.recipes.generate_zoo", fake_generate)
    out = tmp_path / "data" / "builtin"
    generate = {"recipe": "digits-mlp", "num_models": 12, "seed": 0, "out": str(out)}
    _setup(out, generate=generate)
    _setup(out, generate=generate)
    assert calls == [("digits-mlp", 12, 0)]
    with pytest.raises(ZooError, match="no such zoo folder"):
        _setup(tmp_path / "elsewhere", generate=generate)


def test_state_dict_is_plain_data(tiny_zoo):
    dm = _setup(tiny_zoo)
    state = dm.state_dict()
    assert json.loads(json.dumps(state)) == state
    other = ZooDataModule(tiny_zoo)
    other.load_state_dict(state)
    assert other.stats == dm.stats


def test_canonicalized_batches_are_canonical_in_every_split(tiny_zoo):
    from weightnet.align.canonical import canonicalize

    raw = _setup(tiny_zoo, normalize=False)
    canonical = _setup(tiny_zoo, canonicalize=True)
    spec = raw.spec
    # the statistics describe the canonical training weights (unit incoming norms)
    train_rows = raw.train_set.rows[:, 1]
    weights = np.load(tiny_zoo / "weights.npy")[train_rows]
    flat = canonicalize(WeightSpace.from_flat(spec, torch.from_numpy(weights)), spec).flatten()
    expected = WeightStats.from_rows(spec, [(flat.numpy(), np.arange(len(flat)))])
    for got, want in zip(
        canonical.stats.to_dict().values(), expected.to_dict().values(), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    assert canonical.stats != _setup(tiny_zoo).stats
    x = torch.randn(9, 4)
    for split in ("train", "val", "test"):
        batch = getattr(raw, f"{split}_set").__getitems__([0, 1, 2])
        ws, _ = getattr(raw, f"{split}_dataloader")().collate_fn(batch)
        ws_canon, _ = getattr(canonical, f"{split}_dataloader")().collate_fn(batch)
        assert ws_canon.allclose(canonical.stats.normalize(canonicalize(ws, spec)), atol=0, rtol=0)
        original = canonical.stats.denormalize(ws_canon)  # same functions as the raw rows
        torch.testing.assert_close(forward(spec, original, x), forward(spec, ws, x))
    parts = canonical.state_dict()["canonicalize"]
    assert parts == {"permutation": True, "scale": True, "sign": True, "phase": True}
    assert raw.state_dict()["canonicalize"] is None


def test_canonicalize_takes_its_parts_and_refuses_others(tiny_zoo):
    from weightnet.align.canonical import canonicalize

    dm = _setup(tiny_zoo, normalize=False, canonicalize={"scale": False})
    assert dm.canonicalize == {"permutation": True, "scale": False, "sign": True, "phase": True}
    batch = dm.test_set.__getitems__([0, 1])
    raw, _ = _setup(tiny_zoo, normalize=False).test_dataloader().collate_fn(batch)
    got, _ = dm.test_dataloader().collate_fn(batch)
    assert got.allclose(canonicalize(raw, dm.spec, scale=False), atol=0, rtol=0)
    with pytest.raises(ZooError, match="data.canonicalize"):
        ZooDataModule(tiny_zoo, canonicalize={"sort": True})


def test_scale_and_sign_forms_are_refused_on_a_zoo_of_mixed_activations(tiny_zoo):
    lines = (tiny_zoo / "metrics.csv").read_text().splitlines()
    rows = [lines[0] + ",config.activation"]
    rows += [f"{line},{'relu' if i % 2 else 'tanh'}" for i, line in enumerate(lines[1:])]
    (tiny_zoo / "metrics.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(ZooError, match=r"mixes activations \(relu, tanh\)"):
        _setup(tiny_zoo, canonicalize=True)
    dm = _setup(tiny_zoo, canonicalize={"scale": False, "sign": False})  # sorting holds for both
    assert dm.canonicalize == {"permutation": True, "scale": False, "sign": False, "phase": True}


def test_training_views_and_images_subsets_keep_val_and_test_whole():
    from inr_zoo import tiny_inr_zoo

    path = tiny_inr_zoo()  # 6 images x 2 views
    m = open_zoo(path).metrics
    full = ZooDataModule(path, target="label", split_column="split")
    full.setup("fit")
    one_view = ZooDataModule(path, target="label", split_column="split", train_views=1)
    one_view.setup("fit")
    train = full.train_set.rows[:, 1]
    assert set(m["inr_seed"][one_view.train_set.rows[:, 1]].tolist()) == {0}
    assert len(one_view.train_set) == len(train) // 2
    for split in ("val_set", "test_set"):
        assert np.array_equal(getattr(one_view, split).rows, getattr(full, split).rows)
    images = np.unique(m["image_index"][train])
    fewer = ZooDataModule(path, target="label", split_column="split", train_images=2)
    fewer.setup("fit")
    kept = np.unique(m["image_index"][fewer.train_set.rows[:, 1]])
    assert len(kept) == 2 and set(kept) <= set(images)
    assert len(fewer.train_set) == 4  # both views of each kept image
    with pytest.raises(ZooError, match="train_images=99: the training split has"):
        ZooDataModule(path, target="label", split_column="split", train_images=99).setup("fit")



def test_training_subsets_need_an_inr_zoo(tiny_zoo):
    with pytest.raises(ZooError, match="need the INR zoo column 'inr_seed'"):
        _setup(tiny_zoo, train_views=1)


def test_a_balanced_image_subset_takes_every_class_in_turn():
    from weightnet.data.datamodule import _balanced_image_order

    class Fake:
        metrics = {"label": np.repeat(np.arange(3), 4)}  # images 0-3: class 0, ...

    rows = np.arange(12)
    order = _balanced_image_order([Fake()], rows, np.arange(12), seed=0)
    assert sorted(order.tolist()) == list(range(12))
    labels = Fake.metrics["label"][order]
    for k in (3, 6, 9):
        assert np.bincount(labels[:k], minlength=3).tolist() == [k // 3] * 3
