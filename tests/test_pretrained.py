"""weightnet.pretrained and `weightnet predict` / `weightnet pretrained` (DESIGN 5.5)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

import weightnet
from weightnet.cli import main as cli
from weightnet.data.graph_collate import GraphCollate
from weightnet.data.zoo import open_zoo
from weightnet.errors import WeightnetError
from weightnet.io import save_state_dict
from weightnet.pretrained import list_pretrained, load_pretrained, save_pretrained
from weightnet.symmetry import permute, sample_permutations
from weightnet.testing import cnn_spec, mlp_spec, random_weightspace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory, write_zoo):
    """A gnn trained for one epoch by train.py on a two-architecture zoo: (ckpt, datamodule, task)."""
    root = tmp_path_factory.mktemp("pretrained")
    write_zoo(root / "zoo" / "mlp-4-6-5-3", sizes=(4, 6, 5, 3))
    write_zoo(root / "zoo" / "mlp-4-7-3", sizes=(4, 7, 3), seed=1)
    overrides = [
        "task=generalization",
        "model=gnn",
        "data=digits_mlp_hetero",
        f"data.path={root / 'zoo'}",
        "data.probe_features=2",
        "data.batch_size=8",
        "model.hidden_channels=4",
        "model.num_layers=1",
        "trainer.max_epochs=1",
        f"paths.output_dir={root / 'run'}",
    ]
    return _train(overrides)


def _train(overrides):
    """``train.py`` with ``overrides``, in process: (best checkpoint, datamodule, task)."""
    with initialize_config_dir(config_dir=str(train.CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    datamodule, task, trainer = train.build(cfg)
    results = train.train(cfg, datamodule, task, trainer)
    return Path(results["best_checkpoint"]), datamodule, task.eval()


def _networks(datamodule, zoo_index=0, count=4):
    zoo = open_zoo(datamodule.zoos[zoo_index].path)
    rows = datamodule.test_set.rows
    picked = np.sort(rows[rows[:, 0] == zoo_index, 1])[:count]
    return zoo, picked, zoo.weightspace(picked).to_state_dicts(zoo.spec)


def test_a_lightning_checkpoint_predicts_what_the_trained_task_predicts(trained):
    ckpt, datamodule, task = trained
    metanet = load_pretrained(ckpt)
    for z in range(2):
        zoo, picked, states = _networks(datamodule, z)
        collate = GraphCollate(datamodule.specs, datamodule.scaling, (), 2)
        batch, _ = collate([(z, "relu", torch.from_numpy(zoo.weights[picked]), torch.zeros(3))])
        expected = task(batch)
        got = metanet.predict(states)
        assert all(isinstance(p, float) and 0 < p < 1 for p in got)
        assert torch.allclose(torch.tensor(got), expected, atol=1e-6)
    assert metanet.reads.n_in == 4 and metanet.reads.n_out == 3


def test_saved_safetensors_and_json_load_without_pickles_and_agree(trained, tmp_path):
    ckpt, datamodule, _ = trained
    metanet = load_pretrained(ckpt)
    weights, description = save_pretrained(
        metanet.model, {k: v for k, v in metanet.meta.items()}, tmp_path / "mini"
    )
    meta = json.loads(description.read_text())
    assert meta["format"] == "weightnet-metanet" and meta["model"]["class"] == "gnn"
    assert meta["normalization"]["kind"] == "fan_in" and meta["input"]["probe_features"] == 2
    _, _, states = _networks(datamodule, 1)
    again = weightnet.load_pretrained(weights)  # either file of the pair
    assert again.predict(states) == pytest.approx(metanet.predict(states), abs=1e-7)
    mixed = [states[0], _networks(datamodule, 0)[2][0], states[1]]
    single = [metanet.predict([s])[0] for s in mixed]
    assert again.predict(mixed) == pytest.approx(single, abs=1e-6)  # mixed architectures


def test_predictions_are_invariant_to_hidden_neuron_permutations(trained):
    metanet = load_pretrained(trained[0])
    spec = mlp_spec((4, 6, 5, 3))
    ws = random_weightspace(spec, batch_size=3, seed=1)
    perms = sample_permutations(spec, 3, torch.Generator().manual_seed(0))
    before = metanet.predict(ws.to_state_dicts(spec))
    after = metanet.predict(permute(ws, perms).to_state_dicts(spec))
    assert after == pytest.approx(before, abs=1e-6)
    other = random_weightspace(spec, batch_size=3, seed=2)
    assert metanet.predict(other.to_state_dicts(spec)) != pytest.approx(before, abs=1e-4)


def _save(tmp_path, name, spec, scale=1.0):
    state = random_weightspace(spec, batch_size=1, seed=0).to_state_dicts(spec)[0]
    state = {k: v * scale for k, v in state.items()}
    path = tmp_path / name
    torch.save(state, path)  # plain torch.save: NaN weights kept
    return path


def _cli(capsys, *args):
    code = cli(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_json_lists_one_prediction_per_file(trained, tmp_path, capsys):
    a = _save(tmp_path, "a.pt", mlp_spec((4, 6, 5, 3)))
    b = tmp_path / "b.safetensors"
    save_state_dict(
        random_weightspace(mlp_spec((4, 9, 3)), 1).to_state_dicts(mlp_spec((4, 9, 3)))[0], b
    )
    code, out, _ = _cli(
        capsys, "predict", "--checkpoint", str(trained[0]), str(a), str(b), "--json"
    )
    rows = json.loads(out)
    assert code == 0 and [r["file"] for r in rows] == [str(a), str(b)]
    assert all(0 < r["prediction"] < 1 for r in rows)


@pytest.mark.parametrize(
    ("name", "spec", "scale", "why"),
    [
        ("wide_input.pt", mlp_spec((5, 6, 3)), 1.0, "4 inputs expected, the network has 5"),
        ("conv.pt", cnn_spec(1, (4,), 3), 1.0, "conv layers, but"),
        ("nan.pt", mlp_spec((4, 6, 3)), float("nan"), "NaN or Inf"),
    ],
)
def test_cli_refuses_networks_it_cannot_read_in_one_line(
    trained, tmp_path, capsys, name, spec, scale, why
):
    path = _save(tmp_path, name, spec, scale)
    code, out, err = _cli(capsys, "predict", "--checkpoint", str(trained[0]), str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and str(path) in err and why in err


def test_cli_missing_files_end_in_one_line(trained, tmp_path, capsys):
    code, _, err = _cli(capsys, "predict", "--checkpoint", str(trained[0]), str(tmp_path / "x.pt"))
    assert code == 2 and err.count("\n") == 1 and "x.pt: no such file" in err
    code, _, err = _cli(capsys, "predict", "--checkpoint", str(tmp_path / "m.ckpt"), "f.pt")
    assert code == 2 and err.count("\n") == 1 and "m.ckpt" in err
    with pytest.raises(WeightnetError, match="no such metanet"):
        load_pretrained("no-such-metanet")


class _Evil:
    """Unpickling this creates a file (what an attack would do instead)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("role", ["checkpoint", "file"])
def test_a_malicious_pickle_is_refused_with_nothing_executed(trained, tmp_path, capsys, role):
    marker = tmp_path / "pwned"
    evil = tmp_path / ("evil.ckpt" if role == "checkpoint" else "evil.pt")
    torch.save({"state_dict": {"net.0.weight": _Evil(marker)}}, evil)
    good = _save(tmp_path, "good.pt", mlp_spec((4, 6, 3)))
    ckpt, files = (evil, [good]) if role == "checkpoint" else (trained[0], [evil])
    code, _, err = _cli(capsys, "predict", "--checkpoint", str(ckpt), *map(str, files))
    assert code == 2 and "refused" in err and str(evil) in err
    assert not marker.exists()


@pytest.mark.skipif(not list_pretrained(), reason="no shipped metanet built")
def test_shipped_metanets_are_listed_and_read_any_digits_mlp(tmp_path, capsys):
    code, out, _ = _cli(capsys, "pretrained")
    assert code == 0 and "digits-mlp" in out and "parameters" in out
    metanet = load_pretrained("digits-mlp")
    assert metanet.meta["weights_sha256"] and metanet.meta["quality"]["test/kendall_tau"] > 0.4
    specs = [mlp_spec((64, 24, 10)), mlp_spec((64, 96, 48, 10))]
    states = [random_weightspace(s, 1, seed=3).to_state_dicts(s)[0] for s in specs]
    preds = metanet.predict(states, activation="tanh")
    assert all(0 <= p <= 1 for p in preds)
    with pytest.raises(WeightnetError, match="64 inputs expected"):
        metanet.predict(
            [random_weightspace(mlp_spec((4, 6, 10)), 1).to_state_dicts(mlp_spec((4, 6, 10)))[0]],
            activation="relu",
        )
    with pytest.raises(
        WeightnetError, match=r"not recorded .* digits-mlp was trained on relu, tanh"
    ):
        metanet.predict(states)  # no silent default where it knows two activations
    single = mlp_spec((64, 10))  # no hidden layer: no such network in its training zoo
    report = metanet.examine(random_weightspace(single, 1).to_state_dicts(single)[0], "relu")
    assert not report.in_domain and report.reason == "depth 1 layers (trained on 2-5)"


def test_a_metanet_trained_on_canonical_forms_canonicalizes_what_it_reads(tmp_path, write_zoo):
    """data.canonicalize=true: the flat mlp becomes invariant, in training and in predict."""
    from weightnet.symmetry import random_symmetry

    write_zoo(tmp_path / "zoo", sizes=(4, 6, 5, 3))
    overrides = [
        "task=generalization",
        "model=mlp",
        f"data.path={tmp_path / 'zoo'}",
        "data.canonicalize=true",
        "data.batch_size=8",
        "trainer.max_epochs=1",
        f"paths.output_dir={tmp_path / 'run'}",
    ]
    checkpoint, datamodule, task = _train(overrides)
    metanet = load_pretrained(checkpoint)
    assert metanet.meta["input"]["canonicalize"] == dict.fromkeys(
        ("permutation", "scale", "sign", "phase"), True
    )
    spec = mlp_spec((4, 6, 5, 3))
    ws = random_weightspace(spec, batch_size=3, seed=1)
    moved = random_symmetry(ws, spec, torch.Generator().manual_seed(0))  # permutations, scales
    assert not moved.allclose(ws)
    before = metanet.predict(ws.to_state_dicts(spec))
    assert metanet.predict(moved.to_state_dicts(spec)) == pytest.approx(before, abs=1e-5)
    ws_in, _ = datamodule.test_dataloader().collate_fn(datamodule.test_set.__getitems__([0, 1]))
    zoo, picked = open_zoo(tmp_path / "zoo"), datamodule.test_set.rows[:2, 1]
    expected = task(ws_in).reshape(-1)  # what the trained task predicts
    got = metanet.predict(zoo.weightspace(picked).to_state_dicts(spec))
    assert got == pytest.approx(expected.tolist(), abs=1e-5)


def _two_activation_metanet(trained, tmp_path):
    """The trained gnn saved as a metanet file that says it was trained on relu and tanh."""
    metanet = load_pretrained(trained[0])
    meta = {**metanet.meta, "domain": {**metanet.meta["domain"], "activations": ["relu", "tanh"]}}
    return save_pretrained(metanet.model, meta, tmp_path / "two")[1]


def test_predict_reads_the_activation_from_the_file_or_refuses(trained, tmp_path, capsys):
    """No silent default: recorded (safetensors metadata, checkpoint hyperparameters) or --activation."""
    metanet = _two_activation_metanet(trained, tmp_path)
    spec = mlp_spec((4, 6, 5, 3))
    state = random_weightspace(spec, 1, seed=0).to_state_dicts(spec)[0]
    recorded = tmp_path / "tanh.safetensors"
    save_state_dict(state, recorded, activation="tanh")
    hparams = tmp_path / "hparams.pt"
    torch.save({"state_dict": state, "hyper_parameters": {"activation": "tanh"}}, hparams)
    plain = tmp_path / "plain.pt"
    torch.save(state, plain)
    code, out, _ = _cli(capsys, "predict", "--checkpoint", str(metanet), str(recorded),
                        str(hparams), "--json")  # fmt: skip
    rows = json.loads(out)
    assert code == 0 and [r["activation"] for r in rows] == ["tanh", "tanh"]
    assert rows[0]["architecture"] == "mlp 4-6-5-3 tanh"
    assert [layer["activation"] for layer in rows[0]["spec"]["layers"]] == [
        "tanh",
        "tanh",
        "identity",
    ]
    assert rows[0]["prediction"] == pytest.approx(rows[1]["prediction"], abs=1e-7)
    code, out, err = _cli(capsys, "predict", "--checkpoint", str(metanet), str(plain))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"{plain}: the hidden activation is not recorded in the file and two was trained on " \
        "relu, tanh: give it with --activation" in err  # fmt: skip
    code, out, _ = _cli(capsys, "predict", "--checkpoint", str(metanet), str(plain),
                        "--activation", "relu", "--json")  # fmt: skip
    as_relu = json.loads(out)[0]
    assert code == 0 and as_relu["activation"] == "relu"
    assert as_relu["prediction"] != pytest.approx(rows[0]["prediction"], abs=1e-6)
    code, _, err = _cli(capsys, "predict", "--checkpoint", str(metanet), str(recorded),
                        "--activation", "relu")  # fmt: skip
    assert code == 2 and "tanh.safetensors: the file records activation tanh, but --activation " \
        "says relu" in err  # fmt: skip


def _domain_case(tmp_path, name, sizes, scale=1.0, activation="relu"):
    spec = mlp_spec(sizes)
    state = random_weightspace(spec, 1, seed=0).to_state_dicts(spec)[0]
    path = tmp_path / name
    save_state_dict({k: v * scale for k, v in state.items()}, path, activation=activation)
    return path


@pytest.mark.parametrize(
    ("sizes", "scale", "activation", "reason"),
    [
        ((4, 3), 1.0, "relu", "depth 1 layers (trained on 2-3)"),
        ((4, 9, 3), 1.0, "relu", "hidden width 9 (trained on 5-7)"),
        ((4, 6, 5, 3), 1.0, "tanh", "activation tanh (trained on relu)"),
        ((4, 6, 5, 3), 1e3, "relu", "neuron weight norm "),
    ],
    ids=["depth", "width", "activation", "weight-norm"],
)
def test_networks_outside_the_training_domain_are_flagged_and_warned_about(
    trained, tmp_path, capsys, sizes, scale, activation, reason
):
    ckpt, datamodule, _ = trained
    _, _, (inside, *_) = _networks(datamodule)
    save_state_dict(inside, tmp_path / "inside.safetensors", activation="relu")
    outside = _domain_case(tmp_path, "outside.safetensors", sizes, scale, activation)
    files = [str(tmp_path / "inside.safetensors"), str(outside)]
    code, out, err = _cli(capsys, "predict", "--checkpoint", str(ckpt), *files, "--json")
    rows = json.loads(out)
    assert code == 0 and [r["in_domain"] for r in rows] == [True, False]
    assert rows[0]["reason"] is None and reason in rows[1]["reason"]
    assert all(0 < r["prediction"] < 1 for r in rows)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("weightnet: warning: 1 of 2 networks lie ")
    assert f"{outside}: {rows[1]['reason']}" in lines[0]
    code, out, err = _cli(capsys, "predict", "--checkpoint", str(ckpt), *files)
    assert code == 0 and out.splitlines()[1].endswith("(outside the training domain)")


def test_predict_folds_the_input_scale_into_the_first_layer(trained, tmp_path, capsys):
    """--input-scale raw: the prediction of the network in the metanet's own frame (x/16)."""
    metanet = load_pretrained(trained[0])
    meta = {**metanet.meta, "reads": {**metanet.meta["reads"], "input_scale": 1 / 16}}
    _, path = save_pretrained(metanet.model, meta, tmp_path / "framed")
    spec = mlp_spec((4, 6, 5, 3))
    raw_state = random_weightspace(spec, 1, seed=0).to_state_dicts(spec)[0]
    raw = tmp_path / "raw.safetensors"
    save_state_dict(raw_state, raw, activation="relu")
    folded = {**raw_state, "net.0.weight": raw_state["net.0.weight"] * 16}
    save_state_dict(folded, tmp_path / "folded.safetensors", activation="relu")
    code, out, _ = _cli(capsys, "predict", "--checkpoint", str(path), str(raw),
                        "--input-scale", "raw", "--json")  # fmt: skip
    row = json.loads(out)[0]
    code2, out2, _ = _cli(capsys, "predict", "--checkpoint", str(path),
                          str(tmp_path / "folded.safetensors"), "--json")  # fmt: skip
    assert code == code2 == 0 and row["input_scale"] == "raw"
    assert json.loads(out2)[0]["input_scale"] == "x/16"
    assert row["prediction"] == pytest.approx(json.loads(out2)[0]["prediction"], abs=1e-6)
    code, _, err = _cli(capsys, "predict", "--checkpoint", str(trained[0]), str(raw),
                        "--input-scale", "raw")  # fmt: skip
    assert code == 2 and "does not record the input frame of its networks" in err


def test_a_miniature_build_records_its_domain_and_input_frame(tmp_path, monkeypatch):
    """build_pretrained on a tiny digits-mlp-wide zoo: the files it writes predict, and say
    which networks the metanet saw (domain) and in which input frame (x/16)."""
    from dataclasses import replace

    import weightnet.pretrained as pretrained
    from weightnet.pretrained import RECIPES, build_pretrained

    mini = replace(RECIPES["digits-mlp-wide"], name="mini", num_models=45, zoo_steps=12,
                   checkpoint_steps=(0, 12), epochs=1, batch_size=16)  # fmt: skip
    monkeypatch.setitem(pretrained.RECIPES, "mini", mini)
    weights, description = build_pretrained("mini", tmp_path / "out", tmp_path / "zoo")
    meta = json.loads(description.read_text())
    assert meta["reads"]["input_scale"] == 0.0625
    assert meta["domain"]["depths"] == [2, 4] and meta["domain"]["activations"] == ["relu", "tanh"]
    low, high = meta["domain"]["weight_norm"]
    assert 0 < low < high
    metanet = load_pretrained(weights)
    spec = mlp_spec((64, 20, 10))
    state = random_weightspace(spec, 1, seed=0).to_state_dicts(spec)[0]
    assert 0 < metanet.predict([state], activation="tanh")[0] < 1
    assert metanet.examine(state, "tanh").in_domain
