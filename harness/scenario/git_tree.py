"""A script's program as of a commit: the repository that holds it, a ref resolved, its tree exported, diffs.

A script variant's ``git: REF`` (docs/replay-script.md) runs the repository's tree at REF: the
ref is resolved to its commit when the scenario loads (:func:`resolve`), each run exports that
tree into its own temporary folder (:func:`export`, ``git archive``: the user's repository is
only read), and ``harness ablate`` splits what changed between two refs (:func:`diff`) into hunks.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path


class GitError(Exception):
    """A git command failed: its message is the reason, in one line."""


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, check=False)
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror or exc}") from None


def _last_line(done: subprocess.CompletedProcess[bytes]) -> str:
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"git exited with code {done.returncode}"


def repository(folder: Path) -> Path:
    """The top folder of the git repository that holds ``folder``.
    :raises GitError: ``folder`` is not in a git repository (or git is missing)."""
    done = _git(folder, "rev-parse", "--show-toplevel")
    if done.returncode != 0:
        raise GitError(f"{folder} is not in a git repository")
    return Path(done.stdout.decode().strip()).resolve()


def resolve(root: Path, ref: str) -> str:
    """The commit ``ref`` names in the repository at ``root`` (its full hash).
    :raises GitError: no such commit."""
    if ref.startswith("-"):
        raise GitError(f"unknown revision {ref!r} in {root}")
    done = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if done.returncode != 0:
        raise GitError(f"unknown revision {ref!r} in {root}")
    return done.stdout.decode().strip()


def has_path(root: Path, commit: str, path: Path) -> bool:
    """Whether the tree of ``commit`` holds ``path`` (relative to ``root``)."""
    return _git(root, "cat-file", "-e", f"{commit}:{path.as_posix()}").returncode == 0


def export(root: Path, commit: str, target: Path) -> Path:
    """The tree of ``commit`` written into ``target`` (created), as ``git archive`` gives it.
    :raises GitError: git failed."""
    done = _git(root, "archive", "--format=tar", commit)
    if done.returncode != 0:
        raise GitError(f"cannot export {commit[:12]} of {root}: {_last_line(done)}")
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(target, filter="data")
    return target


def diff(folder: Path, old: str, new: str | None) -> str:
    """The unified diff from commit ``old`` to ``new`` (None: the working tree's tracked files) of
    the files under ``folder``, their paths relative to it (``a/train.py``), as ``git diff`` writes.
    :raises GitError: git failed."""
    revisions = [old] if new is None else [old, new]
    done = _git(
        folder,
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        "--relative",
        *revisions,
        "--",
        ".",
    )
    if done.returncode != 0:
        raise GitError(f"git diff {' '.join(revisions)} in {folder}: {_last_line(done)}")
    return done.stdout.decode(errors="replace")
