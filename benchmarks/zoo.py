"""Zoo fidelity: does every incident of ``scenarios/zoo/`` reproduce and cure on many seeds?

Each zoo scenario replays a public incident: its ``broken`` variant must reproduce the
symptom and its ``fixed`` variant must cure it, by the scenario's own expectations. CI
runs them on the scenario's few seeds (``pytest scenarios/zoo/``); this script runs each
on seeds ``0..N-1`` (default 10) and prints, per incident, how many seeds reproduced
(``broken`` passed) and how many were cured (``fixed`` passed), with the finding kinds the
monitors raised on the broken runs. The goal is >= 9/10 each.

    .venv/bin/python benchmarks/zoo.py                 # 12 incidents x 2 variants x 10 seeds, -j 2
    .venv/bin/python benchmarks/zoo.py --seeds 3 --only wekws_no_zero_grad
    .venv/bin/python benchmarks/zoo.py --markdown      # the table of docs/zoo.md

It writes the JSON (default ``.harness/benchmarks/zoo.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
ZOO = ROOT / "scenarios" / "zoo"


def run_passed(run: dict[str, Any]) -> bool:
    """A run passed when none of its applicable expectations failed (``passed`` None: not applicable)."""
    return all(e.get("passed") is not False for e in run.get("expectations", []))


def measure(path: Path, seeds: int, jobs: int) -> dict[str, Any]:
    """One incident on seeds 0..seeds-1: seeds reproduced (broken passed), cured (fixed passed), kinds seen."""
    from harness import run_scenario

    source = yaml.safe_load(path.read_text(encoding="utf-8"))
    started = time.perf_counter()
    report = run_scenario(
        str(path), seeds=list(range(seeds)), jobs=jobs, results_dir=ROOT / ".harness" / "zoo" / path.stem
    )
    runs = report["runs"]
    by_variant = {v: [r for r in runs if r["variant"] == v] for v in ("broken", "fixed")}
    kinds = Counter(k for r in by_variant["broken"] for k in sorted({f["kind"] for f in r.get("findings", [])}))
    fixed_kinds = Counter(k for r in by_variant["fixed"] for k in sorted({f["kind"] for f in r.get("findings", [])}))
    return {
        "incident": source["name"],
        "source": source.get("source"),
        "workload": source["workload"]["name"],
        "seeds": seeds,
        "reproduced": sum(run_passed(r) for r in by_variant["broken"]),
        "cured": sum(run_passed(r) for r in by_variant["fixed"]),
        "broken_kinds": dict(kinds.most_common()),
        "fixed_kinds": dict(fixed_kinds.most_common()),
        "seconds": round(time.perf_counter() - started, 1),
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    """The docs table: incident, source, reproduced, cured, what the monitors flagged on the broken runs."""
    lines = ["| incident | source | reproduced | cured | flagged on the broken runs (runs) |", "|---|---|---|---|---|"]
    for r in rows:
        flagged = ", ".join(f"`{k}` ({n})" for k, n in r["broken_kinds"].items()) or "-"
        short = (r["source"] or "").replace("https://github.com/", "")
        lines.append(
            f"| `{r['incident']}` | [{short}]({r['source']}) | {r['reproduced']}/{r['seeds']} | "
            f"{r['cured']}/{r['seeds']} | {flagged} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    parser.add_argument("--jobs", "-j", type=int, default=2, help="runs in parallel (default 2)")
    parser.add_argument("--only", action="append", metavar="NAME", help="only this incident (repeatable)")
    parser.add_argument("--markdown", action="store_true", help="print the docs table")
    parser.add_argument("--json", type=Path, default=ROOT / ".harness" / "benchmarks" / "zoo.json")
    args = parser.parse_args(argv)
    paths = sorted(ZOO.glob("*.yaml"))
    if args.only:
        paths = [p for p in paths if p.stem in args.only]
    rows = []
    for path in paths:
        row = measure(path, args.seeds, args.jobs)
        rows.append(row)
        print(
            f"{row['incident']:<40} reproduced {row['reproduced']}/{row['seeds']}  cured {row['cured']}/{row['seeds']}"
            f"  ({row['seconds']} s)",
            flush=True,
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{len(rows)} incident(s), {args.seeds} seed(s) each; load average {load:.2f}")
    if args.markdown:
        print(markdown(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
