"""Early-decision benchmark: `harness ablate` exhaustive vs deciding early, side by side.

For each scenario (default: the shipped ``issue11`` and ``student_distillation``) the
ablation's arms (:func:`harness.experiments.ablation.ablation_scenario`) run twice in this process's
tree of worker processes, with the same seeds and ``-j``: once **exhaustive** (every run of
every arm to its end, ``harness ablate --exhaustive``) and once **deciding early** (the
default: a run stops at the end of the epoch where its arm's verdict is decided, an arm's
remaining seeds are skipped, first seeds first; :mod:`harness.judging.decisions`). Printed per
scenario, side by side:

* optimizer steps executed (the sum of every run's ``steps``) and their ratio (target
  <= 40% on issue11 at ``--seeds 3``), and a floor: the steps of the runs of *cured* arms,
  which any early decision must train to their end (a cured arm needs every seed, and its
  ``final.*`` lines are open until the last epoch);
* wall time and CPU time (this process and its workers) of each mode and their ratios,
  with what the machine gave two processes right before each mode (the fixed-matmul
  calibration of ``benchmarks/parallel.py``: 2.00 = two free cores) and the load average;
* whether every verdict is identical: per fix *sufficient* and *necessary*, base and target
  *cured* and every arm's *cured*;
* whether every run that trained to its end in the early mode has exactly the exhaustive
  run's record (history, findings, LR per step, steps, outcomes, trace), and every run
  stopped early the exhaustive run's history up to its last epoch.

    .venv/bin/python benchmarks/ablation.py                       # issue11 + student_distillation, --seeds 3, -j 2
    .venv/bin/python benchmarks/ablation.py --scenarios issue11 --seeds 2
    .venv/bin/python benchmarks/ablation.py --quick               # a seconds-sized tabular scenario (tests)

Exit code 1 when a verdict or a record differs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

QUICK = """\
name: quick_ablation
workload:
  name: tabular
  params: {data: "sklearn:wine", hidden_sizes: [16], zero_init_head: true}
train: {epochs: 3, batch_size: 32, lr: 5.0e-2, warmup_ratio: 0.1, device: cpu, threads: 1}
seeds: [0]
variants:
  broken:
    plugins: {linear_warmup: {interval: epoch}}
    expect: [finding collapse by epoch 1]
  fixed:
    plugins: {linear_warmup: {interval: step}}
    expect:
      - no finding collapse
      - final.loss < 0.9
      - status == ok
"""

COMPARED = ("status", "history", "findings", "lr_per_step", "steps", "outcomes", "trace")


def machine_speedup() -> float:
    """``benchmarks/parallel.py``'s calibration: 2 x t(one process) / t(two at once) of fixed matmul work."""
    spec = importlib.util.spec_from_file_location("benchmark_parallel", HERE / "parallel.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.machine_speedup()


def cpu_seconds() -> float:
    """CPU seconds of this process and of every worker it waited for."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def run_mode(
    derived: Any, arms: list[Any], keys: list[Any], jobs: int, decide: bool, results: Path, calibrate: bool = True
) -> dict[str, Any]:
    """One ablation (exhaustive or deciding early): records, verdicts, steps, wall and CPU time."""
    from harness.execution.runner import run_suite, suite_report
    from harness.experiments.ablation_verdicts import judge_arms

    speedup = machine_speedup() if calibrate else float("nan")
    load = os.getloadavg()[0]
    cpu, started = cpu_seconds(), time.perf_counter()
    records = run_suite(derived, keys, results_dir=results, jobs=jobs, decide=decide)
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    report = suite_report(derived, records)
    section, _ = judge_arms(arms, records, report["variants"])
    verdicts = {
        "fixes": {row["plugin"]: (row["sufficient"], row["necessary"]) for row in section["fixes"]},
        "base": section["base"]["cured"],
        "target": section["target"]["cured"],
        "arms": {
            **{row["base_plus_fix"]["variant"]: row["base_plus_fix"]["cured"] for row in section["fixes"]},
            **{row["target_minus_fix"]["variant"]: row["target_minus_fix"]["cured"] for row in section["fixes"]},
        },
    }
    return {
        "records": records,
        "verdicts": verdicts,
        "cured": {name: report["variants"][name]["passed"] for name in report["variants"]},
        "steps": sum(r.get("steps") or 0 for r in records),
        "wall_s": wall,
        "cpu_s": cpu,
        "machine_speedup": speedup,
        "load": load,
        "trained": sum(r["status"] != "skipped" for r in records),
        "decided": sum(r["status"] == "decided" for r in records),
        "skipped": sum(r["status"] == "skipped" for r in records),
    }


def compare_records(exhaustive: list[dict[str, Any]], early: list[dict[str, Any]]) -> dict[str, Any]:
    """Every run that trained to its end early equals its exhaustive run; a decided run is its prefix."""
    full = {(r["variant"], r["seed"]): r for r in exhaustive}
    same = prefix = 0
    differing: list[str] = []
    for run in early:
        other = full[(run["variant"], run["seed"])]
        name = f"{run['variant']} seed {run['seed']}"
        if run["status"] == "skipped":
            continue
        if run["status"] == "decided":
            n, steps = len(run["history"]), run["steps"]
            if run["history"] == other["history"][:n] and run["lr_per_step"] == other["lr_per_step"][:steps]:
                prefix += 1
            else:
                differing.append(f"{name} (stopped at epoch {n}: not a prefix of the full run)")
            continue
        fields = [f for f in COMPARED if run.get(f) != other.get(f)]
        if fields:
            differing.append(f"{name} ({', '.join(fields)})")
        else:
            same += 1
    return {"identical": same, "prefixes": prefix, "differing": differing}


def bench(
    scenario_path: Path, seeds: list[int], jobs: int, root: Path, log: Any = print, calibrate: bool = True
) -> dict[str, Any]:
    from harness.execution.run_one import cached_workload
    from harness.execution.runner import plan_runs
    from harness.experiments.ablation import ablation_scenario
    from harness.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    derived, arms = ablation_scenario(scenario, "broken", "fixed")
    keys = plan_runs(derived, None, seeds)
    cached_workload(derived).prepare()  # generated data and imports: outside both timings
    log(
        f"ablation: {scenario.name}, {len(arms)} arms x {len(seeds)} seed(s) = {len(keys)} runs, -j {jobs}, "
        f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}"
    )
    modes = {}
    for label, decide in (("exhaustive", False), ("early", True)):
        modes[label] = run_mode(derived, arms, keys, jobs, decide, root / f"{scenario.name}-{label}", calibrate)
        m = modes[label]
        log(
            f"  {label:10s} {m['trained']:3d} runs trained ({m['decided']} stopped when decided, {m['skipped']} skipped), "
            f"{m['steps']} optimizer steps, wall {m['wall_s']:.1f} s, CPU {m['cpu_s']:.1f} s; machine before: "
            f"{m['machine_speedup']:.2f}x for two processes, load {m['load']:.2f}"
        )
    ex, early = modes["exhaustive"], modes["early"]
    floor = sum(r["steps"] for r in ex["records"] if ex["cured"].get(r["variant"]))
    same_verdicts = ex["verdicts"] == early["verdicts"]
    records = compare_records(ex["records"], early["records"])
    steps_ratio = early["steps"] / ex["steps"] if ex["steps"] else float("nan")
    wall_ratio = early["wall_s"] / ex["wall_s"]
    cpu_ratio = early["cpu_s"] / ex["cpu_s"]
    log(
        f"ablation: {scenario.name}: optimizer steps early/exhaustive = {early['steps']}/{ex['steps']} = "
        f"{steps_ratio:.1%} (target <= 40% on issue11 at --seeds 3); floor for these verdicts: {floor / ex['steps']:.1%} "
        f"(every run of a cured arm trains to its end: {floor} steps)"
    )
    log(
        f"ablation: {scenario.name}: wall time early/exhaustive = {early['wall_s']:.1f}/{ex['wall_s']:.1f} s = "
        f"{wall_ratio:.2f}, CPU time = {early['cpu_s']:.1f}/{ex['cpu_s']:.1f} s = {cpu_ratio:.2f}; the machine gave two "
        f"processes {ex['machine_speedup']:.2f}x before exhaustive, {early['machine_speedup']:.2f}x before early"
    )
    log(
        f"ablation: {scenario.name}: identical verdicts: {'yes' if same_verdicts else 'NO'} "
        f"({len(ex['verdicts']['fixes'])} fixes: sufficient/necessary, base/target and {len(ex['verdicts']['arms'])} arms cured); "
        f"runs trained to their end identical to exhaustive: {records['identical']}, stopped runs a prefix of theirs: "
        f"{records['prefixes']}, differing: {len(records['differing'])}"
        + (f" ({'; '.join(records['differing'])})" if records["differing"] else "")
    )
    if not same_verdicts:
        log(f"  exhaustive: {ex['verdicts']}\n  early:      {early['verdicts']}")
    return {
        "scenario": scenario.name,
        "runs": len(keys),
        "steps": {
            "exhaustive": ex["steps"],
            "early": early["steps"],
            "ratio": steps_ratio,
            "floor": floor / ex["steps"],
        },
        "wall_s": {"exhaustive": ex["wall_s"], "early": early["wall_s"], "ratio": wall_ratio},
        "cpu_s": {"exhaustive": ex["cpu_s"], "early": early["cpu_s"], "ratio": cpu_ratio},
        "machine_speedup": {"exhaustive": ex["machine_speedup"], "early": early["machine_speedup"]},
        "counts": {label: {k: m[k] for k in ("trained", "decided", "skipped")} for label, m in modes.items()},
        "identical_verdicts": same_verdicts,
        "verdicts": early["verdicts"],
        "records": records,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenarios",
        nargs="+",
        default=["issue11", "student_distillation"],
        help="shipped scenario names or YAML paths (default: issue11 student_distillation)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per arm (default 3)")
    parser.add_argument("--jobs", "-j", type=int, default=2, help="runs in parallel (default 2)")
    parser.add_argument(
        "--quick", action="store_true", help="a seconds-sized tabular scenario with 2 seeds instead, no calibration"
    )
    args = parser.parse_args(argv)

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="harness-ablation-") as tmp:
        root = Path(tmp)
        if args.quick:
            path = root / "quick.yaml"
            path.write_text(QUICK)
            paths, seeds = [path], [0, 1]
        else:
            paths = [
                Path(s) if s.endswith((".yaml", ".yml")) else ROOT / "scenarios" / f"{s}.yaml" for s in args.scenarios
            ]
            seeds = list(range(args.seeds))
        for path in paths:
            result = bench(path, seeds, args.jobs, root, calibrate=not args.quick)
            results[result["scenario"]] = result
    ok = all(r["identical_verdicts"] and not r["records"]["differing"] for r in results.values())
    print(f"ablation: every verdict identical and every trained run reproduced: {'yes' if ok else 'NO'}")
    results["ok"] = ok
    return results


if __name__ == "__main__":
    sys.exit(0 if main()["ok"] else 1)
