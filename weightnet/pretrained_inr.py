"""The shipped INR classifier ``digits-inr``: how it reads SIRENs and how it is built.

The digits-inr zoo fits its SIRENs from two shared initializations (one per ``inr_seed``,
as functa-style INR datasets do), so its weights are comparable entry by entry and a flat
MLP on raw weights classifies them best. Raw weights are not invariant to the symmetries
of a SIREN, though: permuting its hidden neurons or flipping their signs keeps the image
and changes the MLP's answer. The shipped classifier therefore reads every SIREN through
:func:`weightnet.align.nearest.align_to_nearest` (canonical form, then weight matching
onto the nearer of the recipe's two initializations), which makes the whole predictor
invariant to hidden-neuron permutations and sign flips; the MLP is trained on the
training split aligned the same way.

The references are not stored: the metanet's JSON names them (``input.align``:
``{"recipe": "digits-inr", "seed": 0, "inr_seeds": [0, 1]}``) and
:func:`alignment_references` redraws them with the recipe's own initialization.

Held-out quality is measured on the zoo's test split (INRs of images never seen in
training) and on freshly fitted SIRENs of those test images, each from its own new
initialization (generation seed 1, no shared initialization).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = [
    "FRESH_SEED",
    "MNIST_INR_INPUT",
    "alignment_references",
    "build_inr_classifier",
    "build_probe_classifier",
    "fit_sirens_plainly",
    "fresh_sirens",
]

#: Generation seed of the fresh held-out SIRENs (the zoo uses seed 0).
FRESH_SEED = 1


def alignment_references(spec: WeightSpec, align: Mapping[str, Any]) -> WeightSpace:
    """The initializations a ``digits-inr`` metanet aligns its inputs to.

    Args:
        spec: the SIREN architecture the metanet reads.
        align: ``{"recipe": "digits-inr", "seed": S, "inr_seeds": [...]}`` (``input.align``
            of the metanet's JSON).

    Returns:
        One network per ``inr_seed``: the recipe's shared initialization of that seed.
    """
    from weightnet.errors import WeightnetError
    from weightnet.zoo.inr import siren_init
    from weightnet.zoo.seeding import INIT, stream

    if align.get("recipe") != "digits-inr":
        raise WeightnetError(f"unknown alignment references {dict(align)!r}")
    rows = [siren_init(spec, stream(int(align["seed"]), INIT, int(k))) for k in align["inr_seeds"]]
    return WeightSpace.from_flat(spec, torch.from_numpy(np.stack(rows)))  # (R, P) rows


def fresh_sirens(
    image_indices: np.ndarray, per_image: int = 2, seed: int = FRESH_SEED
) -> tuple[WeightSpace, Tensor]:
    """SIRENs of the digits-inr recipe fitted anew, each from its own initialization.

    Args:
        image_indices: indices into ``sklearn.datasets.load_digits()``.
        per_image: INRs per image.
        seed: generation seed of the initializations.

    Returns:
        The fitted SIRENs (``per_image`` per image, image by image) and their ``(B,)`` labels.
    """
    from weightnet.zoo.inr import DIGITS_INR, digit_images

    recipe = replace(DIGITS_INR, shared_init=False)
    images, labels = digit_images(recipe.grid.shape)
    chosen = np.repeat(np.asarray(image_indices, dtype=np.int64), per_image)  # (B,)
    fitted = recipe.fit_images(images[chosen], np.zeros(len(chosen), np.int64), seed)
    ws = WeightSpace.from_flat(recipe.spec, torch.from_numpy(fitted["params"]))
    return ws, torch.from_numpy(labels[chosen])


def _accuracy(metanet, spec: WeightSpec, ws: WeightSpace, labels: Tensor) -> float:
    """Accuracy of ``metanet`` on ``ws`` through its prediction path (state_dicts)."""
    predictions = metanet.predict(ws.to_state_dicts(spec))
    return float(np.mean([p["class"] == int(y) for p, y in zip(predictions, labels, strict=True)]))


def _transformed(spec: WeightSpec, ws: WeightSpace, seed: int) -> WeightSpace:
    """``ws`` with random hidden-neuron permutations and sign flips (same functions)."""
    from weightnet.symmetry import permute, rescale, sample_permutations, sample_signs

    gen = torch.Generator().manual_seed(seed)
    flipped = rescale(ws, spec, sample_signs(spec, ws.batch_size, gen))
    return permute(flipped, sample_permutations(spec, ws.batch_size, gen))


def build_inr_classifier(recipe, path: Path, zoo: str | Path | None = None) -> tuple[Path, Path]:
    """Train the ``digits-inr`` classifier of ``recipe`` and write ``path.{safetensors,json}``.

    Args:
        recipe: a :class:`weightnet.pretrained.PretrainedRecipe` of task ``inr_classification``.
        path: the metanet's path without suffix.
        zoo: the digits-inr zoo folder (default ``recipe.zoo_folder``; generated if missing).

    Returns:
        The paths written.
    """
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    from weightnet.align.nearest import align_to_nearest
    from weightnet.data.normalization import WeightStats
    from weightnet.data.zoo import open_zoo
    from weightnet.models import MODELS
    from weightnet.pretrained import Pretrained, save_pretrained
    from weightnet.tasks.inr_classification import InrClassificationTask
    from weightnet.zoo.recipes import generate_zoo

    zoo_path = Path(zoo or recipe.zoo_folder)
    if not zoo_path.exists():
        generate_zoo(recipe.zoo_recipe, zoo_path, recipe.num_models, recipe.seed)
    data = open_zoo(zoo_path, verify_checksum=True)
    spec = data.spec
    split = np.asarray(data.metrics["split"])
    labels = torch.from_numpy(np.asarray(data.metrics["label"]).astype(np.int64))
    align = {"recipe": recipe.zoo_recipe, "seed": recipe.seed, "inr_seeds": [0, 1]}
    references = alignment_references(spec, align)
    rows = {s: np.flatnonzero(split == s) for s in ("train", "test")}
    raw = {s: data.weightspace(r) for s, r in rows.items()}
    train = align_to_nearest(spec, raw["train"], references).flatten()  # (N, P)
    stats = WeightStats.from_rows(spec, [(train.numpy(), np.arange(len(train)))])
    normalized = stats.normalize(WeightSpace.from_flat(spec, train)).flatten()  # (N, P)

    def collate(batch):
        flat, y = torch.utils.data.default_collate(batch)
        return WeightSpace.from_flat(spec, flat), y

    pl.seed_everything(recipe.seed, workers=True)
    loader = DataLoader(
        TensorDataset(normalized, labels[rows["train"]]),
        batch_size=recipe.batch_size,
        shuffle=True,
        collate_fn=collate,
        generator=torch.Generator().manual_seed(recipe.seed),
    )
    model = MODELS[recipe.model](spec, **recipe.model_kwargs)
    task = InrClassificationTask(
        model, **recipe.optimizers(), num_classes=10, confusion_matrix=None
    )
    with tempfile.TemporaryDirectory() as root:
        recipe.trainer(root).fit(task, train_dataloaders=loader)
    zoo_meta = json.loads((zoo_path / "zoo.json").read_text())
    meta: dict[str, Any] = {
        "description": recipe.description,
        "model": {"class": recipe.model, "kwargs": dict(recipe.model_kwargs), "graph_input": False},
        "task": {"output": "classification", "target": "label", "classes": list(range(10))},
        "reads": {
            "kind": "siren",
            "n_in": spec.layers[0].n_in,
            "n_out": spec.layers[-1].n_out,
            "activations": ["sin"],
            "max_layers": len(spec),
            "spec": spec.to_dict(),
            "description": recipe.description,
        },
        "normalization": {"kind": "per_layer", **stats.to_dict()},
        "input": {"align": align, "probe_features": 0, "probe_seed": 0},
    }
    metanet = Pretrained(path.name, task.model, meta)
    test_images = np.asarray(zoo_meta["dataset"]["test_indices"], dtype=np.int64)
    fresh, fresh_labels = fresh_sirens(test_images)
    quality = {
        "split": f"test split of the zoo ({len(rows['test'])} INRs of {len(test_images)} images "
        f"never seen in training); acc_fresh_init: {fresh.batch_size} SIRENs of those images "
        f"fitted anew, each from its own initialization (seed {FRESH_SEED})",
        "test/acc": _accuracy(metanet, spec, raw["test"], labels[rows["test"]]),
        "test/acc_fresh_init": _accuracy(metanet, spec, fresh, fresh_labels),
        "test/acc/permuted_sign_flipped": _accuracy(
            metanet, spec, _transformed(spec, raw["test"], recipe.seed), labels[rows["test"]]
        ),
        "test_image_indices": test_images.tolist(),
    }
    meta["quality"] = quality
    meta["training_data"] = {
        "zoo_recipe": recipe.zoo_recipe,
        "num_models": recipe.num_models,
        "steps": recipe.zoo_steps,
        "seed": recipe.seed,
        "num_networks": len(rows["train"]),
        "architectures": [spec.describe()],
    }
    meta["training"] = {
        "epochs": recipe.epochs,
        "batch_size": recipe.batch_size,
        "lr": recipe.lr,
        "rebuild": f"python -m weightnet.pretrained build {recipe.name}",
    }
    return save_pretrained(task.model, meta, path)


# --------------------------------------------------------------------- mnist-inr
#: How the shipped ``mnist-inr`` classifier reads a SIREN: its phase and sign canonical
#: form (sine biases folded into one half-period, neurons flipped so that their largest
#: incoming entry is positive) and every neuron's 8 x 8 lowest cosine coefficients on the
#: 28 x 28 pixel grid.
MNIST_INR_INPUT = {
    "canonicalize": {"permutation": False, "scale": False, "sign": True, "phase": True},
    "probes": {"num_probes": 64, "seed": 0, "domain": "cosine", "grid_size": 28},
}


def fit_sirens_plainly(
    images: np.ndarray, seed: int, steps: int = 300, lr: float = 1e-3, zero_biases: bool = False
) -> list[dict[str, Tensor]]:
    """SIRENs fitted one image at a time with a plain PyTorch loop, as a user would.

    Each ``2 -> 32 -> 32 -> 1`` SIREN (:class:`weightnet.zoo.architectures.SIREN`, sin(30x))
    starts from Sitzmann et al.'s initialization (first layer ``U(-1/2, 1/2)``, hidden
    ``U(-sqrt(6/32)/30, ...)``) with ``torch.nn.Linear``'s default biases (or zero sine
    biases, as the DWSNets INRs), drawn from ``torch.manual_seed(seed + i)``, and is fitted
    by ``torch.optim.Adam`` on the full 28 x 28 grid. The defaults are a protocol other than
    the recipe's (zero biases, 100 steps at 5e-3).

    Args:
        images: ``(B, 28, 28)`` in ``[0, 1]``.
        seed: first initialization seed.
        steps: Adam steps per image.
        lr: Adam's learning rate.
        zero_biases: start the sine layers' biases at zero.

    Returns:
        One state_dict per image.
    """
    from weightnet.inr import InrGrid
    from weightnet.zoo.architectures import SIREN

    grid = InrGrid(28, 28, 0.5)
    coords = grid.coordinates()  # (784, 2)
    states = []
    for i, image in enumerate(images):
        torch.manual_seed(seed + i)
        net = SIREN((2, 32, 32, 1), 30.0)
        with torch.no_grad():
            for k, layer in enumerate(net.seq[:-1]):
                bound = 1 / layer.in_features if k == 0 else (6 / layer.in_features) ** 0.5 / 30
                layer.weight.uniform_(-bound, bound)
                if zero_biases:
                    layer.bias.zero_()
        target = torch.from_numpy(image).reshape(-1, 1) - grid.output_offset  # (784, 1)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        for _ in range(steps):
            loss = torch.nn.functional.mse_loss(net(coords), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
        states.append({k: v.detach().clone() for k, v in net.state_dict().items()})
    return states


def build_probe_classifier(recipe, path: Path, zoo: str | Path | None = None) -> tuple[Path, Path]:
    """Train the ``mnist-inr`` classifier of ``recipe`` and write ``path.{safetensors,json}``.

    It reads SIRENs from any initialization: the model (``recipe.model``, invariant to
    hidden-neuron permutations) sees the phase and sign canonical form and the cosine probe
    features (:data:`MNIST_INR_INPUT`), so the whole predictor is invariant to permutations,
    sign flips and bias shifts by half-periods by construction, and its probe features
    describe the function. Trained on the
    zoo's training split through :class:`~weightnet.data.datamodule.ZooDataModule` (the
    pipeline ``weightnet predict`` replays). Quality: the zoo's test split, the same INRs
    randomly permuted and sign-flipped, and SIRENs of the test images fitted anew with
    :func:`fit_sirens_plainly`.
    """
    import lightning.pytorch as pl

    from weightnet.data.datamodule import ZooDataModule
    from weightnet.models import MODELS
    from weightnet.pretrained import Pretrained, _normalization_meta, save_pretrained
    from weightnet.tasks.inr_classification import InrClassificationTask
    from weightnet.zoo.inr import mnist_images

    zoo_path = Path(zoo or recipe.zoo_folder)
    generate = {"recipe": recipe.zoo_recipe, "out": str(zoo_path), "num_models": recipe.num_models}
    pl.seed_everything(recipe.seed, workers=True)
    datamodule = ZooDataModule(
        zoo_path,
        batch_size=recipe.batch_size,
        target="label",
        split_column="split",
        generate={**generate, "seed": recipe.seed},
        canonicalize=MNIST_INR_INPUT["canonicalize"],
        probe_features=MNIST_INR_INPUT["probes"]["num_probes"],
        probe_domain=MNIST_INR_INPUT["probes"]["domain"],
        probe_grid=MNIST_INR_INPUT["probes"]["grid_size"],
    )
    datamodule.setup("fit")
    spec = datamodule.spec
    kwargs = {**recipe.model_kwargs, **datamodule.model_kwargs}
    model = MODELS[recipe.model](spec, **kwargs)
    task = InrClassificationTask(
        model, **recipe.optimizers(), num_classes=10, confusion_matrix=None
    )
    with tempfile.TemporaryDirectory() as root:
        recipe.trainer(root).fit(task, datamodule=datamodule)  # val/acc in each epoch's line
    data = datamodule.state_dict()
    meta: dict[str, Any] = {
        "description": recipe.description,
        "model": {"class": recipe.model, "kwargs": kwargs, "graph_input": False},
        "task": {"output": "classification", "target": "label", "classes": list(range(10))},
        "reads": {
            "kind": "siren",
            "n_in": spec.layers[0].n_in,
            "n_out": spec.layers[-1].n_out,
            "activations": ["sin"],
            "max_layers": len(spec),
            "spec": spec.to_dict(),
            "description": recipe.description,
        },
        "normalization": _normalization_meta(data),
        "input": {**MNIST_INR_INPUT, "probe_features": 0, "probe_seed": 0},
    }
    metanet = Pretrained(path.name, task.model.eval(), meta)
    zoo = datamodule.zoos[0]
    test_rows = datamodule.test_set.rows[:, 1]
    test = zoo.weightspace(test_rows)
    labels = torch.from_numpy(np.asarray(zoo.metrics["label"])[test_rows].astype(np.int64))
    test_images = np.asarray(zoo.meta["dataset"]["test_indices"], dtype=np.int64)
    images, image_labels = mnist_images()
    fresh = fit_sirens_plainly(images[test_images], seed=FRESH_SEED)
    fresh_predictions = metanet.predict(fresh)
    meta["quality"] = {
        "split": f"test split of the zoo ({len(test_rows)} INRs of {len(test_images)} images "
        f"never seen in training); acc_fresh_init: one SIREN per test image fitted anew by a "
        f"plain PyTorch loop (weightnet.pretrained_inr.fit_sirens_plainly, seeds "
        f"{FRESH_SEED}..{FRESH_SEED + len(test_images) - 1})",
        "test/acc": _accuracy(metanet, spec, test, labels),
        "test/acc/permuted_sign_flipped": _accuracy(
            metanet, spec, _transformed(spec, test, recipe.seed), labels
        ),
        "test/acc_fresh_init": float(
            np.mean(
                [
                    p["class"] == y
                    for p, y in zip(fresh_predictions, image_labels[test_images], strict=True)
                ]
            )  # fmt: skip
        ),
        "test_image_indices": test_images.tolist(),
    }
    meta["training_data"] = {
        "zoo_recipe": recipe.zoo_recipe,
        "num_models": recipe.num_models,
        "steps": recipe.zoo_steps,
        "seed": recipe.seed,
        "num_networks": len(datamodule.train_set),
        "architectures": [spec.describe()],
    }
    meta["training"] = {
        "epochs": recipe.epochs,
        "batch_size": recipe.batch_size,
        "lr": recipe.lr,
        "rebuild": f"python -m weightnet.pretrained build {recipe.name}",
    }
    return save_pretrained(task.model, meta, path)
