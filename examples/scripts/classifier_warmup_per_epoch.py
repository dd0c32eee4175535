"""Twin of classifier.py with one user bug (marked BUG): the per-step warmup schedule is stepped once per epoch."""

import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

torch.set_num_threads(1)
torch.manual_seed(0)


def data():
    X, y = load_digits(return_X_y=True)
    X, y = torch.tensor(X, dtype=torch.float32) / 16.0, torch.tensor(y)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    X, y = X[order], y[order]
    Xtr, ytr, Xva, yva = X[:400], y[:400], X[1000:], y[1000:]
    return Xtr, ytr, Xva, yva


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 128), nn.ReLU(), nn.Dropout(0.5))
        self.head = nn.Linear(128, 10)

    def forward(self, x):
        features = self.backbone(x)
        return self.head(features)


def warmup_then_decay(warmup, total):
    return lambda step: step / warmup if step < warmup else max(0.0, (total - step) / (total - warmup))


def main():
    Xtr, ytr, Xva, yva = data()
    loader = DataLoader(TensorDataset(Xtr, ytr), batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(0))
    model = Net()
    epochs = 12
    total = epochs * len(loader)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_then_decay(total // 10, total))
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
        scheduler.step()  # BUG: a per-step warmup stepped once per epoch
        model.eval()
        with torch.no_grad():
            logits = model(Xva)
            val_loss = criterion(logits, yva).item()
            val_acc = (logits.argmax(dim=1) == yva).float().mean().item()
        print(f"epoch {epoch + 1} val_loss {val_loss:.4f} val_acc {val_acc:.3f}")
    print(f"RESULT val_loss={val_loss:.4f} val_acc={val_acc:.4f}")


if __name__ == "__main__":
    main()
