"""The commands' console: rich's, writing to stdout with no trailing spaces.

rich pads every line of a table to the table's width; in a CI log or a pipe those are
trailing spaces on most lines. :class:`TrimmedStdout` strips them from each complete line
(keeping any colour codes that follow); a live progress bar's frames on a terminal are
written as they are.
"""

from __future__ import annotations

import io
import re
import sys
from typing import IO, cast

from rich.console import Console

_TRAILING = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$")


class TrimmedStdout(io.TextIOBase):
    """``sys.stdout`` (looked up at each write, as rich does), each line's trailing spaces removed.

    Text is written through at once. Off a terminal, the spaces that end a partial line are
    held back until the line goes on (then written) or ends (then dropped); on a terminal a
    partial line (a live progress frame) is written as it is.
    """

    def __init__(self) -> None:
        self._held = ""

    def write(self, text: str) -> int:
        *lines, last = (self._held + text).split("\n")
        self._held = ""
        out = "".join(_TRAILING.sub(r"\1", line) + "\n" for line in lines)
        if last and not sys.stdout.isatty():
            kept = last.rstrip(" \t")
            self._held, last = last[len(kept) :], kept
        sys.stdout.write(out + last)
        return len(text)

    def flush(self) -> None:
        sys.stdout.flush()

    def isatty(self) -> bool:
        return sys.stdout.isatty()

    def fileno(self) -> int:
        return sys.stdout.fileno()


def terminal() -> Console:
    """The console a command prints its report on."""
    return Console(file=cast(IO[str], TrimmedStdout()))
