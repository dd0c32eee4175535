"""The user-code detector benchmark (``benchmarks/detectors.py --user-code``).

Every bug of :data:`user_code.BUGS` and every clean twin runs on seeds 0..N-1 through the
same executor as ``harness run``, with every default monitor on and the catalog
benchmark's clean recipe (AdamW, the core default, with a per-step linear warmup over
10% of the steps). One scenario per workload class: a twin's scenario holds its
``clean`` variant and the config bugs of that twin; a bug class has its own.

Then, per bug: does it *hurt* (its seed-mean final F1, binary F1 or macro F1, more than
0.05 below its clean twin's, or its final validation loss at least 1.5x and 0.1 above the
twin's, or a run that errored or diverged)? Bugs that do not hurt are shown but left out
of the totals: a detector cannot be blamed for missing a mistake that changed nothing.
A run is *detected* when it recorded any finding, or was refused before training by the
workload contract check (a ``ContractError``, counted as the ``contract`` detector at
epoch 0); a clean twin's run should record none.
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from user_code import BUGS, FAMILIES, QUICK_BUGS, TWINS, UserBug

#: the clean recipe of the catalog benchmark: AdamW with a per-step linear warmup
BASE_PLUGINS: dict[str, Any] = {"linear_warmup": {"interval": "step"}}
F1_MARGIN = 0.05  # a bug hurts when its seed-mean F1 is this much below its twin's...
LOSS_RATIO, LOSS_MARGIN = 1.5, 0.1  # ...or its validation loss this many times and this much above
FAILED = ("error", "diverged", "timeout")


@dataclass
class Outcome:
    """One run's result as the benchmark reads it."""

    case: str  # a bug's name, or "clean"
    twin: str
    seed: int
    status: str
    findings: list[dict[str, Any]]
    f1: float | None
    val_loss: float | None
    error: str | None = None

    @property
    def first_epoch(self) -> int | None:
        return min((f["epoch"] for f in self.findings), default=None)

    @property
    def kinds(self) -> list[str]:
        return sorted({f["kind"] for f in self.findings})


def scenarios(bugs: list[UserBug], seeds: list[int]) -> list[tuple[dict[str, Any], dict[str, tuple[str, str]]]]:
    """``(scenario dict, {variant: (case, twin)})`` per workload class: each twin's (its clean
    variant and its config bugs), then one per bug class."""
    plans = []
    for twin in TWINS.values():
        variants = {"clean": {"description": "the clean twin", "plugins": dict(BASE_PLUGINS)}}
        cases = {"clean": ("clean", twin.name)}
        for bug in (b for b in bugs if b.twin == twin.name and b.ref is None):
            variants[bug.name] = {
                "description": bug.description,
                "plugins": {**BASE_PLUGINS, **bug.plugins},
                "train": dict(bug.train),
            }
            cases[bug.name] = (bug.name, twin.name)
        plans.append((_scenario(f"user_{twin.name}", twin.ref, twin.train, variants, seeds), cases))
    for bug in (b for b in bugs if b.ref is not None):
        variants = {bug.name: {"description": bug.description, "plugins": dict(BASE_PLUGINS)}}
        plans.append(
            (
                _scenario(f"user_{bug.name}", bug.ref, TWINS[bug.twin].train, variants, seeds),
                {bug.name: (bug.name, bug.twin)},
            )
        )
    return plans


def _scenario(name: str, ref: str, train: dict[str, Any], variants: dict[str, Any], seeds: list[int]) -> dict[str, Any]:
    return {
        "name": name,
        "workload": {"name": ref},
        "train": {**train, "warmup_ratio": 0.1, "device": "cpu", "threads": 1},
        "seeds": seeds,
        "variants": variants,
    }


def outcome(record: dict[str, Any], case: str, twin: str) -> Outcome:
    """The benchmark's view of a run record: status, findings, the last epoch's F1 and validation loss."""
    final = record["history"][-1] if record.get("history") else {}
    error = record.get("error", {}).get("message") if record["status"] in FAILED else None
    findings = [{k: f[k] for k in ("kind", "plugin", "epoch")} for f in record.get("findings", [])]
    if record.get("error", {}).get("type") == "ContractError":  # refused before training, with the reason
        findings.append({"kind": "contract", "plugin": "contract", "epoch": 0})
    return Outcome(
        case,
        twin,
        record["seed"],
        record["status"],
        findings,
        _number(final.get("f1")),
        _number(final.get("val_loss")),
        error,
    )


def _number(value: Any) -> float | None:
    """A finite metric value, or None (a diverged run's NaN; strict JSON has no NaN)."""
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def run(bugs: list[UserBug], seeds: list[int], jobs: int, results_dir: Path, log: Any = print) -> list[Outcome]:
    """Every scenario through the executor of ``harness run``; the outcomes of every run."""
    import yaml

    from harness.execution.runner import plan_runs, run_suite
    from harness.scenario import load_scenario

    _import_ahead()
    outcomes: list[Outcome] = []
    for spec, cases in scenarios(bugs, seeds):
        path = results_dir / f"{spec['name']}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        scenario = load_scenario(path)  # validated like any scenario before anything trains
        started = time.perf_counter()
        records = run_suite(scenario, plan_runs(scenario), results_dir=results_dir / spec["name"], jobs=jobs)
        log(f"  {spec['name']}: {len(records)} runs in {time.perf_counter() - started:.1f} s")
        outcomes += [outcome(r, *cases[r["variant"]]) for r in records]
    return outcomes


def _import_ahead() -> None:
    """What every run imports lazily (the warmup's scheduler, torch.optim's first optimizer,
    scikit-learn): once here, so the forked workers inherit it instead of paying it per run."""
    import sklearn.datasets  # noqa: F401
    import torch
    from transformers import get_linear_schedule_with_warmup  # noqa: F401

    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])


def _mean(values: list[float | None]) -> float:
    """The mean of the finite values; a missing or non-finite one (a run that failed) counts as NaN."""
    clean = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.fmean(clean) if clean and len(clean) == len(values) else math.nan


def hurts(runs: list[Outcome], twin_runs: list[Outcome]) -> dict[str, Any]:
    """Whether a bug hurts compared with its clean twin, and why (see the module docstring)."""
    f1, twin_f1 = _mean([o.f1 for o in runs]), _mean([o.f1 for o in twin_runs])
    loss, twin_loss = _mean([o.val_loss for o in runs]), _mean([o.val_loss for o in twin_runs])
    reasons = []
    failed = sorted({o.status for o in runs if o.status in FAILED})
    if failed:
        reasons.append("/".join(failed))
    if math.isnan(f1) or f1 < twin_f1 - F1_MARGIN:
        reasons.append(f"f1 {f1:.2f} vs {twin_f1:.2f}")
    if math.isnan(loss) or (loss >= LOSS_RATIO * twin_loss and loss >= twin_loss + LOSS_MARGIN):
        reasons.append(f"val_loss {loss:.2f} vs {twin_loss:.2f}")
    numbers = {"f1": f1, "twin_f1": twin_f1, "val_loss": loss, "twin_val_loss": twin_loss}
    return {"hurts": bool(reasons), "why": "; ".join(reasons), **{k: _finite(v) for k, v in numbers.items()}}


def _finite(value: float) -> float | None:
    """``value``, or None for NaN (strict JSON has no NaN)."""
    return None if math.isnan(value) else round(value, 4)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def bug_rows(bugs: list[UserBug], outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """Per bug: the hurts decision, the runs detected, the first epoch (median) and the kinds seen."""
    rows = []
    for bug in bugs:
        runs = [o for o in outcomes if o.case == bug.name]
        twin_runs = [o for o in outcomes if o.case == "clean" and o.twin == bug.twin]
        detected = [o for o in runs if o.findings]
        rows.append(
            {
                "bug": bug.name,
                "twin": bug.twin,
                "family": bug.family,
                "description": bug.description,
                **hurts(runs, twin_runs),
                "runs": len(runs),
                "detected": len(detected),
                "first_epoch_median": _median([o.first_epoch for o in detected]),
                "kinds": sorted({k for o in detected for k in o.kinds}),
                "statuses": sorted({o.status for o in runs}),
                "errors": sorted({o.error for o in runs if o.error}),
            }
        )
    return rows


def detector_rows(outcomes: list[Outcome], hurting: set[str], monitors: list[str]) -> list[dict[str, Any]]:
    """Per monitor: the hurting bugs' runs with a finding of it, and the clean runs with one (false alarms)."""
    bugged = [o for o in outcomes if o.case in hurting]
    clean = [o for o in outcomes if o.case == "clean"]
    rows = []
    for name in monitors:
        caught = [o for o in bugged if any(f["plugin"] == name for f in o.findings)]
        alarms = [o for o in clean if any(f["plugin"] == name for f in o.findings)]
        rows.append(
            {
                "detector": name,
                "detected": len(caught),
                "runs": len(bugged),
                "false_alarms": len(alarms),
                "clean_runs": len(clean),
                "kinds": sorted({f["kind"] for o in caught for f in o.findings if f["plugin"] == name}),
            }
        )
    return rows


def summarize(bugs: list[UserBug], outcomes: list[Outcome], monitors: list[str]) -> dict[str, Any]:
    """The per-bug rows, the per-detector rows and the totals over the bugs that hurt."""
    rows = bug_rows(bugs, outcomes)
    hurting = {r["bug"] for r in rows if r["hurts"]}
    bugged = [o for o in outcomes if o.case in hurting]
    clean = [o for o in outcomes if o.case == "clean"]
    detected = [o for o in bugged if o.findings]
    every_seed = [r["bug"] for r in rows if r["hurts"] and r["runs"] and r["detected"] == r["runs"]]
    twins = {
        t: {
            "f1": _finite(_mean([o.f1 for o in clean if o.twin == t])),
            "val_loss": _finite(_mean([o.val_loss for o in clean if o.twin == t])),
        }
        for t in dict.fromkeys(o.twin for o in clean)
    }
    totals = {
        "hurting_bugs": len(hurting),
        "bugs": len(rows),
        "hurting_runs": len(bugged),
        "detected_runs": len(detected),
        "share": len(detected) / len(bugged) if bugged else None,
        "bugs_detected_every_seed": every_seed,
        "clean_runs": len(clean),
        "clean_runs_with_finding": [{"twin": o.twin, "seed": o.seed, "kinds": o.kinds} for o in clean if o.findings],
        "not_hurting": [r["bug"] for r in rows if not r["hurts"]],
        "first_epoch_median": _median([o.first_epoch for o in detected]),
    }
    detectors = detector_rows(outcomes, hurting, [*monitors, "contract"])
    return {"bugs": rows, "detectors": detectors, "twins": twins, "totals": totals}


def print_tables(summary: dict[str, Any], console: Any) -> None:
    """The per-bug table, the per-detector table and the totals, each fitting 80 columns."""
    from rich.table import Table

    bugs = Table(
        title="bugs written as user code (det.: runs with any finding; ep.: median first epoch)",
        box=None,
        pad_edge=False,
        padding=(0, 1),
    )
    for col in ("bug", "twin", "family", "hurts", "det.", "ep."):
        bugs.add_column(col, no_wrap=True)
    bugs.add_column("kinds seen")
    for r in summary["bugs"]:
        epoch = r["first_epoch_median"]
        bugs.add_row(
            r["bug"].removeprefix(f"{r['twin']}_"),
            r["twin"],
            r["family"],
            "yes" if r["hurts"] else "[yellow]no[/]",
            f"{r['detected']}/{r['runs']}",
            "-" if epoch is None else f"{epoch:g}",
            ", ".join(r["kinds"]) or "-",
        )
    console.print(bugs)
    for name, t in summary["twins"].items():
        console.print(f"clean twin {name}: f1 {_fmt(t['f1'])}, val_loss {_fmt(t['val_loss'])} (seed mean)")
    for r in summary["bugs"]:
        why = (
            r["why"]
            or f"f1 {_fmt(r['f1'])} vs {_fmt(r['twin_f1'])}, val_loss {_fmt(r['val_loss'])} vs {_fmt(r['twin_val_loss'])}"
        )
        console.print(f"  {r['bug']}: {'hurts' if r['hurts'] else 'does not hurt'} ({why})")
    table = Table(
        title="per detector: hurting runs it flagged; findings on clean runs", box=None, pad_edge=False, padding=(0, 1)
    )
    for col in ("detector", "detected", "false alarms"):
        table.add_column(col, no_wrap=True)
    table.add_column("kinds")
    for d in summary["detectors"]:
        table.add_row(
            d["detector"],
            f"{d['detected']}/{d['runs']}",
            f"{d['false_alarms']}/{d['clean_runs']}",
            ", ".join(d["kinds"]),
        )
    console.print(table)
    print_totals(summary["totals"], console)


def print_totals(t: dict[str, Any], console: Any) -> None:
    share = "n/a" if t["share"] is None else f"{t['share']:.0%}"
    console.print(
        f"totals: {t['hurting_bugs']} of {t['bugs']} bugs hurt; hurting runs detected "
        f"{t['detected_runs']}/{t['hurting_runs']} ({share}); bugs detected on every seed "
        f"{len(t['bugs_detected_every_seed'])}/{t['hurting_bugs']}; clean runs with a finding "
        f"{len(t['clean_runs_with_finding'])}/{t['clean_runs']}"
    )
    if t["not_hurting"]:
        console.print(f"not hurting (left out of the totals): {', '.join(t['not_hurting'])}")
    for run in t["clean_runs_with_finding"]:
        console.print(f"  [red]finding on a clean run[/]: {run['twin']} seed {run['seed']}: {', '.join(run['kinds'])}")


def select(names: list[str] | None, quick: bool) -> list[UserBug]:
    """The bugs to run: ``names`` (by name), the quick subset, or all."""
    wanted = names or (list(QUICK_BUGS) if quick else None)
    if wanted is None:
        return list(BUGS)
    known = {b.name: b for b in BUGS}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise SystemExit(f"unknown user-code bug(s) {unknown}; choose from {sorted(known)}")
    return [known[n] for n in wanted]


def main(seeds: list[int], jobs: int, out: Path, quick: bool = False, names: list[str] | None = None) -> dict[str, Any]:
    """Run, summarise, print and write the JSON; returns what was written."""
    from rich.console import Console

    from harness.core.pluginmanager import discover_plugins
    from harness.execution.atomic_io import write_json_atomic
    from harness.execution.records import torch_version

    console = Console(width=min(Console().width, 100))
    bugs = select(names, quick)
    load = os.getloadavg()
    console.print(
        f"user-code detectors: {len(bugs)} bugs + {len(TWINS)} clean twins x {len(seeds)} seed(s), -j {jobs}; "
        f"torch {torch_version()}; load average {load[0]:.2f} on {os.cpu_count()} cores"
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="harness-user-bugs-") as tmp:
        outcomes = run(bugs, seeds, jobs, Path(tmp), log=console.print)
    monitors = sorted(n for n, i in discover_plugins().items() if i.kind == "monitor")
    summary = summarize(bugs, outcomes, monitors)
    print_tables(summary, console)
    seconds = time.perf_counter() - started
    console.print(
        f"{len(outcomes)} runs in {seconds:.0f} s; load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    result = {
        "torch_version": torch_version(),
        "seeds": seeds,
        "load_average": [load[0], os.getloadavg()[0]],
        "seconds": round(seconds, 1),
        "families": FAMILIES,
        "cases": [{"name": b.name, "twin": b.twin, "family": b.family, "description": b.description} for b in bugs],
        "runs": [vars(o) | {"first_epoch": o.first_epoch} for o in outcomes],
        **summary,
    }
    write_json_atomic(out, result)
    console.print(f"JSON: {out}")
    return result
