"""Does the doctor's most likely cause name the injected mistake?

For every shipped incident whose mistake is known (the catalog scenarios of
``scenarios/bugs/`` and the zoo's, ``scenarios/zoo/``), the ``broken`` variant is run on a
few seeds and diagnosed as ``harness doctor`` does (each finding kind's declared causes,
ranked by the evidence of those runs, :func:`harness.core.diagnosis.most_likely`). The
row says whether the top cause is the mistake the scenario injects. The goal is >= 80%.

    .venv/bin/python benchmarks/doctor_causes.py            # 2 seeds, -j 2
    .venv/bin/python benchmarks/doctor_causes.py --seeds 1

It writes the JSON (default ``.harness/benchmarks/doctor_causes.json``): per scenario the
kinds found, every cause in rank order and the top one with its evidence and cure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: scenario (relative to scenarios/) -> the cause (``Cause.name``) its broken variant injects
EXPECTED: dict[str, str] = {
    "bugs/dead_relu.yaml": "biases initialised negative",
    "bugs/foreign_optimizer.yaml": "optimizer built over other parameters",
    "bugs/lr_too_high.yaml": "learning rate too high",
    "bugs/scheduler_per_microbatch.yaml": "scheduler stepped more often than the optimizer",
    "bugs/unnormalised_inputs.yaml": "inputs on the wrong scale",
    "zoo/accelerate_scheduler_per_microbatch.yaml": "scheduler stepped more often than the optimizer",
    "zoo/acestep_warmup_interval_epoch.yaml": "per-step scheduler stepped once per epoch",
    "zoo/daisyrec_sigmoid_before_bce.yaml": "softmax (or sigmoid) before a loss that applies it",
    "zoo/deepsurv_unnormalised_features.yaml": "inputs on the wrong scale",
    "zoo/drexel_shuffled_inputs_only.yaml": "labels that do not match the inputs",
    "zoo/farm_mse_broadcast.yaml": "a regression loss broadcast (N, 1) against (N,)",
    "zoo/jax_summed_loss_sgd.yaml": "loss summed instead of averaged",
    "zoo/lightning_schedule_in_epochs.yaml": "learning rate (near) zero",
    "zoo/transformers_lr_same_outputs.yaml": "learning rate too high",
    "zoo/wekws_no_zero_grad.yaml": "optimizer.zero_grad() never called",
}


def diagnose(path: Path, seeds: int, jobs: int) -> dict[str, Any]:
    """The broken variant's runs and the causes ranked for their findings."""
    from collections import Counter

    from harness import run_scenario
    from harness.core.diagnosis import declared_causes, most_likely, rank_causes
    from harness.core.findings import structural_kinds
    from harness.scenario.arms import catalogue

    results = ROOT / ".harness" / "doctor_causes" / path.stem
    report = run_scenario(str(path), variants=["broken"], seeds=list(range(seeds)), jobs=jobs, results_dir=results)
    runs = report["runs"]
    kinds = Counter(k for r in runs for k in {f["kind"] for f in r.get("findings", [])})
    plugins = catalogue()
    ranked = most_likely(rank_causes(kinds, declared_causes(plugins), runs, structural_kinds(plugins)))
    return {"kinds": dict(kinds), "ranked": [c["cause"] for c in ranked], "top": ranked[0] if ranked else None}


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2, help="seeds 0..N-1 (default 2)")
    parser.add_argument("--jobs", "-j", type=int, default=2)
    parser.add_argument("--json", type=Path, default=ROOT / ".harness" / "benchmarks" / "doctor_causes.json")
    args = parser.parse_args(argv)
    rows = []
    for rel, expected in EXPECTED.items():
        found = diagnose(ROOT / "scenarios" / rel, args.seeds, args.jobs)
        top = found["top"]
        rank = found["ranked"].index(expected) + 1 if expected in found["ranked"] else None
        row = {"scenario": rel, "expected": expected, "top": top and top["cause"], "rank": rank, **found}
        rows.append(row)
        mark = "yes" if rank == 1 else f"no (rank {rank})"
        print(f"{rel:<46} top: {row['top']!s:<48} {mark}", flush=True)
    hits = sum(r["rank"] == 1 for r in rows)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"top cause names the injected mistake: {hits}/{len(rows)} ({hits / len(rows):.0%}); load {load:.2f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2, default=str), encoding="utf-8")
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
