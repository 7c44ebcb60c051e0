"""Saved learned aligners: exact round trip, and `weightnet align --method learned`."""

import json

import pytest
import torch

import weightnet.cli
from weightnet.align.learned import LearnedAligner
from weightnet.align.saved import load_aligner, save_aligner
from weightnet.data.normalization import WeightStats
from weightnet.io import load_state_dict, save_state_dict
from weightnet.testing import cnn_spec, mlp_spec, random_weightspace
from weightnet.weightspace import WeightSpace, WeightSpec
from weightnet.zoo.architectures import MLP

STATS = WeightStats((0.1, -0.2), (2.0, 0.5), (0.0, 0.3), (1.0, 4.0))


@pytest.fixture(autouse=True)
def only_align(monkeypatch):
    monkeypatch.setattr(weightnet.cli, "COMMAND_MODULES", ("weightnet.align.cli",))


@pytest.mark.parametrize("kind", ["nfn_hnp", "neuron_mp"])
@pytest.mark.parametrize("spec", [mlp_spec((4, 6, 5, 2)), cnn_spec(2, (4, 3), 3, 3)])
def test_round_trip_gives_the_same_scores_and_statistics(spec, kind, tmp_path):
    torch.manual_seed(0)
    model = LearnedAligner(spec, kind=kind, hidden_channels=4, num_layers=2, feature_dim=5)
    stats = WeightStats(*(tuple(float(i + 1) for i in range(len(spec))),) * 4)
    weights_path, config_path = save_aligner(model, stats, tmp_path / "aligner")
    assert (weights_path.name, config_path.name) == ("aligner.safetensors", "aligner.json")
    loaded, loaded_stats = load_aligner(tmp_path)  # the folder works too
    assert loaded_stats == stats and not loaded.training
    assert loaded.config() == model.config() and loaded.spec == spec
    a, b = random_weightspace(spec, 2, seed=0), random_weightspace(spec, 2, seed=1)
    for s, t in zip(model.eval()(a, b), loaded(a, b), strict=True):
        torch.testing.assert_close(s, t, atol=0, rtol=0)


def test_align_method_learned_writes_the_same_function(tmp_path, capsys):
    torch.manual_seed(0)
    ref, other = MLP([64, 8, 6, 10]), MLP([64, 8, 6, 10])
    save_state_dict(ref.state_dict(), tmp_path / "ref.pt")
    save_state_dict(other.state_dict(), tmp_path / "other.safetensors")
    spec = WeightSpec.from_state_dict(ref.state_dict())
    save_aligner(LearnedAligner(spec, hidden_channels=4, num_layers=1), None, tmp_path / "al")
    out = tmp_path / "out.pt"
    argv = ["align", str(tmp_path / "ref.pt"), str(tmp_path / "other.safetensors"), "--out",
            str(out), "--method", "learned", "--checkpoint", str(tmp_path / "al.safetensors"),
            "--activation", "relu", "--json"]  # fmt: skip
    assert weightnet.cli.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == "learned" and report["max_function_diff"] < 1e-12
    aligned = MLP([64, 8, 6, 10])
    aligned.load_state_dict(load_state_dict(out))
    x = torch.randn(20, 64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(aligned(x), other(x), atol=1e-6, rtol=1e-6)
    moved = WeightSpace.from_state_dicts(spec, [load_state_dict(out)])
    assert not moved.allclose(WeightSpace.from_state_dicts(spec, [other.state_dict()]))


def test_bad_aligners_are_one_line_errors(tmp_path, capsys):
    torch.manual_seed(0)
    save_state_dict(MLP([64, 8, 10]).state_dict(), tmp_path / "ref.pt")
    save_aligner(LearnedAligner(mlp_spec((64, 7, 10)), hidden_channels=2, num_layers=1), STATS,
                 tmp_path / "wrong")  # fmt: skip
    (tmp_path / "bad.json").write_text("{}")
    (tmp_path / "bad.safetensors").write_bytes(b"not safetensors")
    base = ["align", str(tmp_path / "ref.pt"), str(tmp_path / "ref.pt"), "--out",
            str(tmp_path / "out.pt"), "--activation", "relu", "--method", "learned",
            "--checkpoint"]  # fmt: skip
    cases = {"missing": "no such file", "wrong.json": "differs from", "bad.json": "not a"}
    for name, message in cases.items():
        assert weightnet.cli.main([*base, str(tmp_path / name)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "out.pt").exists()
