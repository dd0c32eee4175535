"""A small digits classifier, as a user writes it: argparse, a DataLoader, AdamW, a fixed seed.

The incident: the model returns probabilities (a softmax) into CrossEntropyLoss, which applies
its own log-softmax, so training crawls. fix.diff is the one-line cure.
"""

import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.set_num_threads(1)
torch.manual_seed(0)


def data():
    """600 points of 10 overlapping Gaussian blobs in 32 dimensions: 400 to train, 200 to validate."""
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(10, 32, generator=g)
    y = torch.randint(0, 10, (600,), generator=g)
    X = centers[y] + 1.3 * torch.randn(600, 32, generator=g)
    return X[:400], y[:400], X[400:], y[400:]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 10))

    def forward(self, x):
        return torch.softmax(self.body(x), dim=1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args()
    Xtr, ytr, Xva, yva = data()
    loader = DataLoader(TensorDataset(Xtr, ytr), batch_size=16, shuffle=True)
    model = Net()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(Xva)
            val_loss = criterion(logits, yva).item()
            val_acc = (logits.argmax(dim=1) == yva).float().mean().item()
        print(f"epoch {epoch + 1} val_loss {val_loss:.4f} val_acc {val_acc:.3f}")


if __name__ == "__main__":
    main()
