"""The ``harness`` command line: ``main`` (the click group), the shared driver, the commands."""

from harness.cli.main import main

__all__ = ["main"]
