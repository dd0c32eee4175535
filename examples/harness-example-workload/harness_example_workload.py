"""An example third-party harness workload: an MLP on scikit-learn's bundled digits.

``digits_mlp`` classifies the 8x8 images of ``sklearn.datasets.load_digits`` (1797
images, 10 classes; shipped with scikit-learn, so it works offline) with a one-hidden-
layer MLP. Its output layer starts at zero (``zero_init_head``), so before the first
optimizer step that moves it every image gets the same logits and the model predicts
class 0 for everything: the state a learning rate stuck at 0 leaves it in.

All a workload must write is ``Params``, ``build_model`` and ``datasets``: collate,
forward, the cross-entropy loss, the training labels and the 10-class validation
metrics (accuracy, macro F1, AUC, ``pred_share_<k>``, ``max_pred_share``, ...) are the
defaults of :class:`harness.Workload`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

import harness


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt parameter in a scenario is an error
    hidden: int = Field(64, gt=0, description="width of the hidden layer")
    zero_init_head: bool = Field(True, description="start the output layer at zero: one predicted class")
    val_share: float = Field(0.25, gt=0, lt=1, description="share of the images held out for validation")
    split_seed: int = Field(0, description="seed of the stratified train/validation split")


class DigitsMLP(harness.Workload):
    """A 10-class MLP on scikit-learn's bundled 8x8 digits (offline), standardised features."""

    name = "digits_mlp"
    Params = Params

    def build_model(self) -> Any:
        import torch

        head = torch.nn.Linear(self.params.hidden, 10)
        if self.params.zero_init_head:
            torch.nn.init.zeros_(head.weight)
            torch.nn.init.zeros_(head.bias)
        return torch.nn.Sequential(torch.nn.Linear(64, self.params.hidden), torch.nn.ReLU(), head)

    def datasets(self) -> tuple[Any, Any]:
        if not hasattr(self, "_datasets"):  # called once per run: load and split once per process
            self._datasets = self._load()
        return self._datasets

    def _load(self) -> tuple[Any, Any]:
        import torch
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        from torch.utils.data import TensorDataset

        x, y = load_digits(return_X_y=True)
        x_train, x_val, y_train, y_val = train_test_split(
            x, y, test_size=self.params.val_share, stratify=y, random_state=self.params.split_seed
        )
        scaler = StandardScaler().fit(x_train)  # the training split's statistics, for both splits

        def tensors(x: Any, y: Any) -> TensorDataset:
            return TensorDataset(torch.tensor(scaler.transform(x), dtype=torch.float32), torch.tensor(y))

        return tensors(x_train, y_train), tensors(x_val, y_val)
