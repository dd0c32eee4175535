"""What `harness watch` adds to a program's start, end and peak memory, with the run-to-run spread.

Two programs, each run plain (`python PROGRAM`) and watched (`harness watch -- python PROGRAM`),
alternating (plain, watched, plain, ...) so a change of machine load hits both alike, each in a
fresh process measured by a small wrapper process (wall time of the whole command; peak resident
memory of its largest process, `ru_maxrss` of the wrapper's children):

- ``torch``: imports torch and trains a small MLP for 20 steps (the watcher loads with torch);
- ``no-torch``: a Python program that never imports torch (the watcher must cost ~nothing).

    .venv/bin/python benchmarks/watch_startup.py              # 7 repeats of each mode
    .venv/bin/python benchmarks/watch_startup.py --repeats 3

It prints per program the median wall time and peak memory of each mode with their min-max
spread, and the differences. The per-step cost is `benchmarks/watch.py`'s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TORCH_PROGRAM = """
import torch
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 4))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(256, 32), torch.randint(0, 4, (256,))
for step in range(20):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
print(round(loss.item(), 4))
"""
PLAIN_PROGRAM = "import json\nprint(json.dumps({'sum': sum(range(1000))}))\n"

#: runs COMMAND, prints its wall time and its children's peak RSS (KiB) as JSON
WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
wall = time.perf_counter() - start
print(json.dumps({"wall": wall, "rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def measure(command: list[str]) -> dict[str, float]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True, env=env, check=True
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def spread(values: list[float], scale: float = 1.0, unit: str = "") -> str:
    return f"{statistics.median(values) * scale:.3g}{unit} ({min(values) * scale:.3g}-{max(values) * scale:.3g})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    harness = [sys.executable, "-m", "harness.cli", "watch", "--"]
    with tempfile.TemporaryDirectory() as tmp:
        programs = {"torch": Path(tmp) / "train.py", "no-torch": Path(tmp) / "plain.py"}
        programs["torch"].write_text(TORCH_PROGRAM)
        programs["no-torch"].write_text(PLAIN_PROGRAM)
        for name, path in programs.items():
            runs: dict[str, list[dict[str, float]]] = {"plain": [], "watched": []}
            for _ in range(args.repeats):
                runs["plain"].append(measure([sys.executable, str(path)]))
                runs["watched"].append(measure([*harness, sys.executable, str(path)]))
            walls = {mode: [r["wall"] for r in rs] for mode, rs in runs.items()}
            rss = {mode: [r["rss_kib"] / 1024 for r in rs] for mode, rs in runs.items()}
            print(f"{name}: {args.repeats} alternating runs of each mode (median, min-max)")
            for mode in runs:
                print(
                    f"  {mode:<8} wall {spread(walls[mode], 1.0, ' s')}  peak memory {spread(rss[mode], 1.0, ' MiB')}"
                )
            extra = statistics.median(walls["watched"]) - statistics.median(walls["plain"])
            memory = statistics.median(rss["watched"]) / statistics.median(rss["plain"])
            print(f"  watched - plain: {extra:+.2f} s wall, {memory:.2f}x peak memory")


if __name__ == "__main__":
    main()
