"""Resident memory while training on a zoo the size of the Small CNN Zoo (DESIGN.md 6).

Writes a synthetic zoo of 270,000 x 4,970 float32 (5.4 GB, the CNN Zoo's
architecture and size) under ``--dir`` in chunks, then, in a fresh process per
setting, trains a metanet for ``--steps`` steps through the real
:class:`~weightnet.data.datamodule.ZooDataModule` with 0 and 2 DataLoader workers,
and reports peak resident memory:

* ``ru_maxrss`` of the training process (``resource.getrusage``) after
  ``setup()`` and at the end, and of its largest worker (``RUSAGE_CHILDREN``);
* the peak of main + workers sampled with psutil, split into file-backed pages
  (memory-mapped zoo pages, which the kernel can drop) and anonymous memory.

Two readers of ``weights.npy``: ``pread`` (the zoo reader as it is:
:class:`~weightnet.data.npy.NpyRows` reads rows with plain file reads) and ``memmap``
(the same datamodule with ``Zoo.weights`` replaced by ``np.load(..., mmap_mode="r")``),
to show what a memory map would cost in resident memory.

The zoo is deleted afterwards unless ``--keep``. Prints a table and writes JSON::

    python benchmarks/memmap_zoo.py [--rows 270000] [--steps 300] [--workers 0 2]
        [--readers memmap pread] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

GIB = 1024**3
LIMIT_GIB = 2.5
STEPS_PER_RUN = (0, 1, 2, 3, 20, 40, 60, 80, 86)  # the CNN Zoo's checkpoint epochs


def cnn_zoo_spec():
    """The Small CNN Zoo architecture: 3 valid 3x3 stride-2 convs (1->16->16->16), GAP, dense 10."""
    from weightnet.weightspace import LayerSpec, WeightSpec

    convs = [
        LayerSpec(f"conv{i}.weight", f"conv{i}.bias", "conv", (16, c_in, 3, 3), stride=2)
        for i, c_in in enumerate((1, 16, 16))
    ]
    head = LayerSpec("dense.weight", "dense.bias", "linear", (10, 16), "identity")
    return WeightSpec((*convs, head))


def make_zoo(out: Path, rows: int, chunk: int = 8192) -> None:
    """Write the synthetic zoo (random weights, random accuracies) chunk by chunk."""
    from tqdm.auto import tqdm

    from weightnet.zoo.writer import ZooWriter, staged_output

    spec = cnn_zoo_spec()
    rng = np.random.default_rng(0)
    with staged_output(out) as folder:
        writer = ZooWriter(folder, spec, rows)
        for start in tqdm(range(0, rows, chunk), desc="writing zoo", unit="chunk"):
            n = min(chunk, rows - start)
            values = rng.standard_normal((n, spec.num_params), dtype=np.float32) * 0.1
            writer.write_rows(np.arange(start, start + n), values)
        metrics = _cnn_zoo_metrics(rows, rng)
        writer.finish(
            metrics,
            {
                "recipe": "benchmark:memmap-zoo",
                "seed": 0,
                "num_models": len(set(metrics["run_id"])),  # training runs
                "architecture": {
                    "kind": spec.kind,
                    "layers": spec.to_dict()["layers"],
                    "activation": ["relu", "tanh"],
                },
                "dataset": {"name": "synthetic", "input_shape": [1, 32, 32]},
            },
        )


def _cnn_zoo_metrics(rows: int, rng: np.random.Generator) -> dict[str, list]:
    """Random metrics with the Small CNN Zoo's columns (what reading ``metrics.csv`` costs)."""
    run = np.arange(rows) // len(STEPS_PER_RUN)
    num_runs = int(run[-1]) + 1

    def per_run(values) -> list:
        return np.asarray(values)[rng.integers(len(values), size=num_runs)][run].tolist()

    accuracy = rng.uniform(0.1, 0.6, rows).round(4)
    return {
        "run_id": run.tolist(),
        "config.activation": per_run(["relu", "tanh"]),
        "config.b_init": ["zeros"] * rows,
        "config.dataset": ["cifar10"] * rows,
        "config.dnn_architecture": ["cnn"] * rows,
        "config.dropout": per_run([0.0, 0.045, 0.1, 0.2]),
        "config.epochs": [86] * rows,
        "config.epochs_between_checkpoints": [20] * rows,
        "config.init_std": per_run(rng.uniform(0.01, 0.5, 100).round(6)),
        "config.l2reg": per_run(rng.uniform(1e-8, 1e-2, 100).round(9)),
        "config.learning_rate": per_run(rng.uniform(5e-4, 5e-2, 100).round(7)),
        "config.num_layers": [3] * rows,
        "config.num_units": [16] * rows,
        "config.optimizer": per_run(["adam", "sgd", "rmsprop"]),
        "config.random_seed": [42] * rows,
        "config.train_fraction": per_run([0.1, 0.25, 0.5, 1.0]),
        "config.w_init": per_run(["he_normal", "glorot_normal", "RandomNormal"]),
        "modeldir": [f"/tmp/dnn_science_workdir/cifar10/run_{r:06d}" for r in run],
        "step": np.resize(np.array(STEPS_PER_RUN), rows).tolist(),
        "test_accuracy": accuracy.tolist(),
        "test_loss": (2.3 - 2 * accuracy).round(4).tolist(),
        "train_accuracy": (accuracy + 0.01).round(4).tolist(),
        "train_loss": (2.2 - 2 * accuracy).round(4).tolist(),
    }


class _Sampler:
    """Peak RSS of this process plus its children, sampled every ``interval`` seconds."""

    def __init__(self, interval: float = 0.1) -> None:
        import psutil

        self.process = psutil.Process()
        self.interval = interval
        self.peak_total = self.peak_file = self.peak_anon = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = file = 0
            for proc in [self.process, *self.process.children(recursive=True)]:
                try:
                    info = proc.memory_info()
                except psutil.Error:
                    continue
                total += info.rss
                file += info.shared  # file-backed resident pages (the memory-mapped zoo)
            self.peak_total = max(self.peak_total, total)
            self.peak_file = max(self.peak_file, file)
            self.peak_anon = max(self.peak_anon, total - file)
            time.sleep(self.interval)

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _maxrss(who: int) -> float:
    return resource.getrusage(who).ru_maxrss * 1024 / GIB  # Linux: KiB


def _use_memmap_reader() -> None:
    """Make the zoo reader hand out a read-only memory map instead of :class:`NpyRows`."""
    import weightnet.data.zoo as zoo_module

    def read_weights(path: Path, num_params: int) -> np.ndarray:
        rows = np.load(path, mmap_mode="r", allow_pickle=False)
        if rows.shape[1] != num_params:
            raise zoo_module.ZooError(f"{path}: rows of {rows.shape[1]} parameters")
        return rows

    zoo_module._read_weights = read_weights


def train(zoo: Path, steps: int, batch_size: int, workers: int, model: str, reader: str) -> dict:
    """Train ``model`` for ``steps`` steps through the datamodule; memory and speed."""
    import torch

    from weightnet.data.datamodule import ZooDataModule
    from weightnet.models import MODELS

    if reader == "memmap":
        _use_memmap_reader()
    torch.manual_seed(0)
    with _Sampler() as sampler:
        start = time.perf_counter()
        dm = ZooDataModule(zoo, batch_size=batch_size, num_workers=workers)
        dm.setup()
        setup_seconds = time.perf_counter() - start
        setup_rss = _maxrss(resource.RUSAGE_SELF)
        net = MODELS[model](dm.spec, out_features=1, hidden_channels=32, num_layers=2)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        done, start = 0, time.perf_counter()
        while done < steps:
            for ws, target in dm.train_dataloader():
                loss = torch.nn.functional.mse_loss(net(ws).squeeze(-1), target)
                opt.zero_grad()
                loss.backward()
                opt.step()
                done += 1
                if done == steps:
                    break
        train_seconds = time.perf_counter() - start
    return {
        "reader": reader,
        "workers": workers,
        "model": model,
        "steps": steps,
        "batch_size": batch_size,
        "train_rows": len(dm.train_set),
        "setup_seconds": round(setup_seconds, 2),
        "steps_per_second": round(steps / train_seconds, 2),
        "maxrss_after_setup_gib": round(setup_rss, 3),
        "maxrss_main_gib": round(_maxrss(resource.RUSAGE_SELF), 3),
        "maxrss_largest_worker_gib": round(_maxrss(resource.RUSAGE_CHILDREN), 3),
        "peak_rss_total_gib": round(sampler.peak_total / GIB, 3),
        "peak_file_backed_gib": round(sampler.peak_file / GIB, 3),
        "peak_anonymous_gib": round(sampler.peak_anon / GIB, 3),
        "final_loss": round(float(loss), 5),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=270_000)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--readers", nargs="+", default=["memmap", "pread"])
    parser.add_argument("--model", default="statnn")
    parser.add_argument("--dir", type=Path, default=Path("/tmp"))
    parser.add_argument("--keep", action="store_true", help="keep the synthetic zoo")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--phase", choices=["make", "train"], help=argparse.SUPPRESS)
    parser.add_argument("--zoo", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.phase == "make":
        make_zoo(args.zoo, args.rows)
        print(json.dumps({"maxrss_gib": round(_maxrss(resource.RUSAGE_SELF), 3)}))
        return 0
    if args.phase == "train":
        result = train(
            args.zoo, args.steps, args.batch_size, args.workers[0], args.model, args.readers[0]
        )
        print(json.dumps(result))
        return 0

    zoo = args.dir / f"weightnet-memmap-zoo-{args.rows}"
    me = [sys.executable, __file__, "--rows", str(args.rows), "--zoo", str(zoo)]
    results: dict = {"rows": args.rows, "params": cnn_zoo_spec().num_params, "limit_gib": LIMIT_GIB}
    try:
        if not zoo.exists():
            start = time.perf_counter()
            results["make"] = _run_json([*me, "--phase", "make"])
            results["make"]["seconds"] = round(time.perf_counter() - start, 1)
        results["zoo_gib"] = round((zoo / "weights.npy").stat().st_size / GIB, 2)
        results["runs"] = []
        for reader in args.readers:
            for workers in args.workers:
                cmd = [*me, "--phase", "train", "--steps", str(args.steps), "--model", args.model]
                cmd += ["--batch-size", str(args.batch_size), "--workers", str(workers)]
                results["runs"].append(_run_json([*cmd, "--readers", reader]))
    finally:
        if not args.keep and zoo.exists():
            shutil.rmtree(zoo)
    _print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def _run_json(cmd: list[str]) -> dict:
    """Run a phase in a fresh process; its last stdout line is JSON."""
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[1:])} failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _print_table(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{results['rows']:,} x {results['params']:,} zoo ({results['zoo_gib']} GiB), "
        f"limit {LIMIT_GIB} GiB"
    )
    columns = [
        ("reader", "reader"),
        ("workers", "workers"),
        ("maxrss after setup", "maxrss_after_setup_gib"),
        ("maxrss main", "maxrss_main_gib"),
        ("maxrss worker", "maxrss_largest_worker_gib"),
        ("peak total", "peak_rss_total_gib"),
        ("of it file-backed", "peak_file_backed_gib"),
        ("anonymous", "peak_anonymous_gib"),
        ("steps/s", "steps_per_second"),
        ("setup s", "setup_seconds"),
    ]
    for title, _ in columns:
        table.add_column(title, justify="right")
    for run in results["runs"]:
        table.add_row(*(str(run[key]) for _, key in columns))
    Console(width=160).print(table)


if __name__ == "__main__":
    sys.exit(main())
