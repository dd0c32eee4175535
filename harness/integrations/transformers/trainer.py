"""HarnessTrainer: a thin Trainer subclass that installs the HarnessCallback and raises on_batch from compute_loss."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transformers import Trainer

from harness.integrations.transformers.adapters import HarnessTrainerError
from harness.integrations.transformers.callback import HarnessCallback


class HarnessTrainer(Trainer):  # type: ignore[misc]  # transformers is not followed by mypy: Any
    """``transformers.Trainer`` with harness plugins wired in (see the module docstring).

    :param harness_plugins: name -> ``true``/``false``/parameters, as in a scenario.
    :param harness_train_labels: the training labels, if the dataset cannot give them.
    The callback is ``trainer.harness``; ``trainer.harness.record()`` gives the results.
    """

    def __init__(
        self,
        *args: Any,
        harness_plugins: Mapping[str, Any] | None = None,
        harness_train_labels: Any = None,
        harness_extra: tuple[type, ...] = (),
        **kwargs: Any,
    ) -> None:
        if kwargs.get("compute_loss_func") is not None:
            raise HarnessTrainerError("HarnessTrainer computes the loss through the plugins; drop compute_loss_func")
        self.harness = HarnessCallback(
            harness_plugins, train_labels=harness_train_labels, extra=harness_extra, with_batch=True
        )
        training_args = kwargs.get("args", args[1] if len(args) > 1 else None)
        if training_args is not None:
            prepared = self.harness.prepare_arguments(training_args)
            if "args" in kwargs or len(args) <= 1:
                kwargs["args"] = prepared
            else:
                args = (args[0], prepared, *args[2:])
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), self.harness]
        kwargs["compute_loss_func"] = self.harness.compute_loss
        super().__init__(*args, **kwargs)
        self.loss_is_scaled_for_ga = False  # compute_loss returns a per-batch mean

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        self.harness.set_batch(inputs)
        return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
