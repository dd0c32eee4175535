"""Every option of `harness run`, `harness ablate` and `harness report` is documented in the README."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from harness.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", ["run", "ablate", "report"])
def test_every_option_is_in_the_readme(command: str) -> None:
    cmd = main.commands[command]
    missing = []
    for param in cmd.params:
        if not isinstance(param, click.Option) or param.name == "help":
            continue
        longs = [o for o in param.opts if o.startswith("--")]
        if not any(f"`{o}" in README for o in longs):
            missing.append("/".join(longs))
    assert missing == [], f"document these `harness {command}` options in README.md: {missing}"
