"""``Hparams.build``: the one way the loops build their hparams."""

from __future__ import annotations

from harness.core.state import Hparams
from harness.testing import make_state, tiny_tabular_workload


def test_total_steps_count_the_last_partial_accumulation_window_unless_the_loop_plans_its_own() -> None:
    assert Hparams.build(0.1, batches_per_epoch=10, accumulation_steps=4, epochs=3).total_steps == 9
    assert Hparams.build(0.1, batches_per_epoch=10, total_steps=7).total_steps == 7
    assert Hparams.build(0.1).total_steps == 0  # watch before the script's first epoch ends


def test_the_core_loop_builds_its_hparams_from_the_train_config() -> None:
    state = make_state(tiny_tabular_workload(), lr=0.05, epochs=2, batch_size=16, accumulation_steps=3)
    h = state.hparams
    assert (h.lr, h.epochs, h.batch_size, h.accumulation_steps) == (0.05, 2, 16, 3)
    assert h.total_steps == 2 * -(-h.batches_per_epoch // 3) and h.batches_per_epoch == len(state.train_loader)
