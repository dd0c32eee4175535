"""The user's diff split into hunks (harness.experiments.hunks) and the ablation's hunk arms built
from it: each hunk alone on the base's program, the target without it (docs/replay-script.md)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from harness.experiments.hunks import split_hunks, subset_diff

DIFF = """\
diff --git a/train.py b/train.py
index 1111111..2222222 100644
--- a/train.py
+++ b/train.py
@@ -1,4 +1,4 @@
 import torch
-# the first version
+# the second version
 x = 1
 y = 2
@@ -10,5 +10,6 @@ def train():
 a = 1
 b = 2
-LR = 3.0
+LR = 0.01
+unused = 0
 c = 3
 d = 4
diff --git a/lib/data.py b/lib/data.py
index 3333333..4444444 100644
--- a/lib/data.py
+++ b/lib/data.py
@@ -5,4 +5,3 @@
 keep = 1
-drop = 2
 more = 3
 last = 4
"""

OLD = {
    "train.py": ["import torch", "# the first version", "x = 1", "y = 2", "p", "q", "r", "s", "t"]
    + ["a = 1", "b = 2", "LR = 3.0", "c = 3", "d = 4"],
    "lib/data.py": ["h1", "h2", "h3", "h4", "keep = 1", "drop = 2", "more = 3", "last = 4"],
}


def test_a_diff_of_two_files_splits_into_its_three_hunks_named_by_file_line_and_change() -> None:
    hunks = split_hunks(DIFF)
    assert [h.name for h in hunks] == ["train.py:2", "train.py:12", "lib/data.py:6"]
    assert [h.change for h in hunks] == [
        "# the first version -> # the second version",
        "LR = 3.0 -> LR = 0.01",
        "- drop = 2",
    ]
    assert hunks[1].first_change == (12, "-LR = 3.0") and hunks[1].section == " def train():"
    assert [len(h.lines) for h in hunks] == [5, 7, 4] and [h.delta for h in hunks] == [0, 1, -1]


def test_a_diff_of_some_hunks_applies_to_the_old_files_without_the_others(tmp_path: Path) -> None:
    hunks = split_hunks(DIFF)
    for name, lines in OLD.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    only = subset_diff(hunks, [1, 2])
    assert only.count("--- a/train.py") == 1 and "the second version" not in only
    (tmp_path / "p.diff").write_text(only)
    done = subprocess.run(["patch", "-p1", "--batch", "-d", str(tmp_path), "-i", "p.diff"], capture_output=True)
    assert done.returncode == 0 and b"offset" not in done.stdout, done.stdout
    train = (tmp_path / "train.py").read_text().splitlines()
    assert train[1] == "# the first version" and "LR = 0.01" in train and "unused = 0" in train
    assert "drop = 2" not in (tmp_path / "lib" / "data.py").read_text()
    assert subset_diff(hunks, []) == ""


def test_the_ablation_of_a_patch_has_one_change_per_hunk_each_arm_a_generated_patch(tmp_path: Path) -> None:
    from harness.experiments.ablation import ablation_scenario
    from harness.scenario import load_scenario

    (tmp_path / "train.py").write_text("\n".join(OLD["train.py"]) + "\n")
    (tmp_path / "fix.diff").write_text(DIFF.split("diff --git a/lib")[0])
    spec = {
        "name": "s",
        "workload": {"script": "train.py"},
        "variants": {"broken": {}, "fixed": {"patch": "fix.diff", "plugins": {"grad_reset": True}}},
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    derived, arms = ablation_scenario(load_scenario(tmp_path / "s.yaml"), "broken", "fixed", tmp_path / "hunks")
    assert [a.fix_name for a in arms if a.role == "base+fix"] == ["grad_reset", "train.py:2", "train.py:12"]
    alone, without = derived.variants["broken+train.py:12"].script, derived.variants["fixed-train.py:12"].script
    assert alone.patch == str(tmp_path / "hunks" / "hunk-2.diff") and alone.fixes == {}
    assert "LR = 0.01" in Path(alone.patch).read_text() and "second version" not in Path(alone.patch).read_text()
    assert without.patch == str(tmp_path / "hunks" / "all-but-hunk-2.diff") and without.fixes == {"grad_reset": {}}
    assert "LR" not in Path(without.patch).read_text() and "second version" in Path(without.patch).read_text()
    assert derived.variants["fixed-grad_reset"].script.patch == str(tmp_path / "fix.diff")  # a plugin arm: as is
