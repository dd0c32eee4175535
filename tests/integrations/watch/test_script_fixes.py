"""Fixes applied by the watcher to a running script (acts_on_scripts): real bugged twins of
examples/scripts/classifier.py, each cured by a variant's plugin, the script unchanged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SCRIPTS = Path(__file__).resolve().parents[3] / "examples" / "scripts"


@pytest.mark.slow  # 7 script runs of 12 epochs
def test_each_bug_is_cured_from_outside_and_the_script_trains_as_its_clean_twin(tmp_path: Path) -> None:
    for name in ("classifier", "classifier_lr_too_high", "classifier_no_zero_grad", "classifier_warmup_per_epoch"):
        shutil.copy(SCRIPTS / f"{name}.py", tmp_path / f"{name}.py")
    twins = {
        "lr": ("classifier_lr_too_high", {"lr_scale": {"factor": 0.001}}),  # lr 3.0 -> the clean script's 3e-3
        "nz": ("classifier_no_zero_grad", {"grad_reset": True}),
        "wp": ("classifier_warmup_per_epoch", {"scheduler_cadence": {"every": "step"}}),
    }
    variants: dict[str, dict[str, object]] = {"clean": {}}
    for short, (script, fix) in twins.items():
        variants[f"{short}_broken"] = {"script": f"{script}.py"}
        variants[f"{short}_fixed"] = {"script": f"{script}.py", "plugins": fix}
    scenario = {
        "name": "fixes",
        "workload": {"script": "classifier.py", "metrics": {"val_acc": r"val_acc ([\d.]+)"}},
        "seeds": [0],
        "variants": variants,
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(scenario))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "harness.cli", "run", "s.yaml", "-j", "2", "--json", "out.json"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    runs = {r["variant"]: r for r in json.loads((tmp_path / "out.json").read_text())["runs"]}
    kinds = {v: {f["kind"] for f in r["findings"]} for v, r in runs.items()}
    acc = {v: r["history"][-1]["val_acc"] for v, r in runs.items()}
    assert kinds["clean"] == set() and acc["clean"] >= 0.9
    assert {"loss_explosion", "dead_units"} <= kinds["lr_broken"] and acc["lr_broken"] < 0.2
    assert "stale_gradients" in kinds["nz_broken"]
    assert {"lr_zero", "schedule_mismatch"} <= kinds["wp_broken"]
    for short in twins:
        assert kinds[f"{short}_fixed"] == set(), short
    assert acc["lr_fixed"] >= 0.9
    assert max(runs["lr_fixed"]["lr_per_step"]) == pytest.approx(3e-3)  # under the script's own warmup
    assert runs["lr_fixed"]["lr_per_step"][:2] == pytest.approx([0.0, 1e-4])
    # the gradient reset and the per-step scheduler give the clean script's numbers exactly
    assert acc["nz_fixed"] == acc["clean"] and acc["wp_fixed"] == acc["clean"]
