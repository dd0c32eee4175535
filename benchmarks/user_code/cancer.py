"""Binary: scikit-learn's breast_cancer (569 rows, 30 features), standardised, a small MLP.

The clean workload is written the way a user writes one: their own ``Dataset``, their
own ``nn.Module``, a seeded stratified split and a scaler fitted on the training split.
Every bug below is a subclass that overrides only the method holding the mistake; the
line that differs from the clean twin is marked ``# BUG``.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import Dataset

from harness import Workload


class Rows(Dataset):
    """(features, label) pairs of a feature matrix."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x = torch.tensor(x, dtype=torch.float32)
        self.y = torch.tensor(y, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


class CancerNet(nn.Module):
    """Two hidden ReLU layers and a 2-logit head."""

    def __init__(self, n_features: int, hidden: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class Cancer(Workload):
    """The clean twin: malignant (0) vs benign (1)."""

    name = "user_cancer"

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        return load_breast_cancer(return_X_y=True)

    def split(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(train_test_split(x, y, test_size=0.25, random_state=0, stratify=y))

    def scale(self, x_train: np.ndarray, x_val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        return (x_train - mean) / std, (x_val - mean) / std

    def arrays(self) -> tuple[np.ndarray, ...]:
        x, y = self.load()
        x_train, x_val, y_train, y_val = self.split(x, y)
        x_train, x_val = self.scale(x_train, x_val)
        return x_train, y_train, x_val, y_val

    def datasets(self) -> tuple[Dataset, Dataset]:
        if not hasattr(self, "_sets"):
            x_train, y_train, x_val, y_val = self.arrays()
            self._sets = (Rows(x_train, y_train), Rows(x_val, y_val))
        return self._sets

    def build_model(self) -> nn.Module:
        return CancerNet(30)


# ---------------------------------------------------------------- training/validation divergence


class CancerLabelsShifted(Cancer):
    """The training labels are off by one row (``np.roll``) after a re-ordering step."""

    def arrays(self) -> tuple[np.ndarray, ...]:
        x_train, y_train, x_val, y_val = super().arrays()
        y_train = np.roll(y_train, 1)  # BUG: meant to drop a header row, shifted the labels instead
        return x_train, y_train, x_val, y_val


class CancerValUnscaled(Cancer):
    """The scaler is applied to the training split only; validation keeps raw units."""

    def scale(self, x_train: np.ndarray, x_val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        return (x_train - mean) / std, x_val  # BUG: forgot to transform the validation split


# ---------------------------------------------------------------- near-total collapse


class CancerSubsampled(Cancer):
    """Meant to balance the classes by subsampling the majority; subsampled the minority to 10 rows."""

    def split(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        x_train, x_val, y_train, y_val = super().split(x, y)
        rng = np.random.default_rng(0)
        minority = rng.choice(np.flatnonzero(y_train == 0), size=10, replace=False)  # BUG: wrong class
        keep = np.concatenate([minority, np.flatnonzero(y_train == 1)])
        return x_train[keep], x_val, y_train[keep], y_val


class CancerBiasCounts(Cancer):
    """Initialises the head's bias to the class prior, but with the raw class counts (no log, no normalising)."""

    def build_model(self) -> nn.Module:
        model = CancerNet(30)
        counts = torch.bincount(self.datasets()[0].y).float()
        with torch.no_grad():
            model.head.bias.copy_(counts)  # BUG: meant torch.log(counts / counts.sum())
        return model


# ---------------------------------------------------------------- capacity capped / loss stuck


class ReluHeadNet(CancerNet):
    """Every layer is Linear + ReLU, the output layer included."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.head(self.body(x)))  # BUG: a ReLU on the logits


class CancerReluLogits(Cancer):
    """A ReLU on the output layer (copied the hidden block): the logits cannot go negative."""

    def build_model(self) -> nn.Module:
        return ReluHeadNet(30)


# ---------------------------------------------------------------- data mistakes before training


class CancerNanFeature(Cancer):
    """Adds a derived ratio feature; 0/0 gives NaN for the rows without concavity."""

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = load_breast_cancer(return_X_y=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = x[:, 7] / x[:, 6]  # BUG: mean concave points / mean concavity, 0/0 for 13 rows
        return np.column_stack([x[:, :29], ratio]), y

    def scale(self, x_train: np.ndarray, x_val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, std = np.nanmean(x_train, axis=0), np.nanstd(x_train, axis=0)  # the NaNs survive scaling
        return (x_train - mean) / std, (x_val - mean) / std


class CancerRawArea(Cancer):
    """Re-appends 'mean area' in raw units (hundreds to 2500) after standardising, 'for readability'."""

    def arrays(self) -> tuple[np.ndarray, ...]:
        x_train, y_train, x_val, y_val = super().arrays()
        x, y = self.load()
        raw_train, raw_val, _, _ = self.split(x, y)
        x_train = np.column_stack([x_train[:, :29], raw_train[:, 3]])  # BUG: an unscaled column
        x_val = np.column_stack([x_val[:, :29], raw_val[:, 3]])
        return x_train, y_train, x_val, y_val


# ---------------------------------------------------------------- the catalog's mistakes, written by hand


class SoftmaxNet(CancerNet):
    """Ends in a softmax, so that the outputs 'are probabilities'."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.head(self.body(x)), dim=1)  # BUG: cross-entropy softmaxes again


class CancerSoftmaxHead(Cancer):
    """The model returns probabilities and the loss is cross-entropy (a second softmax)."""

    def build_model(self) -> nn.Module:
        return SoftmaxNet(30)
