"""Does `harness watch` keep its promise on scripts written without reading its rules?

`benchmarks/watch_blind/` holds training scripts written blind (their README says how): 12
clean scripts and 36 one-mistake twins, each twin checked to hurt its clean script's printed
metric by at least 0.05. Every script runs under `harness watch --json`; a clean script with
any finding is a false alarm, a twin with any finding is detected, and a twin whose finding
points within 3 lines of a `# BUG` line is found *at the line*.

    .venv/bin/python benchmarks/watch_blind.py                 # every script, ~8 min on 2 cores
    .venv/bin/python benchmarks/watch_blind.py --only lr_too_high

It prints one row per twin and the three totals, and writes the rows as JSON
(default ``.harness/benchmarks/watch_blind.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "benchmarks" / "watch_blind"
NEAR = 3  # lines between a finding's `where` and a `# BUG` line that still count as at the line


def watch(script: str, out: Path) -> list[dict[str, Any]]:
    """The findings of one script run under `harness watch` (its interpreter: this one)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    harness = [sys.executable, "-m", "harness.cli", "watch", "--json", str(out), "--", sys.executable, script]
    subprocess.run(harness, cwd=CORPUS, capture_output=True, text=True, timeout=900, env=env, check=False)
    report = json.loads(out.read_text(encoding="utf-8"))
    runs = [run for r in report.get("reports", [report]) for run in r.get("runs", [])]
    return [f for run in runs for f in run.get("findings", [])]


def judge(entry: dict[str, Any], findings: list[dict[str, Any]]) -> dict[str, Any]:
    """One row: the kinds found, the lines they point at, whether one is near a `# BUG` line."""
    lines = []
    for finding in findings:
        match = re.search(r"^(.*):(\d+)$", finding.get("where") or "")
        if match and Path(match.group(1)).name == entry["script"]:
            lines.append(int(match.group(2)))
    bugs = entry.get("bug_lines") or []
    return {
        "script": entry["script"],
        "bug": entry["bug"],
        "kinds": sorted({f["kind"] for f in findings}),
        "lines": sorted(set(lines)),
        "at_line": any(abs(line - bug) <= NEAR for line in lines for bug in bugs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="only the scripts whose name contains this")
    parser.add_argument("--out", type=Path, default=ROOT / ".harness" / "benchmarks" / "watch_blind.json")
    args = parser.parse_args()
    entries = json.loads((CORPUS / "corpus.json").read_text(encoding="utf-8"))
    entries = [e for e in entries if not args.only or args.only in e["script"]]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for entry in entries:
            rows.append(judge(entry, watch(entry["script"], Path(tmp) / f"{entry['script']}.json")))
            row = rows[-1]
            mark = "-" if row["bug"] is None else ("@" if row["at_line"] else ("Y" if row["kinds"] else "missed"))
            print(f"{row['script']:<60} {mark:<6} {', '.join(row['kinds']) or '-'}", flush=True)
    clean = [r for r in rows if r["bug"] is None]
    twins = [r for r in rows if r["bug"] is not None]
    alarms = [r["script"] for r in clean if r["kinds"]]
    found = sum(1 for r in twins if r["kinds"])
    at_line = sum(1 for r in twins if r["at_line"])
    print(f"clean scripts: {len(clean)}, false alarms: {len(alarms)} {alarms}")
    if twins:
        print(
            f"twins: {len(twins)}, detected: {found} ({found / len(twins):.0%}), at the line: {at_line} ({at_line / len(twins):.0%})"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
