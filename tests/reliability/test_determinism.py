"""Determinism: the same scenario, variant and seed gives bit-identical metrics on CPU.

Through the executor, as ``harness run`` trains: each run in its own worker process,
results read back from the JSON files the workers wrote (floats compared exactly, as
their shortest repr round-trips). Dropout is on (the tiny model's hidden dropout 0.1),
so the global RNG stream matters, and one variant uses a fix so a plugin is in the path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.execution.runner import plan_runs, run_suite
from harness.scenario import load_scenario

COMPARED = ("status", "history", "lr_per_step", "findings", "outcomes", "steps", "trace", "expectations", "fingerprint")


def observable(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record[key] for key in COMPARED}


@pytest.mark.slow
def test_same_scenario_variant_seed_is_bit_identical(write_scenario: Callable[..., Path], tmp_path: Path) -> None:
    path = write_scenario(
        {"plain": {}, "fixed": {"plugins": {"class_weights": True, "grad_clip": {"max_norm": 0.5}}}},
        seeds=(3,),
        plugin_modules=[],
    )
    scenario = load_scenario(path)
    keys = plan_runs(scenario)
    import transformers.models.roberta.modeling_roberta  # noqa: F401  (forked workers inherit it: ~7 s less each)

    first = run_suite(scenario, keys, results_dir=tmp_path / "first", jobs=1)
    second = run_suite(
        scenario, keys, results_dir=tmp_path / "second", jobs=2
    )  # and the number of workers does not matter
    assert [r["status"] for r in first] == ["ok", "ok"]
    for a, b in zip(first, second, strict=False):
        assert len(a["history"]) == 2 and a["lr_per_step"]
        assert observable(a) == observable(b)
        # every float bit for bit (== would also accept 0.0 == -0.0)
        assert [float(h["loss"]).hex() for h in a["history"]] == [float(h["loss"]).hex() for h in b["history"]]
    # the variants really differ, so equality above is not vacuous
    assert first[0]["history"] != first[1]["history"]
