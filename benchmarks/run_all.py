"""Every benchmark, one after the other, each in a fresh process; then a summary.

    .venv/bin/python benchmarks/run_all.py            # startup, parity, parallel, collapse_stop
    .venv/bin/python benchmarks/run_all.py parity     # only the named ones
    .venv/bin/python benchmarks/run_all.py ablation   # the long one (an hour on 2 cores), only when named

Timings depend on what else runs on the machine: every benchmark prints the load
average next to its numbers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("startup", "parity", "parallel", "collapse_stop", "ablation")
DEFAULT = ("startup", "parity", "parallel", "collapse_stop")  # ablation trains two full ablations: only when named


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(DEFAULT)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}", file=sys.stderr)
        return 2
    summary: list[str] = []
    failed = False
    for name in names:
        print(f"==> {name}", flush=True)
        proc = subprocess.run([sys.executable, str(HERE / f"{name}.py")], stdout=subprocess.PIPE, text=True)
        print(proc.stdout, end="", flush=True)
        if proc.returncode != 0:
            failed = True
            summary.append(f"{name}: FAILED (exit {proc.returncode})")
        summary += [line for line in proc.stdout.splitlines() if "target" in line or "torch.equal" in line]
    print(f"==> summary (load average {os.getloadavg()[0]:.2f})")
    print("\n".join(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
