"""`--tensorboard DIR`: event files per run, read back with TensorBoard's own EventAccumulator.

Skipped only when tensorboard is not installed (the ``test`` extra installs it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.reports import write_reports

pytest.importorskip("tensorboard")


def accumulator(directory: Path) -> Any:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(directory), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def scalars(acc: Any, tag: str) -> list[tuple[int, float]]:
    return [(e.step, round(e.value, 6)) for e in acc.Scalars(tag)]


def text(acc: Any, tag: str) -> str:
    from tensorboard.util import tensor_util

    [event] = acc.Tensors(f"{tag}/text_summary")
    return tensor_util.make_ndarray(event.tensor_proto).item().decode()


def test_one_event_directory_per_run_with_epoch_metrics_lr_per_step_and_findings(
    tmp_path: Path, scripted_suite: dict
) -> None:
    out = tmp_path / "tb"
    write_reports(scripted_suite, {"tensorboard": out})
    runs = sorted(p.name for p in (out / "scripted").iterdir())
    assert runs == ["broken+class_weights-seed0", "broken-seed0", "fixed-seed0", "fixed-seed1"]
    acc = accumulator(out / "scripted" / "fixed-seed0")
    assert scalars(acc, "epoch/f1") == [(1, 0.3), (2, 0.7), (3, 0.85)]
    assert {"epoch/auc", "epoch/loss", "epoch/lr", "epoch/pred_positive_share"} <= set(acc.Tags()["scalars"])
    assert not {"epoch/epoch", "epoch/steps"} & set(acc.Tags()["scalars"])  # the x axis is no metric
    lr = scalars(acc, "step/lr")
    assert [s for s, _ in lr] == list(range(1, 10)) and lr[-1] == (9, 0.001)
    assert "no findings" in text(acc, "findings")
    assert "passed: `final.f1 >= 0.8`" in text(acc, "expectations")
    config = text(acc, "config")
    assert '"grad_clip": {' in config and '"max_norm": 1.0' in config and '"batch_size": 32' in config

    broken = accumulator(out / "scripted" / "broken-seed0")
    findings = text(broken, "findings")
    assert "**collapse** (prediction_distribution, epoch 1, step 3): predicts one class only" in findings
    assert "FAILED: `final.f1 >= 0.8`" in text(broken, "expectations")
    errored = accumulator(out / "scripted" / "fixed-seed1")  # no completed epoch: text only
    assert errored.Tags()["scalars"] == [] and "status **error**: RuntimeError: boom" in text(errored, "expectations")


def test_a_rerender_replaces_a_runs_events_instead_of_doubling_them(tmp_path: Path, scripted_suite: dict) -> None:
    out = tmp_path / "tb"
    write_reports(scripted_suite, {"tensorboard": out})
    write_reports(scripted_suite, {"tensorboard": out})
    run_dir = out / "scripted" / "fixed-seed0"
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1
    assert len(accumulator(run_dir).Scalars("epoch/f1")) == 3
    assert not [p for p in (out / "scripted").iterdir() if p.name.startswith(".")]  # no temporary left


def test_harness_report_rerenders_a_saved_report_as_tensorboard_events(tmp_path: Path, scripted_suite: dict) -> None:
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps({"schema_version": 1, "reports": [scripted_suite], "passed": False}))
    result = CliRunner().invoke(main, ["report", str(saved), "-q", "--tensorboard", str(tmp_path / "tb")])
    assert result.exit_code == 0, result.output
    assert scalars(accumulator(tmp_path / "tb" / "scripted" / "broken-seed0"), "epoch/f1")[-1] == (3, 0.0)


def test_a_file_at_the_directory_is_named_and_the_other_reports_are_still_written(
    tmp_path: Path, scripted_suite: dict
) -> None:
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps(scripted_suite))
    blocker = tmp_path / "tb"
    blocker.write_text("not a directory")
    result = CliRunner().invoke(
        main,
        ["report", str(saved), "-q", "--tensorboard", str(blocker / "sub"), "--json", str(tmp_path / "again.json")],
    )
    assert result.exit_code == 1
    assert "cannot write the --tensorboard report" in result.output and (tmp_path / "again.json").exists()


def test_a_missing_tensorboard_is_refused_before_any_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    result = CliRunner().invoke(main, ["run", str(tmp_path / "absent.yaml"), "--tensorboard", str(tmp_path / "tb")])
    assert result.exit_code == 2 and "pip install 'training-harness[tensorboard]'" in result.output
