"""Every supported PyTorch installs a working environment, and a broken one is named once.

pip is led to a transformers that supports the installed torch by harness's own requirement
``transformers[torch]>=4.44,!=5.19.0`` (transformers declares its PyTorch bound only in its
``[torch]`` extra; 5.19.0 declares torch>=2.5 but needs 2.6). When the environment is broken
anyway (``pip install -U transformers`` after the fact), ``harness run``/``ablate`` exit 2
before any run with one line naming both versions and the pip command that repairs it.

These tests run in every tox env (``.ci/tox-part.sh`` runs them under torch 2.5.1 and 2.6.0):
the real environment must be consistent and build a model, and a fake clashing transformers
(a ``dist-info`` put first on ``PYTHONPATH``, requiring the next torch minor) must be refused.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.execution.environment import DISTRIBUTION, Clash, _requires, describe, find_clashes, fix_command

ROOT = Path(__file__).resolve().parents[2]
HARNESS_REQUIRES = ["torch>=2.5", "transformers[torch]!=5.19.0,>=4.44", 'ray>=2.9; extra == "ray"', "pyyaml>=6"]
TRANSFORMERS_REQUIRES = [
    "huggingface-hub>=1.0",
    'torch>=2.6; extra == "torch"',
    'accelerate>=1.1.0; extra == "torch"',
    'torch>=2.7; extra == "all"',  # another extra: not harness's business
]


def clashes_for(installed: dict[str, str]) -> list[Clash]:
    from packaging.version import Version

    transformers = TRANSFORMERS_REQUIRES
    if Version(installed.get("transformers", "0")) < Version("5.20"):  # 5.19.0 and older: torch>=2.5
        transformers = [line.replace("torch>=2.6", "torch>=2.5") for line in transformers]
    requires = {DISTRIBUTION: HARNESS_REQUIRES, "transformers": transformers}
    return find_clashes(installed=installed.get, requires=lambda name: requires.get(name, []))


def test_a_transformers_that_refuses_the_installed_torch_is_one_line_with_the_fix() -> None:
    installed = {"torch": "2.5.1+cu124", "transformers": "5.24.0", "accelerate": "1.15.0", "pyyaml": "6.0.2"}
    [clash] = clashes_for(installed)
    assert (clash.needed_by, clash.requirement, clash.name, clash.installed, clash.via) == (
        "transformers 5.24.0",
        "torch>=2.6",
        "torch",
        "2.5.1+cu124",
        "torch",
    )
    message = describe(clash, installed.get)
    assert "\n" not in message
    assert message.startswith(
        "transformers 5.24.0 requires torch>=2.6 (its [torch] extra, which harness requires), "
        "but torch 2.5.1+cu124 is installed; fix the environment with: "
    )
    # the fix keeps the installed torch (its public version, which pip matches to the local build)
    # and asks again for harness's requirement, so pip picks the newest transformers that fits
    assert message.endswith(f"{sys.executable} -m pip install torch==2.5.1 'transformers[torch]!=5.19.0,>=4.44'")


@pytest.mark.parametrize(
    ("installed", "expected"),
    [
        # the release known to be broken with old torch: excluded by harness's own requirement
        (
            {"torch": "2.5.1", "transformers": "5.19.0"},
            "training-harness requires transformers[torch]!=5.19.0,>=4.44, but transformers 5.19.0 is installed; fix the environment with: {py} -m pip install torch==2.5.1 'transformers[torch]!=5.19.0,>=4.44'",
        ),
        # torch itself too old: the fix is a torch harness supports, nothing pinned
        (
            {"torch": "2.4.0"},
            "training-harness requires torch>=2.5, but torch 2.4.0 is installed; fix the environment with: {py} -m pip install 'torch>=2.5'",
        ),
        (
            {"torch": "2.6.0", "transformers": "5.24.0", "accelerate": "1.0.0"},
            "transformers 5.24.0 requires accelerate>=1.1.0 (its [torch] extra, which harness requires), but accelerate 1.0.0 is installed; fix the environment with: {py} -m pip install torch==2.6.0 'transformers[torch]!=5.19.0,>=4.44'",
        ),
    ],
)
def test_each_clash_names_both_versions_and_its_fix(installed: dict[str, str], expected: str) -> None:
    clash = clashes_for(installed)[0]
    assert describe(clash, installed.get) == expected.format(py=sys.executable)


@pytest.mark.parametrize(
    "installed",
    [
        {"torch": "2.5.1", "transformers": "5.18.0"},
        {"torch": "2.13.0+cpu", "transformers": "5.24.0", "accelerate": "1.15.0"},
        {"torch": "2.14.0.dev20260101", "transformers": "5.24.0"},  # a nightly satisfies >=2.6
        {},  # nothing installed: left to the import errors
        {"torch": "2.5.1", "ray": "1.0"},  # an optional extra of harness is not checked
    ],
)
def test_consistent_environments_pass(installed: dict[str, str]) -> None:
    assert clashes_for(installed) == []


def test_the_package_requires_transformers_with_its_torch_extra() -> None:
    """The mechanism itself: what leads pip to a compatible transformers for every torch."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # (no tomllib on Python 3.10)
    assert '    "transformers[torch]>=4.44,!=5.19.0",\n' in pyproject
    assert '    "torch>=2.5",\n' in pyproject


def test_this_environment_is_consistent_and_trains_with_its_transformers() -> None:
    """What pip resolved here (under tox: for torch 2.5.1, 2.6.0, 2.13.0) satisfies harness's
    requirements, and transformers really works with this torch (5.19.0+ with torch 2.5 did not)."""
    import torch
    from transformers import RobertaConfig, RobertaForSequenceClassification

    assert _requires(DISTRIBUTION), f"{DISTRIBUTION} is not installed here: the check would read nothing"
    assert find_clashes() == []
    config = RobertaConfig(
        vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16
    )
    model = RobertaForSequenceClassification(config)
    logits = model(input_ids=torch.tensor([[0, 5, 6, 2]])).logits
    assert logits.shape == (1, 2)


def fake_clashing_transformers(directory: Path) -> tuple[str, str]:
    """A ``transformers`` dist-info whose [torch] extra needs the next minor of the installed torch."""
    from importlib import metadata

    from packaging.version import Version

    torch_version = metadata.version("torch")
    release = Version(torch_version).release
    needed = f"{release[0]}.{release[1] + 1}"
    info = directory / "transformers-99.0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: transformers\nVersion: 99.0.0\n"
        f'Provides-Extra: torch\nRequires-Dist: torch>={needed}; extra == "torch"\n',
        encoding="utf-8",
    )
    return torch_version, needed


@pytest.mark.parametrize("command", ["run", "ablate"])
def test_a_broken_environment_exits_2_before_any_run_with_one_line(tmp_path: Path, command: str) -> None:
    torch_version, needed = fake_clashing_transformers(tmp_path / "site")
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), *filter(None, [os.environ.get("PYTHONPATH")])])
    )
    results = tmp_path / "results"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            command,
            str(ROOT / "scenarios" / "checkpoint_compat.yaml"),
            "-q",
            "--results-dir",
            str(results),
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env | {"COLUMNS": "400"},
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    [line] = proc.stderr.splitlines()  # one line, not one error per run
    public = torch_version.split("+")[0]
    assert line == (
        f"Error: transformers 99.0.0 requires torch>={needed} (its [torch] extra, which harness requires), "
        f"but torch {torch_version} is installed; fix the environment with: "
        f"{fix_command(Clash('', '', 'torch', '', 'transformers[torch]!=5.19.0,>=4.44'))}"
    )
    assert f"-m pip install torch=={public} 'transformers[torch]!=5.19.0,>=4.44'" in line
    assert not results.exists()  # no run started


def test_commands_that_do_not_train_ignore_the_environment(tmp_path: Path) -> None:
    fake_clashing_transformers(tmp_path / "site")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "plugins", "--json"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
