"""The one run record: every loop's record has the schema's fields, and one JSON form writes and reads it."""

from __future__ import annotations

import pytest
import torch

import harness
from harness.core.run_record import new_record, record_from_json, record_to_json, state_results
from harness.execution.records import _RunRecordFields
from harness.testing import tiny_tabular_workload, train_tiny


def test_the_json_form_round_trips_a_record_and_writes_tensors_as_numbers() -> None:
    record = new_record("v", 3, plugins={"grad_clip": {"max_norm": 1.0}}, train={"lr": 0.1}, status="ok")
    record["history"] = [{"epoch": 1, "loss": torch.tensor(0.5)}]
    back = record_from_json(record_to_json(record))
    assert back == record | {"history": [{"epoch": 1, "loss": 0.5}]}
    with pytest.raises(ValueError):
        record_from_json("[1, 2]")


def test_the_loop_and_watch_fill_every_field_of_the_schema_the_same_way() -> None:
    run = train_tiny({}, workload=tiny_tabular_workload(), epochs=1, batch_size=16)
    looped = new_record("v", 0, plugins={}, train={}) | state_results(run.state)
    with harness.watch() as w:
        model = torch.nn.Linear(4, 3)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 3, (8,))).backward()
            optimizer.step()
    watched = w.record()
    required = set(_RunRecordFields.__required_keys__)
    assert required <= set(looped) and required <= set(watched)
    assert looped["steps"] == run.state.step and looped["lr_per_step"] == run.state.lr_per_step
    assert watched["steps"] == 3 and len(watched["lr_per_step"]) == 3
