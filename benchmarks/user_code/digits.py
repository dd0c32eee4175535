"""Multi-class: scikit-learn's digits (8x8 images, 10 classes; 1000 rows), standardised, an MLP.

Written as a user writes it (own ``Dataset``, own ``nn.Module``); each bug is a subclass
overriding only the method with the mistake, the differing line marked ``# BUG``.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import Dataset

from harness import Workload

N_ROWS = 1000


class Images(Dataset):
    """Flattened 8x8 images and their digit."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x = torch.tensor(x, dtype=torch.float32)
        self.y = torch.tensor(y, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


class DigitsNet(nn.Module):
    """64 -> hidden -> hidden -> 10."""

    def __init__(self, hidden: int = 64, bottleneck: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        inner = bottleneck or hidden
        self.fc1 = nn.Linear(64, hidden)
        self.fc2 = nn.Linear(hidden, inner)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(inner, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(torch.relu(self.fc1(x)))
        h = self.drop(torch.relu(self.fc2(h)))
        return self.out(h)


class Digits(Workload):
    """The clean twin."""

    name = "user_digits"

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = load_digits(return_X_y=True)
        return x[:N_ROWS], y[:N_ROWS]

    def split(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(train_test_split(x, y, test_size=0.25, random_state=0, stratify=y))

    def scale(self, x_train: np.ndarray, x_val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        std[std == 0] = 1.0  # the always-blank border pixels
        return (x_train - mean) / std, (x_val - mean) / std

    def arrays(self) -> tuple[np.ndarray, ...]:
        x, y = self.load()
        x_train, x_val, y_train, y_val = self.split(x, y)
        x_train, x_val = self.scale(x_train, x_val)
        return x_train, y_train, x_val, y_val

    def train_set(self, x: np.ndarray, y: np.ndarray) -> Dataset:
        return Images(x, y)

    def datasets(self) -> tuple[Dataset, Dataset]:
        if not hasattr(self, "_sets"):
            x_train, y_train, x_val, y_val = self.arrays()
            self._sets = (self.train_set(x_train, y_train), Images(x_val, y_val))
        return self._sets

    def build_model(self) -> nn.Module:
        return DigitsNet()


# ---------------------------------------------------------------- training/validation divergence


class DigitsShuffledApart(Digits):
    """Shuffles the training images and labels with two separate calls, so they no longer match."""

    def arrays(self) -> tuple[np.ndarray, ...]:
        x_train, y_train, x_val, y_val = super().arrays()
        rng = np.random.default_rng(0)
        x_train = x_train[rng.permutation(len(x_train))]
        y_train = y_train[rng.permutation(len(y_train))]  # BUG: a second, different permutation
        return x_train, y_train, x_val, y_val


class DigitsValTransposed(Digits):
    """The validation images come from another loader that stores them column-major (transposed)."""

    def arrays(self) -> tuple[np.ndarray, ...]:
        x_train, y_train, x_val, y_val = super().arrays()
        x_val = x_val.reshape(-1, 8, 8).transpose(0, 2, 1).reshape(-1, 64)  # BUG: pixel order differs
        return x_train, y_train, x_val, y_val


class DigitsSplitByLabel(Digits):
    """Splits 'the last 25% for validation' on data that is sorted by label: unseen digits in validation."""

    def split(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        order = np.argsort(y, kind="stable")  # the user sorted to inspect the classes
        x, y = x[order], y[order]
        cut = int(len(y) * 0.75)
        return x[:cut], x[cut:], y[:cut], y[cut:]  # BUG: no shuffle before the cut


# ---------------------------------------------------------------- capacity capped / loss stuck


class DigitsConstantInit(Digits):
    """A 'deterministic' init helper sets every Linear layer to a constant: the hidden units stay identical."""

    def build_model(self) -> nn.Module:
        model = DigitsNet()
        for module in model.modules():
            if isinstance(module, nn.Linear):
                nn.init.constant_(module.weight, 0.05)  # BUG: symmetric units get identical gradients
                nn.init.zeros_(module.bias)
        return model


class DigitsBottleneck(Digits):
    """A typo in the inner width: ``bottleneck=1`` instead of 16."""

    def build_model(self) -> nn.Module:
        return DigitsNet(bottleneck=1)  # BUG: meant 16


class ClampedNet(DigitsNet):
    """Clamps the outputs to [0, 1] 'to keep them probabilities'."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).clamp(0.0, 1.0)  # BUG: clamped logits, the loss cannot go low


class DigitsClampedLogits(Digits):
    """The logits are clamped to [0, 1]."""

    def build_model(self) -> nn.Module:
        return ClampedNet()


class DigitsDropout09(Digits):
    """``dropout=0.9`` written as a keep-probability (the TF1 habit): 90% of the units dropped."""

    def build_model(self) -> nn.Module:
        return DigitsNet(dropout=0.9)  # BUG: meant keep_prob 0.9, i.e. p=0.1


# ---------------------------------------------------------------- data mistakes before training


class DigitsNoNines(Digits):
    """Drops the 9s from validation ('they look like 4s and spoil the report')."""

    def arrays(self) -> tuple[np.ndarray, ...]:
        x_train, y_train, x_val, y_val = super().arrays()
        keep = y_val != 9  # BUG: a class the model is trained on is never validated
        return x_train, y_train, x_val[keep], y_val[keep]


class DigitsOneBased(Digits):
    """Labels 1..10 (a one-based label file) with 10 logits."""

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = super().load()
        return x, y + 1  # BUG: classes must be 0..9


class Stream(Dataset):
    """Reads rows in file order, ignoring the index it is asked for (a file reader wrapped as a Dataset)."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x = torch.tensor(x, dtype=torch.float32)
        self.y = torch.tensor(y, dtype=torch.long)
        self.position = 0

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        row = self.position  # BUG: `i` is ignored, so the loader's shuffle has no effect
        self.position = (self.position + 1) % len(self.y)
        return self.x[row], self.y[row]


class DigitsSortedStream(Digits):
    """A training file sorted by label, read in order: every batch holds one digit."""

    def arrays(self) -> tuple[np.ndarray, ...]:
        x_train, y_train, x_val, y_val = super().arrays()
        order = np.argsort(y_train, kind="stable")
        return x_train[order], y_train[order], x_val, y_val

    def train_set(self, x: np.ndarray, y: np.ndarray) -> Dataset:
        return Stream(x, y)


# ---------------------------------------------------------------- the catalog's mistakes, written by hand


class DigitsFrozenFirst(Digits):
    """Freezes the first layer ('pretrained' in the user's plan, but never loaded): random features."""

    def build_model(self) -> nn.Module:
        model = DigitsNet()
        for p in model.fc1.parameters():
            p.requires_grad = False  # BUG: frozen at its random init
        return model


class DigitsDetached(Digits):
    """Detaches the hidden features in forward (copied from a feature-extraction snippet)."""

    def forward(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        h = torch.relu(model.fc2(torch.relu(model.fc1(batch["inputs"]))))
        return model.out(h.detach())  # BUG: only the output layer learns
