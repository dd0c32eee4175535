"""The Lightning callback: a real pytorch-lightning Trainer on CPU, watched by harness's monitors."""

from __future__ import annotations

from pathlib import Path

import pytest

pl = pytest.importorskip("pytorch_lightning")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from harness.integrations.lightning import HarnessWatchCallback  # noqa: E402


def _data(seed: int = 0) -> DataLoader:  # type: ignore[type-arg]
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 8, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=False)


class Classifier(pl.LightningModule):  # type: ignore[misc]
    def __init__(self, softmax: bool = False, interval: str = "step") -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))
        self.softmax, self.interval = softmax, interval

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        logits = self.net(x)
        if self.softmax:
            logits = torch.softmax(logits, dim=1)  # LINE: softmax
        return F.cross_entropy(logits, y)

    def configure_optimizers(self) -> dict:  # type: ignore[type-arg]
        optimizer = torch.optim.AdamW(self.parameters(), lr=1e-2)
        warmup = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 40))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": warmup, "interval": self.interval}}


def _fit(module: Classifier, callback: HarnessWatchCallback, epochs: int = 6) -> None:
    torch.manual_seed(0)
    trainer = pl.Trainer(
        max_epochs=epochs,
        callbacks=[callback],
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, _data())


def _line(marker: str) -> int:
    text = Path(__file__).read_text().splitlines()
    return next(i for i, line in enumerate(text, 1) if f"# LINE: {marker}" in line)


def test_a_clean_lightning_fit_has_no_finding_and_the_observers_are_removed() -> None:
    watch = HarnessWatchCallback()
    _fit(Classifier(), watch)
    assert watch.findings == []
    watch.assert_clean()
    record = watch.record()
    assert record["steps"] == 6 * 8 and len(record["history"]) == 6
    assert not watch.watcher._installed  # type: ignore[union-attr]


def test_softmax_before_the_loss_points_at_the_training_step_line() -> None:
    watch = HarnessWatchCallback()
    _fit(Classifier(softmax=True), watch)
    found = [f for f in watch.findings if f.kind == "probability_outputs"]
    assert found, [f.kind for f in watch.findings]
    assert found[0].where.endswith(f"test_lightning.py:{_line('softmax')}")
    with pytest.raises(AssertionError, match="probability_outputs"):
        watch.assert_clean()


def test_a_per_step_warmup_on_lightnings_default_epoch_interval_is_found() -> None:
    """Lightning steps a scheduler once per epoch unless told ``interval: step``: a warmup of
    40 steps then takes 40 epochs (the LR still rising epoch after epoch)."""
    watch = HarnessWatchCallback()
    _fit(Classifier(interval="epoch"), watch)
    assert "schedule_mismatch" in {f.kind for f in watch.findings}


def test_fail_on_makes_fit_raise_at_its_end() -> None:
    with pytest.raises(AssertionError, match="probability_outputs"):
        _fit(Classifier(softmax=True), HarnessWatchCallback(fail_on=("probability_outputs",)), epochs=2)
