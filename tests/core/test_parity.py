"""With every fix off, the harness loop gives the same weights as a plain PyTorch loop."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harness.core.loop import seed_everything
from harness.testing import run_tiny, tiny_workload


def plain_pytorch_loop(workload, seed: int, epochs: int, batch_size: int, lr: float, weight_decay: float):
    """The hand-written reference loop: nothing the harness adds."""
    from torch.utils.data import DataLoader

    seed_everything(seed)
    train_set, _ = workload.datasets()
    model = workload.build_model()
    loader = DataLoader(
        train_set,
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
        collate_fn=workload.collate,
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    for _ in range(epochs):
        for batch in loader:
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            loss = F.cross_entropy(logits, batch["labels"])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    return model


def test_harness_loop_with_no_fixes_matches_plain_loop_exactly() -> None:
    workload = tiny_workload(hidden_dropout=0.1)  # dropout on: the RNG streams must match too
    state, status, trace = run_tiny({}, monitors=True, workload=workload, epochs=2, batch_size=16, lr=1e-3)
    assert status == "ok"
    assert set(trace["optimizer_step"]) == {"defaults"}  # no fix touched training
    reference = plain_pytorch_loop(workload, seed=0, epochs=2, batch_size=16, lr=1e-3, weight_decay=0.01)
    harness_params = dict(state.model.named_parameters())
    for name, param in reference.named_parameters():
        assert torch.equal(param, harness_params[name]), name


def test_a_fix_breaks_parity() -> None:
    """The parity check can fail: clipping hard changes the weights."""
    workload = tiny_workload()
    state, _, _ = run_tiny({"grad_clip": {"max_norm": 1e-3}}, workload=workload, epochs=1, batch_size=16, lr=1e-3)
    reference = plain_pytorch_loop(workload, seed=0, epochs=1, batch_size=16, lr=1e-3, weight_decay=0.01)
    differs = [not torch.equal(p, dict(state.model.named_parameters())[n]) for n, p in reference.named_parameters()]
    assert any(differs)


def test_same_seed_is_bit_identical_and_other_seed_differs() -> None:
    a, _, _ = run_tiny({}, epochs=1, seed=3)
    b, _, _ = run_tiny({}, epochs=1, seed=3)
    c, _, _ = run_tiny({}, epochs=1, seed=4)
    assert a.history == b.history
    pa, pb, pc = (dict(s.model.named_parameters()) for s in (a, b, c))
    assert all(torch.equal(pa[n], pb[n]) for n in pa)
    assert not all(torch.equal(pa[n], pc[n]) for n in pa)
