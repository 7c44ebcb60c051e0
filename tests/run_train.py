"""``python train.py ...`` in a subprocess, for the end-to-end tests of train.py's glue."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: overrides that make a metanet and its batches tiny
TINY = ("data.batch_size=4", "model.hidden_channels=4", "model.num_layers=1")


def run_train(
    *args: str, env: Mapping[str, str | None] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run train.py from the repository root; ``env`` entries set to ``None`` are removed."""
    environ = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environ,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )
