"""Read each checkpoint back and continue a step from it: the round-trip outcome (issue 11, Fix 4).

Pathology: v1.5 read checkpoints with ``torch.load(path)``. Up to PyTorch 2.5 that
unpickles anything (with a FutureWarning since 2.4); from 2.6 it means
``weights_only=True``, and v1.5's checkpoints (whole objects, numpy metrics) fail.
Signal: ``outcome.checkpoint_roundtrip == fails`` with ``outcome.checkpoint_error``
naming the exception (``UnpicklingError``); ``outcome.checkpoint_load_warning`` names
the warning a load raised (``FutureWarning`` on 2.5's default call).
Fix: ``weights_only: true`` (what v1.6 does), optionally with ``allow``: a minimal
list of dotted globals for ``torch.serialization.safe_globals`` when a user's own
checkpoint needs one. ``weights_only`` left unset replays the v1.5 call.

After the ``checkpoint`` plugin wrote its file (``save_checkpoint``; the core keeps
it as ``state.last_checkpoint``), this plugin loads it in ``on_checkpoint``, which
fires after every save, and restores it into a *fresh* model (built by the workload),
optimizer (same class, same parameter groups and options) and scheduler (the live one
copied, rebound to the fresh optimizer, then overwritten by the checkpoint's state),
checks the restored weights and optimizer state equal the live ones, and takes one
training step on the fresh objects. It changes nothing in training: every random state
is saved before and restored after, and the batch is taken from the dataset, not the
shuffled loader.

Outcomes: ``checkpoint_roundtrip`` is ``ok`` when every round-trip so far succeeded,
``fails`` when a load or restore raised (``checkpoint_error``: the exception type,
``checkpoint_error_message``: its first line), ``mismatch`` when it loaded but the
restored state differs from the live one.
"""

from __future__ import annotations

import copy
import inspect
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.core.plugin import Plugin, hookimpl
from harness.plugins.fixes.checkpoint import load_checkpoint, restore_rng_states, restore_training_objects, rng_states

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weights_only: bool | None = Field(
        None, description="None: torch.load(path) with the running torch's default (v1.5); true: the fix"
    )
    allow: list[str] = Field(
        default_factory=list, description="dotted globals the weights-only unpickler may accept (keep minimal)"
    )

    @model_validator(mode="after")
    def _allow_needs_weights_only(self) -> Params:
        if self.allow and self.weights_only is False:
            raise ValueError("allow only applies to weights-only loading; drop it or set weights_only: true")
        return self


def fresh_optimizer(optimizer: Any, old_model: Any, new_model: Any) -> Any:
    """A new optimizer of the same class over ``new_model``, same groups and options, no state."""
    by_id = {id(p): i for i, p in enumerate(old_model.parameters())}
    new_params = list(new_model.parameters())
    groups = [
        {
            **{k: v for k, v in group.items() if k != "params"},
            "params": [new_params[by_id[id(p)]] for p in group["params"]],
        }
        for group in optimizer.param_groups
    ]
    accepted = inspect.signature(type(optimizer).__init__).parameters
    options = {k: v for k, v in optimizer.defaults.items() if k in accepted}
    return type(optimizer)(groups, **options)


def fresh_scheduler(scheduler: Any, optimizer: Any) -> Any:
    """The scheduler rebound to ``optimizer``; its state must then be loaded from a checkpoint."""
    if scheduler is None:
        return None
    new = copy.copy(scheduler)
    new.optimizer = optimizer
    return new


def states_equal(a: Any, b: Any) -> bool:
    """Deep equality of state dicts (tensors with ``torch.equal``)."""
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a.cpu(), b.cpu())
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(states_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(states_equal(x, y) for x, y in zip(a, b, strict=False))
    return bool(a == b)


def error_summary(exc: BaseException) -> str:
    """One short line: the refused global of a weights-only failure, else the first line."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    if m := re.search(r"Unsupported global: GLOBAL (\S+)", text):
        return f"unsupported global {m[1]}"
    return (text.strip().splitlines() or [type(exc).__name__])[0][:200]


class CheckpointLoad(Plugin):
    name = "checkpoint_load"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params

    def load(self, path: str | Path, map_location: Any = None) -> tuple[dict[str, Any], list[str]]:
        """The checkpoint at ``path`` read this plugin's way, and the warnings the load raised."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            checkpoint = load_checkpoint(
                path,
                weights_only=self.params.weights_only,
                allow=tuple(self.params.allow),
                map_location=map_location if self.params.weights_only is not None else None,
            )
        about_loading = [w.category.__name__ for w in caught if "weights_only" in str(w.message)]
        return checkpoint, about_loading

    @hookimpl
    def on_checkpoint(self, state: TrainState) -> None:
        written = state.last_checkpoint
        if written is None or written.epoch != state.epoch:
            return  # nothing saved this epoch
        saved_rng = rng_states(state)  # building and stepping the fresh model draws random numbers
        try:
            checkpoint, load_warnings = self.load(written.path, map_location=state.device)
            if load_warnings:
                state.outcomes.setdefault("checkpoint_load_warning", load_warnings[0])
            live_optimizer = state.optimizer
            assert live_optimizer is not None, "make_optimizer runs before training, so before any checkpoint"
            model = state.workload.build_model().to(state.device)
            optimizer = fresh_optimizer(live_optimizer, state.model, model)
            scheduler = fresh_scheduler(state.scheduler, optimizer)
            restore_training_objects(checkpoint, model, optimizer, scheduler)
            same = states_equal(model.state_dict(), state.model.state_dict()) and states_equal(
                optimizer.state_dict(), live_optimizer.state_dict()
            )
            self._continue_one_step(state, model, optimizer, scheduler)
        except Exception as exc:  # noqa: BLE001 - the outcome under test: record it, training goes on
            state.outcomes["checkpoint_roundtrip"] = "fails"
            state.outcomes.setdefault("checkpoint_error", type(exc).__name__)
            state.outcomes.setdefault("checkpoint_error_message", error_summary(exc))
            return
        finally:
            restore_rng_states(state, saved_rng)
        if state.outcomes.get("checkpoint_roundtrip") in (None, "ok"):
            state.outcomes["checkpoint_roundtrip"] = "ok" if same else "mismatch"

    @staticmethod
    def _continue_one_step(state: TrainState, model: Any, optimizer: Any, scheduler: Any) -> None:
        """One training step on the restored objects (the caller restores the random states after)."""
        import torch

        criterion = state.criterion
        assert criterion is not None, "make_criterion runs before training, so before any checkpoint"
        loader = state.train_loader
        dataset = loader.dataset
        items = [dataset[i] for i in range(min(len(dataset), loader.batch_size or 1))]
        batch = {k: v.to(state.device) for k, v in loader.collate_fn(items).items()}
        model.train()
        loss = criterion(state.workload.forward(model, batch), batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if scheduler is not None:
            scheduler.step()
        if not bool(torch.isfinite(loss.detach())):
            raise FloatingPointError("the step after restoring gave a non-finite loss")
