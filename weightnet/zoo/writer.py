"""Write zoos in weightnet's on-disk format (DESIGN.md 5.4), never half-way.

A zoo folder holds ``weights.npy`` (N x P float32, rows in ``WeightSpec.layout()``
order), ``layout.csv``, ``metrics.csv`` (one row per model) and ``zoo.json``.
:func:`staged_output` builds the whole output in a hidden sibling folder and renames
it into place only when everything is written, so an interrupted or failed
generation leaves no half-written ``OUT``. Given the arguments that fix the output,
the sibling is ``.OUT.partial`` and survives a kill: a :class:`ChunkStore` inside it
keeps every finished chunk of training, and the same command run again continues
from there (the result is byte-identical to an uninterrupted run).

While a zoo is written, ``.OUT.lock`` beside ``OUT`` is locked (``flock``) and names its
holder: a second writer of the same ``OUT`` is refused in one line. The kernel releases
the lock when its holder dies, so a lock left by a killed run is taken over (one line
says so) and never has to be deleted by hand.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from weightnet.errors import WeightnetError
from weightnet.weightspace import WeightSpec, write_layout_csv

__all__ = [
    "FORMAT_VERSION",
    "ChunkStore",
    "ZooWriter",
    "check_output_folder",
    "sha256_file",
    "staged_output",
    "writer_lock",
]

FORMAT_VERSION = 1


def sha256_file(path: str | Path, chunk_bytes: int = 1 << 24) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def check_output_folder(out: str | Path) -> Path:
    """Raise :class:`WeightnetError` unless ``out`` can become a new zoo folder.

    ``out`` must not exist, or be an empty folder; its parent must be writable.
    """
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise WeightnetError(f"{out}: output exists and is not a folder")
        if any(out.iterdir()):
            raise WeightnetError(f"{out}: output folder exists and is not empty")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise WeightnetError(
            f"{out.parent}: cannot create the output's parent folder ({err.strerror})"
        ) from err
    return out


@contextlib.contextmanager
def staged_output(out: str | Path, resume_key: Mapping | None = None) -> Iterator[Path]:
    """Yield a hidden sibling of ``out``; rename it to ``out`` if the block succeeds.

    Args:
        out: the folder to create (must not exist, or be empty).
        resume_key: JSON-ready arguments that fix the output (recipe, seed, ...). Without
            it the sibling is a fresh temporary folder, removed on any exception. With it
            the sibling is ``.OUT.partial`` holding ``manifest.json`` (the key): it is kept
            when interrupted (``KeyboardInterrupt``, or killed), and yielded again to a
            call with the same key so that the work continues; removed on other errors.

    Raises:
        WeightnetError: ``out`` not usable, another process writing it (see
            :func:`writer_lock`), or ``.OUT.partial`` left by a call with a different key
            (delete it, or rerun with the arguments it names).
    """
    out = check_output_folder(out)
    with writer_lock(out):
        check_output_folder(out)  # again: another writer may have finished meanwhile
        with _staged(out, resume_key) as staging:
            yield staging


@contextlib.contextmanager
def writer_lock(out: str | Path) -> Iterator[None]:
    """Hold ``.OUT.lock`` beside ``out`` for the block: one writer of ``out`` at a time.

    The lock file records the holder (pid, host, start time). A lock whose holder died
    is free again (the kernel drops ``flock`` locks of dead processes): it is taken over
    with one line on stderr.

    Raises:
        WeightnetError: another process holds the lock (one line naming it), or the
            folder beside ``out`` is not writable.
    """
    out = Path(out)
    lock = out.parent / f".{out.name}.lock"
    fd = _acquire(lock, out)
    try:
        previous = _holder(fd)
        if previous:
            print(
                f"weightnet: {lock}: taking over the lock of {previous}, which is no longer "
                "running",
                file=sys.stderr,
            )
        record = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        yield
    finally:
        lock.unlink(missing_ok=True)  # before closing: a later writer then locks a new file
        os.close(fd)


def _acquire(lock: Path, out: Path) -> int:
    """An open descriptor of ``lock`` with an exclusive ``flock`` held on it."""
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise WeightnetError(f"{lock.parent}: cannot write here ({err.strerror})") from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd) or "another process"
            os.close(fd)
            raise WeightnetError(
                f"{out}: being written by {holder} (lock {lock}); wait for it to finish or stop it"
            ) from None
        try:
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # the holder removed the file as we locked it: lock the new one


def _holder(fd: int) -> str | None:
    """``pid P on host H since T`` from a lock file's record (``None``: empty or unreadable)."""
    try:
        record = json.loads(os.pread(fd, 4096, 0) or b"null")
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record["since"]))
        return f"pid {record['pid']} on host {record['host']} since {since}"
    except (ValueError, TypeError, KeyError, OSError):
        return None


@contextlib.contextmanager
def _staged(out: Path, resume_key: Mapping | None) -> Iterator[Path]:
    """The staging folder of :func:`staged_output`, renamed to ``out`` when the block succeeds."""
    if resume_key is None:
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        except OSError as err:
            raise WeightnetError(f"{out.parent}: cannot write here ({err.strerror})") from err
    else:
        staging = _resumable_staging(out, resume_key)
    try:
        yield staging
        (staging / _MANIFEST).unlink(missing_ok=True)
        staging.chmod(0o755)
        if out.exists():
            out.rmdir()  # empty, checked above
        staging.rename(out)
    except KeyboardInterrupt:
        if resume_key is None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


_MANIFEST = "manifest.json"


def _resumable_staging(out: Path, resume_key: Mapping) -> Path:
    """``.OUT.partial`` for ``resume_key``: created, or reused when its manifest matches."""
    key = json.loads(json.dumps(resume_key, default=repr))
    staging = out.parent / f".{out.name}.partial"
    manifest = staging / _MANIFEST
    if staging.exists():
        try:
            found = json.loads(manifest.read_text())
        except (OSError, ValueError):
            found = None
        if found != key:
            raise WeightnetError(
                f"{staging}: left by an interrupted run with other arguments "
                f"({json.dumps(found)[:200]}); rerun with those or delete the folder"
            )
        return staging
    try:
        staging.mkdir()
    except OSError as err:
        raise WeightnetError(f"{out.parent}: cannot write here ({err.strerror})") from err
    tmp = staging / f"{_MANIFEST}.tmp"
    tmp.write_text(json.dumps(key, indent=1) + "\n")
    tmp.replace(manifest)
    return staging


class ChunkStore:
    """Finished chunks of a generation in ``FOLDER/.chunks/NAME.npz`` (arrays only, no pickles).

    Each file is written under a temporary name and renamed, so a chunk is either
    complete or absent, whenever the process dies.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder) / ".chunks"

    def finished(self) -> set[str]:
        """The names of the chunks already stored."""
        return {p.stem for p in self.folder.glob("*.npz") if not p.name.endswith(".tmp.npz")}

    def announce_resume(self, runs_per_chunk: Mapping[str, int]) -> None:
        """One line on stderr if an interrupted generation finished some of these chunks.

        Args:
            runs_per_chunk: every chunk's name and its number of runs (models).
        """
        done = self.finished() & set(runs_per_chunk)
        if done:
            runs = sum(runs_per_chunk[name] for name in done)
            print(
                f"resuming: {len(done)} of {len(runs_per_chunk)} chunks done ({runs} of "
                f"{sum(runs_per_chunk.values())} runs), from {self.folder.parent}",
                file=sys.stderr,
            )

    def load(self, name: str) -> dict[str, np.ndarray] | None:
        """The arrays saved as ``name``, or ``None`` if that chunk is not finished."""
        path = self.folder / f"{name}.npz"
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as saved:
            return {key: saved[key] for key in saved.files}

    def save(self, name: str, arrays: Mapping[str, np.ndarray]) -> None:
        """Store a finished chunk's arrays atomically."""
        self.folder.mkdir(exist_ok=True)
        tmp = self.folder / f"{name}.tmp.npz"
        np.savez(tmp, **arrays)
        tmp.replace(self.folder / f"{name}.npz")

    def clear(self) -> None:
        """Remove the stored chunks (before the folder becomes the zoo)."""
        shutil.rmtree(self.folder, ignore_errors=True)


class ZooWriter:
    """Fills one zoo folder: weights rows first (memory-mapped), the rest in :meth:`finish`.

    Args:
        folder: an existing empty folder (inside :func:`staged_output`).
        spec: the architecture; fixes ``P`` and ``layout.csv``.
        num_rows: ``N``, the number of models (checkpoints) in the zoo.
    """

    def __init__(self, folder: Path, spec: WeightSpec, num_rows: int) -> None:
        self.folder, self.spec = Path(folder), spec
        self.weights = np.lib.format.open_memmap(
            self.folder / "weights.npy",
            mode="w+",
            dtype=np.float32,
            shape=(num_rows, spec.num_params),
        )  # (N, P)

    def write_rows(self, rows: np.ndarray, values: np.ndarray) -> None:
        """Store ``values`` (``(len(rows), P)``) at row numbers ``rows``."""
        self.weights[rows] = values

    def finish(self, metrics: Mapping[str, Sequence], meta: Mapping) -> None:
        """Write ``layout.csv``, ``metrics.csv`` and ``zoo.json`` (with the weights' sha256).

        Args:
            metrics: column name -> one value per row, in the order the columns should appear
                after ``model_id`` (which is added).
            meta: ``zoo.json`` entries other than ``format_version`` and ``weights_sha256``
                (``recipe``, ``seed``, ``num_models``, ``architecture``, ``dataset``).
        """
        num_rows = self.weights.shape[0]
        self.weights.flush()
        del self.weights
        write_layout_csv(self.spec, self.folder / "layout.csv")
        with open(self.folder / "metrics.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["model_id", *metrics])
            columns = [_column_text(values, name, num_rows) for name, values in metrics.items()]
            for model_id, row in enumerate(zip(*columns, strict=True)):
                writer.writerow([model_id, *row])
        document = {"format_version": FORMAT_VERSION, **meta}
        document["weights_sha256"] = sha256_file(self.folder / "weights.npy")
        (self.folder / "zoo.json").write_text(json.dumps(document, indent=1) + "\n")


def _column_text(values: Sequence, name: str, num_rows: int) -> list[str]:
    """Text of one metrics column: floats as their shortest exact repr."""
    if len(values) != num_rows:
        raise ValueError(f"metrics column {name!r} has {len(values)} values for {num_rows} rows")
    return [repr(float(v)) if isinstance(v, (float, np.floating)) else str(v) for v in values]
