"""The wheel a user installs from an index holds everything an editable checkout has.

``python -m build`` (as ``.ci/wheel-check.sh`` runs it) builds the wheel and the sdist in a
temporary folder; the wheel must hold every module of ``harness/``, ``plugins/`` and
``reports/`` (installed as ``harness.plugins`` and ``harness.reports`` through
``package-dir``: a package left out of pyproject.toml's list would be missing from the
wheel and nowhere else), the shipped scenarios the docs run (``harness example``), the
``harness`` command, the pytest plugin, and the name and version of the distribution.
Installing the wheel and running it is ``.ci/wheel-check.sh``'s part (minutes, not a test).
"""

from __future__ import annotations

import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from harness.core.version import __version__
from harness.execution.environment import DISTRIBUTION

ROOT = Path(__file__).resolve().parents[1]
#: source folder -> where its files are in the wheel
LAYOUT = {"harness": "harness", "plugins": "harness/plugins", "reports": "harness/reports"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], check=True, capture_output=True, text=True
    )
    assert len(list(out.glob("*.tar.gz"))) == 1, "no sdist built"
    [built] = out.glob("*.whl")
    assert built.name == f"{DISTRIBUTION.replace('-', '_')}-{__version__}-py3-none-any.whl"
    return zipfile.ZipFile(built)


def test_the_wheel_holds_every_module(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    expected = {
        f"{prefix}/{path.relative_to(ROOT / folder).as_posix()}"
        for folder, prefix in LAYOUT.items()
        for path in (ROOT / folder).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert len(expected) > 150
    assert sorted(expected - names) == []
    assert [n for n in names if "__pycache__" in n or n.endswith(".pyc")] == []


def test_the_wheel_holds_the_shipped_scenarios(wheel: zipfile.ZipFile) -> None:
    shipped = {
        f"harness/scenarios/{p.relative_to(ROOT / 'scenarios').as_posix()}" for p in ROOT.glob("scenarios/**/*.yaml")
    }
    assert "harness/scenarios/issue11.yaml" in shipped and "harness/scenarios/zoo/farm_mse_broadcast.yaml" in shipped
    assert sorted(shipped - set(wheel.namelist())) == []


def test_the_wheel_declares_the_command_the_pytest_plugin_name_and_version(wheel: zipfile.ZipFile) -> None:
    info = f"{DISTRIBUTION.replace('-', '_')}-{__version__}.dist-info"
    entry_points = configparser.ConfigParser()
    entry_points.read_string(wheel.read(f"{info}/entry_points.txt").decode())
    assert dict(entry_points["console_scripts"]) == {"harness": "harness.cli:main"}
    assert dict(entry_points["pytest11"]) == {"harness": "harness.pytest_plugin"}
    metadata = wheel.read(f"{info}/METADATA").decode()
    assert f"\nName: {DISTRIBUTION}\n" in metadata and f"\nVersion: {__version__}\n" in metadata
    assert "Requires-Dist: torch>=2.5" in metadata


def test_harness_example_copies_the_shipped_scenarios_out(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from harness.cli import main

    result = CliRunner().invoke(main, ["example", "issue11", "zoo", "--to", str(tmp_path)])
    assert result.exit_code == 0, result.output
    copied = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.yaml"))
    assert copied[0] == "scenarios/issue11.yaml" and len(copied) == 1 + len(list(ROOT.glob("scenarios/zoo/*.yaml")))
    assert (tmp_path / "scenarios/issue11.yaml").read_bytes() == (ROOT / "scenarios/issue11.yaml").read_bytes()
    (tmp_path / "scenarios/issue11.yaml").write_text("mine", encoding="utf-8")
    again = CliRunner().invoke(main, ["example", "issue11", "--to", str(tmp_path)])
    assert again.exit_code == 0 and "kept" in again.output
    assert (tmp_path / "scenarios/issue11.yaml").read_text(encoding="utf-8") == "mine"
    unknown = CliRunner().invoke(main, ["example", "issue12", "--to", str(tmp_path)])
    assert unknown.exit_code == 2 and "no shipped scenario 'issue12'" in unknown.output
