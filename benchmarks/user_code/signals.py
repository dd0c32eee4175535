"""Not from scikit-learn: a 1-D CNN on synthetic signals, 3 classes, data from a fixed generator.

Each signal is 48 samples of Gaussian noise with a motif at a random place: a bump
(class 0), a dip (class 1) or a bump followed by a dip (class 2). A small CNN with a
global max-pool learns it in a few epochs. The signals are generated per item from a
seed (the way a user writes an on-the-fly synthetic ``Dataset``); each bug is a subclass
overriding only the method with the mistake, the differing line marked ``# BUG``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from harness import Workload

LENGTH = 48
N_TRAIN, N_VAL = 600, 240


def make_signals(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x (n, 1, LENGTH), y (n,))``: noise plus the class's motif at a random position."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    x = rng.normal(0.0, 0.6, size=(n, 1, LENGTH))
    bump = 2.0 * np.exp(-0.5 * (np.arange(-4, 5) / 1.5) ** 2)
    for i, label in enumerate(y):
        start = rng.integers(0, LENGTH - 20)
        if label in (0, 2):
            x[i, 0, start : start + 9] += bump
        if label in (1, 2):
            x[i, 0, start + 10 : start + 19] -= bump
    return x.astype(np.float32), y


class Signals(Dataset):
    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x = torch.from_numpy(x)
        self.y = torch.from_numpy(y).long()

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


class SignalNet(nn.Module):
    """Conv-BN-ReLU twice, a global max-pool and a linear head."""

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, channels, 7, padding=3),
            nn.BatchNorm1d(channels),
            nn.ReLU(),
            nn.Conv1d(channels, channels, 5, padding=2),
            nn.BatchNorm1d(channels),
            nn.ReLU(),
            nn.AdaptiveMaxPool1d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class Motifs(Workload):
    """The clean twin."""

    name = "user_motifs"

    def train_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return make_signals(N_TRAIN, seed=1)

    def val_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return make_signals(N_VAL, seed=2)

    def train_set(self, x: np.ndarray, y: np.ndarray) -> Dataset:
        return Signals(x, y)

    def datasets(self) -> tuple[Dataset, Dataset]:
        if not hasattr(self, "_sets"):
            self._sets = (self.train_set(*self.train_arrays()), Signals(*self.val_arrays()))
        return self._sets

    def build_model(self) -> nn.Module:
        return SignalNet()


# ---------------------------------------------------------------- training/validation divergence


class MotifsRegeneratedLabels(Motifs):
    """Reads the training labels from a label file generated with another seed (11 for 1)."""

    def train_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        x, _ = make_signals(N_TRAIN, seed=1)
        _, y = make_signals(N_TRAIN, seed=11)  # BUG: labels of other signals; validation is right
        return x, y


class MotifsValMillivolts(Motifs):
    """The validation recordings are in millivolts, training in volts: a 1000x scale on validation only."""

    def val_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = make_signals(N_VAL, seed=2)
        return x * 1000.0, y  # BUG: never converted to the training unit


class CachedSignals(Signals):
    """Caches 'the' item on first access to save re-reading it."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        super().__init__(x, y)
        self.cached: tuple[torch.Tensor, torch.Tensor] | None = None

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cached is None:  # BUG: the cache is not keyed by the index
            self.cached = (self.x[i], self.y[i])
        return self.cached


class MotifsSameItem(Motifs):
    """The training Dataset returns its first-read item forever."""

    def train_set(self, x: np.ndarray, y: np.ndarray) -> Dataset:
        return CachedSignals(x, y)


# ---------------------------------------------------------------- near-total collapse


class MotifsRareClasses(Motifs):
    """Meant to drop 2% of class 2 as 'noisy' but keeps only 2% of classes 0 and 1."""

    def train_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = make_signals(N_TRAIN, seed=1)
        rng = np.random.default_rng(0)
        keep = (y == 2) | (rng.random(len(y)) < 0.02)  # BUG: the mask is inverted for classes 0 and 1
        return x[keep], y[keep]


class MotifsBiasedHead(Motifs):
    """Sets the head's bias to favour class 2 'because it is the common case in production'."""

    def build_model(self) -> nn.Module:
        model = SignalNet()
        with torch.no_grad():
            model.head.bias.copy_(torch.tensor([0.0, 0.0, 50.0]))  # BUG: a prior of 50 logits
        return model


# ---------------------------------------------------------------- capacity capped / loss stuck


class AbsNet(SignalNet):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).abs()  # BUG: 'scores must be positive'


class MotifsAbsLogits(Motifs):
    """``abs()`` on the logits: no logit can go below 0."""

    def build_model(self) -> nn.Module:
        return AbsNet()


# ---------------------------------------------------------------- the catalog's mistakes, written by hand


class MotifsEvalForward(Motifs):
    """``model.eval()`` in forward (copied from the inference helper): BatchNorm never uses batch statistics."""

    def forward(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        model.eval()  # BUG: training runs in eval mode
        return model(batch["inputs"])


class MotifsFrozenConvs(Motifs):
    """Freezes the convolutions ('pretrained', but the checkpoint was never loaded)."""

    def build_model(self) -> nn.Module:
        model = SignalNet()
        for module in model.features:
            if isinstance(module, nn.Conv1d):
                module.requires_grad_(False)  # BUG: random filters, frozen
        return model


class MotifsDetached(Motifs):
    """Detaches the pooled features before the head (copied from a feature-extraction snippet)."""

    def forward(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return model.head(model.features(batch["inputs"]).detach())  # BUG: only the head learns
