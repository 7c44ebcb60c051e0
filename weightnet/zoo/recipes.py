"""Zoo recipes: how the runs of a built-in zoo sample their hyperparameters and train.

Following the Small CNN Zoo (Unterthiner et al. 2020), every training run samples its
activation (relu, tanh), initialization std, learning rate and L2 coefficient
(log-uniform), optimizer (SGD, Adam) and the fraction of the training split it sees,
then records checkpoints at several steps, so a zoo spans untrained to well-trained
networks. All runs train at once with :func:`weightnet.zoo.trainer.train_networks`.

Recipes: ``digits-mlp`` (64-32-32-10 MLP), ``digits-cnn`` (three 3x3 convs, global
average pooling, linear head) and ``digits-mlp-hetero`` (one zoo folder per MLP
architecture, depth 1-4, widths 8-64).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from weightnet.errors import WeightnetError
from weightnet.preprocessing import digits_preprocessing, fold_input_affine
from weightnet.weightspace import WeightSpace, WeightSpec
from weightnet.zoo.architectures import CNN, MLP
from weightnet.zoo.classification import ClassificationRuns
from weightnet.zoo.digits import INPUT_SCALE, DigitsData, load_digits_data
from weightnet.zoo.inr import DIGITS_INR, MNIST_INR, InrRecipe
from weightnet.zoo.optim import VectorizedOptimizer
from weightnet.zoo.seeding import (
    ARCHITECTURES,
    BATCHES,
    HYPERPARAMETERS,
    INIT,
    SUBSET,
    global_rngs_untouched,
    stream,
)
from weightnet.zoo.trainer import chunk_runs, in_parallel, train_networks
from weightnet.zoo.writer import ChunkStore, ZooWriter, staged_output

_METRICS = ("test_accuracy", "test_loss", "train_accuracy", "train_loss")

__all__ = [
    "RECIPES",
    "ClassifierRecipe",
    "HyperparameterSpace",
    "generate_zoo",
    "normal_init",
    "training_subset",
]


@dataclass(frozen=True)
class HyperparameterSpace:
    """Ranges of the per-run hyperparameters (Unterthiner et al. 2020, Table 1, scaled to digits).

    ``learning_rate``, ``l2_reg`` and ``init_std`` are log-uniform on their ranges,
    ``train_fraction`` uniform; ``activation``, ``optimizer``, ``init`` and ``input_frame``
    uniform choices. ``init`` (:data:`INITS`) and ``input_frame`` (the inputs a run trains
    on: ``x/16``, ``raw`` pixels, ``standardized``; its weights are stored folded into
    ``x/16``, the zoo's frame, see :mod:`weightnet.preprocessing`) are drawn, and become
    columns, only when they offer more than their default, so the other recipes' zoos keep
    their bytes.
    """

    activations: tuple[str, ...] = ("relu", "tanh")
    optimizers: tuple[str, ...] = ("sgd", "adam")
    learning_rate: tuple[float, float] = (5e-4, 5e-2)
    l2_reg: tuple[float, float] = (1e-8, 1e-2)
    init_std: tuple[float, float] = (1e-3, 0.5)
    train_fraction: tuple[float, float] = (0.1, 1.0)
    inits: tuple[str, ...] = ("normal",)
    input_frames: tuple[str, ...] = ("x/16",)

    def sample(self, rng: np.random.Generator) -> dict[str, str | float]:
        """One run's hyperparameters (the ``config.<name>`` columns, in this order)."""

        def log_uniform(low: float, high: float) -> float:
            return float(math.exp(rng.uniform(math.log(low), math.log(high))))

        config = {
            "activation": str(self.activations[rng.integers(len(self.activations))]),
            "optimizer": str(self.optimizers[rng.integers(len(self.optimizers))]),
            "learning_rate": log_uniform(*self.learning_rate),
            "l2_reg": log_uniform(*self.l2_reg),
            "init_std": log_uniform(*self.init_std),
            "train_fraction": float(rng.uniform(*self.train_fraction)),
        }
        if self.inits != ("normal",):
            config["init"] = str(self.inits[rng.integers(len(self.inits))])
        if self.input_frames != ("x/16",):
            config["input_frame"] = str(self.input_frames[rng.integers(len(self.input_frames))])
        return config


def normal_init(spec: WeightSpec, std: float, rng: np.random.Generator) -> np.ndarray:
    """``(P,)`` float32 initial parameters: weights ``N(0, std^2)``, biases zero."""
    params = rng.standard_normal(spec.num_params, dtype=np.float32) * np.float32(std)
    biases = {layer.bias_key for layer in spec.layers}
    for name, start, end, _, _ in spec.layout():
        if name in biases:
            params[start:end] = 0.0
    return params


#: Initializations of :func:`initial_weights` besides ``normal`` (:func:`normal_init`):
#: PyTorch's ``nn.Linear`` default (weights and biases ``U(+-1/sqrt(fan_in))``), Glorot
#: uniform (biases zero), He normal (``N(0, 2/fan_in)``, biases zero) and scikit-learn's
#: ``MLPClassifier`` (weights and biases ``U(+-sqrt(6/(fan_in+fan_out)))``).
INITS = ("normal", "pytorch", "glorot", "he", "sklearn")


def initial_weights(
    spec: WeightSpec, kind: str, std: float, rng: np.random.Generator
) -> np.ndarray:
    """``(P,)`` float32 initial parameters of an MLP drawn the way ``kind`` (:data:`INITS`) does."""
    if kind == "normal":
        return normal_init(spec, std, rng)
    params = np.zeros(spec.num_params, dtype=np.float32)
    for layer, (_, w0, w1, _, _), (_, b0, b1, _, _) in zip(
        spec.layers, spec.layout()[0::2], spec.layout()[1::2], strict=True
    ):
        fan_in, fan_out = layer.n_in, layer.n_out
        glorot = math.sqrt(6.0 / (fan_in + fan_out))
        if kind == "he":
            params[w0:w1] = rng.standard_normal(w1 - w0) * math.sqrt(2.0 / fan_in)
            continue
        bound = 1 / math.sqrt(fan_in) if kind == "pytorch" else glorot
        params[w0:w1] = rng.uniform(-bound, bound, w1 - w0)
        if kind in ("pytorch", "sklearn"):
            params[b0:b1] = rng.uniform(-bound, bound, b1 - b0)
    return params


@dataclass(frozen=True)
class ClassifierRecipe:
    """Classifiers of the digits, trained in vectorized chunks.

    Attributes:
        name: the recipe's name (``weightnet zoo generate NAME``).
        description: one line for ``--help``.
        default_num_models: number of training runs when none is asked for.
        architectures: ``(seed, num_models) -> [(folder_name, spec), ...]``; run ``r``
            uses architecture ``r % len(...)``. Specs carry ``relu``; each run's activation
            replaces it.
        input_shape: shape of one input (``(64,)`` flat, ``(1, 8, 8)`` images).
        one_folder_per_architecture: write ``OUT/<folder_name>/`` zoos (a heterogeneous zoo)
            instead of a single zoo in ``OUT``.
        num_steps: optimizer steps per run.
        checkpoint_steps: steps at which a row is recorded (0 = untrained).
        batch_size: examples per minibatch.
        chunk_size: runs trained at once (bounds memory).
        space: hyperparameter ranges.
    """

    name: str
    description: str
    default_num_models: int
    architectures: Callable[[int, int], list[tuple[str, WeightSpec]]]
    input_shape: tuple[int, ...]
    one_folder_per_architecture: bool = False
    num_steps: int = 800
    checkpoint_steps: tuple[int, ...] = (0, 50, 100, 200, 400, 800)
    batch_size: int = 32
    chunk_size: int = 512
    space: HyperparameterSpace = field(default_factory=HyperparameterSpace)

    def generate(self, folder: Path, num_models: int, seed: int, progress: bool = True) -> None:
        """Train ``num_models`` runs and write the zoo(s) into the empty ``folder``."""
        from tqdm.auto import tqdm

        data = load_digits_data(seed)
        architectures = self.architectures(seed, num_models)
        configs = [self.space.sample(stream(seed, HYPERPARAMETERS, r)) for r in range(num_models)]
        plans = []
        for a, (arch_name, spec) in enumerate(architectures):
            runs = np.arange(a, num_models, len(architectures))
            keys = [
                (configs[r]["activation"], configs[r]["optimizer"], configs[r].get("input_frame"))
                for r in runs
            ]  # one chunk: one activation, optimizer and input frame
            plans.append(
                (arch_name, spec, runs, [runs[c] for c in chunk_runs(keys, self.chunk_size)])
            )
        total = sum(len(chunks) for *_, chunks in plans) * self.num_steps
        store = ChunkStore(folder)
        store.announce_resume(
            {
                f"{name}-{c}": len(chunk)
                for name, _, _, chunks in plans
                for c, chunk in enumerate(chunks)
            }
        )
        # disable=None: a bar on a terminal only (a log file gets no redraws)
        disable = None if progress else True
        workers = torch.get_num_threads()  # chunks side by side, one thread each
        with tqdm(total=total, desc=f"zoo {self.name}", unit="step", disable=disable) as bar:
            for arch_name, spec, runs, chunks in plans:
                out = folder / arch_name if self.one_folder_per_architecture else folder
                out.mkdir(exist_ok=True)

                def train(numbered, arch_name=arch_name, spec=spec):
                    c, chunk = numbered
                    name = f"{arch_name}-{c}"
                    return self._trained_chunk(store, name, spec, chunk, configs, data, seed, bar)

                trained = in_parallel(train, enumerate(chunks), workers)
                self._write_architecture(out, spec, runs, chunks, trained, configs, data, seed)
        store.clear()

    def _trained_chunk(
        self,
        store: ChunkStore,
        name: str,
        spec: WeightSpec,
        chunk: np.ndarray,
        configs: list[dict],
        data: DigitsData,
        seed: int,
        bar,
    ) -> dict[str, np.ndarray]:
        """One chunk's checkpoints: ``steps`` (K,), ``values`` (K, B, P), each metric (K, B).

        Read from ``store`` when an interrupted generation finished it, else trained and stored.
        """
        saved = store.load(name)
        if saved is not None:
            bar.update(self.num_steps)
            return saved
        checkpoints = self._train_chunk(spec, chunk, configs, data, seed, bar)
        saved = {
            "steps": np.array([step for step, _, _ in checkpoints]),
            "values": np.stack([values for _, values, _ in checkpoints]),  # (K, B, P)
            **{
                f"metric.{metric}": np.stack([evaluation[metric] for *_, evaluation in checkpoints])
                for metric in checkpoints[0][2]
            },
        }
        store.save(name, saved)
        return saved

    def _write_architecture(
        self,
        out: Path,
        spec: WeightSpec,
        runs: np.ndarray,
        chunks: list[np.ndarray],
        trained: Iterable[dict[str, np.ndarray]],
        configs: list[dict],
        data: DigitsData,
        seed: int,
    ) -> None:
        """Write the zoo of one architecture's ``runs`` from their ``trained`` chunks."""
        steps = sorted(self.checkpoint_steps)
        block_of_run = {int(r): i * len(steps) for i, r in enumerate(runs)}  # first row of a run
        writer = ZooWriter(out, spec, len(runs) * len(steps))
        metrics = {name: np.zeros(len(runs) * len(steps)) for name in _METRICS}
        for chunk, saved in zip(chunks, trained, strict=True):
            first_rows = np.array([block_of_run[int(r)] for r in chunk])  # (B,)
            for k, step in enumerate(saved["steps"].tolist()):
                rows = first_rows + steps.index(step)
                writer.write_rows(rows, saved["values"][k])
                for name in _METRICS:
                    metrics[name][rows] = saved[f"metric.{name}"][k]
        row_runs = np.repeat(runs, len(steps))
        columns: dict[str, list] = {"run_id": row_runs.tolist()}
        for name in configs[0]:
            columns[f"config.{name}"] = [configs[r][name] for r in row_runs]
        columns |= {name: metrics[name].tolist() for name in _METRICS}
        columns["step"] = np.tile(steps, len(runs)).tolist()
        writer.finish(columns, self._meta(spec, runs, configs, data, seed))

    def _train_chunk(
        self,
        spec: WeightSpec,
        chunk: np.ndarray,
        configs: list[dict],
        data: DigitsData,
        seed: int,
        bar,
    ) -> list[tuple[int, np.ndarray, dict[str, np.ndarray]]]:
        """Train the runs ``chunk`` (one activation) at once.

        Returns:
            Per checkpoint: its step, the ``(B, P)`` weights and the ``(B,)`` metrics.
        """
        chunk_configs = [configs[r] for r in chunk]
        chunk_spec = spec.with_activation(chunk_configs[0]["activation"])
        zoo_inputs = torch.from_numpy(data.images.reshape(-1, *self.input_shape))  # (1797, *in)
        frame = chunk_configs[0].get("input_frame", "x/16")
        scale, shift = (v.float() for v in digits_preprocessing(frame, INPUT_SCALE))
        inputs = zoo_inputs if frame == "x/16" else zoo_inputs * scale + shift  # the run's own
        subsets = [
            training_subset(data.train_indices, c["train_fraction"], stream(seed, SUBSET, r))
            for r, c in zip(chunk, chunk_configs, strict=True)
        ]
        task = ClassificationRuns(
            chunk_spec,
            inputs,
            torch.from_numpy(data.labels),
            subsets,
            data.test_indices,
            [stream(seed, BATCHES, r) for r in chunk],
            self.batch_size,
        )
        inits = [
            initial_weights(spec, c.get("init", "normal"), c["init_std"], stream(seed, INIT, r))
            for r, c in zip(chunk, chunk_configs, strict=True)
        ]
        optimizer = VectorizedOptimizer(
            torch.from_numpy(np.stack(inits)),  # (B, P)
            torch.tensor([c["optimizer"] == "adam" for c in chunk_configs]),
            torch.tensor([c["learning_rate"] for c in chunk_configs]),
            torch.tensor([c["l2_reg"] for c in chunk_configs]),
        )
        checkpoints = []

        def record(step: int, values: torch.Tensor) -> None:
            if frame != "x/16":  # stored, and evaluated, folded into the zoo's frame
                values = _folded_rows(chunk_spec, values, scale, shift)
            evaluation = task.evaluate(WeightSpace.from_flat(chunk_spec, values), zoo_inputs)
            checkpoints.append((step, values.numpy(), evaluation))

        train_networks(
            chunk_spec, optimizer, task.loss, self.num_steps, self.checkpoint_steps, record, bar
        )
        return checkpoints

    def _meta(
        self, spec: WeightSpec, runs: np.ndarray, configs: list[dict], data: DigitsData, seed: int
    ) -> dict:
        """The ``zoo.json`` entries of one architecture's zoo (checksum added by the writer)."""
        activations = sorted({configs[r]["activation"] for r in runs})
        return {
            "recipe": self.name,
            "seed": seed,
            "num_models": len(runs),
            "architecture": {
                "kind": spec.kind,
                "layers": spec.with_activation(activations[0]).to_dict()["layers"],
                "activation": activations[0] if len(activations) == 1 else activations,
            },
            "dataset": data.dataset_meta(self.input_shape),
        }


def _folded_rows(spec: WeightSpec, rows: torch.Tensor, scale, shift) -> torch.Tensor:
    """``(B, P)`` rows of networks reading ``scale * x + shift``, folded to read ``x``."""
    states = WeightSpace.from_flat(spec, rows).to_state_dicts(spec)
    folded = [fold_input_affine(state, spec, scale, shift) for state in states]
    return WeightSpace.from_state_dicts(spec, folded).flatten()


def training_subset(
    train_indices: np.ndarray, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """The first ``fraction`` of a random order of the training split (at least one batch's worth)."""
    count = max(1, round(fraction * len(train_indices)))
    return np.sort(rng.permutation(train_indices)[:count])


def _mlp(sizes: tuple[int, ...]) -> tuple[str, WeightSpec]:
    return f"mlp-{'-'.join(map(str, sizes))}", WeightSpec.from_module(MLP(sizes))


def _digits_mlp(seed: int, num_models: int) -> list[tuple[str, WeightSpec]]:
    return [_mlp((64, 32, 32, 10))]


def _digits_cnn(seed: int, num_models: int) -> list[tuple[str, WeightSpec]]:
    channels = (8, 8, 8)
    module = CNN(1, channels, 10, kernel_size=3, stride=2)
    return [(f"cnn-1-{'-'.join(map(str, channels))}-10", WeightSpec.from_module(module))]


#: Hidden widths and depths of ``digits-mlp-hetero``.
HETERO_WIDTHS, HETERO_DEPTHS, HETERO_ARCHITECTURES = (8, 16, 32, 64), (1, 2, 3, 4), 12


def _random_mlps(
    seed: int, count: int, widths: tuple[int, ...], depths: tuple[int, ...]
) -> list[tuple[str, WeightSpec]]:
    """``count`` distinct 64-...-10 MLPs drawn from ``seed``, their depths cycling through ``depths``."""
    rng = stream(seed, ARCHITECTURES)
    chosen: list[tuple[int, ...]] = []
    while len(chosen) < count:
        depth = depths[len(chosen) % len(depths)]
        hidden = tuple(int(w) for w in rng.choice(widths, size=depth))
        if hidden not in chosen:
            chosen.append(hidden)
    return [_mlp((64, *hidden, 10)) for hidden in chosen]


def _digits_mlp_hetero(seed: int, num_models: int) -> list[tuple[str, WeightSpec]]:
    """Up to 12 distinct MLPs drawn from ``seed``, depths cycling through 1..4."""
    return _random_mlps(seed, min(num_models, HETERO_ARCHITECTURES), HETERO_WIDTHS, HETERO_DEPTHS)


#: Hidden widths and depths of ``digits-mlp-wide``.
WIDE_WIDTHS, WIDE_DEPTHS, WIDE_ARCHITECTURES = (8, 16, 32, 64, 128), (1, 2, 3), 15


def _digits_mlp_wide(seed: int, num_models: int) -> list[tuple[str, WeightSpec]]:
    """Up to 15 distinct MLPs drawn from ``seed``, 1-3 hidden layers (depths cycling)."""
    return _random_mlps(seed, min(num_models, WIDE_ARCHITECTURES), WIDE_WIDTHS, WIDE_DEPTHS)


#: The networks people train on the digits, for the ``digits-mlp`` predictor: PyTorch,
#: Glorot, He, scikit-learn and N(0, std^2) initializations, SGD and Adam with weight
#: decay, from untrained to converged (2,000 steps), on x/16, raw or standardized pixels.
WIDE_SPACE = HyperparameterSpace(
    learning_rate=(1e-4, 1e-2), inits=INITS, input_frames=("x/16", "raw", "standardized")
)

#: The built-in recipes by name.
RECIPES: dict[str, ClassifierRecipe | InrRecipe] = {
    recipe.name: recipe
    for recipe in (
        ClassifierRecipe(
            "digits-mlp",
            "64-32-32-10 MLPs on the 8x8 digits (relu/tanh, SGD/Adam, ...)",
            default_num_models=2000,
            architectures=_digits_mlp,
            input_shape=(64,),
        ),
        ClassifierRecipe(
            "digits-cnn",
            "small CNNs on the 8x8 digits: three 3x3 convs of 8 channels, global average "
            "pooling, linear head",
            default_num_models=200,  # grouped convolutions are slow on CPU
            architectures=_digits_cnn,
            input_shape=(1, 8, 8),
        ),
        ClassifierRecipe(
            "digits-mlp-hetero",
            "MLPs of 1-4 hidden layers of width 8-64 on the 8x8 digits, one zoo folder per "
            "architecture",
            default_num_models=2000,
            architectures=_digits_mlp_hetero,
            input_shape=(64,),
            one_folder_per_architecture=True,
        ),
        ClassifierRecipe(
            "digits-mlp-wide",
            "MLPs of 1-3 hidden layers of width 8-128, five initializations, SGD/Adam with "
            "weight decay, 0-2,000 steps, on x/16, raw or standardized pixels (stored in x/16)",
            default_num_models=3000,
            architectures=_digits_mlp_wide,
            input_shape=(64,),
            one_folder_per_architecture=True,
            num_steps=2000,
            checkpoint_steps=(0, 10, 30, 100, 300, 1000, 2000),
            space=WIDE_SPACE,
        ),
        DIGITS_INR,
        MNIST_INR,
    )
}


def generate_zoo(
    recipe: str | ClassifierRecipe,
    out: str | Path,
    num_models: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Train a zoo with a built-in recipe and write it to ``out`` (all or nothing).

    Args:
        recipe: a name in :data:`RECIPES`, or a recipe object (e.g. a variant made with
            :func:`dataclasses.replace`).
        out: the zoo folder to create (must not exist, or be empty). Recipes with one
            folder per architecture fill it with zoo folders.
        num_models: number of training runs (each gives one row per checkpoint);
            ``None`` for the recipe's default.
        seed: fixes the data split, every hyperparameter, initialization and minibatch:
            the same recipe and seed give byte-identical ``weights.npy``.
        progress: show a progress bar (on a terminal; elsewhere one line says what is trained).

    Killed midway, it leaves ``.OUT.partial`` beside ``out`` with the chunks it finished;
    the same call (same recipe settings, ``num_models`` and ``seed``) continues from them
    and writes the same bytes as an uninterrupted run; a call with other arguments is
    refused while that folder exists.

    Returns:
        ``out`` as a :class:`~pathlib.Path`.

    Raises:
        WeightnetError: unknown recipe, bad ``num_models``, or ``out`` not usable.
    """
    if isinstance(recipe, str) and recipe not in RECIPES:
        raise WeightnetError(f"unknown recipe {recipe!r}; known recipes: {', '.join(RECIPES)}")
    chosen = RECIPES[recipe] if isinstance(recipe, str) else recipe
    num_models = chosen.default_num_models if num_models is None else int(num_models)
    if num_models < 1:
        raise WeightnetError(f"num_models must be at least 1, got {num_models}")
    out = Path(out)
    settings = {f.name: getattr(chosen, f.name) for f in fields(chosen)}
    resume_key = {
        "recipe": chosen.name,
        "num_models": num_models,
        "seed": seed,
        "settings": {k: v for k, v in settings.items() if not callable(v)},
    }
    with global_rngs_untouched(), staged_output(out, resume_key) as folder:
        if progress and not sys.stderr.isatty():  # no progress bar: say what takes the time
            print(f"zoo {chosen.name}: training {num_models} runs into {out}", file=sys.stderr)
        chosen.generate(folder, num_models, seed, progress)
    return out
