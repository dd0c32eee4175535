"""Digits classifier trained with label smoothing written by hand: KL divergence between
the smoothed one-hot targets and the model's log-probabilities (the clean twin of
label_smoothing_kl_probs.py)."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

torch.set_num_threads(1)
torch.manual_seed(0)

SMOOTHING = 0.1


def data():
    X, y = load_digits(return_X_y=True)
    X, y = torch.tensor(X, dtype=torch.float32) / 16.0, torch.tensor(y)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    X, y = X[order], y[order]
    return X[:600], y[:600], X[1000:], y[1000:]


def smoothed(labels, classes=10):
    return torch.full((len(labels), classes), SMOOTHING / classes).scatter_(1, labels[:, None], 1 - SMOOTHING + SMOOTHING / classes)


def main():
    Xtr, ytr, Xva, yva = data()
    loader = DataLoader(TensorDataset(Xtr, ytr), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(8):
        model.train()
        for xb, yb in loader:
            logits = model(xb)
            loss = F.kl_div(F.log_softmax(logits, dim=1), smoothed(yb), reduction="batchmean")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(Xva)
            val_loss = F.cross_entropy(logits, yva).item()
            val_acc = (logits.argmax(dim=1) == yva).float().mean().item()
        print(f"epoch {epoch + 1} val_loss {val_loss:.4f} val_acc {val_acc:.3f}")
    print(f"RESULT val_loss={val_loss:.4f} val_acc={val_acc:.4f}")


if __name__ == "__main__":
    main()
