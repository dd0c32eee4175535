"""The commands' console: rich's, writing to stdout with no trailing spaces.

rich pads every line of a table to the table's width; in a CI log or a pipe those are
trailing spaces on most lines. :class:`TrimmedStdout` strips them from each complete line
(keeping any colour codes that follow) and passes partial writes (a live progress bar's
frames) through as they are when flushed.
"""

from __future__ import annotations

import io
import re
import sys
from typing import IO, cast

from rich.console import Console

_TRAILING = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$")


class TrimmedStdout(io.TextIOBase):
    """``sys.stdout`` (looked up at each write, as rich does), each line's trailing spaces removed."""

    def __init__(self) -> None:
        self._pending = ""

    def write(self, text: str) -> int:
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        if lines:
            sys.stdout.write("".join(_TRAILING.sub(r"\1", line) + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            sys.stdout.write(self._pending)
            self._pending = ""
        sys.stdout.flush()

    def isatty(self) -> bool:
        return sys.stdout.isatty()

    def fileno(self) -> int:
        return sys.stdout.fileno()


def terminal() -> Console:
    """The console a command prints its report on."""
    return Console(file=cast(IO[str], TrimmedStdout()))
