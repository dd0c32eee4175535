"""A script variant's ``git: REF``: checked when the scenario loads (one error naming the field and
the ref), the program run in the repository's tree at REF with a ``patch`` on top
(docs/replay-script.md)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.execution.script_run import ProgramError, prepare
from harness.scenario import ScenarioError, load_scenario


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-C", str(folder), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def repository(tmp_path: Path) -> tuple[Path, str]:
    """A repository whose script lives in ``src/`` beside a helper in the repository's top folder:
    first commit ``LR = 3.0``, the working tree ``LR = 0.1``. Its first commit's hash."""
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "helper.txt").write_text("v1\n")
    (root / "src" / "train.py").write_text("LR = 3.0\nprint('lr', LR)\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "first")
    first = git(root, "rev-parse", "HEAD")
    (root / "src" / "train.py").write_text("LR = 0.1\nprint('lr', LR)\n")
    return root, first


def scenario(root: Path, **broken: Any) -> Path:
    data = {"name": "s", "workload": {"script": "train.py"}, "variants": {"broken": broken, "fixed": {}}}
    path = root / "src" / "incident.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_git_runs_the_repositorys_tree_at_the_ref_with_the_patch_on_top(tmp_path: Path) -> None:
    root, first = repository(tmp_path)
    (root / "src" / "fix.diff").write_text(
        "--- a/train.py\n+++ b/train.py\n@@ -1,2 +1,2 @@\n-LR = 3.0\n+LR = 0.5\n print('lr', LR)\n"
    )
    loaded = load_scenario(scenario(root, git="HEAD", patch="fix.diff"))
    program = loaded.variants["broken"].script
    assert program is not None and program.git == first and program.repo == str(root.resolve())
    assert loaded.variants["fixed"].script.git is None  # the working tree
    cwd, argv = prepare(program, tmp_path / "run")
    assert argv[-1] == str(cwd / "train.py") and cwd.name == "src"
    assert (cwd / "train.py").read_text().startswith("LR = 0.5")  # the commit's file, patched
    assert (cwd.parent / "helper.txt").read_text() == "v1\n"  # the whole tree, not only the script's folder
    assert (root / "src" / "train.py").read_text().startswith("LR = 0.1")  # the user's files untouched
    assert len(git(root, "worktree", "list").splitlines()) == 1 and git(root, "stash", "list") == ""


def test_a_patch_that_does_not_apply_to_the_ref_names_the_commit(tmp_path: Path) -> None:
    root, first = repository(tmp_path)
    (root / "src" / "fix.diff").write_text("--- a/train.py\n+++ b/train.py\n@@ -1,1 +1,1 @@\n-LR = 9.9\n+LR = 0.5\n")
    program = load_scenario(scenario(root, git=first[:8], patch="fix.diff")).variants["broken"].script
    assert program is not None
    with pytest.raises(ProgramError, match=f"as of {first[:12]}"):
        prepare(program, tmp_path / "run")


@pytest.mark.parametrize(
    ("ref", "words"),
    [("no-such-branch", "unknown revision 'no-such-branch'"), ("--output=x", "unknown revision '--output=x'")],
)
def test_an_unknown_ref_is_one_error_naming_the_field_and_the_ref(tmp_path: Path, ref: str, words: str) -> None:
    root, _ = repository(tmp_path)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(scenario(root, git=ref))
    lines = [line for line in str(exc.value).splitlines() if "variants.broken.git" in line]
    assert len(lines) == 1 and words in lines[0] and ref in lines[0]


def test_git_outside_a_repository_or_a_script_missing_at_the_ref_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "plain" / "src").mkdir(parents=True)
    (tmp_path / "plain" / "src" / "train.py").write_text("print(1)\n")
    with pytest.raises(ScenarioError, match=r"variants\.broken\.git.*HEAD: .* is not in a git repository"):
        load_scenario(scenario(tmp_path / "plain", git="HEAD"))
    root, first = repository(tmp_path)
    (root / "src" / "new.py").write_text("print(2)\n")  # not committed
    with pytest.raises(ScenarioError, match=rf"variants\.broken\.git.*{first[:12]}.* has no .*new\.py"):
        load_scenario(scenario(root, git=first, script="new.py"))
