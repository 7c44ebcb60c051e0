import numpy as np
import pytest
import torch

from weightnet.data.fan_in_scaling import FanInScaling
from weightnet.data.hetero import HeteroZooDataModule
from weightnet.data.zoo import open_zoo
from weightnet.graph import graph_to_weightspaces
from weightnet.models import GraphNet
from weightnet.testing import mlp_spec, random_weightspace
from weightnet.weightspace import WeightSpace

SIZES = {"a": (4, 6, 5, 3), "b": (4, 7, 3), "c": (4, 3, 3, 3, 3)}


@pytest.fixture(scope="module")
def hetero_root(tmp_path_factory, write_zoo):
    root = tmp_path_factory.mktemp("hetero")
    for seed, (name, sizes) in enumerate(SIZES.items()):
        write_zoo(root / name, sizes=sizes, seed=seed)
    return root


def _setup(path, **kwargs):
    dm = HeteroZooDataModule(path, batch_size=10, **kwargs)
    dm.setup("fit")
    return dm


def test_a_parent_folder_and_a_list_of_folders_give_the_same_zoos(hetero_root):
    by_parent = _setup(hetero_root)
    by_list = _setup([hetero_root / name for name in SIZES])
    assert by_parent.group_names == by_list.group_names == list(SIZES)
    assert by_parent.spec is None and [s.layer_sizes for s in by_parent.specs] == list(
        SIZES.values()
    )
    assert np.array_equal(by_parent.test_set.rows, by_list.test_set.rows)


def test_each_architecture_is_split_by_run(hetero_root):
    dm = _setup(hetero_root, split=(0.5, 0.25, 0.25))
    for z, name in enumerate(SIZES):
        runs = open_zoo(hetero_root / name).metrics["run_id"]
        owners = [
            set(runs[s.rows[s.rows[:, 0] == z, 1]].tolist())
            for s in (dm.train_set, dm.val_set, dm.test_set)
        ]
        assert [len(o) for o in owners] == [6, 3, 3]  # every architecture in every split
        assert not (owners[0] & owners[1] or owners[0] & owners[2] or owners[1] & owners[2])


def test_graph_batches_round_trip_to_the_zoo_weights_and_targets(hetero_root):
    dm = _setup(hetero_root, normalize=False, probe_features=0)
    batch, targets = next(iter(dm.test_dataloader()))
    assert batch.num_graphs == len(targets) == 9
    assert batch.group.tolist() == sorted(batch.group.tolist())  # grouped by architecture
    specs = [dm.specs[g] for g in torch.unique_consecutive(batch.group).tolist()]
    spaces = graph_to_weightspaces(batch, specs)
    rows = dm.test_set.rows
    for ws, z in zip(spaces, torch.unique_consecutive(batch.group).tolist(), strict=True):
        zoo = open_zoo(hetero_root / dm.group_names[z])
        picked = np.sort(rows[rows[:, 0] == z, 1])
        expected = WeightSpace.from_flat(zoo.spec, torch.from_numpy(zoo.weights[picked]))
        assert ws.allclose(expected, atol=0, rtol=0)
        mask = batch.group == z
        want = torch.tensor(zoo.metrics["test_accuracy"][picked], dtype=torch.float32)
        assert torch.equal(targets[mask], want)


def test_normalization_scales_come_from_the_train_split_and_keep_the_function(hetero_root):
    dm = _setup(hetero_root)
    train = dm.train_set.rows
    sq, n = 0.0, 0
    for z, name in enumerate(SIZES):
        zoo = open_zoo(hetero_root / name)
        ws = zoo.weightspace(train[train[:, 0] == z, 1])
        for w, layer in zip(ws.weights, zoo.spec.layers, strict=True):
            sq += float((w.double() ** 2).sum()) * layer.n_in
            n += w.numel()
    assert dm.scaling.weight_scale == pytest.approx((sq / n) ** 0.5, rel=1e-9)
    spec = mlp_spec((4, 6, 3))
    ws = random_weightspace(spec, batch_size=3, seed=0)
    out = dm.scaling.normalize(spec, ws)
    assert torch.allclose(out.weights[1], ws.weights[1] * 6**0.5 / dm.scaling.weight_scale)
    assert torch.allclose(out.biases[0], ws.biases[0] / dm.scaling.bias_scale)
    assert dm.scaling.to_dict() == FanInScaling.from_dict(dm.scaling.to_dict()).to_dict()


def test_probe_features_are_computed_with_each_network_s_activation(hetero_root, tmp_path):
    dm = _setup(hetero_root, probe_features=3)
    batch, _ = next(iter(dm.train_dataloader()))
    assert batch.probe.shape == (batch.num_nodes, 3)
    model = GraphNet(None, 1, 8, 1, **dm.model_kwargs)
    assert model(batch).shape == (batch.num_graphs, 1)
    assert dm.state_dict()["probe_features"] == 3 and dm.state_dict()["scaling"] is not None


def test_generate_with_fewer_steps_uses_a_variant_of_the_recipe(tmp_path):
    generate = {"recipe": "digits-mlp-hetero", "out": str(tmp_path / "z"), "num_models": 12}
    dm = HeteroZooDataModule(
        tmp_path / "z", generate={**generate, "num_steps": 20, "checkpoint_steps": [0, 20]}
    )
    recipe = dm.generate["recipe"]
    assert (recipe.name, recipe.num_steps, recipe.checkpoint_steps) == (
        "digits-mlp-hetero",
        20,
        (0, 20),
    )
    assert HeteroZooDataModule(tmp_path / "z", generate=generate).generate == generate
