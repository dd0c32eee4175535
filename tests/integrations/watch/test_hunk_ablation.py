"""`harness ablate` over the user's own commit: a training script in a git repository, broken at the
first commit (an LR far too high), fixed in the working tree by a second commit of three hunks of
which one is the cure; the ablation names that hunk necessary and sufficient, the others neither."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TRAIN = '''\
"""A tiny classifier: four blobs, an MLP, SGD; prints val_acc per epoch."""
import torch
from torch import nn

# the first version
g = torch.Generator().manual_seed(0)
centers = torch.tensor([[2.0, 2.0], [-2.0, 2.0], [2.0, -2.0], [-2.0, -2.0]])
y = torch.randint(0, 4, (600,), generator=g)
x = centers[y] + 0.7 * torch.randn(600, 2, generator=g)
xt, yt, xv, yv = x[:400], y[:400], x[400:], y[400:]
model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 4))
loss_fn = nn.CrossEntropyLoss()

LR = 20.0
opt = torch.optim.SGD(model.parameters(), lr=LR)
for epoch in range(1, 4):
    perm = torch.randperm(400)
    for i in range(0, 400, 25):
        idx = perm[i : i + 25]
        opt.zero_grad()
        loss = loss_fn(model(xt[idx]), yt[idx])
        loss.backward()
        opt.step()
    with torch.no_grad():
        val_loss = loss_fn(model(xv), yv)
        acc = (model(xv).argmax(1) == yv).float().mean().item()
    print(f"epoch {epoch} val_acc {acc:.3f}")
'''


def git(folder: Path, *args: str) -> str:
    command = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-C", str(folder), *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def committed_incident(tmp_path: Path) -> Path:
    """The repository: train.py broken (first commit), then fixed in three hunks (second commit)."""
    (tmp_path / "train.py").write_text(TRAIN)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "train.py")
    git(tmp_path, "commit", "-qm", "broken")
    first = git(tmp_path, "rev-parse", "HEAD")
    fixed = TRAIN.replace("# the first version", "# the second version").replace("LR = 20.0", "LR = 0.1")
    (tmp_path / "train.py").write_text(fixed + 'unused = "kept for later"\n')
    git(tmp_path, "commit", "-qam", "fixed")
    scenario = {
        "name": "lr-incident",
        "workload": {"script": "train.py", "metrics": {"val_acc": r"val_acc ([\d.]+)"}},
        "variants": {
            "broken": {"git": first, "expect": ["final.val_acc < 0.9"]},
            "fixed": {"expect": ["final.val_acc >= 0.9", "exit == 0"]},  # the working tree: the second commit
        },
    }
    (tmp_path / "incident.yaml").write_text(yaml.safe_dump(scenario))
    return tmp_path / "incident.yaml"


@pytest.mark.slow  # 8 script runs of 3 epochs (about 25 s with -j 2 on 2 shared cores)
def test_ablate_names_the_lr_hunk_of_a_commit_necessary_and_sufficient_and_the_others_neither(tmp_path: Path) -> None:
    path = committed_incident(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "100"}
    command = [sys.executable, "-m", "harness.cli", "ablate", str(path), "-j", "2", "--json", "ablation.json"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {row["plugin"]: row for row in json.loads((tmp_path / "ablation.json").read_text())["ablation"]["fixes"]}
    assert list(rows) == ["train.py:5", "train.py:14", "train.py:28"]
    verdicts = {name: (row["sufficient"], row["necessary"]) for name, row in rows.items()}
    assert verdicts == {"train.py:5": (False, False), "train.py:14": (True, True), "train.py:28": (False, False)}
    assert rows["train.py:14"]["change"] == "LR = 20.0 -> LR = 0.1"
    assert rows["train.py:14"]["hunk"] == {"file": "train.py", "line": 14, "text": "-LR = 20.0", "index": 1}
    assert "train.py:14 LR = 20.0 -> LR = 0.1" in " ".join(done.stdout.split())  # the report names it
    assert (tmp_path / ".harness" / "lr-incident" / "ablation" / "hunks" / "hunk-2.diff").is_file()
    assert git(tmp_path, "status", "--porcelain", "--untracked-files=no") == ""  # the user's files untouched
