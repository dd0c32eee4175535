"""Watch overhead: the per-step cost of ``harness watch`` on scripts of the corpus (issue 24).

Each corpus script runs unmodified, in a fresh process, either plain or under the watcher
(``harness.watch()`` around ``runpy``: the same watcher ``harness watch`` starts in its child),
with one extra observer in both: an optimizer step post-hook that stamps
``time.perf_counter()``. A step's time is the gap between two consecutive stamps (data
loading, forward, loss, backward, the step and, watched, every observer and monitor hook);
the median ignores the few gaps that span an epoch's validation. Plain and watched runs
alternate (plain, watched, plain, watched, ...) so a change of machine load hits both alike;
the ratio is the median of the watched runs' median step times over the plain runs'.

    .venv/bin/python benchmarks/watch.py            # 5 scripts x 3 repeats of each mode
    .venv/bin/python benchmarks/watch.py --quick    # 3 scripts x 1 repeat
    .venv/bin/python benchmarks/watch.py --corpus   # the detection table: every corpus script under `harness watch`

``--corpus`` runs every script of ``examples/scripts/corpus.json`` under ``harness watch --json``
and prints, per clean script, its findings (false alarms) and, per bugged twin, whether the
bug's finding came, whether its ``where`` is the ``# BUG`` line, and the script's printed
metrics next to its clean twin's.

Goal (issue 24): <= 1.03x. TrainCheck's selective mode costs 0.99-1.36x per iteration.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "examples" / "scripts"
DEFAULT_SCRIPTS = (
    "classifier.py",
    "classifier_bn.py",
    "rnn_lm.py",
    "classifier_accumulate.py",
    "label_smoothing_kl.py",
)


def child(mode: str, script: str, out: str) -> None:
    """Run ``script`` (plain or watched) and write its step stamps to ``out``."""
    import torch
    from torch.optim.optimizer import register_optimizer_step_post_hook

    torch.set_num_threads(1)
    stamps: list[float] = []
    handle = register_optimizer_step_post_hook(lambda *_: stamps.append(time.perf_counter()))
    sys.argv = [script]
    os.chdir(SCRIPTS)
    sink = open(os.devnull, "w")  # noqa: SIM115 - the script's own prints
    stdout, sys.stdout = sys.stdout, sink
    try:
        if mode == "watched":
            from harness.integrations.watch import watch

            with watch() as watcher:
                runpy.run_path(script, run_name="__main__")
            findings = len(watcher.findings)
        else:
            runpy.run_path(script, run_name="__main__")
            findings = 0
    finally:
        sys.stdout = stdout
        handle.remove()
    Path(out).write_text(json.dumps({"stamps": stamps, "findings": findings}))


def step_median(stamps: list[float]) -> float:
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    return statistics.median(gaps)


def measure(script: str, repeats: int) -> dict[str, list[float]]:
    medians: dict[str, list[float]] = {"plain": [], "watched": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            for mode in ("plain", "watched"):
                out = Path(tmp) / f"{mode}-{i}.json"
                subprocess.run(
                    [sys.executable, __file__, "--child", mode, script, str(out)],
                    check=True,
                    env={**os.environ, "OMP_NUM_THREADS": "1"},
                )
                result = json.loads(out.read_text())
                medians[mode].append(step_median(result["stamps"]))
    return medians


def watched(script: str, *launcher: str) -> tuple[dict[str, float], list[dict[str, object]]]:
    """``harness watch --json`` on a corpus script: its RESULT metrics and its findings."""
    import re

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "harness.cli",
                "watch",
                "--json",
                str(out),
                "--",
                *(launcher or ("python",)),
                script,
            ],
            cwd=SCRIPTS,
            capture_output=True,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        report = json.loads(out.read_text())
    found = re.search(r"^RESULT (.*)$", proc.stdout, re.M)
    metrics = {k: float(v) for k, v in (item.split("=") for item in found.group(1).split())} if found else {}
    return metrics, [f for run in report["runs"] for f in run["findings"]]


def corpus() -> None:
    manifest = json.loads((SCRIPTS / "corpus.json").read_text())
    results = {name: watched(name) for name in manifest["clean"]}
    results[manifest["ddp"]] = watched(manifest["ddp"], "torchrun", "--nproc-per-node", "2")
    alarms = {name: sorted({str(f["kind"]) for f in results[name][1]}) for name in results}
    print(f"clean scripts with a finding: {sum(bool(k) for k in alarms.values())} of {len(alarms)}")
    for name, kinds in alarms.items():
        print(f"  {name:30s} {', '.join(kinds) or 'no finding'}  {results[name][0]}")
    detected = located = 0
    print("bugged twins: expected kind, found, where at the # BUG line, metrics (twin vs clean)")
    for twin, spec in manifest["twins"].items():
        metrics, findings = watched(twin)
        lines = [i for i, text in enumerate((SCRIPTS / twin).read_text().splitlines(), 1) if "# BUG" in text]
        hits = [f for f in findings if f["kind"] == spec["kind"]]
        at_line = bool(hits) and all(f["where"] == f"{twin}:{lines[0]}" for f in hits)
        detected += bool(hits)
        located += at_line
        print(
            f"  {twin:50s} {spec['kind']:20s} {'yes' if hits else 'NO ':3s} "
            f"{'yes' if at_line else ('n/a' if not spec['located'] else 'NO'):3s} {metrics} vs {results[spec['clean']][0]}"
        )
    print(
        f"detected {detected} of {len(manifest['twins'])}; at the # BUG line {located} of "
        f"{sum(t['located'] for t in manifest['twins'].values())} that name a call"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, metavar=("MODE", "SCRIPT", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="3 scripts, 1 repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--corpus", action="store_true", help="the detection table instead of the overhead")
    parser.add_argument("--scripts", nargs="+", metavar="SCRIPT", help="corpus scripts to time (default: five)")
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    if args.corpus:
        corpus()
        return 0
    scripts = args.scripts or (DEFAULT_SCRIPTS[:3] if args.quick else DEFAULT_SCRIPTS)
    repeats = 1 if args.quick else args.repeats
    print(
        f"watch overhead: median step time, watched / plain ({repeats} interleaved run(s) of each; "
        f"load average {os.getloadavg()[0]:.2f})"
    )
    ratios = []
    for script in scripts:
        medians = measure(script, repeats)
        plain, watched = statistics.median(medians["plain"]), statistics.median(medians["watched"])
        ratios.append(watched / plain)
        print(
            f"  {script:28s} plain {plain * 1e6:8.0f} us  watched {watched * 1e6:8.0f} us  ratio {watched / plain:.3f}x"
            f"  (+{(watched - plain) * 1e6:.0f} us/step)"
        )
    print(f"median ratio {statistics.median(ratios):.3f}x (target <= 1.03x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
