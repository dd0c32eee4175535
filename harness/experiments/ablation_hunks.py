"""Ablation over the user's own edit: two script variants whose programs differ by a diff.

When ``harness ablate``'s base and target run the same script and differ by a ``patch`` (the
target has one, the base none, both on the same tree) or by ``git`` (two refs, or the base at a
ref and the target the working tree), that diff is split into hunks
(:mod:`harness.experiments.hunks`) and each hunk is a change, ablated as a plugin change is
(:mod:`harness.experiments.ablation`):

    base + hunk i     the base's program with only hunk i applied (sufficient?)
    target - hunk i   the target's plugins, run on the base's tree with every hunk but i (necessary?)

Each arm's program is its source variant's with a generated ``patch`` (written into the
experiment's folder, kept beside its results) and, for a target arm, the base's ``git``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.experiments.arms import Fix
from harness.experiments.hunks import Hunk, split_hunks, subset_diff


class HunkError(ValueError):
    """The diff between two script variants cannot be had (git failed, a patch file unreadable)."""


def program_diff(scenario: Any, base: str, target: str) -> str | None:
    """The unified diff that takes ``base``'s program to ``target``'s, or None when they are not
    two runs of one script differing only by a ``patch`` of the target or by ``git``.
    :raises HunkError: git could not give the diff, or the patch file cannot be read."""
    from harness.scenario.git_tree import GitError, diff

    b, t = scenario.variants[base].script, scenario.variants[target].script
    if b is None or t is None or (b.script, b.module, b.cwd) != (t.script, t.module, t.cwd):
        return None
    if b.patch is None and t.patch is not None and b.git == t.git:
        try:
            return Path(t.patch).read_text(encoding="utf-8")
        except OSError as exc:
            raise HunkError(f"cannot read {t.patch}: {exc.strerror or exc}") from None
    if b.patch is None and t.patch is None and b.git is not None and b.git != t.git:
        try:
            return diff(Path(b.cwd), b.git, t.git)
        except GitError as exc:
            raise HunkError(str(exc)) from None
    return None


def hunk_fixes(diff: str) -> list[Fix]:
    """One change per hunk of ``diff``, in its order."""
    return [Fix((), {}, {}, hunk=hunk, index=i) for i, hunk in enumerate(split_hunks(diff))]


def hunk_programs(scenario: Any, base: str, fixes: list[Fix], folder: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """Per ``(role, hunk index)`` the changes to the arm's program (:meth:`Scenario.derive`'s
    ``program``): ``base+fix`` only that hunk; ``target-fix`` the base's tree and every other hunk.
    The diffs are written into ``folder`` (``hunk-N.diff`` and ``all-but-hunk-N.diff``)."""
    hunks: list[Hunk] = [f.hunk for f in fixes if f.hunk is not None]
    if not hunks:
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    b = scenario.variants[base].script
    programs: dict[tuple[str, int], dict[str, Any]] = {}
    for i in range(len(hunks)):
        alone, rest = folder / f"hunk-{i + 1}.diff", folder / f"all-but-hunk-{i + 1}.diff"
        alone.write_text(subset_diff(hunks, [i]), encoding="utf-8")
        others = [j for j in range(len(hunks)) if j != i]
        rest.write_text(subset_diff(hunks, others), encoding="utf-8")
        programs["base+fix", i] = {"patch": str(alone.resolve())}
        programs["target-fix", i] = {"git": b.git, "repo": b.repo, "patch": str(rest.resolve()) if others else None}
    return programs
