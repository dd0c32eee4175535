"""Digits classifier whose BatchNorm layers normalise the raw pixel values (0..16): SGD with
momentum, a DataLoader, model.train() at each epoch's start and model.eval() for validation
(the clean twin of classifier_bn_eval_mode.py)."""

import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

torch.set_num_threads(1)
torch.manual_seed(0)


def data():
    X, y = load_digits(return_X_y=True)
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    X, y = X[order], y[order]
    return X[:600], y[:600], X[1000:], y[1000:]


def main():
    Xtr, ytr, Xva, yva = data()
    loader = DataLoader(TensorDataset(Xtr, ytr), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
    model = nn.Sequential(
        nn.Linear(64, 128), nn.BatchNorm1d(128), nn.ReLU(),
        nn.Linear(128, 128), nn.BatchNorm1d(128), nn.ReLU(),
        nn.Linear(128, 10),
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(10):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            criterion(model(xb), yb).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(Xva)
            val_loss = criterion(logits, yva).item()
            val_acc = (logits.argmax(dim=1) == yva).float().mean().item()
        print(f"epoch {epoch + 1} val_loss {val_loss:.4f} val_acc {val_acc:.3f}")
    print(f"RESULT val_loss={val_loss:.4f} val_acc={val_acc:.4f}")


if __name__ == "__main__":
    main()
