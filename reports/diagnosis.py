"""The doctor's diagnosis as text: per finding kind, its likely causes ranked by the run's evidence.

Printed above the arms the doctor tried, whether or not a plugin can apply a cure: the
user reads the cause, what in the run supports it, and the change to make. A cause the
evidence rules out is named on one line; at most :data:`SHOWN` causes per kind are told in
full. Lines are wrapped to the console's width (80 columns fit).
"""

from __future__ import annotations

import textwrap
from typing import Any

from rich.console import Console
from rich.markup import escape

#: causes told in full per finding kind (the rest: one line naming them)
SHOWN = 2
MARK = {"supports": "[bold]likely[/]", "possible": "possible", "rules out": "[dim]ruled out[/]"}


def _wrapped(console: Console, label: str, text: str, indent: int) -> None:
    width = max(40, min(console.width, 100)) - indent
    lines = textwrap.wrap(f"{label}{text}", width=width, subsequent_indent=" " * len(label)) or [label]
    for line in lines:
        console.print(" " * indent + escape(line), highlight=False)


def print_diagnosis(console: Console, diagnosis: list[dict[str, Any]], shown: int = SHOWN) -> None:
    """The diagnosis block (nothing when there is none): ``shown`` causes per kind told in full."""
    if not diagnosis:
        return
    from harness.core.diagnosis import most_likely

    console.print("[bold]diagnosis[/] (causes ranked by what the run shows)")
    top = most_likely(diagnosis)
    if top and top[0]["verdict"] == "supports":
        _wrapped(console, "most likely: ", f"{top[0]['cause']} (explains {top[0]['explains']} finding kind(s))", 2)
    for entry in diagnosis:
        console.print(f"  [bold]{escape(entry['kind'])}[/] ({entry['runs']} run(s))", highlight=False)
        fresh = [c for c in entry["causes"] if not c.get("repeat")]
        told = [c for c in fresh if c["verdict"] != "rules out"][:shown]
        for rank, cause in enumerate(told, start=1):
            console.print(f"    {rank}. {MARK[cause['verdict']]}: {escape(cause['cause'])}", highlight=False)
            _wrapped(console, "seen: ", cause["evidence"], 7)
            _wrapped(console, "cure: ", cause["cure"] + (f" [plugin: {cause['plugin']}]" if cause["plugin"] else ""), 7)
        rest = [c["cause"] for c in fresh if c not in told]
        again = [c["cause"] for c in entry["causes"] if c.get("repeat")]
        if again:
            _wrapped(console, "also: ", "; ".join(again) + " (above)", 4)
        if rest:
            _wrapped(console, "also considered: ", "; ".join(rest), 4)
        if not entry["causes"]:
            console.print("    no cause declared for this kind", highlight=False)
