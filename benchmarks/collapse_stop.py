"""Collapse-stop benchmark: how many of a collapsed run's steps does `collapse_stop` save?

Runs the ``broken`` variant of ``scenarios/issue11.yaml`` (it collapses to "safe" from
the first epoch) with and without the ``collapse_stop`` fix at its defaults
(``patience: 2``, ``start_epoch: 3``: stop at the end of the first epoch >= 3 that
closes 2 collapsed epochs in a row, as the incident's Fix 6 does), for the scenario's
5 epochs and for the incident's full-training length of 10 epochs ("Phase 2: Full
Training (10-20 epochs)"). Prints steps and wall time per run and the share of steps
saved (target >= 50%).

With the defaults a collapsed run can stop no earlier than after epoch 3, so the
saving is at most ``1 - 3/E`` of an E-epoch run: 40% of the scenario's 5 epochs, 70%
of 10, 85% of 20.

    .venv/bin/python benchmarks/collapse_stop.py             # 5 and 10 epochs, -j 2
    .venv/bin/python benchmarks/collapse_stop.py --epochs 5
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[5, 10], help="run lengths (default 5 10)")
    parser.add_argument("--jobs", "-j", type=int, default=2, help="runs in parallel (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from harness.core.pluginmanager import discover_plugins
    from harness.execution.records import RunKey
    from harness.execution.runner import run_suite
    from harness.scenario import load_scenario

    scenario = load_scenario(ROOT / "scenarios" / "issue11.yaml")
    broken = scenario.variants["broken"]
    stop = discover_plugins()["collapse_stop"].cls.Params()  # the defaults
    variants = {}
    for epochs in args.epochs:
        train = broken.train.model_copy(update={"epochs": epochs})
        variants[f"broken_{epochs}ep"] = dataclasses.replace(broken, name=f"broken_{epochs}ep", train=train)
        variants[f"broken_{epochs}ep_stop"] = dataclasses.replace(
            broken, name=f"broken_{epochs}ep_stop", train=train, plugins={**broken.plugins, "collapse_stop": stop}
        )
    derived = dataclasses.replace(scenario, variants=variants)
    keys = [RunKey(name, args.seed) for name in variants]
    print(
        f"collapse_stop: issue11 'broken' variant, seed {args.seed}, collapse_stop {stop.model_dump()}; "
        f"-j {args.jobs}; load average {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory(prefix="harness-collapse-") as tmp:
        records = {r["variant"]: r for r in run_suite(derived, keys, results_dir=Path(tmp), jobs=args.jobs)}
    result: dict[str, Any] = {}
    for epochs in args.epochs:
        full, stopped = records[f"broken_{epochs}ep"], records[f"broken_{epochs}ep_stop"]
        collapsed = sorted({f["epoch"] for f in full["findings"] if f["kind"] == "collapse"})
        saved = 1 - stopped["steps"] / full["steps"]
        time_saved = 1 - stopped["seconds"] / full["seconds"]
        result[epochs] = {"steps_full": full["steps"], "steps_stopped": stopped["steps"], "saved": saved}
        print(
            f"collapse_stop: {epochs} epochs: without {full['status']}, {len(full['history'])} epochs, "
            f"{full['steps']} steps, {full['seconds']:.1f} s (collapse found at epochs {collapsed}); "
            f"with {stopped['status']} after {len(stopped['history'])} epochs ({stopped.get('stop_reason', '-')}), "
            f"{stopped['steps']} steps, {stopped['seconds']:.1f} s"
        )
        print(
            f"collapse_stop: {epochs} epochs: steps saved {saved:.0%} (target >= 50%), wall time saved {time_saved:.0%}"
        )
    return result


if __name__ == "__main__":
    main()
