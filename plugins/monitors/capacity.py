"""Capacity monitor: ``weight_shrinkage``, ``clamped_outputs`` and ``symmetric_units``.

Pathology: the model cannot use its capacity. (a) Weight decay far too strong (or an
L2 penalty on a wrong scale) shrinks every weight toward zero faster than the gradient
can grow it, so the model ends nearly constant; (b) the outputs pass through a bound
(a ReLU or ``clamp`` after the last layer, a ``hardtanh``), so the logits cannot go
negative or pile up at the bound, and most classes cannot win; (c) a hidden layer
initialised to a constant (``nn.init.constant_``, zeros) gives every unit the same
incoming weights and the same gradient, so the symmetry is never broken and the
layer acts as one unit.
Signal: per epoch, relative to the model itself: (a) ``weight_shrinkage``: the L2 norm
of every weight matrix (parameters with 2 or more dimensions) below ``shrink_ratio``
(0.3) x its value at the start of training and still falling since the last epoch,
while the epoch's training loss is above ``loss_ratio`` (0.5) x the first epoch's;
(b) ``clamped_outputs``: in the epoch's first ``sample_batches`` (8) training batches
of a classifier, every batch's class logits are non-negative (min >= 0), or on average
at least ``pinned_share`` (50%) of the logits sit exactly at the batch's max or min
value (batches whose rows are all the same are not judged: a constant output is
``mode_collapse``'s; nor probabilities, rows in [0, 1] summing to 1: ``probability_outputs``');
(c) ``symmetric_units``: a Linear layer other than the output layer, with 2 or more
units, whose rows (each unit's incoming weights) are all equal within ``tolerance``
(1e-6, relative to the largest weight) after the epoch.
Fix: none; this monitor only observes (a smaller ``weight_decay``; no activation after
the last layer, the loss takes raw logits; a random init: ``nn.init.kaiming_uniform_``).
The batch statistics stay tensors on the device; each epoch is read in one transfer
per check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.core.diagnosis import Cause
from harness.core.findings import FindingKind
from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.causes import HEAVY_WEIGHT_DECAY
from harness.plugins._shared.evidence import seen
from harness.plugins._shared.model_parts import class_logits

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shrink_ratio: float = Field(0.3, gt=0, lt=1, description="weight_shrinkage below this x the initial weight norm")
    loss_ratio: float = Field(0.5, gt=0, le=1, description="... while the loss is above this x the first epoch's")
    sample_batches: PositiveInt = Field(8, description="logits of each epoch's first N training batches are checked")
    pinned_share: float = Field(0.5, gt=0, le=1, description="clamped_outputs: this share of logits at a bound")
    tolerance: float = Field(1e-6, gt=0, description="symmetric_units: rows equal within this x the largest weight")


def weight_norm(matrices: list[Any]) -> Any:
    """The L2 norm of ``matrices`` together, a 0-d float64 tensor (no host sync)."""
    import torch

    return torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(m.detach(), dtype=torch.float64) for m in matrices])
    )


def hidden_linears(model: Any) -> list[tuple[str, Any]]:
    """Every Linear with 2 or more units except the last one (the output layer)."""
    import torch

    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    return [(n, m) for n, m in linears[:-1] if m.out_features >= 2]


def logit_stats(logits: Any) -> Any:
    """``[min, share at the max, share at the min, judged]`` of a batch's logits, as one tensor.

    ``judged`` is 0 for a batch whose rows are all the same (a constant output: ``mode_collapse``'s)
    or that holds probabilities (each row in [0, 1] summing to 1: ``probability_outputs``'), else 1.
    """
    import torch

    values = logits.detach().float()
    rows = values.reshape(values.shape[0], -1) if values.dim() >= 2 else values.reshape(-1, 1)
    low, high = values.amin(), values.amax()
    varies = (rows - rows[:1]).abs().amax() > 0
    probabilities = (low >= 0) & (high <= 1)
    if rows.shape[1] >= 2:
        probabilities = probabilities & ((rows.sum(dim=1) - 1).abs() <= 1e-2).all()
    judged = varies & ~probabilities
    return torch.stack([low, (values == high).float().mean(), (values == low).float().mean(), judged.float()])


WEIGHT_SHRINKAGE_KIND = FindingKind(
    "weight_shrinkage",
    "the weights shrink towards zero epoch after epoch",
    causes=(HEAVY_WEIGHT_DECAY,),
    signals=("parameters",),
)

CLAMPED_OUTPUTS_KIND = FindingKind(
    "clamped_outputs",
    "outputs clamped or rectified so that some classes can never win",
    causes=(
        Cause(
            "outputs clamped or made non-negative",
            "a ReLU, abs() or clamp after the last layer: logits cannot go below 0 (or past the bound), "
            "so the classes cannot be told apart",
            "return the last Linear layer's raw output as logits",
            (),
            seen("clamped_outputs"),
        ),
    ),
    signals=("predictions",),
)

SYMMETRIC_UNITS_KIND = FindingKind(
    "symmetric_units",
    "hidden units that stay identical to each other (symmetric initialisation)",
    causes=(
        Cause(
            "units initialised identically",
            "a constant init (zeros, ones, fill_) gives every unit of a layer the same gradient: they stay "
            "copies and the layer acts as one unit",
            "keep PyTorch's random init (or any init that differs between units)",
            (),
            seen("symmetric_units"),
        ),
    ),
    signals=("parameters",),
    roles=frozenset(("structural",)),
)


class Capacity(Plugin):
    name = "capacity"
    kind = "monitor"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (WEIGHT_SHRINKAGE_KIND, CLAMPED_OUTPUTS_KIND, SYMMETRIC_UNITS_KIND)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.matrices: list[Any] = []
        self.initial: Any = None  # the weight norm at the start (a tensor until the first epoch's end)
        self.norms: list[float] = []  # per epoch
        self.first_loss: float | None = None
        self.stats: list[Any] = []
        self.batches = 0

    @hookimpl
    def on_train_start(self, state: TrainState) -> None:
        self.matrices = [p for p in state.model.parameters() if p.dim() >= 2]
        if self.matrices:
            self.initial = weight_norm(self.matrices)

    @hookimpl
    def on_batch_end(self, state: TrainState, outputs: Any) -> None:
        self.batches += 1
        if self.batches > self.params.sample_batches:
            return
        logits = class_logits(state.workload, outputs)
        if logits is not None and logits.numel() >= 2:
            self.stats.append(logit_stats(logits))

    @hookimpl
    def on_epoch_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        self.check_shrinkage(state, metrics)
        self.check_outputs(state)
        self.check_symmetry(state)

    def check_shrinkage(self, state: TrainState, metrics: dict[str, Any]) -> None:
        import torch

        if not self.matrices or self.initial is None:
            return
        initial, now = torch.stack([self.initial, weight_norm(self.matrices)]).tolist()  # one transfer
        previous = self.norms[-1] if self.norms else initial
        self.norms.append(now)
        loss = metrics.get("loss")
        if not isinstance(loss, (int, float)):
            return
        if self.first_loss is None:
            self.first_loss = float(loss)
        p = self.params
        if initial > 0 and now < p.shrink_ratio * initial and now < previous and loss > p.loss_ratio * self.first_loss:
            state.add_finding(
                "weight_shrinkage",
                self.name,
                f"the weight matrices' norm fell to {now:.4g}, {now / initial:.0%} of its initial {initial:.4g}, "
                f"while the training loss stays at {loss:.4g} ({loss / self.first_loss:.0%} of the first epoch's): "
                f"weight decay ({state.hparams.weight_decay:g}) shrinks the model toward zero (lower it)",
                step=state.step,
                value=now / initial,
            )

    def check_outputs(self, state: TrainState) -> None:
        import torch

        stats, self.stats, self.batches = self.stats, [], 0
        if not stats:
            return
        rows = [r for r in torch.stack(stats).tolist() if r[3] > 0]  # one transfer; batches not judged left out
        if not rows:
            return
        pinned = sum(max(r[1], r[2]) for r in rows) / len(rows)
        if all(r[0] >= 0 for r in rows):
            why = f"the class logits were >= 0 in all {len(rows)} checked training batches (min {min(r[0] for r in rows):.3g})"
        elif pinned >= self.params.pinned_share:
            why = f"{pinned:.0%} of the class logits sat exactly at their batch's max or min"
        else:
            return
        state.add_finding(
            "clamped_outputs",
            self.name,
            f"{why} in epoch {state.epoch}: the outputs go through a bound (a ReLU or clamp after the last layer?); "
            "give the loss the last Linear's raw logits",
            value=pinned,
        )

    def check_symmetry(self, state: TrainState) -> None:
        import torch

        layers = hidden_linears(state.model)
        if not layers:
            return
        spreads = torch.stack(
            [
                torch.stack([(m.weight - m.weight[:1]).abs().amax(), m.weight.abs().amax()]).detach().double()
                for _, m in layers
            ]
        ).tolist()  # one transfer
        tol = self.params.tolerance
        symmetric = [
            (name, m) for (name, m), (spread, top) in zip(layers, spreads, strict=True) if spread <= tol * max(top, 1.0)
        ]
        if symmetric:
            name, module = symmetric[0]
            state.add_finding(
                "symmetric_units",
                self.name,
                f"all {module.out_features} units of {name!r} (and {len(symmetric) - 1} more layers) have identical "
                f"incoming weights after epoch {state.epoch}: a constant init never breaks the symmetry, so the layer "
                "acts as one unit (initialise randomly, e.g. nn.init.kaiming_uniform_)",
                value=float(len(symmetric)),
            )
