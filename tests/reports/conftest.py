"""A small scripted suite report for the TensorBoard and MLflow report tests."""

from __future__ import annotations

from typing import Any

import pytest

KEY_METRICS = ["f1", "pred_positive_share", "loss"]


def scripted_run(
    variant: str, seed: int, f1: list[float], *, status: str = "ok", findings: bool = False
) -> dict[str, Any]:
    history = [
        {
            "epoch": i + 1,
            "f1": v,
            "auc": 0.5 + v / 2,
            "loss": 0.7 - v / 2,
            "pred_positive_share": 0.1 + v / 2,
            "n": 40,
            "lr": 1e-3,
            "steps": 3 * (i + 1),
        }
        for i, v in enumerate(f1)
    ]
    record: dict[str, Any] = {
        "variant": variant,
        "seed": seed,
        "fingerprint": f"fp{variant}{seed}",
        "status": status,
        "seconds": 1.5,
        "plugins": {"defaults": {}, "grad_clip": {"max_norm": 1.0}, "class_weights": {"label_smoothing": 0.05}},
        "train": {"epochs": len(f1), "lr": 1e-3, "batch_size": 32, "device": "cpu"},
        "history": history,
        "findings": [
            {
                "kind": "collapse",
                "epoch": 1,
                "plugin": "prediction_distribution",
                "message": "predicts one class only",
                "step": 3,
                "value": 0.0,
            }
        ]
        if findings
        else [],
        "expectations": [
            {"name": "final.f1 >= 0.8", "passed": bool(f1) and f1[-1] >= 0.8, "observed": f1[-1] if f1 else None}
        ],
        "trace": {},
        "outcomes": {},
        "lr_per_step": [1e-3 * (i + 1) / (3 * len(f1)) for i in range(3 * len(f1))],
        "steps": 3 * len(f1),
    }
    if status == "error":
        record["error"] = {"message": "RuntimeError: boom"}
    return record


@pytest.fixture()
def scripted_suite() -> dict[str, Any]:
    from harness.execution.records import SCHEMA_VERSION
    from harness.judging.verdicts import suite_passed, summarize_variants

    runs = [
        scripted_run("broken", 0, [0.0, 0.0, 0.0], findings=True),
        scripted_run("broken+class_weights", 0, [0.3, 0.6, 0.82]),  # an ablation arm's name
        scripted_run("fixed", 0, [0.3, 0.7, 0.85]),
        scripted_run("fixed", 1, [], status="error"),
    ]
    variants = summarize_variants(runs, KEY_METRICS)
    return {
        "schema_version": SCHEMA_VERSION,
        "harness_version": "0.1.0",
        "torch_version": "2.13.0+cpu",
        "scenario": {
            "name": "scripted",
            "path": "scenarios/scripted.yaml",
            "workload": "devign",
            "workload_params": {"n_train": 96, "hidden_size": 16},
            "key_metrics": KEY_METRICS,
        },
        "seeds": [0, 1],
        "runs": runs,
        "variants": variants,
        "passed": suite_passed(variants),
    }
