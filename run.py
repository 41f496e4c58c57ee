#!/usr/bin/env python3
"""Run upscale-api from a fresh clone with nothing but Python 3.11+.

    python3 run.py dev          start the API with demo data on an embedded PostgreSQL
    python3 run.py test         lint, type-check and run the whole test suite
    python3 run.py upscale ...  any other `upscale` command (migrate, token, campaigns, ...)
    python3 run.py bench ...    the benchmarks under bench/

The first call creates .venv with the exact versions in uv.lock (uv is installed
into it with pip); later calls re-sync only when uv.lock or pyproject.toml changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".synced-lock"
UV_REQUIREMENT = "uv>=0.13,<1"  # reads uv.lock as written


def _lock_hash() -> str:
    digest = hashlib.sha256()
    for name in ("uv.lock", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    """Create or update .venv to match uv.lock exactly (dev tools included)."""
    wanted = _lock_hash()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("run.py: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if not (BIN / "uv").exists():
        subprocess.run([BIN / "python", "-m", "ensurepip", "--default-pip"], check=True, capture_output=True)
        subprocess.run([BIN / "python", "-m", "pip", "install", "--quiet", UV_REQUIREMENT], check=True)
    print("run.py: installing the locked dependencies into .venv", flush=True)
    env = os.environ | {"UV_PROJECT_ENVIRONMENT": str(VENV)}
    # --inexact keeps uv itself, which pip put into the same environment.
    subprocess.run(
        [BIN / "uv", "sync", "--frozen", "--inexact", "--python", BIN / "python"], check=True, cwd=ROOT, env=env
    )
    STAMP.write_text(wanted)


def run(*command: str | Path) -> int:
    return subprocess.run([str(c) for c in command], cwd=ROOT, check=False).returncode


def test(selection: list[str]) -> int:
    """Lint, type-check and the whole suite; or only the tests selected, e.g. ``tests/actions -x``."""
    if selection:
        return run(BIN / "pytest", *selection)
    for step in (
        [BIN / "ruff", "check", "src", "tests", "bench", "run.py"],
        [BIN / "ruff", "format", "--check", "src", "tests", "bench", "run.py"],
        [BIN / "mypy"],
        [BIN / "pytest"],
    ):
        print(f"run.py: {' '.join(str(Path(s).name) if i == 0 else str(s) for i, s in enumerate(step))}", flush=True)
        status = run(*step)
        if status != 0:
            return status
    return 0


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):
        sys.exit("run.py: upscale-api needs Python 3.11 or newer")
    if not argv or argv[0] not in {"dev", "test", "upscale", "bench"}:
        print(__doc__)
        return 2
    ensure_environment()
    command, rest = argv[0], argv[1:]
    commands = {
        "dev": lambda: run(BIN / "upscale", "dev", *rest),
        "upscale": lambda: run(BIN / "upscale", *rest),
        "bench": lambda: run(BIN / "python", *(rest or ["bench/action_logging.py"])),
        "test": lambda: test(rest),
    }
    return commands[command]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
