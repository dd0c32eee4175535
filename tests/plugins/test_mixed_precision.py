from __future__ import annotations

import torch

from harness.hookspecs import hookimpl
from harness.testing import run_tiny


class DtypeProbe:
    def __init__(self) -> None:
        self.dtypes: set[torch.dtype] = set()

    @hookimpl(tryfirst=True)
    def compute_loss(self, outputs) -> None:
        self.dtypes.add(outputs.dtype)


def test_bf16_autocast_on_cpu() -> None:
    probe = DtypeProbe()
    state, status, trace = run_tiny({"mixed_precision": True}, observers=(probe,), epochs=1)
    assert status == "ok"
    assert probe.dtypes == {torch.bfloat16}
    assert trace["forward_context"] == {"mixed_precision": 6 // 2}  # 96 samples / batch 32
    assert all(p.dtype == torch.float32 for p in state.model.parameters())  # master weights stay fp32


def test_full_precision_without_plugin() -> None:
    probe = DtypeProbe()
    run_tiny({}, observers=(probe,), epochs=1)
    assert probe.dtypes == {torch.float32}
