import pytest
import torch

from weightnet.models import EquivariantEditor
from weightnet.testing import assert_equivariant, cnn_spec, mlp_spec, random_weightspace
from weightnet.weightspace import SpecError


@pytest.mark.parametrize("spec", [mlp_spec((3, 5, 4, 2)), cnn_spec()], ids=["mlp", "cnn"])
@pytest.mark.parametrize("kind", ["dws", "nfn_np", "nfn_hnp"])
def test_editor_starts_at_zero_and_is_equivariant(spec, kind):
    torch.manual_seed(0)
    editor = EquivariantEditor(spec, kind, hidden_channels=6, num_layers=2).double()
    ws = random_weightspace(spec, batch_size=3).to(torch.float64)
    delta = editor(ws)
    delta.check_spec(spec)
    assert delta.channels == 1
    assert all(bool((t == 0).all()) for t in delta.tensors())
    with torch.no_grad():  # as after some training
        for p in editor.projection.parameters():
            p.normal_()
    assert_equivariant(editor, spec, ws, atol=1e-10)


def test_editor_learns_an_edit():
    spec = mlp_spec((3, 5, 4, 2))
    ws = random_weightspace(spec, batch_size=4)
    target = ws * 0.5
    torch.manual_seed(0)
    editor = EquivariantEditor(spec, "dws", hidden_channels=8, num_layers=2)
    opt = torch.optim.Adam(editor.parameters(), lr=3e-2)

    def loss_fn():
        edited = ws + editor(ws)
        return sum(
            ((a - b) ** 2).mean() for a, b in zip(edited.tensors(), target.tensors(), strict=True)
        )

    first = float(loss_fn())
    for _ in range(15):
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss_fn()) < 0.5 * first


def test_unknown_kind():
    with pytest.raises(SpecError, match="no editor"):
        EquivariantEditor(mlp_spec(), "mlp")
