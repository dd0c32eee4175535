"""A newcomer's own script with a too-high LR, outside the repository: `harness doctor -- python
train.py` proves a cure on 3 of 3 seeds and hands back an edit at the optimizer's line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SCRIPT = """
import argparse
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=5)
args = parser.parse_args()
torch.manual_seed(0)
centers = torch.randn(3, 16) * 2


def make(n):
    y = torch.randint(0, 3, (n,))
    return centers[y] + torch.randn(n, 16), y


xtr, ytr = make(1200)
xva, yva = make(300)
train = DataLoader(TensorDataset(xtr, ytr), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 3))
opt = torch.optim.SGD(model.parameters(), lr=8.0, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(args.epochs):
    model.train()
    for xb, yb in train:
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xva)
        acc = (out.argmax(1) == yva).float().mean().item()
    print(f"epoch {epoch} val_acc {acc:.3f}")
"""


@pytest.mark.slow
def test_a_too_high_lr_gets_a_cure_proven_on_3_of_3_seeds_and_an_edit_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(SCRIPT)
    command = [sys.executable, "-m", "harness.cli", "doctor", "--json", "doctor.json"]
    command += ["--metric", r"val_acc=val_acc ([\d.]+)", "--save-scenario", "incident.yaml", "-j", "2"]
    command += ["--", "python", "train.py"]
    env = dict(os.environ, COLUMNS="80", OMP_NUM_THREADS="1")
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    section = json.loads((tmp_path / "doctor.json").read_text())["doctor"]
    best = section["best"]
    assert best["passed_runs"] == best["runs"] == 3
    assert list(best["plugins"]) == ["lr_scale"] and best["plugins"]["lr_scale"]["factor"] < 0.2
    assert section["lr_range"]["current_lr"] == pytest.approx(8.0)  # the range test ran on the program
    (edit,) = section["edits"]
    assert edit["proven"] and edit["where"].endswith("train.py:23")  # the optimizer's line
    assert edit["edit"].startswith("lr=8 -> lr=")
    assert "train.py:23: lr=8 -> lr=" in done.stdout + done.stderr
    saved = yaml.safe_load((tmp_path / "incident.yaml").read_text())
    assert saved["workload"]["script"] == "train.py"
    assert saved["variants"]["fixed"]["plugins"] == best["plugins"]
