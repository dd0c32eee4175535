"""bug_eval_mode: model.eval() before every training batch's forward pass."""

from __future__ import annotations

from harness.core.hookspecs import hookimpl
from harness.testing import tiny_tabular_workload, tiny_workload, train_tiny


class Mode:
    def __init__(self) -> None:
        self.training: list[bool] = []

    @hookimpl
    def on_batch_end(self, state) -> None:
        self.training.append(state.model.training)


def test_the_model_trains_in_eval_mode_and_train_mode_reports_it() -> None:
    mode = Mode()
    run = train_tiny({"bug_eval_mode": True}, observers=(mode,), workload=tiny_workload(hidden_dropout=0.1), epochs=1)
    assert mode.training and not any(mode.training)
    assert run.finding_epochs("eval_mode") == [1]
    (finding,) = [f for f in run.findings if f["kind"] == "eval_mode"]
    assert "Dropout/BatchNorm modules behave as in evaluation" in finding["message"]


def test_on_a_model_without_dropout_it_is_reported_as_having_no_effect() -> None:
    run = train_tiny({"bug_eval_mode": True}, workload=tiny_tabular_workload(), epochs=1, batch_size=16)
    eval_findings = [f for f in run.findings if f["kind"] == "eval_mode"]
    assert len(eval_findings) == 1 and "changes nothing" in eval_findings[0]["message"]
