import pickle

import pytest
import torch

from weightnet.errors import WeightnetError
from weightnet.io import check_checkpoint, load_network, load_state_dict, save_state_dict


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".safetensors"])
def test_round_trip_is_exact(tmp_path, suffix):
    sd = {"net.0.weight": torch.randn(3, 2), "net.0.bias": torch.randn(3)}
    path = tmp_path / f"model{suffix}"
    save_state_dict(sd, path)
    back = load_state_dict(path)
    assert list(back) == list(sd)
    assert all(torch.equal(back[k], sd[k]) for k in sd)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp files left


def test_checkpoint_layout_is_unwrapped(tmp_path):
    sd = {"a.weight": torch.ones(1, 1), "a.bias": torch.zeros(1)}
    torch.save({"state_dict": sd, "epoch": 3}, tmp_path / "ckpt.pt")
    assert torch.equal(load_state_dict(tmp_path / "ckpt.pt")["a.weight"], sd["a.weight"])


class _Exploit:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path):
    victim = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pt"
    torch.save(
        {"w": _Exploit(str(victim))}, path
    )  # a real torch file whose unpickling opens a file
    with pytest.raises(WeightnetError, match="refused to load"):
        load_state_dict(path)
    assert not victim.exists()
    raw = tmp_path / "evil.pth"
    with open(raw, "wb") as fh:
        pickle.dump({"w": _Exploit(str(victim))}, fh, protocol=2)  # a bare pickle, legacy layout
    with pytest.raises(WeightnetError, match=str(raw)):
        load_state_dict(raw)
    assert not victim.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"garbage", "not a readable PyTorch file"),
        ({"w": torch.tensor([1.0, float("nan")])}, "NaN or Inf"),
        ({"w": [1, 2]}, "not a tensor"),
        ([torch.ones(1)], "expected a non-empty dict"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    with pytest.raises(WeightnetError, match=message) as info:
        load_state_dict(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_wrong_extension(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"x")
    with pytest.raises(WeightnetError, match="unsupported extension"):
        load_state_dict(path)


def test_a_folder_given_as_a_file_is_named_as_a_folder(tmp_path):
    folder = tmp_path / "nets.pt"
    folder.mkdir()
    with pytest.raises(WeightnetError, match="nets.pt: is a folder, not a weights file"):
        load_state_dict(folder)
    with pytest.raises(WeightnetError, match="nets.pt: is a folder, not a checkpoint file"):
        check_checkpoint(folder)


def test_the_recorded_activation_is_read_back(tmp_path):
    sd = {"a.weight": torch.ones(2, 1), "a.bias": torch.zeros(2)}
    save_state_dict(sd, tmp_path / "tanh.safetensors", activation="tanh")
    save_state_dict(sd, tmp_path / "plain.safetensors")
    save_state_dict(sd, tmp_path / "plain.pt")
    torch.save({"state_dict": sd, "activation": "sin"}, tmp_path / "beside.pt")
    torch.save({"model_state_dict": sd, "config": {"activation": "gelu"}}, tmp_path / "config.pt")
    torch.save(
        {"state_dict": sd, "hyper_parameters": {"activation": "tanh"}}, tmp_path / "hp.ckpt.pt"
    )
    found = {p.name: load_network(p)[1] for p in sorted(tmp_path.iterdir())}
    assert found == {
        "beside.pt": "sin",
        "config.pt": "gelu",
        "hp.ckpt.pt": "tanh",
        "plain.pt": None,
        "plain.safetensors": None,
        "tanh.safetensors": "tanh",
    }
    state, _ = load_network(tmp_path / "tanh.safetensors")
    assert list(state) == list(sd) and torch.equal(state["a.weight"], sd["a.weight"])
