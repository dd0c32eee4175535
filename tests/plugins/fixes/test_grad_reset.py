"""grad_reset fix: the gradients reset before each backward that follows a step (a missing zero_grad cured)."""

from __future__ import annotations

import torch

from harness.testing import tiny_tabular_workload, train_tiny

from .script_helpers import batches, fixes_on_script


def no_zero_grad_script(model: torch.nn.Module, accumulate: int = 1) -> list[torch.Tensor]:
    """A loop without zero_grad: the gradient each step ran with, and the gradient of its batches alone."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    pairs = []
    data = batches(8)
    for i in range(0, len(data), accumulate):
        group = data[i : i + accumulate]
        fresh = sum(
            torch.autograd.grad(torch.nn.functional.cross_entropy(model(x), y), model.weight)[0] for x, y in group
        )
        for x, y in group:
            torch.nn.functional.cross_entropy(model(x), y).backward()
        assert model.weight.grad is not None
        pairs.append((model.weight.grad.clone(), fresh))
        optimizer.step()
    return pairs


def test_on_a_script_each_step_runs_with_its_own_batches_gradient_only() -> None:
    torch.manual_seed(0)
    with fixes_on_script({}):
        stale = no_zero_grad_script(torch.nn.Linear(4, 3))
    assert not torch.allclose(stale[3][0], stale[3][1])  # the bug: earlier steps' gradients added up
    torch.manual_seed(0)
    with fixes_on_script({"grad_reset": {}}):
        cured = no_zero_grad_script(torch.nn.Linear(4, 3))
    for used, fresh in cured:
        assert torch.allclose(used, fresh, atol=1e-6)


def test_micro_batches_of_one_accumulated_step_still_add_up() -> None:
    torch.manual_seed(0)
    with fixes_on_script({"grad_reset": {}}):
        pairs = no_zero_grad_script(torch.nn.Linear(4, 3), accumulate=2)
    for used, fresh in pairs:
        assert torch.allclose(used, fresh, atol=1e-6)


def test_in_the_harness_loop_it_cures_the_deleted_zero_grad() -> None:
    broken = train_tiny({"bug_no_zero_grad": True}, workload=tiny_tabular_workload(), epochs=2, batch_size=16)
    fixed = train_tiny(
        {"bug_no_zero_grad": True, "grad_reset": True}, workload=tiny_tabular_workload(), epochs=2, batch_size=16
    )
    assert "stale_gradients" in {f["kind"] for f in broken.findings}
    assert "stale_gradients" not in {f["kind"] for f in fixed.findings}
