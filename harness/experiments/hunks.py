"""A unified diff split into hunks, and diffs of some of them: the changes ``harness ablate``
tries one by one when two script variants differ by the user's own edit (docs/replay-script.md).

A hunk is one ``@@`` block of one file. :func:`split_hunks` parses a diff (``git diff``'s or
``diff -u``'s); :func:`subset_diff` writes a diff of the chosen hunks only, each ``@@`` header's
new-file line moved by the hunks left out before it, so ``patch`` applies it without offsets.
Binary changes and renames without content (no ``@@``) are not hunks: they are not ablated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")


@dataclass(frozen=True)
class Hunk:
    """One ``@@`` block: its file's header lines (``--- a/x``, ``+++ b/x``), its ranges and body."""

    old_file: str  # the ``---`` line, as given
    new_file: str  # the ``+++`` line, as given
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    section: str  # what follows the second ``@@`` (a function's name, as git writes)
    lines: tuple[str, ...]  # the body: " ", "-", "+" and "\\ No newline" lines, without line ends

    @property
    def path(self) -> str:
        """The file, as the report names it (``train.py``: the new path, without ``b/``)."""
        name = self.new_file if not self.new_file.endswith("/dev/null") else self.old_file
        name = name.split("\t")[0]
        return name[2:] if name[:2] in ("a/", "b/") else name

    @property
    def first_change(self) -> tuple[int, str]:
        """The new-file line of the first changed line and that line (``+  lr = 0.01``; a removed
        line: the line its removal leaves in its place)."""
        line = self.new_start if self.new_len else self.new_start + 1
        for body in self.lines:
            if body[:1] in ("+", "-"):
                return line, body
            if body[:1] == " ":
                line += 1
        return line, ""

    @property
    def change(self) -> str:
        """The first changed line, as the report shows it: ``lr = 3.0 -> lr = 0.01`` where the
        hunk's first change replaces lines (its first removed and first added line), else that
        line with its sign (``+ print(x)``, ``- del y``)."""
        block: list[str] = []
        for body in self.lines:
            if body[:1] in ("+", "-"):
                block.append(body)
            elif block:
                break
        removed = next((b[1:].strip() for b in block if b[0] == "-"), None)
        added = next((b[1:].strip() for b in block if b[0] == "+"), None)
        if removed is not None and added is not None:
            return f"{removed} -> {added}"
        return f"+ {added}" if added is not None else f"- {removed}"

    @property
    def name(self) -> str:
        """``FILE:LINE``: :attr:`path` and the new-file line of :attr:`first_change`."""
        return f"{self.path}:{self.first_change[0]}"

    @property
    def delta(self) -> int:
        return self.new_len - self.old_len

    def text(self, shift: int = 0) -> str:
        """The hunk as a diff writes it, its new-file start moved by ``shift`` lines."""
        new = f"{self.new_start + shift},{self.new_len}"
        head = f"@@ -{self.old_start},{self.old_len} +{new} @@{self.section}"
        return "\n".join([head, *self.lines]) + "\n"


def split_hunks(diff: str) -> list[Hunk]:
    """The hunks of a unified diff, in order: per file (``---``/``+++``), per ``@@`` block."""
    hunks: list[Hunk] = []
    old_file = new_file = ""
    lines = diff.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old_file, new_file = line[4:], lines[i + 1][4:]
            i += 2
            continue
        match = HEADER.match(line)
        if match is None or not new_file:
            i += 1
            continue
        old_len = int(match[2]) if match[2] is not None else 1
        new_len = int(match[4]) if match[4] is not None else 1
        body, i = _body(lines, i + 1, old_len, new_len)
        hunks.append(Hunk(old_file, new_file, int(match[1]), old_len, int(match[3]), new_len, match[5], tuple(body)))
    return hunks


def _body(lines: list[str], i: int, old_len: int, new_len: int) -> tuple[list[str], int]:
    """A hunk's body from line ``i``: lines until both ranges are consumed (then its trailing
    ``\\ No newline`` marker), and the index after it."""
    body: list[str] = []
    old = new = 0
    while i < len(lines) and (old < old_len or new < new_len or lines[i].startswith("\\")):
        line = lines[i]
        kind = line[:1]
        if kind == "\\":
            body.append(line)
        elif kind in ("-", " ", "") and old < old_len and (kind != "" or new < new_len):
            body.append(line if kind else " ")  # an empty context line some tools write without its space
            old += 1
            new += kind != "-"
        elif kind == "+" and new < new_len:
            body.append(line)
            new += 1
        else:
            break
        i += 1
    return body, i


def subset_diff(hunks: list[Hunk], keep: Iterable[int]) -> str:
    """A unified diff of ``hunks[i]`` for each ``i`` in ``keep``, in the original order, each
    file's header once; a kept hunk's new-file start moved by the hunks of its file left out before it."""
    chosen = set(keep)
    out: list[str] = []
    current: tuple[str, str] | None = None
    shift, header_written = 0, False
    for index, hunk in enumerate(hunks):
        if (hunk.old_file, hunk.new_file) != current:
            current, shift, header_written = (hunk.old_file, hunk.new_file), 0, False
        if index not in chosen:
            shift -= hunk.delta
            continue
        if not header_written:
            out.append(f"--- {hunk.old_file}\n+++ {hunk.new_file}\n")
            header_written = True
        out.append(hunk.text(shift))
    return "".join(out)
