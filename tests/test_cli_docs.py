"""Every option of `harness run`, `ablate`, `report`, `doctor` and `watch` is documented in the docs (docs/*.md)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from harness.cli import main

DOCS_DIR = Path(__file__).resolve().parents[1] / "docs"
DOCS = "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS_DIR.rglob("*.md")))


@pytest.mark.parametrize("command", ["run", "ablate", "report", "doctor", "watch"])
def test_every_option_is_in_the_docs(command: str) -> None:
    cmd = main.commands[command]
    missing = []
    for param in cmd.params:
        if not isinstance(param, click.Option) or param.name == "help":
            continue
        longs = [o for o in param.opts if o.startswith("--")]
        if not any(f"`{o}" in DOCS for o in longs):
            missing.append("/".join(longs))
    assert missing == [], (
        f"document these `harness {command}` options in docs/ (getting-started.md, ablation.md, reports.md): {missing}"
    )
