"""Twin of classifier_accumulate.py with one user bug (marked BUG): the scheduler is stepped on
every micro-batch instead of every optimizer step."""

import torch
import torch.nn as nn
from sklearn.datasets import load_wine
from torch.utils.data import DataLoader, TensorDataset

torch.set_num_threads(1)
torch.manual_seed(0)

ACCUMULATE = 4


def data():
    X, y = load_wine(return_X_y=True)
    X = torch.tensor(X, dtype=torch.float32)
    X = (X - X.mean(dim=0)) / X.std(dim=0)
    y = torch.tensor(y)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    X, y = X[order], y[order]
    return X[:120], y[:120], X[120:], y[120:]


def main():
    Xtr, ytr, Xva, yva = data()
    loader = DataLoader(TensorDataset(Xtr, ytr), batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0))
    model = nn.Sequential(nn.Linear(13, 32), nn.Tanh(), nn.Linear(32, 3))
    epochs = 6
    total = epochs * len(loader) // ACCUMULATE
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    warmup = total // 10
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: step / warmup if step < warmup else max(0.0, (total - step) / (total - warmup))
    )
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        for i, (xb, yb) in enumerate(loader):
            loss = criterion(model(xb), yb) / ACCUMULATE
            loss.backward()
            if (i + 1) % ACCUMULATE == 0:
                optimizer.step()
                optimizer.zero_grad()
            scheduler.step()  # BUG: stepped on every micro-batch, 4x too fast
        model.eval()
        with torch.no_grad():
            logits = model(Xva)
            val_loss = criterion(logits, yva).item()
            val_acc = (logits.argmax(dim=1) == yva).float().mean().item()
        print(f"epoch {epoch + 1} val_loss {val_loss:.4f} val_acc {val_acc:.3f}")
    print(f"RESULT val_loss={val_loss:.4f} val_acc={val_acc:.4f}")


if __name__ == "__main__":
    main()
