"""The loader channel: a plugin changes ``state.loader_options`` in ``on_setup``, the loop builds
both loaders from it right after; with the defaults the loaders stay exactly as built."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel, ConfigDict

from harness import Workload
from harness.core.loop import PersistentOrderSampler, apply_loader_options, shutdown_loaders
from harness.core.plugin import Plugin, hookimpl
from harness.core.state import LoaderOptions
from harness.testing import make_state, train_tiny


class TinyMLP(Workload):
    """Random features, a two-layer MLP with dropout: trains in milliseconds."""

    def build_model(self) -> torch.nn.Module:
        return torch.nn.Sequential(
            torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Linear(16, 2)
        )

    def datasets(self) -> tuple[Any, Any]:
        g = torch.Generator().manual_seed(7)
        x = torch.randn(150, 4, generator=g)
        y = (x[:, 0] > 0).long()
        ds = torch.utils.data.TensorDataset
        return ds(x[:100], y[:100]), ds(x[100:], y[100:])


class _NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OneWorker(Plugin):
    """Pathology: none (a third-party double). Signal: none. Fix: one persistent forked worker."""

    name = "one_worker"
    Params = _NoParams

    @hookimpl
    def on_setup(self, state: Any) -> None:
        state.loader_options = LoaderOptions(num_workers=1, multiprocessing_context="fork", persistent_workers=True)


def test_default_options_leave_the_built_loaders_untouched() -> None:
    state = make_state(TinyMLP(), batch_size=16)
    train, val = state.train_loader, state.val_loader
    apply_loader_options(state)
    assert state.train_loader is train and state.val_loader is val  # the parity path: nothing rebuilt


def test_a_third_party_plugin_sets_the_options_and_the_loop_applies_them() -> None:
    plain = train_tiny({}, workload=TinyMLP(), epochs=3, batch_size=16)
    worker = train_tiny({"one_worker": True}, extra=(OneWorker,), workload=TinyMLP(), epochs=3, batch_size=16)
    loader = worker.state.train_loader
    assert loader.num_workers == 1 and loader.persistent_workers and isinstance(loader.sampler, PersistentOrderSampler)
    assert worker.state.hparams.batches_per_epoch == len(loader) == 7
    assert loader.generator is not None  # the seeded shuffle generator (checkpoints save its state)
    assert worker.history == plain.history  # 3 epochs: persistent workers keep every epoch's order
    assert loader._iterator is None  # train_tiny shut the persistent workers down


def test_shutdown_loaders_is_safe_on_any_state() -> None:
    from harness.testing import bare_state

    shutdown_loaders(bare_state())  # no loaders at all
    state = make_state(TinyMLP(), batch_size=16)
    shutdown_loaders(state)
    shutdown_loaders(state)


def test_persistent_order_sampler_draws_the_missing_base_seed() -> None:
    """Epoch 2 of a persistent loader's order equals a fresh iterator's epoch 2."""
    data = list(range(10))
    plain = torch.utils.data.DataLoader(data, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(3))
    expected = [torch.cat(list(plain)).tolist() for _ in range(3)]  # each epoch a fresh iterator
    gen = torch.Generator().manual_seed(3)
    sampler = PersistentOrderSampler(data, generator=gen)
    orders = []
    for epoch in range(3):
        if epoch == 0:  # the iterator that starts once draws the base seed once
            torch.empty((), dtype=torch.int64).random_(generator=gen)
        orders.append(list(sampler))
    assert orders == expected
