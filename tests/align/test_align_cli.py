import json

import pytest
import torch
from sklearn.datasets import load_digits

import weightnet.cli
from weightnet.io import load_network, load_state_dict, save_state_dict
from weightnet.symmetry import permute, sample_permutations
from weightnet.weightspace import WeightSpace, WeightSpec
from weightnet.zoo.architectures import CNN, MLP


@pytest.fixture(autouse=True)
def only_align(monkeypatch):
    """Build the parser from this command alone (other subcommands are not under test)."""
    monkeypatch.setattr(weightnet.cli, "COMMAND_MODULES", ("weightnet.align.cli",))


def _save(module, path):
    save_state_dict(module.state_dict(), path)
    return module


def _planted_copy(module, path, seed=0):
    """Save ``module`` with its hidden neurons shuffled and slightly perturbed."""
    sd = module.state_dict()
    spec = WeightSpec.from_state_dict(sd)
    ws = WeightSpace.from_state_dicts(spec, [sd])
    gen = torch.Generator().manual_seed(seed)
    moved = permute(ws, sample_permutations(spec, 1, gen)).map(
        lambda t: t + 1e-4 * torch.randn(t.shape, generator=gen)
    )
    save_state_dict(moved.to_state_dicts(spec)[0], path)


def _digits(shape):
    x = torch.tensor(load_digits().data[:50] / 16.0, dtype=torch.float32)
    return x.reshape(-1, *shape)


@pytest.mark.parametrize(
    "suffix,method,make,shape",
    [
        (".pt", "weight-matching", lambda: MLP([64, 12, 10, 10]), (64,)),
        (".safetensors", "weight-matching", lambda: CNN(1, [4, 5], 10), (1, 8, 8)),
        (".pth", "sort", lambda: MLP([64, 12, 10, 10], "tanh"), (64,)),
        (".safetensors", "sort", lambda: CNN(1, [4, 5], 10), (1, 8, 8)),
    ],
)
def test_align_round_trip(tmp_path, capsys, suffix, method, make, shape):
    torch.manual_seed(0)
    reference = _save(make(), tmp_path / f"ref{suffix}")
    _planted_copy(reference, tmp_path / f"file{suffix}")
    out = tmp_path / f"out{suffix}"
    activation = (
        "tanh"
        if isinstance(reference, MLP) and isinstance(reference.net[1], torch.nn.Tanh)
        else "relu"
    )
    argv = [
        "align",
        str(tmp_path / f"ref{suffix}"),
        str(tmp_path / f"file{suffix}"),
        "--out",
        str(out),
    ]
    code = weightnet.cli.main([*argv, "--method", method, "--activation", activation, "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == method
    assert report["data"].startswith("sklearn-digits test split")
    assert report["max_function_diff"] < 1e-6
    assert report["barrier_after"] <= report["barrier_before"] + 1e-6
    # OUT computes FILE's function and, here, recovers REFERENCE's weights
    file_sd, out_sd = load_state_dict(tmp_path / f"file{suffix}"), load_state_dict(out)
    assert list(out_sd) == list(file_sd)
    x = _digits(shape)
    file_net, out_net = make(), make()
    file_net.load_state_dict(file_sd)
    out_net.load_state_dict(out_sd)
    torch.testing.assert_close(out_net(x), file_net(x), atol=1e-5, rtol=1e-5)
    for key, value in reference.state_dict().items():
        assert float((out_sd[key] - value).abs().max()) < 1e-2


def test_other_networks_are_measured_on_gaussian_inputs(tmp_path, capsys):
    torch.manual_seed(0)
    _save(MLP([5, 7, 3]), tmp_path / "a.pt")
    _save(MLP([5, 7, 3]), tmp_path / "b.pt")
    argv = [
        "align",
        str(tmp_path / "a.pt"),
        str(tmp_path / "b.pt"),
        "--out",
        str(tmp_path / "o.pt"),
        "--activation",
        "relu",
    ]
    assert weightnet.cli.main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "Gaussian inputs" in report["data"] and "argmax" in report["data"]
    assert weightnet.cli.main(argv) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"wrote {tmp_path / 'o.pt'} (weight-matching): barrier ")


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("weightnet: error: "), err
    return err


def test_bad_inputs_end_with_one_line_and_no_output(tmp_path, capsys):
    torch.manual_seed(0)
    _save(MLP([64, 8, 10]), tmp_path / "ref.pt")
    _save(MLP([64, 9, 10]), tmp_path / "wider.pt")
    nan = MLP([64, 8, 10]).state_dict()
    nan["net.0.weight"][0, 0] = float("nan")
    save_state_dict(nan, tmp_path / "nan.safetensors")
    out = tmp_path / "out.pt"
    cases = {
        "missing.pt": "no such file",
        "wider.pt": "does not match",
        "nan.safetensors": "NaN or Inf",
    }
    for name, message in cases.items():
        argv = ["align", str(tmp_path / "ref.pt"), str(tmp_path / name), "--out", str(out)]
        assert weightnet.cli.main([*argv, "--activation", "relu"]) == 2
        assert message in _one_error_line(capsys)
    base = ["align", str(tmp_path / "ref.pt"), str(tmp_path / "ref.pt")]
    assert weightnet.cli.main([*base, "--out", str(out), "--method", "learned"]) == 2
    assert "needs --checkpoint" in _one_error_line(capsys)
    assert weightnet.cli.main([*base, "--out", str(tmp_path / "out.txt")]) == 2
    assert "extension" in _one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nan.safetensors", "ref.pt", "wider.pt"]


def test_the_activation_comes_from_the_files_or_is_refused(tmp_path, capsys):
    """No silent ReLU: a tanh pair's barrier is measured with tanh, read from the files."""
    torch.manual_seed(0)
    net = MLP([64, 12, 10], "tanh")
    save_state_dict(net.state_dict(), tmp_path / "ref.safetensors", activation="tanh")
    _planted_copy(net, tmp_path / "plain.pt")
    tanh_file = tmp_path / "file.safetensors"
    save_state_dict(load_state_dict(tmp_path / "plain.pt"), tanh_file, activation="tanh")
    out = tmp_path / "out.safetensors"
    base = ["align", str(tmp_path / "ref.safetensors"), str(tanh_file), "--out", str(out)]
    assert weightnet.cli.main([*base, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["activation"] == "tanh" and report["architecture"] == "mlp 64-12-10 tanh"
    assert [layer["activation"] for layer in report["spec"]["layers"]] == ["tanh", "identity"]
    assert load_network(out)[1] == "tanh"  # OUT records it too
    plain = ["align", str(tmp_path / "ref.safetensors"), str(tmp_path / "plain.pt")]
    relu_ref = tmp_path / "relu.safetensors"
    save_state_dict(net.state_dict(), relu_ref, activation="relu")
    relu = ["align", str(relu_ref), str(tmp_path / "plain.pt"), "--out", str(out), "--json"]
    assert weightnet.cli.main(relu) == 0  # the same weights read as ReLU networks
    as_relu = json.loads(capsys.readouterr().out)
    assert as_relu["activation"] == "relu"
    assert abs(as_relu["barrier_before"] - report["barrier_before"]) > 1e-3
    unrecorded = [
        "align",
        str(tmp_path / "plain.pt"),
        str(tmp_path / "plain.pt"),
        "--out",
        str(out),
    ]
    assert weightnet.cli.main([*base, "--activation", "relu"]) == 2
    assert "records activation tanh, but --activation says relu" in _one_error_line(capsys)
    assert weightnet.cli.main(unrecorded) == 2
    err = _one_error_line(capsys)
    assert "plain.pt: the hidden activation is not recorded in the files" in err
    assert "--activation (relu, tanh," in err
    assert weightnet.cli.main(["align", str(relu_ref), str(tanh_file), "--out", str(out)]) == 2
    assert "file.safetensors: records activation tanh, " in _one_error_line(capsys)
    assert weightnet.cli.main([*plain, "--out", str(out), "--json"]) == 0  # one file says tanh
    assert json.loads(capsys.readouterr().out)["activation"] == "tanh"
