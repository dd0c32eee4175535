"""`--mlflow URI`: a suite run with a nested run per harness run, read back with MlflowClient.

Local stores only (``sqlite:`` and ``file:``, no server). Skipped only when mlflow is not
installed (the ``test`` extra installs it). The last test is the end-to-end one: a real
`harness run` writing TensorBoard events and MLflow runs at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main
from harness.reports import write_reports
from harness.testing import TINY_DEVIGN

pytest.importorskip("mlflow")


def client_and_runs(uri: str, experiment: str) -> tuple[Any, Any, dict[str, Any]]:
    """(client, the suite run, {run name: nested run}) of the one suite logged in ``experiment``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id])
    [suite] = [r for r in runs if r.data.tags.get("harness.kind") == "suite"]
    nested = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == suite.info.run_id}
    assert len(nested) == len(runs) - 1  # every other run is nested under the suite
    return client, suite, nested


def history(client: Any, run: Any, metric: str) -> list[tuple[int, float]]:
    return [
        (m.step, round(m.value, 6))
        for m in sorted(client.get_metric_history(run.info.run_id, metric), key=lambda m: m.step)
    ]


def artifact(client: Any, run: Any, name: str, tmp_path: Path) -> Any:
    local = client.download_artifacts(run.info.run_id, name, str(tmp_path))
    return json.loads(Path(local).read_text())


def test_a_suite_run_with_one_nested_run_per_harness_run(tmp_path: Path, scripted_suite: dict) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    write_reports(scripted_suite, {"mlflow": uri})
    client, suite, nested = client_and_runs(uri, "scripted")
    assert suite.info.run_name == "scripted suite" and suite.data.tags["harness.passed"] == "False"
    assert suite.data.params["workload"] == "devign" and suite.data.params["workload.n_train"] == "96"
    assert suite.data.metrics["fixed/passed_runs"] == 1 and suite.data.metrics["fixed/runs"] == 2
    assert suite.data.metrics["broken_class_weights/f1_mean"] == pytest.approx(0.82)  # '+' is no key character
    assert artifact(client, suite, "report.json", tmp_path / "a")["scenario"]["name"] == "scripted"
    assert sorted(nested) == ["broken+class_weights-seed0", "broken-seed0", "fixed-seed0", "fixed-seed1"]

    fixed = nested["fixed-seed0"]
    assert history(client, fixed, "f1") == [(1, 0.3), (2, 0.7), (3, 0.85)]
    assert [s for s, _ in history(client, fixed, "step/lr")] == list(range(1, 10))
    params = fixed.data.params
    assert params["plugin.grad_clip.max_norm"] == "1.0" and params["plugin.class_weights.label_smoothing"] == "0.05"
    assert params["plugin.defaults"] == "on" and params["train.batch_size"] == "32" and params["seed"] == "0"
    assert fixed.data.tags["harness.status"] == "ok" and fixed.data.tags["harness.passed"] == "True"
    assert fixed.info.status == "FINISHED"
    record = artifact(client, fixed, "record.json", tmp_path / "b")
    assert record == scripted_suite["runs"][2]  # the JSON record, as it is in the report

    assert nested["broken-seed0"].data.tags["harness.findings"] == "collapse"
    errored = nested["fixed-seed1"]
    assert errored.info.status == "FAILED" and errored.data.tags["harness.error"] == "RuntimeError: boom"
    assert client.get_metric_history(errored.info.run_id, "f1") == []
    # a sqlite store keeps its artifacts next to the database, not in the working directory
    assert suite.info.artifact_uri.startswith((tmp_path / "mlartifacts").as_uri())


def test_a_file_store_and_harness_report(tmp_path: Path, scripted_suite: dict) -> None:
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps(scripted_suite))
    uri = (tmp_path / "mlruns").as_uri()
    result = CliRunner().invoke(main, ["report", str(saved), "-q", "--mlflow", uri])
    assert result.exit_code == 0, result.output
    client, _, nested = client_and_runs(uri, "scripted")
    assert history(client, nested["broken-seed0"], "f1") == [(1, 0.0), (2, 0.0), (3, 0.0)]


def test_an_unusable_store_is_named_and_the_other_reports_are_still_written(
    tmp_path: Path, scripted_suite: dict
) -> None:
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps(scripted_suite))
    result = CliRunner().invoke(
        main, ["report", str(saved), "-q", "--mlflow", "nosuchscheme://x", "--json", str(tmp_path / "again.json")]
    )
    assert result.exit_code == 1, result.output
    assert "cannot write the --mlflow report nosuchscheme://x" in result.output and (tmp_path / "again.json").exists()


def test_a_missing_mlflow_is_refused_before_any_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    result = CliRunner().invoke(main, ["run", str(tmp_path / "absent.yaml"), "--mlflow", "sqlite:///x.db"])
    assert result.exit_code == 2 and "pip install 'training-harness[mlflow]'" in result.output


@pytest.mark.slow
def test_harness_run_writes_tensorboard_and_mlflow_with_each_runs_per_epoch_f1(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "name": "tiny_reports",
                "workload": {"name": "devign", "params": dict(TINY_DEVIGN)},
                "train": {"epochs": 2, "batch_size": 32, "lr": 1.0e-3, "device": "cpu"},
                "variants": {
                    "plain": {"expect": ["status == ok"]},
                    "clipped": {"plugins": {"grad_clip": {"max_norm": 0.5}}},
                },
            }
        )
    )
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(scenario),
            "--seeds",
            "2",
            "-j",
            "2",
            "-q",
            "--results-dir",
            str(tmp_path / "results"),
            "--json",
            str(tmp_path / "r.json"),
            "--tensorboard",
            str(tmp_path / "tb"),
            "--mlflow",
            uri,
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    client, _, nested = client_and_runs(uri, "tiny_reports")
    assert sorted(nested) == ["clipped-seed0", "clipped-seed1", "plain-seed0", "plain-seed1"]
    for run in report["runs"]:
        slug = f"{run['variant']}-seed{run['seed']}"
        f1 = [(e["epoch"], round(e["f1"], 6)) for e in run["history"]]
        assert len(f1) == 2
        assert history(client, nested[slug], "f1") == f1
        acc = EventAccumulator(str(tmp_path / "tb" / "tiny_reports" / slug), size_guidance={"scalars": 0})
        acc.Reload()
        assert [(e.step, round(e.value, 6)) for e in acc.Scalars("epoch/f1")] == f1
        assert len(acc.Scalars("step/lr")) == run["steps"] == len(run["lr_per_step"])
        assert nested[slug].data.params["plugin.grad_clip.max_norm" if run["variant"] == "clipped" else "variant"]
