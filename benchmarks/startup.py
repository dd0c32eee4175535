"""Start-up benchmark: wall time of `harness --help` and `harness plugins`, and what they import.

Runs the installed ``harness`` console script (next to this interpreter) ``--runs``
times per command and prints the median and minimum wall time; then runs each once
under ``python -X importtime`` and reports whether torch or transformers were imported
(they must not be: both commands only read metadata). Target: ``--help`` <= 0.3 s.

    .venv/bin/python benchmarks/startup.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HEAVY = ("torch", "transformers")
COMMANDS = (("--help",), ("plugins",))


def harness_script() -> list[str]:
    script = Path(sys.executable).with_name("harness")
    return [str(script)] if script.exists() else [sys.executable, "-m", "harness.cli"]


def wall_times(args: tuple[str, ...], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(harness_script() + list(args), check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def heavy_imports(args: tuple[str, ...]) -> list[str]:
    """Top-level heavy packages `python -X importtime` shows the command importing."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "harness.cli", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    return sorted(m for m in imported if m.split(".")[0] in HEAVY and "." not in m)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per command (default 7)")
    args = parser.parse_args(argv)
    print(f"startup: {' '.join(harness_script())}; load average {os.getloadavg()[0]:.2f}")
    result: dict[str, Any] = {}
    for command in COMMANDS:
        wall_times(command, 1)  # warm the file cache
        times = wall_times(command, args.runs)
        heavy = heavy_imports(command)
        name = "harness " + " ".join(command)
        result[name] = {"median_s": statistics.median(times), "min_s": min(times), "heavy": heavy}
        target = " (target <= 0.3 s)" if command == ("--help",) else ""
        print(
            f"startup: {name:<16} median {statistics.median(times):.3f} s, min {min(times):.3f} s "
            f"over {args.runs} runs{target}; imports torch/transformers: {', '.join(heavy) or 'no'}"
        )
    return result


if __name__ == "__main__":
    main()
