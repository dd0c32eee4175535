"""Doctor benchmark: `harness doctor` on the shipped bugs, issue 11 and an LR 10,000x too high.

For each case the doctor (:func:`harness.experiments.doctor.diagnose`, its runs through
``run_suite`` in worker processes, deciding early as the CLI does) diagnoses the broken
variant without being told the fix; then the case's clean twin (the scenario's ``fixed`` or
``clean`` variant: what a person wrote as the cure) trains over the same seeds. Printed per
case: the proven fix, its seeds cured, its main metric against the reference's (the bar a
cure is judged by) and the twin's, the LR range test's suggestion, and the wall time of the
doctor alone.

    .venv/bin/python benchmarks/doctor.py                 # every case, 3 seeds, -j 2
    .venv/bin/python benchmarks/doctor.py --cases digits_lr10 lr_too_high
    .venv/bin/python benchmarks/doctor.py --quick         # lr_too_high on 1 seed (tests; well under a minute)

Exit code 1 when a proven cure's metric is below the reference's mean minus the tolerance
(a "cure" that is not one) or a case errors.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

#: name -> (scenario file, broken variant, clean twin or None)
CASES: dict[str, tuple[Path, str, str | None]] = {
    **{p.stem: (p, "broken", "fixed") for p in sorted((ROOT / "scenarios" / "bugs").glob("*.yaml"))},
    "issue11": (ROOT / "scenarios" / "issue11.yaml", "broken", "fixed"),
    "digits_lr10": (HERE / "scenarios" / "digits_lr10.yaml", "broken", "clean"),
}
QUICK = ["lr_too_high"]


def _runner(results: Path, jobs: int) -> Any:
    from harness.execution.runner import run_suite

    def run(scenario: Any, keys: list[Any], **options: Any) -> list[Any]:
        return run_suite(scenario, keys, results_dir=results, jobs=jobs, **options)

    return run


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None]
    return sum(finite) / len(finite) if finite else None


def run_case(name: str, seeds: list[int], jobs: int, work: Path, max_candidates: int) -> dict[str, Any]:
    """Diagnose one case and train its twin; the numbers of one printed line."""
    from harness.execution.runner import plan_runs
    from harness.experiments.doctor import diagnose
    from harness.judging.verdicts import final_value
    from harness.scenario import load_scenario

    path, variant, twin = CASES[name]
    scenario = load_scenario(path)
    started = time.perf_counter()
    _, records, section = diagnose(scenario, variant, seeds, _runner(work / name, jobs), max_candidates=max_candidates)
    wall = time.perf_counter() - started
    metric, best, ref = section["metric"], section["best"], section.get("reference") or {}
    twin_mean = None
    if twin is not None and twin in scenario.variants:
        twin_records = _runner(work / f"{name}-twin", jobs)(scenario, plan_runs(scenario, [twin], seeds))
        twin_mean = _mean([final_value(r, metric) for r in twin_records])
    test = section.get("lr_range") or {}
    return {
        "case": name,
        "seeds": len(seeds),
        "best": best["name"] if best else None,
        "cured": f"{best['passed_runs']}/{best['runs']}" if best else "-",
        "metric": metric,
        "cure_mean": (best or {}).get("metric", {}).get("mean"),
        "reference_mean": ref.get("mean"),
        "threshold": ref.get("threshold"),
        "reference": ref.get("what"),
        "twin": twin,
        "twin_mean": twin_mean,
        "suggested_lr": test.get("suggested_lr"),
        "current_lr": test.get("current_lr"),
        "runs": sum(r.get("status") != "skipped" for r in records),
        "skipped": sum(r.get("status") == "skipped" for r in records),
        "wall_s": round(wall, 1),
        "honest": best is None or ref.get("threshold") is None or best["metric"]["mean"] >= ref["threshold"],
    }


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def print_row(row: dict[str, Any]) -> None:
    lr = f", lr {_fmt(row['current_lr'], '.3g')} -> {_fmt(row['suggested_lr'], '.3g')}" if row["suggested_lr"] else ""
    print(
        f"{row['case']}: {row['best'] or 'no proven fix'} {row['cured']} seeds; {row['metric']} "
        f"{_fmt(row['cure_mean'])} (reference {_fmt(row['reference_mean'])}, bar {_fmt(row['threshold'])}; "
        f"twin {row['twin']} {_fmt(row['twin_mean'])}){lr}; {row['runs']} runs trained, {row['skipped']} skipped, "
        f"{row['wall_s']} s",
        flush=True,
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), help="default: every case")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--max-candidates", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help=f"{', '.join(QUICK)} on 1 seed, 3 candidates")
    args = parser.parse_args(argv)
    cases = QUICK if args.quick else args.cases or list(CASES)
    seeds = [0] if args.quick else list(range(args.seeds))
    max_candidates = 3 if args.quick else args.max_candidates
    rows = []
    with tempfile.TemporaryDirectory(prefix="doctor-bench-") as tmp:
        for name in cases:
            row = run_case(name, seeds, args.jobs, Path(tmp), max_candidates)
            print_row(row)
            rows.append(row)
    ok = all(r["honest"] for r in rows)
    print("every proven cure reaches its reference: " + ("yes" if ok else "NO"))
    return {"ok": ok, "rows": {r["case"]: r for r in rows}}


if __name__ == "__main__":
    sys.exit(0 if main()["ok"] else 1)
