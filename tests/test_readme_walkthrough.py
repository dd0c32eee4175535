"""The docs' "Replay your own incident" walkthrough (docs/replay.md) works, step by step, as written.

The code blocks marked ``<!-- walkthrough: FILE -->`` in the docs pages are written into a
fresh directory outside the repository, and the section's commands are run there as a
newcomer would type them (the ``harness`` and ``pytest`` scripts of this environment,
``cwd`` that directory, ``PYTHONPATH`` that directory): ``harness run``, ``harness
ablate``, ``pytest incident.yaml``, the ``--set train.lr`` what-if, ``python replay.py``,
the no-code ``tabular`` variant of the scenario, the two mistakes the section quotes,
and the non-classifier example of "Writing a workload". One more run uses ``HARNESS_START_METHOD=spawn``, where every
worker is a fresh interpreter that must import ``my_incident`` itself: the module, as
written here, appends its importing process's id to a log when ``WALKTHROUGH_IMPORT_LOG``
is set (a line added after the page's code, inert otherwise), and that log shows one
import in the parent with fork and one per worker with spawn.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "replay.md").read_text(encoding="utf-8")  # the walkthrough's page
# every docs page: the walkthrough's files are marked in replay.md and workloads.md ("Writing a workload")
DOCS = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").rglob("*.md")))
BIN = Path(sys.executable).parent  # this environment's `harness` and `pytest` scripts

# <!-- walkthrough: NAME --> then a fenced block (possibly indented, inside a list item)
BLOCK = re.compile(r"<!-- walkthrough: (\S+) -->\n([ \t]*)```[\w-]*\n(.*?)\n\2```", re.S)

IMPORT_PROBE = (
    "\n\nimport os as _os  # added by tests/test_readme_walkthrough.py: which processes import this module\n"
    "if _os.environ.get('WALKTHROUGH_IMPORT_LOG'):\n"
    "    with open(_os.environ['WALKTHROUGH_IMPORT_LOG'], 'a') as _log:\n"
    "        _log.write(f'{_os.getpid()}\\n')\n"
)


def walkthrough_blocks() -> dict[str, str]:
    blocks = {}
    for name, _indent, body in BLOCK.findall(DOCS):
        assert name not in blocks, f"two docs blocks are marked walkthrough: {name}"
        blocks[name] = textwrap.dedent(body) + "\n"
    return blocks


def section() -> str:
    assert PAGE.startswith("# Replay your own incident")
    return PAGE


def test_the_readme_marks_the_walkthrough_files() -> None:
    blocks = walkthrough_blocks()
    assert {"my_incident.py", "incident.yaml", "replay.py", "tabular-workload.yaml", "my_regressor.py"} <= set(blocks)
    compile(blocks["my_incident.py"], "my_incident.py", "exec")
    compile(blocks["replay.py"], "replay.py", "exec")
    scenario = yaml.safe_load(blocks["incident.yaml"])
    assert scenario["workload"]["name"] == "my_incident:MyWorkload"
    assert scenario["variants"]["broken"]["plugins"]["linear_warmup"] == {"interval": "epoch"}
    assert scenario["variants"]["fixed"]["plugins"]["linear_warmup"] == {"interval": "step"}
    assert yaml.safe_load(blocks["tabular-workload.yaml"])["workload"]["name"] == "tabular"
    text = section()
    for command in (  # the commands the tests below run, exactly as the page spells them
        "PYTHONPATH=. harness run incident.yaml ",
        "PYTHONPATH=. harness run incident.yaml --seeds 3",
        "PYTHONPATH=. harness ablate incident.yaml ",
        "PYTHONPATH=. pytest incident.yaml ",
        "PYTHONPATH=. harness run incident.yaml --variant broken --set train.lr=0.1",
    ):
        assert command in text, f"the walkthrough no longer says {command!r}"


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh directory outside the repository holding the walkthrough's files."""
    directory = tmp_path_factory.mktemp("my-incident")
    assert ROOT not in directory.parents
    blocks = walkthrough_blocks()
    (directory / "my_incident.py").write_text(blocks["my_incident.py"] + IMPORT_PROBE)
    (directory / "incident.yaml").write_text(blocks["incident.yaml"])
    (directory / "replay.py").write_text(blocks["replay.py"])
    return directory


def sh(directory: Path, *command: str, pythonpath: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HARNESS_START_METHOD", "COLUMNS")}
    environ |= {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "COLUMNS": "80",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if pythonpath:
        environ["PYTHONPATH"] = str(directory)
    environ |= env
    return subprocess.run(list(command), cwd=directory, env=environ, capture_output=True, text=True, timeout=600)


def collapse_epochs(run: dict) -> list[int]:
    return [f["epoch"] for f in run["findings"] if f["kind"] == "collapse"]


@pytest.mark.slow
def test_harness_run_replays_the_incident(incident: Path) -> None:
    log = incident / "imports-fork.log"
    result = sh(
        incident,
        "harness",
        "run",
        "incident.yaml",
        "-q",
        "--seeds",
        "2",
        "--json",
        "report.json",
        HARNESS_START_METHOD="fork",
        WALKTHROUGH_IMPORT_LOG=str(log),
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    report = json.loads((incident / "report.json").read_text())
    assert report["passed"] is True
    runs = report["runs"]
    assert sorted((r["variant"], r["seed"]) for r in runs) == [("broken", 0), ("broken", 1), ("fixed", 0), ("fixed", 1)]
    for run in runs:
        assert run["status"] == "ok"
        if run["variant"] == "broken":
            assert collapse_epochs(run)[:1] == [1], run["findings"]
            assert run["history"][0]["max_pred_share"] == 1.0
            assert run["lr_per_step"][0] == 0.0
        else:
            assert collapse_epochs(run) == [], run["findings"]
            assert run["history"][-1]["accuracy"] >= 0.9
    # the report shows the pathology: collapse@1 on every broken seed, PASS for both variants
    assert result.stdout.count("collapse@1") == 2
    assert "PASSED: 4 run(s)" in result.stdout
    # fork: the workload module was imported once, by harness's own process; workers inherit it
    assert len(set(log.read_text().split())) == 1


@pytest.mark.slow
def test_spawned_workers_import_the_workload_themselves(incident: Path) -> None:
    log = incident / "imports-spawn.log"
    result = sh(
        incident,
        "harness",
        "run",
        "incident.yaml",
        "-q",
        "-j",
        "2",
        "--json",
        "spawn.json",
        "--results-dir",
        "spawn-results",
        HARNESS_START_METHOD="spawn",
        WALKTHROUGH_IMPORT_LOG=str(log),
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    report = json.loads((incident / "spawn.json").read_text())
    assert report["passed"] is True and len(report["runs"]) == 2
    pids = log.read_text().split()
    assert len(set(pids)) == 3, pids  # harness's process + one fresh import per spawned worker (2 runs)


@pytest.mark.slow
def test_harness_ablate_finds_the_one_fix_that_matters(incident: Path) -> None:
    result = sh(incident, "harness", "ablate", "incident.yaml", "-q", "--json", "ablate.json")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    ablation = json.loads((incident / "ablate.json").read_text())["ablation"]
    verdicts = {fix["plugin"]: (fix["sufficient"], fix["necessary"]) for fix in ablation["fixes"]}
    assert verdicts == {"linear_warmup": (True, True), "grad_clip": (False, False)}
    assert "linear_warmup" in result.stdout and "interval: epoch -> step" in result.stdout


@pytest.mark.slow
def test_pytest_collects_the_scenario_file(incident: Path) -> None:
    result = sh(incident, "pytest", "incident.yaml", "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    assert re.search(r"\b2 passed\b", result.stdout), result.stdout


@pytest.mark.slow
def test_a_10x_lr_masks_the_bug(incident: Path) -> None:
    result = sh(
        incident,
        "harness",
        "run",
        "incident.yaml",
        "-q",
        "--variant",
        "broken",
        "--set",
        "train.lr=0.1",
        "--json",
        "lr.json",
        "--results-dir",
        "lr-results",
    )
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr[-3000:]
    (run,) = json.loads((incident / "lr.json").read_text())["runs"]
    assert run["train"]["lr"] == 0.1
    assert collapse_epochs(run)[:1] == [1]  # the collapse is still there ...
    failed = [e["name"] for e in run["expectations"] if e["passed"] is False]
    assert failed == ["final.loss > 0.5"]  # ... but the loss no longer shows the incident


@pytest.mark.slow
def test_run_scenario_from_python(incident: Path) -> None:
    result = sh(incident, sys.executable, "replay.py", pythonpath=False)  # as `python replay.py`
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["broken", "fixed"]
    assert all("3/3 passed" in line for line in lines), lines


@pytest.mark.slow
def test_the_tabular_workload_replays_the_same_incident_without_code(incident: Path) -> None:
    scenario = yaml.safe_load((incident / "incident.yaml").read_text())
    scenario["workload"] = yaml.safe_load(walkthrough_blocks()["tabular-workload.yaml"])["workload"]
    (incident / "tabular.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    result = sh(
        incident,
        "harness",
        "run",
        "tabular.yaml",
        "-q",
        "--json",
        "tabular.json",
        "--results-dir",
        "tabular-results",
        pythonpath=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    runs = {r["variant"]: r for r in json.loads((incident / "tabular.json").read_text())["runs"]}
    assert collapse_epochs(runs["broken"])[:1] == [1] and collapse_epochs(runs["fixed"]) == []


REGRESSION_SCENARIO = """\
name: my_regression
workload: {name: "my_regressor:MyRegressor"}
train: {epochs: 5, batch_size: 16, lr: 3.0e-3, device: cpu, threads: 1}
variants:
  plain:
    expect: [final.r2 >= 0.3, no finding collapse]
"""


@pytest.mark.slow
def test_the_regression_example_of_writing_a_workload(incident: Path) -> None:
    """The docs' regression (`task = "regression"`: MSE, mse/mae/r2) validates, trains and reports its metrics."""
    (incident / "my_regressor.py").write_text(walkthrough_blocks()["my_regressor.py"])
    (incident / "regression.yaml").write_text(REGRESSION_SCENARIO)
    result = sh(
        incident,
        "harness",
        "run",
        "regression.yaml",
        "-q",
        "--json",
        "regression.json",
        "--results-dir",
        "regression-results",
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    (run,) = json.loads((incident / "regression.json").read_text())["runs"]
    assert set(run["history"][-1]) >= {"mse", "mae", "r2", "n", "loss"} and "accuracy" not in run["history"][-1]
    assert run["findings"] == []
    assert "R2" in result.stdout  # the key metrics are the report's columns
    bad = incident / "regression-bad.yaml"
    bad.write_text(REGRESSION_SCENARIO.replace("final.r2 >= 0.3", "final.accuracy >= 0.3"))
    rejected = sh(incident, "harness", "run", "regression-bad.yaml", "-q")
    assert rejected.returncode == 2 and "accuracy" in rejected.stderr, rejected.stderr  # not a declared metric


def test_the_text_classification_example_validates(tmp_path: Path) -> None:
    """The docs' `text_classification` block is a valid `workload:` (validation reads no file)."""
    from harness.scenario import load_scenario

    scenario = yaml.safe_load(walkthrough_blocks()["incident.yaml"])
    scenario["workload"] = yaml.safe_load(walkthrough_blocks()["text-workload.yaml"])["workload"]
    path = tmp_path / "text.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    loaded = load_scenario(path)
    assert loaded.workload == "text_classification"
    assert loaded.workload_params.pretrained == "/models/my-bert"
    assert "max_pred_share" in loaded.metrics


def test_the_mistakes_the_walkthrough_shows_exit_2_with_one_line(incident: Path) -> None:
    """Without PYTHONPATH the module is not found; a misspelt parameter names the closest one."""
    missing = sh(incident, "harness", "run", "incident.yaml", "-q", pythonpath=False)
    assert missing.returncode == 2
    assert (
        "incident.yaml:4:3: workload.name: cannot load workload 'my_incident:MyWorkload': "
        "No module named 'my_incident'" in missing.stderr
    ), missing.stderr
    assert "PYTHONPATH=DIR" in missing.stderr
    typo = incident / "typo.yaml"
    typo.write_text((incident / "incident.yaml").read_text().replace("params: {hidden: 32}", "params: {hiden: 32}"))
    rejected = sh(incident, "harness", "run", "typo.yaml", "-q")
    assert rejected.returncode == 2
    message = "typo.yaml:5:12: workload.params.hiden: unknown field 'hiden' (did you mean 'hidden'?)"
    assert message in rejected.stderr
    assert message.replace("typo.yaml", "incident.yaml") in " ".join(PAGE.split())  # as the page quotes it
    assert "Traceback" not in missing.stderr + rejected.stderr
