"""The project's own contracts: CI runs exactly the README's commands."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_ci_runs_the_readme_setup_and_test_commands():
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    readme = _readme_commands()
    assert 'pip install -e ".[dev]"' in readme and 'pip install -e ".[dev]"' in ci_lines
    assert "python -m pytest -n 2" in readme and "python -m pytest -n 2" in ci_lines
    # torch is installed first from the CPU wheel (a bare requirement would pull CUDA)
    assert ci_lines.index("python -m pip install -q torch==2.13.0") < ci_lines.index(
        'pip install -e ".[dev]"'
    )


def test_library_never_imports_hydra_or_wandb():
    offenders = []
    for path in (ROOT / "weightnet").rglob("*.py"):
        for line in path.read_text().splitlines():
            if re.match(r"\s*(import|from)\s+(hydra|wandb|omegaconf)\b", line):
                offenders.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert not offenders, offenders


#: calls that unpickle (or evaluate) whatever a file holds
_UNSAFE_LOADS = re.compile(
    r"\b(pickle|cloudpickle|dill|joblib|marshal|shelve)\.(loads?|open)\(|\bpd\.read_pickle\("
    r"|\byaml\.(unsafe_)?load\((?![^)]*SafeLoader)|\bnp\.load\([^)]*allow_pickle=True"
    r"|\bload_from_checkpoint\((?![^)]*weights_only=True)"
)


def test_no_unsafe_unpickling_anywhere():
    """Every torch.load / Lightning checkpoint load passes weights_only=True; no pickle loads."""
    offenders = []
    paths = [*(ROOT / "weightnet").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]
    for path in [*paths, ROOT / "train.py"]:
        if not path.exists():
            continue
        text = path.read_text()
        for match in re.finditer(r"torch\.load\((.*?)\)", text, flags=re.S):
            if "weights_only=True" not in match.group(1):
                offenders.append(f"{path.relative_to(ROOT)}: torch.load without weights_only=True")
        # Lightning unpickles ckpt_path itself: fit/validate/test/predict must say weights_only
        for match in re.finditer(r"\.(fit|validate|test|predict)\(([^()]|\([^()]*\))*\)", text):
            if "ckpt_path" in match.group(0) and "weights_only=True" not in match.group(0):
                offenders.append(
                    f"{path.relative_to(ROOT)}: trainer.{match.group(1)} without weights_only=True"
                )
        if _UNSAFE_LOADS.search(text):
            offenders.append(
                f"{path.relative_to(ROOT)}: unpickling ({_UNSAFE_LOADS.search(text)[0]})"
            )
    assert not offenders, offenders
