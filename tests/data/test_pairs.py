"""AlignmentDataModule: well-trained last checkpoints, split by run, same-activation pairs."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from weightnet.data.pairs import AlignmentDataModule, PairBatch
from weightnet.data.zoo import ZooError

SIZES = (64, 6, 5, 10)  # reads the 64 digits pixels, so barriers can be measured


@pytest.fixture(scope="module")
def zoo(tmp_path_factory, write_zoo):
    return write_zoo(tmp_path_factory.mktemp("pairs") / "zoo", num_runs=20, sizes=SIZES)


def _module(zoo, **kwargs):
    kwargs = {"split": (0.4, 0.2, 0.4), "min_accuracy": 0.0, **kwargs}
    dm = AlignmentDataModule(zoo, batch_size=4, train_samples_per_epoch=12, **kwargs)
    dm.setup()
    return dm


def test_keeps_the_last_accurate_checkpoint_of_each_run_and_splits_by_run(zoo):
    dm = _module(zoo, min_accuracy=0.3)
    metrics = dm.zoos[0].metrics
    sets = (dm.train_set, dm.val_set, dm.test_set)
    kept = {name: s.rows[:, 1] for name, s in zip(("train", "val", "test"), sets, strict=True)}
    rows = np.concatenate(list(kept.values()))
    assert (metrics["step"][rows] == 30).all()  # last of 3 checkpoints (steps 10, 20, 30)
    assert (metrics["test_accuracy"][rows] >= 0.3).all()
    expected = np.flatnonzero((metrics["step"] == 30) & (metrics["test_accuracy"] >= 0.3))
    assert sorted(rows) == expected.tolist()
    runs = [set(metrics["run_id"][r]) for r in kept.values()]
    assert not (runs[0] & runs[1] or runs[0] & runs[2] or runs[1] & runs[2])


def test_pair_batch_holds_every_pair_normalized_networks_and_digits_test_data(zoo):
    dm = _module(zoo)
    batches = list(dm.test_dataloader())
    assert len(batches) == 1 and isinstance(batches[0], PairBatch)
    batch = batches[0]
    n = len(dm.test_set)
    assert batch.networks.batch_size == n
    assert batch.pairs.tolist() == [[i, j] for i in range(n) for j in range(i + 1, n)]
    assert batch.activations == ("relu",) * len(batch.pairs)
    rows, _ = dm.test_set.__getitems__(range(n))
    torch.testing.assert_close(batch.networks.flatten(), rows, atol=0, rtol=0)
    assert batch.normalized.allclose(dm.stats.normalize(batch.networks), atol=0, rtol=0)
    assert batch.other.allclose(batch.networks[batch.pairs[:, 1]], atol=0, rtol=0)
    digits = load_digits()
    torch.testing.assert_close(
        batch.inputs, torch.tensor(digits.data[[2, 3]] / 16, dtype=torch.float32)
    )
    assert batch.labels.tolist() == digits.target[[2, 3]].tolist()
    ws, _ = next(iter(dm.train_dataloader()))
    assert ws.batch_size == 4 and len(dm.train_dataloader()) == 3  # 12 draws per epoch


def test_max_pairs_keeps_a_seeded_subset(zoo):
    everything = _module(zoo).test_pairs.pairs.tolist()
    some = _module(zoo, max_pairs=3).test_pairs.pairs.tolist()
    assert len(some) == 3 and set(map(tuple, some)) <= set(map(tuple, everything))
    assert some == _module(zoo, max_pairs=3).test_pairs.pairs.tolist()


def test_too_few_networks_and_non_digits_zoos_are_one_line_errors(zoo, tmp_path, write_zoo):
    with pytest.raises(ZooError, match="only 0 train networks with test_accuracy >= 0.99"):
        _module(zoo, min_accuracy=0.99)
    other = write_zoo(tmp_path / "small-inputs")  # 4 inputs: not a digits classifier
    with pytest.raises(ZooError, match="reading 64 pixels"):
        _module(other)
