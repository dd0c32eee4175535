"""The light install: optional integrations live in named extras, and a missing one is one line.

``pip install -e .`` (no extras) has what run/ablate/doctor/report/compare and the pytest
plugin need for the shipped scenarios; Ray, MLflow, TensorBoard, datasets, tox and the
docs tools are extras, and ``test`` holds everything CI needs. Each integration, when its
extra is missing, stops with one line naming the extra (``pip install 'training-harness[X]'``),
never a traceback. (--tensorboard and --mlflow: tests/reports/test_tensorboard.py and
test_mlflow.py.)
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.cli import main

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = (
    "ray",
    "mlflow",
    "tensorboard",
    "datasets",
    "tox",
    "mkdocs",
    "mkdocs-material",
    "ruff",
    "mypy",
    "accelerate",
)


def _name(requirement: str) -> str:
    for stop in "<>=!~[; ":
        requirement = requirement.split(stop, 1)[0]
    return requirement.lower()


def project() -> Any:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_core_install_holds_no_optional_integration() -> None:
    core = {_name(r) for r in project()["dependencies"]}
    assert core.isdisjoint(OPTIONAL), core & set(OPTIONAL)


def test_the_test_extra_holds_every_other_extra() -> None:
    extras = project()["optional-dependencies"]
    test = {_name(r) for r in extras["test"]}
    for extra, requirements in extras.items():
        missing = {_name(r) for r in requirements} - test
        assert missing == set(), f"CI (the test extra) lacks what [{extra}] installs: {missing}"


def _without(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a))
    monkeypatch.setitem(sys.modules, module, None)  # `import module` raises ImportError


def test_a_missing_ray_is_one_line_naming_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _without(monkeypatch, "ray")
    scenario = ROOT / "scenarios" / "tabular_multiclass.yaml"
    result = CliRunner().invoke(main, ["run", str(scenario), "-q", "--executor", "ray", "--results-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "pip install 'training-harness[ray]'" in result.output and "Traceback" not in result.output


def test_a_missing_datasets_is_one_line_naming_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.workloads import tabular, text_files

    _without(monkeypatch, "datasets")
    table = tmp_path / "rows.csv"
    table.write_text("x,y\n1,0\n2,1\n")
    with pytest.raises(tabular.TabularDataError, match=r"pip install 'training-harness\[data\]'"):
        tabular._load_table(table, "csv")
    with pytest.raises(ImportError, match=r"pip install 'training-harness\[data\]'"):
        text_files._import_datasets()
