"""Parallel-efficiency benchmark: a suite of equal runs with `harness run -j 2` vs `-j 1`.

Writes a one-variant devign scenario with ``--runs`` seeds (default 4; every run the
same size) to a temporary directory and times ``harness run SCENARIO -q -j N`` end to
end (process start, worker start-up, training, report) for N = 1 and N = 2,
alternating, ``--repeats`` times. Prints the speed ratio t(-j 1) / t(-j 2) of the
median wall times (target >= 1.8 on a 2-core machine).

Torch threads per worker are what the CLI gives them (``harness.execution.executor.WORKER_THREADS``:
one thread per worker unless ``train.threads`` says otherwise, so a run's numbers do not
depend on ``-j``). Where that gives a ``-j 1`` worker more than one thread, a second
baseline with ``train.threads: 1`` is timed too, so the ratio can be read both ways.

    .venv/bin/python benchmarks/parallel.py
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCENARIO = """\
name: parallel_bench
workload:
  name: devign
  params: {{n_train: {n_train}, n_val: 256, max_length: 96, hidden_size: 64, num_layers: 2, num_heads: 4,
           intermediate_size: 128, attention_dropout: 0.0}}
train: {{epochs: {epochs}, batch_size: 64, lr: 5.0e-4, device: cpu{threads}}}
seeds: {seeds}
variants:
  plain:
    expect:
      - status == ok
"""


def harness_cmd() -> list[str]:
    script = Path(sys.executable).with_name("harness")
    return [str(script)] if script.exists() else [sys.executable, "-m", "harness.cli"]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # every waited-for descendant: the workers too
    return usage.ru_utime + usage.ru_stime


def timed_run(scenario: Path, jobs: int, results: Path, cpu: list[float] | None = None) -> float:
    """Wall seconds of one `harness run`; its CPU seconds (workers included) go to ``cpu``."""
    cpu_before, started = children_cpu(), time.perf_counter()
    proc = subprocess.run(
        harness_cmd() + ["run", str(scenario), "-q", "-j", str(jobs), "--results-dir", str(results)],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"harness run -j {jobs} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    if cpu is not None:
        cpu.append(children_cpu() - cpu_before)
    return elapsed


CALIBRATION = """
import time, torch
torch.set_num_threads(1)
x = torch.randn(256, 256)
y = x @ x
started = time.perf_counter()
for _ in range({n}):
    y = x @ x
print(time.perf_counter() - started)
"""


def machine_speedup(n: int = 3000) -> float:
    """What two processes can gain on this machine right now: the same fixed matmul work
    run by one process, then by two at once; 2 x t(one) / t(two). 2.0 = two free cores."""
    code = CALIBRATION.format(n=n)

    def together(k: int) -> float:
        procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(k)]
        return max(float(p.communicate()[0]) for p in procs)

    return 2 * together(1) / together(2)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=4, help="equal runs in the suite (default 4)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating repeats per setting (default 2)")
    parser.add_argument("--n-train", type=int, default=2500, help="training samples per run (default 2500, as issue11)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run (default 2)")
    args = parser.parse_args(argv)

    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="harness-parallel-") as tmp:
        root = Path(tmp)
        paths = {}
        for label, threads in (("default", ""), ("one_thread", ", threads: 1")):
            path = root / f"{label}.yaml"
            path.write_text(
                SCENARIO.format(n_train=args.n_train, epochs=args.epochs, threads=threads, seeds=list(range(args.runs)))
            )
            paths[label] = path
        from harness.execution.executor import WORKER_THREADS

        threads = {jobs: WORKER_THREADS for jobs in (1, 2)}
        settings: tuple[tuple[str, Path, int], ...] = (("-j 1", paths["default"], 1), ("-j 2", paths["default"], 2))
        if threads[1] != 1:
            settings = settings[:1] + (("-j 1, 1 thread", paths["one_thread"], 1),) + settings[1:]
        print(
            f"parallel: {args.runs} equal devign runs (n_train {args.n_train}, {args.epochs} epochs, issue11 model size), "
            f"{cores} cores, torch threads per worker: -j 1 {threads[1]}, -j 2 {threads[2]}; "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        timed_run(paths["default"], 2, root / "warm")  # data cache, file cache, .pyc: outside the timings
        capacity = [machine_speedup()]
        print(
            f"  machine: two processes of fixed matmul work run {capacity[0]:.2f}x as fast as one (2.00 = two free cores)"
        )
        times: dict[str, list[float]] = {label: [] for label, _, _ in settings}
        cpu: dict[str, list[float]] = {label: [] for label, _, _ in settings}
        for r in range(args.repeats):
            for label, path, jobs in settings if r % 2 == 0 else tuple(reversed(settings)):
                times[label].append(timed_run(path, jobs, root / f"res-{r}-{label.replace(' ', '')}", cpu[label]))
            print(
                f"  repeat {r + 1}/{args.repeats}: "
                + ", ".join(f"{label} {times[label][-1]:.1f} s" for label, _, _ in settings)
                + f"; load average {os.getloadavg()[0]:.2f}"
            )
        capacity.append(machine_speedup())
        print(f"  machine after: {capacity[1]:.2f}x")
    med = {label: statistics.median(t) for label, t in times.items()}
    ratio = med["-j 1"] / med["-j 2"]
    med_cpu = {label: statistics.median(t) for label, t in cpu.items()}
    print("parallel: median wall time " + ", ".join(f"{label} {m:.1f} s" for label, m in med.items()))
    print(
        "parallel: CPU time of the whole suite (harness and its workers) "
        + ", ".join(f"{label} {m:.1f} s" for label, m in med_cpu.items())
        + f": -j 2 spends {med_cpu['-j 2'] / med_cpu['-j 1']:.2f}x the CPU of -j 1 (1.00 = no cost to running side by side)"
    )
    extra = ""
    if "-j 1, 1 thread" in med:
        extra = f"; vs -j 1 with 1 thread = {med['-j 1, 1 thread'] / med['-j 2']:.2f}x"
    print(
        f"parallel: speed-up -j 2 vs -j 1 = {ratio:.2f}x (target >= 1.8){extra}; what the machine "
        f"gave two processes meanwhile: {min(capacity):.2f}x-{max(capacity):.2f}x; load average {os.getloadavg()[0]:.2f}"
    )
    return {"median_s": med, "median_cpu_s": med_cpu, "ratio": ratio, "machine_speedup": capacity}


if __name__ == "__main__":
    main()
