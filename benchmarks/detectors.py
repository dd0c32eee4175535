"""Detector benchmark: how often do the monitors catch a real training bug, and how often do they cry wolf?

Every bug of the catalog (the ``bug`` plugins, plus per-epoch stepping of a per-step
warmup, ``linear_warmup: {interval: epoch}``) is injected into tiny runs of several
workloads (the built-ins ``devign``, ``text_classification`` and ``patch_distillation``,
and the generic ``tabular`` on two scikit-learn data sets) over several seeds, next to
the same runs without the bug (the *clean* runs). Every run has every monitor on at its
defaults, and goes through the same executor as ``harness run`` (one worker process per
run, ``-j`` at once). Then, per bug x workload, per detector and overall:

* detection rate: the share of bugged runs with a *relevant* finding, i.e. one of the
  kinds the bug declares it shows as (``shows_as``), and the epoch it first came in;
* false-alarm rate: the share of clean runs with *any* finding (per detector: a finding
  of that detector);
* time to detection: the epoch (and share of the run) of the first relevant finding.

The clean recipe is AdamW with a per-step linear warmup (10% of the steps); a bug that
needs a context to show has it in its clean twin too: ``bug_scheduler_per_microbatch``
runs under gradient accumulation (two micro-batches of half the batch per step), and
``bug_loss_scaling`` both under AdamW (``loss_sum``: nearly harmless there, Adam(W)
normalises a constant gradient scale away, but the loss's scale is wrong) and under SGD
with momentum (``loss_sum_sgd``: the effective LR is ``batch_size`` times too high; only
on the workloads an SGD recipe trains reliably, the tabular ones). Bugs that cannot apply
to a workload are left out of it (``bug_softmax_before_ce`` needs class logits,
``bug_unnormalised_inputs`` floating-point inputs): shown as ``-``.

    .venv/bin/python benchmarks/detectors.py                    # 13 cases x 5 workloads x 3 seeds + clean, -j 2
    .venv/bin/python benchmarks/detectors.py --quick            # CI: tabular wine only, 1 seed (seconds)
    .venv/bin/python benchmarks/detectors.py --seeds 5 -j 2 --json detectors.json --workload devign
    .venv/bin/python benchmarks/detectors.py --user-code        # the second benchmark: bugs written as user code
                                                                # (benchmarks/user_code/; --quick, --bug NAME)

It prints three tables (bug x workload, per detector, overall) and the load average, and
writes the JSON (default ``.harness/benchmarks/detectors.json``).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: the clean recipe of every run: AdamW (the core default) with a per-step linear warmup
BASE_PLUGINS: dict[str, Any] = {"linear_warmup": {"interval": "step"}}


@dataclass(frozen=True)
class BenchWorkload:
    """One workload of the benchmark: its scenario ``workload:`` entry, its train settings and
    the SGD learning rate of the SGD context (tuned so that the clean SGD run learns)."""

    name: str
    spec: dict[str, Any]
    train: dict[str, Any]
    sgd_lr: float | None  # None: no SGD recipe trains this model reliably here (the SGD cases skip it)
    classifier: bool = True  # the model returns class logits
    float_inputs: bool = False  # the model takes floating-point features

    @property
    def sgd(self) -> bool:
        return self.sgd_lr is not None


def keyword_file() -> str:
    """A local CSV of 300 short texts whose label is the keyword they contain (text_classification's data)."""
    from harness.workloads.base import cache_root

    path = cache_root() / "benchmarks" / "keywords-300.csv"
    if not path.exists():
        filler = [
            "the",
            "a",
            "small",
            "big",
            "red",
            "green",
            "old",
            "new",
            "house",
            "tree",
            "river",
            "road",
            "cloud",
            "stone",
            "quiet",
            "loud",
        ]
        rng = random.Random(7)
        rows = []
        for _ in range(300):
            label = rng.choice(("alpha", "beta", "gamma"))
            words = [rng.choice(filler) for _ in range(rng.randint(4, 12))]
            words.insert(rng.randrange(len(words) + 1), label)
            rows.append({"text": " ".join(words), "label": label})
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["text", "label"])
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    return str(path)


def workloads() -> dict[str, BenchWorkload]:
    tiny_transformer = {
        "hidden_size": 32,
        "num_layers": 1,
        "num_heads": 2,
        "intermediate_size": 64,
        "attention_dropout": 0.0,
    }
    found = [
        BenchWorkload(
            "tabular_wine",
            {"name": "tabular", "params": {"data": "sklearn:wine"}},
            {"epochs": 4, "batch_size": 16, "lr": 1e-2},
            sgd_lr=1e-2,
            float_inputs=True,
        ),
        BenchWorkload(
            "tabular_digits",
            {"name": "tabular", "params": {"data": "sklearn:digits", "max_samples": 600}},
            {"epochs": 4, "batch_size": 32, "lr": 3e-3},
            sgd_lr=1e-2,
            float_inputs=True,
        ),
        BenchWorkload(
            "devign",
            {
                "name": "devign",
                "params": {
                    "n_train": 768,
                    "n_val": 192,
                    "max_length": 48,
                    "vocab_size": 400,
                    "hidden_dropout": 0.1,
                    "eval_batch_size": 192,
                    **tiny_transformer,
                },
            },
            # micro-batches of 8, two per optimizer step: at batch 16 without accumulation one
            # seed in three stays at the class prior for the whole run (measured)
            {"epochs": 5, "batch_size": 8, "accumulation_steps": 2, "lr": 5e-3},
            sgd_lr=None,
        ),
        BenchWorkload(
            "text_classification",
            {
                "name": "text_classification",
                "params": {
                    "train_file": keyword_file(),
                    "val_share": 0.2,
                    "max_length": 20,
                    "vocab_size": 200,
                    "eval_batch_size": 64,
                    **tiny_transformer,
                },
            },
            {"epochs": 5, "batch_size": 8, "lr": 3e-3},
            sgd_lr=None,
        ),
        BenchWorkload(
            "patch_distillation",
            {
                "name": "patch_distillation",
                "params": {
                    "n_train": 512,
                    "n_val": 256,
                    "image_size": 16,
                    "patch_size": 4,
                    "channels": 16,
                    "anomaly_amplitude": 2.0,
                    "teacher_low": -8.0,
                    "teacher_high": 8.0,
                    "eval_batch_size": 256,
                },
            },
            {"epochs": 5, "batch_size": 16, "lr": 3e-3},
            sgd_lr=None,
            classifier=False,
            float_inputs=True,
        ),
    ]
    return {w.name: w for w in found}


@dataclass(frozen=True)
class Case:
    """One bug as injected: its plugins, the context it needs (``base``, ``sgd``, ``accumulate``)
    and the finding kinds that count as detecting it (``None``: its bug plugin's ``shows_as``)."""

    name: str
    plugins: dict[str, Any]
    context: str = "base"
    needs: str | None = None  # "classifier", "float_inputs" or "sgd" (a BenchWorkload property)
    shows_as: tuple[str, ...] | None = None

    def applies(self, workload: BenchWorkload) -> bool:
        return self.needs is None or bool(getattr(workload, self.needs))


CASES: tuple[Case, ...] = (
    Case("no_zero_grad", {"bug_no_zero_grad": True}),
    Case("shuffled_labels", {"bug_shuffled_labels": True}),
    Case("softmax_before_ce", {"bug_softmax_before_ce": True}, needs="classifier"),
    Case("lr_too_high", {"bug_lr_too_high": True}),
    Case("frozen_backbone", {"bug_frozen_backbone": True}),
    Case("dead_relu", {"bug_dead_relu": True}),
    Case("eval_mode", {"bug_eval_mode": True}),
    Case("foreign_optimizer", {"bug_foreign_optimizer": True}),
    Case("unnormalised_inputs", {"bug_unnormalised_inputs": True}, needs="float_inputs"),
    Case(
        "scheduler_per_epoch",
        {"linear_warmup": {"interval": "epoch"}},
        shows_as=("lr_zero", "schedule_mismatch", "weights_not_updating", "collapse", "no_convergence"),
    ),
    Case("scheduler_per_microbatch", {"bug_scheduler_per_microbatch": True}, context="accumulate"),
    Case("loss_sum", {"bug_loss_scaling": {"mode": "sum"}}),
    Case("loss_sum_sgd", {"bug_loss_scaling": {"mode": "sum"}}, context="sgd", needs="sgd"),
)

QUICK_WORKLOADS = ("tabular_wine",)

#: the monitors shipped before the bug catalog (grad_health and prediction_distribution with
#: their new rules): what detection would be without the catalog's detectors
EARLIER_MONITORS = (
    "loss_explosion",
    "grad_health",
    "prediction_distribution",
    "mode_collapse",
    "no_signal",
    "saturation",
    "non_finite",
)


def context_variant(context: str, workload: BenchWorkload) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(plugins, train overrides)`` of a context. ``accumulate``: two micro-batches of half the
    batch per optimizer step (the same effective batch and steps), unless the workload's own
    recipe accumulates already."""
    if context == "sgd":
        return {**BASE_PLUGINS, "optimizer": {"name": "sgd", "momentum": 0.9}}, {"lr": workload.sgd_lr}
    if context == "accumulate" and workload.train.get("accumulation_steps", 1) == 1:
        return dict(BASE_PLUGINS), {"accumulation_steps": 2, "batch_size": workload.train["batch_size"] // 2}
    return dict(BASE_PLUGINS), {}


def context_of(case: Case, workload: BenchWorkload) -> str:
    """The clean variant a case is compared with (``accumulate`` is ``base`` where the base accumulates)."""
    if case.context == "accumulate" and workload.train.get("accumulation_steps", 1) > 1:
        return "base"
    return case.context


def scenario_dict(workload: BenchWorkload, cases: list[Case], seeds: list[int]) -> dict[str, Any]:
    """The benchmark of one workload as a scenario (a plain dict for YAML): a ``clean-CONTEXT``
    variant per context its cases need, and one variant per case."""
    variants: dict[str, Any] = {}
    for context in dict.fromkeys(context_of(c, workload) for c in cases):
        plugins, train = context_variant(context, workload)
        variants[f"clean-{context}"] = {
            "description": f"the clean {context} recipe",
            "plugins": plugins,
            "train": train,
        }
    for case in cases:
        plugins, train = context_variant(context_of(case, workload), workload)
        variants[case.name] = {
            "description": f"{case.name} injected",
            "plugins": {**plugins, **case.plugins},
            "train": train,
        }
    return {
        "name": f"detectors_{workload.name}",
        "workload": workload.spec,
        "train": {**workload.train, "warmup_ratio": 0.1, "device": "cpu", "threads": 1},
        "seeds": seeds,
        "variants": variants,
    }


@dataclass
class RunOutcome:
    workload: str
    case: str  # a case name, or "clean-CONTEXT"
    seed: int
    status: str
    findings: list[dict[str, Any]]
    epochs: int
    seconds: float
    relevant: list[dict[str, Any]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.case.startswith("clean-")

    @property
    def first_epoch(self) -> int | None:
        return min((f["epoch"] for f in self.relevant), default=None)


def relevant_kinds(case: Case, available: dict[str, Any]) -> tuple[str, ...]:
    if case.shows_as is not None:
        return case.shows_as
    kinds: list[str] = []
    for plugin in case.plugins:
        info = available.get(plugin)
        if info is not None and info.kind == "bug":
            kinds += info.cls.shows_as
    return tuple(dict.fromkeys(kinds))


def run_benchmark(
    names: list[str], seeds: list[int], jobs: int, results_dir: Path, resume: bool = False, log: Any = print
) -> list[RunOutcome]:
    import yaml

    from harness.core.pluginmanager import discover_plugins
    from harness.execution.runner import plan_runs, run_suite
    from harness.scenario import load_scenario

    available = discover_plugins()
    all_workloads = workloads()
    outcomes: list[RunOutcome] = []
    # what every run imports lazily, seconds each (the clean recipe's scheduler from transformers;
    # torch.optim's first optimizer imports torch._dynamo): once here, and the forked workers inherit it
    import torch
    from transformers import get_linear_schedule_with_warmup  # noqa: F401

    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])
    for name in names:
        workload = all_workloads[name]
        cases = [c for c in CASES if c.applies(workload)]
        spec = scenario_dict(workload, cases, seeds)
        path = results_dir / f"{spec['name']}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        scenario = load_scenario(path)  # validated like any scenario before anything trains
        keys = plan_runs(scenario)
        started = time.perf_counter()
        records = run_suite(scenario, keys, results_dir=results_dir / spec["name"], jobs=jobs, resume=resume)
        log(f"  {name}: {len(records)} runs in {time.perf_counter() - started:.1f} s")
        by_case = {c.name: c for c in cases}
        for record in records:
            case = by_case.get(record["variant"])
            kinds = relevant_kinds(case, available) if case is not None else ()
            outcome = RunOutcome(
                name,
                record["variant"],
                record["seed"],
                record["status"],
                record.get("findings", []),
                record["train"]["epochs"],
                record.get("seconds", 0.0),
            )
            outcome.relevant = [f for f in outcome.findings if f["kind"] in kinds]
            outcomes.append(outcome)
    return outcomes


def _rate(hits: int, total: int) -> dict[str, Any]:
    return {"hits": hits, "runs": total, "rate": hits / total if total else None}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(outcomes: list[RunOutcome], available: dict[str, Any]) -> dict[str, Any]:
    """Detection and false-alarm rates per bug x workload, per detector and overall."""
    bugged = [o for o in outcomes if not o.clean]
    clean = [o for o in outcomes if o.clean]
    cases = {c.name: c for c in CASES}
    cells: dict[str, dict[str, Any]] = {}
    for case in dict.fromkeys(o.case for o in bugged):
        for workload in dict.fromkeys(o.workload for o in bugged):
            runs = [o for o in bugged if o.case == case and o.workload == workload]
            if not runs:
                continue
            detected = [o for o in runs if o.relevant]
            cells.setdefault(case, {})[workload] = {
                **_rate(len(detected), len(runs)),
                "first_epoch_median": _median([o.first_epoch for o in detected if o.first_epoch is not None]),
                "kinds": sorted({f["kind"] for o in detected for f in o.relevant}),
                "errors": [f"seed {o.seed}: {o.status}" for o in runs if o.status == "error"],
            }
    detectors: dict[str, Any] = {}
    monitors = {n: i for n, i in available.items() if i.kind == "monitor"}
    for name, info in sorted(monitors.items()):
        kinds = set(info.cls.finding_kinds)
        relevant_runs = [o for o in bugged if kinds & set(relevant_kinds(cases[o.case], available))]
        caught = [o for o in relevant_runs if any(f["plugin"] == name for f in o.relevant)]
        firsts = [min(f["epoch"] for f in o.relevant if f["plugin"] == name) for o in caught]
        alarms = [o for o in clean if any(f["plugin"] == name for f in o.findings)]
        detectors[name] = {
            "kinds": sorted(kinds),
            "detection": _rate(len(caught), len(relevant_runs)),
            "false_alarms": _rate(len(alarms), len(clean)),
            "false_alarm_kinds": sorted({f["kind"] for o in alarms for f in o.findings if f["plugin"] == name}),
            "first_epoch_median": _median(firsts),
        }
    detected = [o for o in bugged if o.relevant]
    firsts = [o.first_epoch for o in detected if o.first_epoch is not None]
    alarms = [o for o in clean if o.findings]
    earlier = [o for o in bugged if any(f["plugin"] in EARLIER_MONITORS for f in o.relevant)]
    return {
        "cells": cells,
        "detectors": detectors,
        "overall": {
            "detection": _rate(len(detected), len(bugged)),
            "false_alarms": _rate(len(alarms), len(clean)),
            "false_alarm_runs": [
                {
                    "workload": o.workload,
                    "variant": o.case,
                    "seed": o.seed,
                    "kinds": sorted({f["kind"] for f in o.findings}),
                }
                for o in alarms
            ],
            "detected_in_first_epoch": _rate(sum(1 for e in firsts if e == 1), len(detected)),
            "detection_by_earlier_monitors": _rate(len(earlier), len(bugged)),
            "first_epoch_median": _median(firsts),
            "first_share_median": _median([o.first_epoch / o.epochs for o in detected if o.first_epoch is not None]),
            "errors": [f"{o.workload} {o.case} seed {o.seed}" for o in outcomes if o.status == "error"],
        },
    }


def _pct(rate: dict[str, Any]) -> str:
    return "n/a" if rate["rate"] is None else f"{rate['hits']}/{rate['runs']} ({rate['rate']:.0%})"


def print_tables(summary: dict[str, Any], workload_names: list[str], console: Any) -> None:
    from rich.table import Table

    grid = Table(title="detected runs per bug x workload (k/N seeds, median epoch of the first relevant finding)")
    grid.add_column("bug")
    for name in workload_names:
        grid.add_column(name, justify="right")
    grid.add_column("caught as")
    for case in CASES:
        row = summary["cells"].get(case.name, {})
        if not row:
            continue
        cells = []
        for name in workload_names:
            cell = row.get(name)
            if cell is None:
                cells.append("-")
                continue
            epoch = cell["first_epoch_median"]
            cells.append(f"{cell['hits']}/{cell['runs']}" + (f" e{epoch:g}" if epoch is not None else ""))
        kinds = sorted({k for cell in row.values() for k in cell["kinds"]})
        grid.add_row(case.name, *cells, ", ".join(kinds))
    console.print(grid)
    table = Table(title="per detector: detection over the bugs it is relevant to; false alarms over clean runs")
    for col in ("detector", "finding kinds", "detected", "median epoch", "false alarms"):
        table.add_column(col)
    for name, d in summary["detectors"].items():
        epoch = d["first_epoch_median"]
        alarms = _pct(d["false_alarms"]) + (f" ({', '.join(d['false_alarm_kinds'])})" if d["false_alarm_kinds"] else "")
        table.add_row(name, ", ".join(d["kinds"]), _pct(d["detection"]), "-" if epoch is None else f"{epoch:g}", alarms)
    console.print(table)
    o = summary["overall"]
    console.print(
        f"overall: detected {_pct(o['detection'])} of bugged runs; false alarms on {_pct(o['false_alarms'])} of clean "
        f"runs; first relevant finding in epoch 1 for {_pct(o['detected_in_first_epoch'])} of the detected "
        f"(median epoch {o['first_epoch_median']}, median share of the run {o['first_share_median']:.2f})"
        if o["first_share_median"] is not None
        else f"overall: detected {_pct(o['detection'])}; false alarms {_pct(o['false_alarms'])}"
    )
    console.print(
        f"with only the monitors shipped before the catalog ({', '.join(EARLIER_MONITORS)}): "
        f"detected {_pct(o['detection_by_earlier_monitors'])}"
    )
    for run in o["false_alarm_runs"]:
        console.print(
            f"  false alarm: {run['workload']} {run['variant']} seed {run['seed']}: {', '.join(run['kinds'])}"
        )
    for error in o["errors"]:
        console.print(f"  [red]error[/]: {error}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"CI mode: {', '.join(QUICK_WORKLOADS)} only, 1 seed")
    parser.add_argument("--workload", action="append", metavar="NAME", help="only this workload (repeatable)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 3; --quick: 1)")
    parser.add_argument("--jobs", "-j", type=int, default=2, help="runs in parallel (default 2)")
    parser.add_argument(
        "--json", type=Path, default=None, help="where the JSON goes (default .harness/benchmarks/detectors.json)"
    )
    parser.add_argument(
        "--results-dir", type=Path, default=None, help="keep each run's result here (default: a temporary dir)"
    )
    parser.add_argument("--resume", action="store_true", help="with --results-dir: reuse finished runs")
    parser.add_argument(
        "--user-code",
        action="store_true",
        help="the second benchmark: bugs written as user code (benchmarks/user_code/; default JSON "
        ".harness/benchmarks/detectors-user.json)",
    )
    parser.add_argument("--bug", action="append", metavar="NAME", help="with --user-code: only this bug (repeatable)")
    args = parser.parse_args(argv)
    if args.user_code:
        return user_code_benchmark(args)

    from rich.console import Console

    from harness.core.pluginmanager import discover_plugins
    from harness.execution.atomic_io import write_json_atomic
    from harness.execution.records import torch_version

    console = Console(width=max(120, Console().width))
    all_names = list(workloads())
    names = args.workload or (list(QUICK_WORKLOADS) if args.quick else all_names)
    unknown = [n for n in names if n not in all_names]
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose from {all_names}")
    seeds = list(range(args.seeds or (1 if args.quick else 3)))
    load = os.getloadavg()[0]
    console.print(
        f"detectors: {len(CASES)} bug cases x {len(names)} workload(s) x {len(seeds)} seed(s) + clean runs, -j {args.jobs}; "
        f"torch {torch_version()}; load average {load:.2f} on {os.cpu_count()} cores"
    )
    started = time.perf_counter()
    if args.results_dir is not None:
        outcomes = run_benchmark(names, seeds, args.jobs, args.results_dir, args.resume, log=console.print)
    else:
        with tempfile.TemporaryDirectory(prefix="harness-detectors-") as tmp:
            outcomes = run_benchmark(names, seeds, args.jobs, Path(tmp), log=console.print)
    summary = summarize(outcomes, discover_plugins())
    print_tables(summary, names, console)
    seconds = time.perf_counter() - started
    console.print(f"{len(outcomes)} runs in {seconds:.0f} s; load average now {os.getloadavg()[0]:.2f}")
    result = {
        "torch_version": torch_version(),
        "workloads": names,
        "seeds": seeds,
        "load_average": [load, os.getloadavg()[0]],
        "seconds": round(seconds, 1),
        "cases": [{"name": c.name, "plugins": c.plugins, "context": c.context} for c in CASES],
        "runs": [
            {
                "workload": o.workload,
                "variant": o.case,
                "seed": o.seed,
                "status": o.status,
                "findings": [{k: f[k] for k in ("kind", "plugin", "epoch", "step")} for f in o.findings],
                "relevant": sorted({f["kind"] for f in o.relevant}),
                "first_epoch": o.first_epoch,
            }
            for o in outcomes
        ],
        **summary,
    }
    out = args.json or ROOT / ".harness" / "benchmarks" / "detectors.json"
    write_json_atomic(out, result)
    console.print(f"JSON: {out}")
    return result


def user_code_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """``--user-code``: the bugs of ``benchmarks/user_code/``. Their workloads are ``user_code.<module>:Class``
    references, so ``benchmarks/`` goes on ``sys.path`` (the forked or spawned workers inherit it)."""
    benchmarks = str(Path(__file__).resolve().parent)
    if benchmarks not in sys.path:
        sys.path.insert(0, benchmarks)
    from user_code import bench

    seeds = list(range(args.seeds or (1 if args.quick else 3)))
    out = args.json or ROOT / ".harness" / "benchmarks" / "detectors-user.json"
    return bench.main(seeds, args.jobs, out, quick=args.quick, names=args.bug)


if __name__ == "__main__":
    main()
    sys.exit(0)
