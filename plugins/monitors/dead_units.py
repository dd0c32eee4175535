"""Dead-unit monitor: records ``dead_units`` when (nearly) every unit of a rectifier layer is dead.

Pathology: dying ReLUs: a unit whose pre-activation is negative for every input outputs 0
and gets no gradient, so it never comes back; a large negative bias init, an LR far too
high or unnormalised inputs kill whole layers, and a dead layer makes everything above
it constant.
Signal: over an epoch's training batches (its first ``sample_batches``, 8, so the cost per
epoch is bounded), the share of a rectifier layer's units (ReLU, GELU, SiLU modules; one
unit per output feature, per channel for a convolution) that were never positive; a layer
is dead when that share reaches ``max_dead_share`` (0.9).
The rule is relative to each layer's own width, so it holds for an MLP, a CNN and a
transformer's feed-forward alike. The epoch's largest share is added to the history
(``dead_unit_share``). Activations computed functionally (``F.relu`` in ``forward``)
have no module to observe and are not seen.
Fix: none; this monitor only observes (``bias_init``, a lower LR, normalised inputs).
Forward hooks, attached only for the forward pass of a sampled training batch (so
validation does not count and the model is never checkpointed with them), keep one
boolean per unit on the device ("positive at least once"); the shares are read once per
epoch, in one transfer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.core.diagnosis import Cause, Cure
from harness.core.findings import FindingKind
from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.causes import LR_TOO_HIGH
from harness.plugins._shared.evidence import seen_before_overshoot
from harness.plugins._shared.model_parts import is_rectifier

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_dead_share: float = Field(
        0.9, gt=0, le=1, description="a layer is dead when this share of its units never fired"
    )
    sample_batches: PositiveInt = Field(8, description="units are observed in each epoch's first N training batches")


def unit_dims(model: Any) -> dict[str, int]:
    """Per rectifier module (by name): the axis of its units (1 after a convolution, else the last)."""
    import torch

    dims: dict[str, int] = {}
    conv = False
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.modules.conv._ConvNd):
            conv = True
        elif isinstance(module, torch.nn.Linear):
            conv = False
        elif name and is_rectifier(module):
            dims[name] = 1 if conv else -1
    return dims


DEAD_UNITS_KIND = FindingKind(
    "dead_units",
    "hidden units whose activation is zero for every input",
    causes=(
        Cause(
            "biases initialised negative",
            "units whose pre-activation starts below 0 never fire, so they never get a gradient",
            "initialise the biases feeding a ReLU at 0 (PyTorch's default init does no harm)",
            (Cure("bias_init"),),
            seen_before_overshoot("dead_units"),
        ),
        LR_TOO_HIGH,
    ),
    lr_type=True,
    signals=("parameters",),
    roles=frozenset(("stall",)),
)


class DeadUnits(Plugin):
    name = "dead_units"
    kind = "monitor"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (DEAD_UNITS_KIND,)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.alive: dict[str, Any] = {}
        self.handles: list[Any] = []
        self.watched: list[tuple[Any, str, int]] = []
        self.batches = 0  # training batches of this epoch so far

    def _observer(self, name: str, dim: int) -> Any:
        import torch

        def observe(module: Any, args: Any, output: Any) -> None:
            if not isinstance(output, torch.Tensor) or output.dim() < 2:
                return
            x = output.detach()
            dims = [d for d in range(x.dim()) if d != dim % x.dim()]
            fired = x.amax(dim=dims) > 0  # one reduction per unit, no full-size boolean tensor
            seen = self.alive.get(name)
            self.alive[name] = fired if seen is None or seen.shape != fired.shape else seen | fired

        return observe

    @hookimpl
    def on_train_start(self, state: TrainState) -> None:
        modules = dict(state.model.named_modules())
        self.watched = [(modules[name], name, dim) for name, dim in unit_dims(state.model).items()]

    @hookimpl
    def on_batch(self) -> None:
        # hooks live only for the forward pass of a sampled training batch: validation is not
        # counted, and the model is never saved (a whole-object checkpoint) with them attached
        self.batches += 1
        if self.batches <= self.params.sample_batches:
            self.handles = [m.register_forward_hook(self._observer(name, dim)) for m, name, dim in self.watched]

    @hookimpl
    def on_batch_end(self) -> None:
        self._remove()

    def _remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []

    @hookimpl
    def on_epoch_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        import torch

        if not self.alive:
            return
        names = list(self.alive)
        shares = torch.stack([1.0 - self.alive[n].double().mean() for n in names]).tolist()  # one transfer
        units = [int(self.alive[n].numel()) for n in names]
        self.alive = {}
        self.batches = 0
        metrics["dead_unit_share"] = max(shares)
        dead = [(s, n, u) for s, n, u in zip(shares, names, units, strict=False) if s >= self.params.max_dead_share]
        if dead:
            share, layer, width = max(dead)
            state.add_finding(
                "dead_units",
                self.name,
                f"{len(dead)} of {len(names)} rectifier layers dead: {share:.0%} of the {width} units of {layer!r} "
                f"never positive in epoch {state.epoch}'s training batches",
                value=share,
            )

    @hookimpl
    def on_train_end(self) -> None:
        self._remove()
