"""Shared fixtures: a per-session data cache so tests never touch the user's cache, and
throw-away virtual environments with an example package installed as users install one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    import os

    os.environ["HARNESS_CACHE"] = str(tmp_path_factory.mktemp("harness-cache"))
    import torch

    torch.set_num_threads(1)  # small models: one thread is fastest and fully deterministic


def run_in_venv(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` with what that venv installed, not this checkout's PYTHONPATH."""
    env = os.environ | {"PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)  # the example must come from the installed package, not a path
    env.pop("HARNESS_START_METHOD", None)
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def venv_run() -> Callable[..., subprocess.CompletedProcess[str]]:
    """:func:`run_in_venv`, for test modules (conftest is not importable under importlib mode)."""
    return run_in_venv


@pytest.fixture(scope="session")
def example_venv(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Path, Path]]:
    """``install(NAME)``: a venv that sees this one's packages (harness, torch, ...) plus
    ``examples/NAME`` pip-installed offline (no deps, no build isolation); ``(python, root)``."""

    def install(name: str) -> tuple[Path, Path]:
        root = tmp_path_factory.mktemp(name)
        venv = root / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        python = venv / "bin" / "python"
        purelib = run_in_venv(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root)
        # a .pth line starting with "import" runs at start-up: add this venv's site-packages
        # (and process its .pth files, e.g. harness's editable-install finder)
        parent = sysconfig.get_paths()["purelib"]
        Path(purelib.stdout.strip(), "_harness_parent_env.pth").write_text(
            f"import site; site.addsitedir({parent!r})\n"
        )
        source = root / name  # a copy: building writes build/ and *.egg-info
        shutil.copytree(
            EXAMPLES / name,
            source,
            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache"),
        )
        install = run_in_venv(
            python,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--disable-pip-version-check",
            str(source),
            cwd=root,
        )
        assert install.returncode == 0, install.stdout + install.stderr
        shutil.rmtree(source / "build", ignore_errors=True)
        return python, root

    return install
