"""Resume training from a v1.6 checkpoint, bit-identically on CPU (issue 11, Fix 4).

Pathology: a run restarted from a checkpoint that holds only the weights (or whose
optimizer, scheduler or random streams are not restored) does not continue the run
it came from: Adam's moments restart at zero, the LR schedule restarts at warmup,
and the next epoch shuffles and drops out differently.
Signal: after the same number of epochs, the resumed run's weights differ from an
uninterrupted run's (``torch.equal`` fails).
Fix: on ``on_train_start`` (every training object built, nothing trained yet) load a
``checkpoint`` of ``format: state_dict`` with ``weights_only=True`` and restore model,
optimizer and scheduler state, the global torch / Python / NumPy random states, the
train loader's shuffle generator, the epoch and step counters, and the history so far;
the loop then continues with the next epoch.

Not restored: plugins' own bookkeeping across epochs (e.g. ``collapse_stop``'s streak)
and a mixed-precision gradient scaler; resume a run whose plugins keep such state at
an epoch where it is empty, or expect those plugins to start afresh.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl
from harness.plugins.fixes.checkpoint import load_checkpoint, restore_rng_states, restore_training_objects

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="checkpoint file written by the checkpoint plugin (format: state_dict)")
    allow: list[str] = Field(default_factory=list, description="extra dotted globals for weights-only loading")


class Resume(Plugin):
    name = "resume"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params

    @hookimpl  # touches nothing another plugin's on_train_start creates (the scaler is not restored)
    def on_train_start(self, state: TrainState) -> None:
        from harness.core.state import Finding

        path = Path(self.params.path)
        checkpoint = load_checkpoint(path, weights_only=True, allow=tuple(self.params.allow), map_location=state.device)
        if checkpoint.get("format") != "state_dict" or "rng" not in checkpoint:
            raise ValueError(f"{path}: not a state_dict checkpoint of the checkpoint plugin; cannot resume from it")
        if checkpoint["epoch"] >= state.hparams.epochs:
            raise ValueError(
                f"{path}: saved after epoch {checkpoint['epoch']}, the run has only {state.hparams.epochs}"
            )
        restore_training_objects(checkpoint, state.model, state.optimizer, state.scheduler)
        restore_rng_states(state, checkpoint["rng"])
        state.epoch = int(checkpoint["epoch"])
        state.step = int(checkpoint["step"])
        state.history[:] = [dict(record) for record in checkpoint["history"]]
        state.lr_per_step[:] = list(checkpoint["lr_per_step"])
        state.findings[:] = [Finding(**f) for f in checkpoint["findings"]]
        state.outcomes["resumed_from_epoch"] = state.epoch
