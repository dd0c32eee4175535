"""Bug: the training labels are shuffled independently of the inputs.

Pathology: inputs and labels are shuffled by two separate permutations (two
``shuffle=True`` loaders, ``np.random.shuffle(y)`` after splitting, a sort of one list
and not the other), so every input is paired with another sample's label. The labels
carry no information about the inputs: the model can learn at most the class prior.
Signal: the training loss stays at the entropy of the class prior (``no_convergence``:
not below its start), validation predictions collapse to the majority class
(``collapse``) and AUC stays at chance (``no_signal``).
Fix: shuffle indices once and apply them to inputs and labels together (one ``Dataset``
returning ``(x, y)`` pairs, one shuffled ``DataLoader``): switch this bug off.

Mechanism: in ``on_batch`` the batch's ``labels`` are permuted by a fresh permutation
drawn from the plugin's own generator (seeded from the run's seed, so the global RNG and
the data order are untouched); validation labels are left as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field("labels", description="the batch entry holding the labels")


class BugShuffledLabels(Plugin):
    name = "bug_shuffled_labels"
    kind = "bug"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    shows_as = ("no_convergence", "collapse", "no_signal")

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.generator: Any = None

    @hookimpl
    def on_train_start(self, state: TrainState) -> None:
        import torch

        self.generator = torch.Generator().manual_seed(10_007 + state.seed)

    @hookimpl
    def on_batch(self, batch: dict[str, Any]) -> None:
        import torch

        labels = batch[self.params.key]
        order = torch.randperm(labels.shape[0], generator=self.generator).to(labels.device)
        batch[self.params.key] = labels[order]
