"""task=alignment: composes and runs under Hydra; learned alignments keep functions; metrics."""

import json
import sys
from pathlib import Path

import pytest
import torch

from weightnet.align.barrier import loss_barrier
from weightnet.align.learned import LearnedAligner
from weightnet.data.pairs import AlignmentDataModule
from weightnet.functional import forward
from weightnet.symmetry import permute
from weightnet.tasks.alignment import AlignmentTask, _best_seconds, pair_barriers

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared compose helper
from hydra_compose import compose_train as _compose  # noqa: E402
from hydra_compose import train  # noqa: E402

METRICS = {
    "test/barrier",
    "test/barrier_unaligned",
    "test/barrier_weight_matching",
    "test/seconds_per_pair_learned",
    "test/seconds_per_pair_matching",
    "test/speedup",
    "test/planted_accuracy",
    "test/loss",
}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory, write_zoo):
    return write_zoo(
        tmp_path_factory.mktemp("alignment") / "zoo", num_runs=20, sizes=(64, 6, 5, 10)
    )


def test_task_alignment_runs_with_fast_dev_run_and_writes_the_contract_metrics(zoo, tmp_path):
    overrides = [
        "task=alignment",
        f"data.path={zoo}",
        "data.split=[0.4,0.2,0.4]",
        "data.min_accuracy=0.0",
        "data.batch_size=4",
        "model.hidden_channels=4",
        "model.num_layers=1",
        "trainer.fast_dev_run=true",
    ]
    cfg = _compose(overrides, tmp_path)
    assert cfg.task._target_ == "weightnet.tasks.AlignmentTask"
    assert cfg.callbacks.model_checkpoint.monitor == "val/barrier"
    results = train.train(cfg, *train.build(cfg))
    assert (results["task"], results["model"], results["data"], results["data_config"]) == (
        "alignment",
        "aligner",
        Path(zoo).name,
        "digits_mlp_pairs",
    )
    written = json.loads((tmp_path / "results.json").read_text())
    assert set(written["test"]) == METRICS
    assert all(isinstance(v, float) for v in written["test"].values())
    test = written["test"]
    assert min(test[k] for k in METRICS if "barrier" in k) >= 0  # the endpoints bound it
    assert test["test/seconds_per_pair_learned"] > 0 and test["test/speedup"] > 0


def _trained_free_setup(zoo, noise=2.0):
    dm = AlignmentDataModule(zoo, split=(0.4, 0.2, 0.4), min_accuracy=0.0)
    dm.setup()
    torch.manual_seed(0)
    model = LearnedAligner(dm.spec, hidden_channels=4, num_layers=1)
    task = AlignmentTask(model, torch.optim.Adam, noise=noise)
    return dm, task, next(iter(dm.test_dataloader()))


def test_learned_permutations_keep_every_function_and_barriers_follow_loss_barrier(zoo):
    dm, task, batch = _trained_free_setup(zoo)
    from weightnet.align.learned import align_pairs

    perms = align_pairs(task.model, batch.normalized, batch.pairs)
    aligned = permute(batch.other, perms)
    x = batch.inputs.double()
    torch.testing.assert_close(
        forward(dm.spec, aligned.to(torch.float64), x),
        forward(dm.spec, batch.other.to(torch.float64), x),
        atol=1e-10,
        rtol=1e-10,
    )
    assert not aligned.allclose(batch.other)  # something moved
    barriers = pair_barriers(batch, dm.spec, aligned)
    expected = loss_barrier(dm.spec, batch.reference, aligned, batch.inputs, batch.labels)
    torch.testing.assert_close(barriers, expected.barrier, atol=0, rtol=0)


def test_planted_pair_step_predicts_partners_and_training_lowers_the_loss(zoo):
    dm, task, _ = _trained_free_setup(zoo, noise=0.6)  # learnable within 30 steps
    ws, targets = next(iter(dm.train_dataloader()))
    task.train()
    loss, preds, target = task.model_step((ws, targets))
    assert preds.shape == target.shape == (ws.batch_size, sum(dm.spec.hidden_sizes))
    assert 0 <= float((preds == target).float().mean()) < 1
    optimizer = torch.optim.Adam(task.parameters(), lr=1e-2)
    torch.manual_seed(1)
    losses = []
    for _ in range(30):
        loss, _, _ = task.model_step((ws, targets))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert sum(losses[-5:]) < 0.8 * sum(losses[:5])


def test_best_seconds_runs_a_warm_up_then_every_round_back_to_back():
    calls = []

    def side(name):
        return lambda: calls.append(name) or len(calls)

    seconds, outputs = _best_seconds((side("a"), side("b")), repeats=2)
    assert calls == ["a", "b"] * 3  # warm-up, then two timed rounds
    assert outputs == [5, 6]  # each side's last output
    assert len(seconds) == 2 and all(s >= 0 for s in seconds)
