"""Whether a rich table fits a terminal with every word whole (the terminal reports' layout rule).

No name (variant, plugin, metric, finding, outcome) is ever broken mid-word: a report checks
each table with :func:`fits` and prints a stacked layout instead when it does not. Used by
:mod:`harness.reports.terminal` and :mod:`harness.reports.doctor`; imports neither.
"""

from __future__ import annotations

import io
from typing import Any

from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text


def _plain(cell: Any, console: Console) -> str:
    if isinstance(cell, Padding):
        return _plain(cell.renderable, console)
    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, str):
        return console.render_str(cell).plain
    return ""


def fits(console: Console, table: Table, width: int | None = None) -> bool:
    """Whether ``table`` prints within ``console``'s width with every word of every cell and
    header whole on one line.

    A table wider than the console gets columns narrower than their longest word from rich
    (``variance_penal`` / ``ty``), or cut to an ellipsis where a column may not wrap; the
    callers print a stacked layout instead when this is False. Checked by rendering the table
    once, off screen, at ``width`` (default: the console's; less for an indented table).
    """
    width = console.width if width is None else width
    probe = Console(width=width, file=io.StringIO(), color_system=None, highlight=False, emoji=False)
    with probe.capture() as capture:
        probe.print(table)
    lines = capture.get().splitlines()
    if any(cell_len(line.rstrip()) > width for line in lines):
        return False
    words = {
        w for column in table.columns for cell in (column.header, *column.cells) for w in _plain(cell, probe).split()
    }
    return all(any(w in line for line in lines) for w in words)


def indented(renderable: RenderableType, indent: int = 2) -> Padding:
    """``renderable`` shifted right by ``indent`` columns (a block under its heading)."""
    return Padding(renderable, (0, 0, 0, indent), expand=False)
